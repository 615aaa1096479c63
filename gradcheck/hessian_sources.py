"""The sources of second derivatives, over the flat parameter vector (see problem.py):

- ``symbolic``: SymPy's first derivatives (symbolic.build_symbolic) differentiated once
  more, element by element, compiled to NumPy (values and term magnitudes) and to mpmath
  at 50 digits for the tie-break (lambdify.py); kink sites of the function and of its
  gradient (kinks.py).
- ``tape``: reverse over reverse on gradcheck.tape: the gradient as Tensors
  (``grad(loss, leaves, create_graph=True)``), then one backward of <gradient, v> per
  row e_i (the Hessian) or per random vector v (Hessian-vector products).
- ``numeric``: finite differences (numeric.py's schemes and error bounds) of the exact
  gradient: the compiled symbolic gradient where SymPy ran, else the tape's gradient,
  along each element (one Hessian column per element) or along a direction.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import sympy

from .budget import Budget
from .errors import GradcheckError, UnsupportedOperation
from .finite import calls_per_check
from .kinks import KinkSites, kink_model
from .lambdify import HighPrecision, compile_numpy, real_values, shared_subexpressions
from .model import explain_failure
from .numeric import NumericDerivative, differentiate_numerically
from .problem import Problem
from .sources import tape_gradient
from .symbolic import SymbolicModel, _differentiate

__all__ = ["SymbolicHessian", "build_hessian", "symbolic_gradient", "tape_gradients",
           "tape_products", "gradient_differences", "choose_method", "HESSIAN_SYMBOLIC_LIMIT"]

# Parameter elements above which SymPy's Hessian (n (n + 1) / 2 derivatives) is skipped.
HESSIAN_SYMBOLIC_LIMIT = 120
# Gradient evaluations per element times numbers per evaluation handed over at once.
_BATCH_NUMBERS = 4_000_000


def _reduce(outputs: list, length: int, reduce: str, lead: tuple = ()) -> np.ndarray:
    """Compiled outputs (one per expression, broadcast over ``lead`` and ``length`` data
    rows, 0 for none) as one array (*lead, expressions), summed or averaged over the
    rows; complex kept. A constant derivative counts once per row."""
    shape = lead + ((length,) if length else ())
    arrays = [np.broadcast_to(np.asarray(o), shape) for o in outputs]
    out = np.stack(arrays, axis=len(lead)) if arrays else np.zeros(lead + (0,))
    if length:
        out = out.sum(axis=-1) if reduce == "sum" else out.mean(axis=-1)
    return out


def _length(rows: tuple, arguments: Mapping[str, Any]) -> int:
    return len(np.asarray(arguments[rows[0]])) if rows else 0


@dataclass
class SymbolicHessian:
    """Every second derivative of the model (the upper triangle, mirrored: SymPy's mixed
    partials are equal where they exist), compiled."""

    model: SymbolicModel
    upper: list[tuple[int, int]]
    exprs: list[sympy.Expr]
    values: Any
    magnitude: Any
    kink_sites: KinkSites | None
    _refined: dict = field(default_factory=dict)
    _components: dict = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.model.names)

    def _matrix(self, flat: np.ndarray) -> np.ndarray:
        n = self.size
        out = np.zeros((n, n))
        rows, cols = np.array(self.upper, dtype=int).reshape(-1, 2).T
        out[rows, cols] = flat
        out[cols, rows] = flat
        return out

    def evaluate(self, arguments: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """The Hessian and the magnitude of the terms each entry adds up, (n, n) each."""
        m, length = self.model, _length(self.model.rows, arguments)
        with np.errstate(all="ignore"):
            value = real_values(_reduce(self.values(**arguments), length, m.reduce))
            size = np.abs(real_values(_reduce(self.magnitude(**arguments), length, m.reduce)))
        return self._matrix(value), self._matrix(size)

    def refined(self, arguments: Mapping[str, Any]) -> np.ndarray:
        """The Hessian at 50 digits (compiled for mpmath on first need)."""
        m = self.model
        key = tuple((k, v) for k, v in arguments.items() if k not in m.rows)
        if key not in self._refined:
            if "mpmath" not in self._refined:
                self._refined["mpmath"] = HighPrecision(m.symbols, self.exprs, shared_subexpressions)
            self._refined[key] = self._matrix(self._refined["mpmath"](arguments, m.rows, m.reduce))
        return self._refined[key]

    def kinks(self, arguments: Mapping[str, Any]) -> dict[int, dict[int, str]]:
        """Component i -> {element j: why}: where d g_i / d theta_j does not exist here,
        because f has a kink in theta_i (g_i itself does not exist) or a kink site of g_i
        that moving theta_j crosses is at zero. Per-component sites are compiled only at
        points where some site is at zero (seeded points never are)."""
        n, out = self.size, {}
        for e, why in self.model.kinks(arguments).items():
            out[e] = {j: why for j in range(n)}
        if self.kink_sites is None or not self.kink_sites.at(arguments):
            return out
        elements = list(self.model.symbols[:n])
        for i, expr in enumerate(self.model.exprs):
            if i not in self._components:
                self._components[i] = kink_model(expr, elements, self.model.symbols)
            if self._components[i] is not None:
                for j, why in self._components[i].at(arguments).items():
                    out.setdefault(i, {}).setdefault(j, why)
        return out

    def usable(self, arguments: Mapping[str, Any], margin: float) -> bool:
        """Finite gradient and Hessian, and no kink of either within ``margin``."""
        if not self.model.usable(arguments, margin):
            return False
        if not np.all(np.isfinite(self.evaluate(arguments)[0])):
            return False
        return self.kink_sites is None or self.kink_sites.distance(arguments) > margin


def build_hessian(model: SymbolicModel, limit: int = HESSIAN_SYMBOLIC_LIMIT,
                  budget: Budget | None = None) -> SymbolicHessian:
    """Differentiate the first derivatives again (row i by elements i..n-1) and compile."""
    budget = budget or Budget(None)
    n = len(model.names)
    if n > limit:
        raise UnsupportedOperation(f"{n:,} parameter elements, above the symbolic Hessian limit "
                                   f"of {limit:,} ({n * (n + 1) // 2:,} second derivatives)")
    elements = list(model.symbols[:n])
    upper, exprs = [], []
    for i in range(n):
        row = _differentiate(model.exprs[i], elements[i:], budget)
        upper += [(i, i + k) for k in range(len(row))]
        exprs += row
    compiling = "the symbolic Hessian (compiling to NumPy)"
    budget.check(compiling)
    values = compile_numpy(model.symbols, exprs)
    budget.check(compiling)
    magnitude = compile_numpy(model.symbols, exprs, magnitude=True)
    budget.check(compiling)
    sites = kink_model(sympy.Tuple(model.expr, *model.exprs), elements, model.symbols)
    return SymbolicHessian(model, upper, exprs, values, magnitude, sites)


# ------------------------------------------------------------------ the gradient, batched

Gradients = Callable[[np.ndarray], np.ndarray]  # (K, n) parameter vectors -> (K, n) gradients


def symbolic_gradient(model: SymbolicModel, problem: Problem, point: Mapping[str, Any]
                      ) -> tuple[Gradients, np.ndarray]:
    """The compiled symbolic gradient at K parameter vectors at once (complex allowed, for
    the complex step), and the term magnitudes of each component at ``point``."""
    arguments = model.arguments(problem, point)
    names, rows, n = model.names, model.rows, len(model.names)
    length = _length(rows, arguments)

    def gradients(theta: np.ndarray) -> np.ndarray:
        out = np.empty(theta.shape, dtype=np.result_type(theta.dtype, float))
        chunk = max(1, _BATCH_NUMBERS // max(1, n * max(1, length)))
        for a in range(0, len(theta), chunk):
            block = theta[a:a + chunk]
            values = dict(arguments)
            values.update({s: (block[:, k, None] if rows else block[:, k]) for k, s in enumerate(names)})
            with np.errstate(all="ignore"):
                out[a:a + chunk] = _reduce(model.gradient(**values), length, model.reduce, (len(block),))
        return out

    with np.errstate(all="ignore"):
        size = np.abs(real_values(_reduce(model.magnitude(**arguments), length, model.reduce)))
    return gradients, size.reshape(n)


def tape_gradients(problem: Problem, point: Mapping[str, Any]) -> Gradients:
    """The tape's gradient (sources.tape_gradient: one forward and one backward each)."""
    def gradients(theta: np.ndarray) -> np.ndarray:
        out = np.full(theta.shape, np.nan)
        for k, t in enumerate(theta):
            try:
                found = tape_gradient(problem, {**point, **problem.unflatten(t.real)})
                out[k] = found[0] if isinstance(found, tuple) else found  # (gradient, operations)
            except GradcheckError:  # a perturbed point the code does not accept
                pass
        return out
    return gradients


# ------------------------------------------------------------------ the tape, twice

def _double_backward() -> Callable[..., Any]:
    """gradcheck.tape.grad(outputs, inputs, create_graph=True), or UnsupportedOperation."""
    from . import tape

    grad = getattr(tape, "grad", None)
    try:
        parameters = inspect.signature(grad).parameters
    except (TypeError, ValueError):
        parameters = {}
    if "create_graph" not in parameters:
        raise UnsupportedOperation("gradcheck.tape cannot differentiate twice here "
                                   "(no grad(outputs, inputs, create_graph=True))")
    return grad


def _arrays(values: Any, leaves: list, problem: Problem) -> np.ndarray:
    parts = [np.zeros(t.data.shape) if g is None else np.asarray(getattr(g, "data", g), dtype=float)
             for g, t in zip(values, leaves)]
    return problem.flatten(dict(zip(problem.wrt, parts)))


def tape_products(problem: Problem, point: Mapping[str, Any], vectors: np.ndarray) -> np.ndarray:
    """Rows v^T H for each row v of ``vectors`` (m, n): the gradient recorded on the tape,
    then one backward sweep of <gradient, v> per vector. The Hessian is ``vectors = I``."""
    from .tape.engine import enable_grad, strict
    from .tape.tensor import Tensor

    grad = _double_backward()
    leaves = [Tensor(np.array(point[p], dtype=float), requires_grad=True, name=p) for p in problem.wrt]
    out = np.zeros(vectors.shape)
    try:
        with enable_grad(), strict(), np.errstate(all="ignore"):
            value = problem.call(point, **dict(zip(problem.wrt, leaves)))
            if not (isinstance(value, Tensor) and value.requires_grad):
                return out  # constant in the parameters
            loss = value.sum() if problem.reduce == "sum" else value.mean()
            firsts = grad(loss, leaves, create_graph=True, allow_unused=True)
            live = [(g, s) for g, s in zip(firsts, problem.slices().values())
                    if isinstance(g, Tensor) and g.requires_grad]
            for k, v in enumerate(vectors):
                total = None
                for g, where in live:
                    term = (g * v[where].reshape(g.data.shape)).sum()
                    total = term if total is None else total + term
                if total is not None:
                    out[k] = _arrays(grad(total, leaves, retain_graph=True, allow_unused=True),
                                     leaves, problem)
    except GradcheckError:
        raise
    except Exception as error:  # the user's code met a tape value it cannot handle
        function = getattr(problem.model, "function", None)
        raise UnsupportedOperation(explain_failure(error, function) if function
                                   else f"{type(error).__name__}: {error}") from None
    return out


# ------------------------------------------------------------------ finite differences

def choose_method(method: str, analytic: bool, symbolic: bool, columns: int,
                  gradients: Gradients, base: np.ndarray, seconds: float) -> str:
    """``auto``: the complex step on the symbolic gradient of an analytic model; else
    Richardson, unless the ``columns`` columns' gradients (one timed on the tape) would
    take longer than ``seconds`` in all, then central differences."""
    if method != "auto":
        return method
    if symbolic:
        return "complex" if analytic else "richardson"
    start = time.perf_counter()
    gradients(base[None, :])
    each = time.perf_counter() - start
    return "richardson" if columns * calls_per_check("richardson") * each <= seconds else "central"


def gradient_differences(gradients: Gradients, base: np.ndarray, columns: np.ndarray | None,
                         method: str, noise: np.ndarray | None = None) -> NumericDerivative:
    """Finite differences of the gradient: column c is d gradient / d theta[c] (``columns``
    None: every element) or the derivative along row c of ``columns`` (directions, the
    step centred on a power of two near the parameters' size, as finite.directional).
    Values, errors and kink flags of shape (columns, n): entry [c, i] is (H u_c)_i."""
    n = len(base)
    count = n if columns is None else len(columns)
    rms = float(np.sqrt(np.mean(base ** 2)))
    centre = float(np.exp2(np.round(np.log2(rms)))) if rms > 0 else 1.0
    results = []
    for c in range(count):
        def objective(v: np.ndarray, i: np.ndarray, c: int = c) -> np.ndarray:
            unique, inverse = np.unique(v, return_inverse=True)
            theta = np.tile(base.astype(unique.dtype), (len(unique), 1))
            if columns is None:
                theta[:, c] = unique
            else:
                theta += (unique - centre)[:, None] * columns[c]
            return gradients(theta)[inverse.ravel(), i.real.astype(int)]

        x0 = base[c] if columns is None else centre
        at = {"v": np.full(n, x0), "i": np.arange(n, dtype=float)}
        level = None if noise is None else (lambda v, i: noise[i.real.astype(int)])
        d = differentiate_numerically(objective, at, ["v"], method, level)["v"]
        if method == "complex" and not np.all(np.isfinite(d.value)):
            f = differentiate_numerically(objective, at, ["v"], "richardson", level)["v"]
            bad = ~np.isfinite(d.value)
            d = NumericDerivative(np.where(bad, f.value, d.value), np.where(bad, f.error, d.error),
                                  f.kink, method)
        results.append(d)
    return NumericDerivative(np.array([d.value for d in results]), np.array([d.error for d in results]),
                             np.array([d.kink for d in results]), method)
