"""The sources of a rule check: what a function's Jacobian does to a cotangent (VJP) or a
tangent (JVP), from the tape (reverse and forward mode), from SymPy (the Jacobian itself,
on stand-ins) and from finite differences (the Jacobian times directions).

Every source sees copies of the arguments; the flat parameter vector is the ``wrt``
arrays raveled in order, the flat output the outputs raveled in order.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .budget import Budget
from .errors import GradcheckError, InputError, UnsupportedOperation
from .model import explain_failure
from .numeric import EPS, EVAL_ULPS, differentiate_numerically

__all__ = ["Rule", "split", "fresh_copy", "tape_vjp", "tape_jvp", "symbolic_jacobian", "numeric_jacobian",
           "JACOBIAN_LIMIT", "check_output"]

# Entries of a Jacobian SymPy is asked for; above it the symbolic source says why it skips.
JACOBIAN_LIMIT = 20_000
# SymPy's work (expression size times the elements differentiated by, over the outputs)
# above which it is not asked: a 4x8 attention head (150,000) takes minutes, an LSTM step
# (53,000) a second or two.
WORK_LIMIT = 60_000
# Parameter elements SymPy is asked to differentiate by (its limit in check too).
SYMBOLIC_ELEMENTS = 2_000


@dataclass
class Rule:
    """A function of named arguments, where it is checked, and its output's layout."""

    f: Callable[..., Any]
    arguments: dict[str, Any]
    wrt: list[str]
    inputs: list[str]
    out_shapes: list[tuple[int, ...]] = field(default_factory=list)
    is_tuple: bool = False
    dtypes: dict[str, np.dtype] = field(default_factory=dict)  # the parameters' as given

    @cached_property  # the parameters' values are fixed once the Rule is made
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {p: np.shape(self.arguments[p]) for p in self.wrt}

    @cached_property
    def slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for p in self.wrt:
            size = int(np.size(self.arguments[p]))
            out[p], start = slice(start, start + size), start + size
        return out

    @property
    def size(self) -> int:
        return sum(s.stop - s.start for s in self.slices.values())

    @property
    def out_size(self) -> int:
        return sum(int(np.prod(s)) for s in self.out_shapes)

    def copies(self, **replace: Any) -> dict[str, Any]:
        """Fresh copies of the arguments (user code may write into what it gets), and
        ``replace``'s values (already fresh) in place of theirs."""
        return {n: replace[n] if n in replace else fresh_copy(v) for n, v in self.arguments.items()}

    def outputs(self, out: Any) -> list[Any]:
        """The output as a list of parts (one unless the function returns a tuple)."""
        return list(out) if isinstance(out, (tuple, list)) else [out]

    def flat_output(self, out: Any) -> np.ndarray:
        return np.concatenate([np.asarray(o, dtype=float).ravel() for o in self.outputs(out)])

    def structure(self, flat: np.ndarray) -> Any:
        """A flat output vector in the shape of the function's output (a cotangent)."""
        return split(flat, self.out_shapes, self.is_tuple)

    def unflatten(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        return {p: theta[s].reshape(self.shapes[p]) for p, s in self.slices.items()}

    def flatten(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([np.asarray(values[p], dtype=float).ravel() for p in self.wrt])

    def call(self, **replace: Any) -> Any:
        return self.f(**self.copies(**replace))


def split(flat: np.ndarray, shapes: Sequence[tuple[int, ...]], is_tuple: bool) -> Any:
    """A flat vector as arrays of ``shapes``: a tuple of them, or the one array."""
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(flat[start:start + size].reshape(shape))
        start += size
    return tuple(parts) if is_tuple else parts[0]


def fresh_copy(value: Any) -> Any:
    """A deep copy; what cannot be copied (a module, a lock) is passed as it is."""
    try:
        return copy.deepcopy(value)
    except Exception:
        return value


def _tape_failure(rule: Rule, error: Exception) -> UnsupportedOperation:
    return UnsupportedOperation(explain_failure(error, rule.f))


def tape_vjp(rule: Rule, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of sum(g * f) on the tape: one reverse sweep, the flat vector; and the
    size of the terms that sweep adds up (the same sweep in absolute value), which is what
    its rounding, and any exact source's, scales with where the terms cancel."""
    from .precision import term_magnitudes
    from .tape.engine import enable_grad, strict
    from .tape.tensor import Tensor

    leaves = {p: Tensor(np.array(rule.arguments[p], dtype=float), requires_grad=True, name=p)
              for p in rule.wrt}
    cotangent = rule.outputs(rule.structure(g))
    try:
        with enable_grad(), strict(), np.errstate(all="ignore"):
            parts = rule.outputs(rule.f(**rule.copies(**leaves)))
            loss = Tensor(0.0)
            for part, weight in zip(parts, cotangent):
                if isinstance(part, Tensor) and part.requires_grad:
                    loss = loss + (part * weight).sum()
            sizes = {}
            if loss.requires_grad:
                sizes = term_magnitudes(loss._node, {id(t): p for p, t in leaves.items()})
                loss.backward()
    except GradcheckError:
        raise
    except Exception as error:
        raise _tape_failure(rule, error) from None
    grads = rule.flatten({p: t.grad if t.grad is not None else np.zeros(t.shape)
                          for p, t in leaves.items()})
    return grads, rule.flatten({p: sizes.get(id(t), np.zeros(t.shape)) for p, t in leaves.items()})


def tape_jvp(rule: Rule, v: np.ndarray) -> np.ndarray:
    """J v by the tape's forward mode, the flat output tangent."""
    try:
        from .tape.forward import jvp
    except ImportError:
        raise UnsupportedOperation("the tape has no forward mode in this build") from None
    tangents = rule.unflatten(v)
    try:
        _, out = jvp(lambda **kw: rule.f(**kw), rule.copies(), tangents)
    except GradcheckError:
        raise
    except Exception as error:
        raise _tape_failure(rule, error) from None
    return rule.flat_output(out)


_PIECEWISE = ("Heaviside", "Max", "Min", "Abs", "sign", "Piecewise", "DiracDelta", "floor",
              "ceiling")


def symbolic_jacobian(rule: Rule, budget: Budget) -> tuple[np.ndarray, bool]:
    """The Jacobian (outputs x parameters) from SymPy: the function run on stand-ins,
    every output element differentiated by the elements it holds, compiled once; and
    whether f is smooth (no piecewise function anywhere: a kink the finite differences
    see is then ill-conditioning, not a kink)."""
    import sympy

    from .lambdify import compile_numpy
    from .templates import subexpressions
    from .stand_in import symbols
    from .stand_in.base import raw
    from .stand_in.rules import as_sympy

    m, n = rule.out_size, rule.size
    if n > SYMBOLIC_ELEMENTS or m * n > JACOBIAN_LIMIT:
        raise UnsupportedOperation(f"a {m:,} x {n:,} Jacobian, above the symbolic limit of "
                                   f"{JACOBIAN_LIMIT:,} entries")
    leaves, stand = {}, None
    for p in rule.wrt:
        leaves[p] = symbols(p, rule.shapes[p], stand)
        stand = leaves[p].budget
    try:
        with np.errstate(all="ignore"):
            parts = rule.outputs(rule.f(**rule.copies(**leaves)))
    except GradcheckError:
        raise
    except Exception as error:
        raise UnsupportedOperation(explain_failure(error, rule.f)) from None
    outputs = [as_sympy(e) for part in parts for e in np.asarray(raw(part), dtype=object).flat]
    elements = [s for p in rule.wrt for s in leaves[p].array.flat]
    theta = rule.flatten(rule.arguments)
    outputs = _active_branches(outputs, dict(zip(elements, map(sympy.Float, theta))))
    work = 0
    for expr in outputs:  # SymPy walks an output once per element it holds
        work += subexpressions(expr, WORK_LIMIT + 1) * len(expr.free_symbols)
        if work > WORK_LIMIT:
            raise UnsupportedOperation(f"the Jacobian is too large to differentiate element by "
                                       f"element (estimated work above {WORK_LIMIT:,}; SymPy "
                                       "would take minutes)")
    piecewise = tuple(getattr(sympy, name) for name in _PIECEWISE)
    smooth = not any(e.has(*piecewise) for e in outputs)
    column = {s: j for j, s in enumerate(elements)}
    entries, where = [], []
    for i, expr in enumerate(outputs):
        budget.check("the symbolic source (SymPy differentiating)")
        if expr.has(sympy.zoo, sympy.nan):
            raise UnsupportedOperation(f"output element {i} is not a number symbolically: {expr}")
        for s in sorted(expr.free_symbols & column.keys(), key=column.get):
            entries.append(expr.diff(s))
            where.append((i, column[s]))
    jacobian = np.zeros((m, n))
    if entries:
        budget.check("the symbolic source (compiling to NumPy)")
        evaluate = compile_numpy(tuple(elements), entries)
        values = evaluate(**{s.name: theta[j] for s, j in column.items()})
        rows, cols = zip(*where)
        jacobian[list(rows), list(cols)] = np.real(np.asarray(values, dtype=complex))
    return jacobian, smooth


TIE = 1e-9  # arguments of a max this close (relative) at the point are a tie: a kink


def _active_branches(outputs: list, point: dict) -> list:
    """Each Max/Min replaced by the argument it selects at the point, where one argument
    wins clearly: the same function near the point, so the same derivative there, and
    SymPy differentiates a softmax's max(z) shift in milliseconds instead of minutes.
    Ties are left alone (a kink)."""
    import sympy

    def choose(*args: Any, pick: Any) -> Any:
        try:
            values = [float(a.xreplace(point)) for a in args]
        except (TypeError, ValueError):  # not a number at the point: leave it
            return None
        best = pick(range(len(values)), key=values.__getitem__)
        others = [abs(values[best] - v) for i, v in enumerate(values) if i != best]
        gap = TIE * max(1.0, abs(values[best]))
        return args[best] if all(o > gap for o in others) else None

    def replace(expr: Any) -> Any:
        for kind, pick in ((sympy.Max, max), (sympy.Min, min)):
            if expr.has(kind):
                expr = expr.replace(lambda e: isinstance(e, kind) and choose(*e.args, pick=pick) is not None,
                                    lambda e: choose(*e.args, pick=pick))
        return expr

    return [replace(e) for e in outputs]


@dataclass
class NumericJacobian:
    """J u for each direction u (columns), with error bounds and kink flags."""

    value: np.ndarray  # (outputs, directions)
    error: np.ndarray
    kink: np.ndarray

    def vjp(self, g: np.ndarray, columns: slice) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """g^T J u for the directions u in ``columns``: values, error bounds, and whether
        a kink shows on any output g weighs."""
        return (g @ self.value[:, columns], np.abs(g) @ self.error[:, columns],
                (self.kink[:, columns] & (g != 0)[:, None]).any(axis=0))


def numeric_jacobian(rule: Rule, directions: Sequence[int | np.ndarray], method: str,
                     center: np.ndarray) -> NumericJacobian:
    """Finite differences of every output along each direction: a flat vector over the
    parameters, or an int, the element it moves alone (there the step is taken on the
    element's own value, as check's numeric source does).

    One call of f serves every output element of a perturbed point, so the cost is the
    steps of numeric.py times the directions, whatever the output size."""
    theta = rule.flatten(rule.arguments)
    m, count = rule.out_size, len(directions)
    scale = np.sqrt(np.mean(theta ** 2)) if theta.size else 1.0
    s = float(np.exp2(np.round(np.log2(scale)))) if scale > 0 else 1.0
    alone = [isinstance(d, (int, np.integer)) for d in directions]
    starts = np.array([theta[d] if one else s for d, one in zip(directions, alone)], dtype=float)
    # every output element is noisy like the largest: a near-zero element is a difference
    floor = EVAL_ULPS * EPS * float(np.max(np.abs(center), initial=0.0))

    def output(d: int, t: float) -> np.ndarray:
        x = theta.copy()
        if alone[d]:
            x[directions[d]] = t
        else:
            x = x + (t - starts[d]) * directions[d]
        try:
            with np.errstate(all="ignore"):
                return rule.flat_output(rule.call(**rule.unflatten(x)))
        except Exception:  # a perturbed point outside what the user's code accepts
            return np.full(m, np.nan)

    def objective(t: np.ndarray, j: np.ndarray) -> np.ndarray:
        # numeric.py perturbs row by row (rows d*m .. d*m+m-1 share direction d and so
        # every step): f once per direction and step, each call serving m rows
        steps = t.real.reshape(count * m, -1)
        first = steps[::m]
        if not np.array_equal(np.repeat(first, m, axis=0), steps, equal_nan=True):
            raise AssertionError("numeric.py's perturbation layout changed")
        values = np.stack([np.stack([output(d, float(v)) for v in first[d]])
                           for d in range(count)])  # (directions, steps, m)
        rows = np.arange(count * m)
        return values[rows // m, :, rows % m].ravel()

    def noise(t: np.ndarray, j: np.ndarray) -> np.ndarray:
        return EVAL_ULPS * EPS * np.abs(center[j.real.astype(int) % m]) + floor

    at = {"t": np.repeat(starts, m), "j": np.arange(count * m, dtype=float)}
    d = differentiate_numerically(objective, at, ["t"], method, noise)["t"]
    shape = (count, m)
    return NumericJacobian(d.value.reshape(shape).T, d.error.reshape(shape).T,
                           d.kink.reshape(shape).T)


def check_output(rule: Rule, out: Any) -> None:
    """f's output must be real arrays (or a tuple of them), none empty."""
    parts = rule.outputs(out)
    if not parts:
        raise InputError("f returned an empty tuple; return an array (or a tuple of arrays)")
    for i, part in enumerate(parts):
        where = f" (output {i})" if len(parts) > 1 else ""
        try:
            array = np.asarray(part)
        except (TypeError, ValueError) as error:
            raise InputError(f"f returned something that is not an array{where}: {error}") from None
        if array.dtype.kind not in "fiub":
            raise InputError(f"f returned {array.dtype} values{where}; check_rule checks "
                             "real arrays (or a tuple of them)")
        if array.size == 0:
            raise InputError(f"f returned an empty array{where} (shape {array.shape})")
