"""The tape and claimed sources at one point, as gradients per parameter (for both front
ends). The symbolic source is in symbolic.py, the numeric one in finite.py."""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .errors import GradcheckError, InputError, UnsupportedOperation
from .expression import Expression
from .lambdify import HighPrecision
from .model import explain_failure
from .values import unwrap
from .precision import cast, tape_operations, term_magnitudes
from .problem import Problem

__all__ = ["Claims", "prepare_claims", "tape_gradient", "claimed_gradient", "call_by_name"]

_MISSING = "the claimed gradient asks for {names}, which the {what} does not have"


def tape_gradient(problem: Problem, point: Mapping[str, Any], dt: Any = np.float64
                  ) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Run the model on tape tensors in dtype ``dt`` (its float inputs and data too) and
    one backward sweep: the flat gradient (float64), and, in a low-precision dtype, the
    number of operations on the recorded path and the size of the terms its backward adds
    (what a rounding bound in that dtype scales with).

    Anything the tape cannot follow, a value leaving it included (``math.exp(w)``,
    ``float(w)``), raises UnsupportedOperation naming the operation and the line.
    """
    from .tape.engine import enable_grad, reachable_nodes, strict
    from .tape.tensor import Tensor

    low = np.dtype(dt) != np.float64
    if not low and problem.term_sum is not None:
        try:
            by_shapes = problem.term_sum.tape_gradient({**problem.fixed, **point},
                                                       problem.flatten(point).astype(float))
        except Exception:  # the whole expression on the tape below says what went wrong
            by_shapes = None
        if by_shapes is not None:
            return by_shapes, 0.0, None
    leaves = {p: Tensor(cast(np.asarray(point[p], dtype=float), dt) if low else point[p],
                        requires_grad=True, name=p) for p in problem.wrt}
    others = {n: cast(v, dt) for n, v in {**problem.fixed, **point}.items()
              if n not in leaves} if low else {}
    operations, sizes = 0.0, None
    try:
        with enable_grad(), strict(), np.errstate(all="ignore"):
            out = problem.call(point, **others, **leaves)
            if isinstance(out, (list, tuple)):  # [loss1, loss2]: their sum, as the value is
                parts = [o if isinstance(o, Tensor) else Tensor(np.asarray(o, dtype=float)) for o in out]
                count = sum(int(np.size(o.data)) for o in parts)
                out = sum((o.sum() for o in parts), Tensor(0.0))
                out = out if problem.reduce == "sum" else out / max(count, 1)
            if isinstance(out, Tensor) and out.requires_grad:
                loss = out.sum() if problem.reduce == "sum" else out.mean()
                if low:
                    operations = tape_operations(reachable_nodes(loss._node))
                    found = term_magnitudes(loss._node, {id(t): p for p, t in leaves.items()})
                    sizes = problem.flatten({p: found.get(id(t), np.zeros(t.shape))
                                             for p, t in leaves.items()})
                loss.backward()
    except Exception as error:  # the user's code met a tape value it cannot handle
        function = getattr(problem.model, "function", None)
        raise UnsupportedOperation(explain_failure(error, function) if function
                                   else str(error)) from None
    grads = {p: np.asarray(t.grad, dtype=float) if t.grad is not None else np.zeros(t.shape)
             for p, t in leaves.items()}
    return problem.flatten(grads), operations, sizes


def call_by_name(function: Callable[..., Any], arguments: Mapping[str, Any],
                 missing: str = "claimed gradient function asks for {names}, "
                                "which the expression does not have") -> Any:
    """Call with the arguments ``function`` takes (all of them if it takes ``**kwargs``);
    ``missing`` words the error for required arguments that are not available."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function(**arguments)
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return function(**arguments)
    absent = [n for n, p in parameters.items() if n not in arguments and p.default is p.empty]
    if absent:
        raise InputError(missing.format(names=", ".join(absent)))
    return function(**{n: arguments[n] for n in parameters if n in arguments})


@dataclass
class Claims:
    """The user's gradients: one gradient function (``check_grad``), or per parameter a
    text (parsed safely), a callable or a value."""

    whole: Callable[..., Any] | None
    each: dict[str, Any]
    texts: dict[str, Expression]
    _mpmath: dict = None  # parameter -> lambdified mpmath function of its text
    missing: set = field(default_factory=set)  # parameters a gradient function left out

    def __bool__(self) -> bool:
        return self.whole is not None or bool(self.each)

    def names(self, wrt: tuple[str, ...]) -> tuple[str, ...]:
        return wrt if self.whole is not None else tuple(p for p in wrt if p in self.each)


def prepare_claims(claimed: Any, problem: Problem, dt: Any = np.float64) -> Claims:
    """The user's claims checked against the problem. A number is exact text in float64
    (refinable at 50 digits); checking low-precision code it is a value that code
    computed (``w.grad.item()``), judged against that dtype's rounding."""
    if claimed is None:
        return Claims(None, {}, {}, {})
    if callable(claimed):
        return Claims(claimed, {}, {}, {})
    if not isinstance(claimed, Mapping):
        raise InputError(f"claimed must map parameter names to gradients (or be a gradient "
                         f"function), got {type(claimed).__name__}")
    each, texts = {}, {}
    names = set(problem.model.names)
    for name, claim in claimed.items():
        if name not in problem.wrt:
            raise InputError(f"claimed gradient for {name!r}, which is not a parameter "
                             f"(parameters: {', '.join(problem.wrt)})")
        number = isinstance(claim, (int, float)) and not isinstance(claim, bool)
        if number and problem.is_expression and np.dtype(dt) == np.float64:
            claim = repr(float(claim))
        if isinstance(claim, str):
            expression = Expression.parse(claim, [n for n in names if n in ("e", "E", "pi", "π")])
            unknown = set(expression.names) - names
            if unknown:
                raise InputError(f"claimed gradient for {name!r} uses {', '.join(sorted(unknown))}, "
                                 f"which the expression does not have")
            if problem.shapes[name] != ():
                raise InputError(f"claimed gradient for {name!r} is text, but {name!r} is an "
                                 "array parameter; give an array or a function")
            texts[name] = expression
        elif not callable(claim) and not number and problem.is_expression:
            raise InputError(f"claimed gradient for {name!r} must be text or a callable, "
                             f"got {type(claim).__name__}")
        each[name] = claim
    return Claims(None, each, texts, {})


def _as_mapping(raw: Any, wrt: tuple[str, ...]) -> dict[str, Any]:
    """A gradient function's answer as {parameter: value}: a dict, a tuple in wrt order,
    or (for one parameter) a single array."""
    if isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in wrt]
        if unknown:
            raise InputError(f"the gradient function returned {', '.join(map(str, unknown))}, "
                             f"which are not parameters (parameters: {', '.join(wrt)})")
        return dict(raw)
    if isinstance(raw, (tuple, list)) and len(wrt) > 1:
        if len(raw) != len(wrt):
            raise InputError(f"the gradient function returned {len(raw)} values; expected one "
                             f"per parameter in wrt order ({', '.join(wrt)})")
        return dict(zip(wrt, raw))
    if len(wrt) == 1:
        return {wrt[0]: raw}
    raise InputError(f"the gradient function must return a dict or a tuple in wrt order "
                     f"({', '.join(wrt)}), not {type(raw).__name__}")


def _array(problem: Problem, name: str, value: Any) -> np.ndarray:
    shape = problem.shapes[name]
    if value is None:
        raise InputError(f"the claimed gradient for {name!r} is None; return its value "
                         f"(an array of shape {shape})")
    raw = np.asarray(unwrap(value))
    if np.iscomplexobj(raw) and np.any(raw.imag != 0):
        raise InputError(f"claimed gradient for {name!r} is complex; give real values")
    try:
        array = np.asarray(raw.real if np.iscomplexobj(raw) else raw, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"claimed gradient for {name!r} must be numbers, "
                         f"got {type(value).__name__}") from None
    rows = problem.rows or _data_length(problem)
    if rows and shape == () and array.shape == (rows,):  # one value per data row
        array = np.asarray(array.sum() if problem.reduce == "sum" else array.mean())
    if array.shape != shape and array.size == int(np.prod(shape, dtype=int)) == 1:
        array = array.reshape(shape)
    if array.shape != shape:
        raise InputError(f"claimed gradient for {name!r} has shape {array.shape}; "
                         f"the parameter has shape {shape}")
    return array


def _data_length(problem: Problem) -> int:
    """The rows of a function's data set, when its columns are 1-D of one length."""
    lengths = {np.shape(problem.fixed[n]) for n in problem.data}
    return lengths.pop()[0] if len(lengths) == 1 and len(next(iter(lengths))) == 1 else 0


def claimed_gradient(claims: Claims, problem: Problem, point: Mapping[str, Any],
                     dt: Any = np.float64) -> dict[str, np.ndarray]:
    """The user's gradient at ``point``, per claimed parameter, in its shape; a callable
    claim gets its float arguments in dtype ``dt`` (a text claim stays exact)."""
    arguments = {**{n: copy.copy(v) for n, v in problem.fixed.items()}, **point}
    low = np.dtype(dt) != np.float64
    called = {n: cast(v, dt) for n, v in arguments.items()} if low else arguments
    what = "expression" if problem.is_expression else "function"
    missing = _MISSING.replace("{what}", what)
    try:
        with np.errstate(all="ignore"):
            if claims.whole is not None:
                raw = _as_mapping(call_by_name(claims.whole, called, missing), problem.wrt)
            else:
                raw = {}
                for name, claim in claims.each.items():
                    if name in claims.texts:
                        raw[name] = claims.texts[name].evaluate(arguments)
                    elif callable(claim):
                        raw[name] = call_by_name(claim, called, missing)
                    else:
                        raw[name] = claim
    except GradcheckError:
        raise
    except Exception as error:  # the user's code: report, don't crash
        raise InputError(f"the claimed gradient raised {type(error).__name__}: {error}") from None
    out = {p: _array(problem, p, v) for p, v in raw.items()}
    if claims.whole is not None:  # a parameter left out is wrong everywhere, never a pass
        for p in problem.wrt:
            if p not in out:
                claims.missing.add(p)
                out[p] = np.full(problem.shapes[p], np.nan)
    return out


def refine_claim(claims: Claims, name: str, problem: Problem, point: Mapping[str, Any]) -> float:
    """A text claim at high precision (its SymPy form, lambdified for mpmath once)."""
    expr = claims.texts[name].to_sympy()
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    if name not in claims._mpmath:
        claims._mpmath[name] = HighPrecision(symbols, [expr])
    rows = tuple(problem.data) if problem.rows else ()
    given = {**problem.fixed, **point}
    arguments = {n: given[n] for n in {*(s.name for s in symbols), *rows}}
    return float(claims._mpmath[name](arguments, rows, problem.reduce)[0])
