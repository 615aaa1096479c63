"""The symbolic source: the model as one SymPy expression, differentiated by every
parameter element, compiled to NumPy, and re-evaluated with mpmath when float64 cannot
decide a comparison.

An expression's SymPy form comes from the parser's converter; a function's from running
it on symbolic stand-ins. Every parameter element is a real symbol (``W_0_1`` for
``W[0, 1]``, ``w`` for a scalar); scalar inputs are symbols too, and so are an
expression's data columns, evaluated per row and summed or averaged. SymPy is slow, so
the source is skipped, with the reason, above SYMBOLIC_LIMIT elements or WORK_LIMIT.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import sympy

from .budget import Budget
from .errors import UnsupportedOperation
from .kinks import KinkSites, kink_arguments, kink_model
from .lambdify import HighPrecision, compile_numpy, real_values, shared_subexpressions
from .model import explain_failure
from .problem import Problem
from .templates import LazyDerivatives, subexpressions, templated

__all__ = ["SymbolicModel", "build_symbolic", "SYMBOLIC_LIMIT", "WORK_LIMIT"]

SYMBOLIC_LIMIT = 2_000  # parameter elements
# Estimated work of differentiating element by element: for each term of the (summed)
# expression, its size times the parameter elements in it (measured: about 0.25 ms of
# SymPy per unit on a busy 2-core machine, so about 10 s at the limit).
WORK_LIMIT = 40_000


@dataclass
class SymbolicModel:
    """The model's expression, one derivative per parameter element, compiled.

    ``names`` are the element symbols in flat order; ``symbols`` are those, then the
    scalar inputs, then the data columns of an expression (``rows``).
    """

    expr: sympy.Expr
    names: tuple[str, ...]
    exprs: list[sympy.Expr]
    symbols: tuple[sympy.Symbol, ...]
    rows: tuple[str, ...]
    reduce: str
    gradient: Any
    magnitude: Any
    value_magnitude: Any
    kink_sites: KinkSites | None
    _refined: dict = field(default_factory=dict)

    def arguments(self, problem: Problem, point: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = dict(zip(self.names, problem.flatten(point).astype(float)))  # np.float64: 1/0 is inf, not an error
        given = {**problem.fixed, **point}
        values.update({n: np.float64(given[n]) for n in problem.scalar_inputs})
        values.update({n: problem.fixed[n] for n in self.rows})
        return {s.name: values[s.name] for s in self.symbols}

    def _reduce(self, outputs: list[np.ndarray]) -> np.ndarray:
        out = np.array([real_values(o) for o in np.broadcast_arrays(*outputs)])
        if not self.rows:
            return out.reshape(len(outputs))
        return out.sum(axis=-1) if self.reduce == "sum" else out.mean(axis=-1)

    def evaluate(self, arguments: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, float]:
        """Gradient, term magnitudes per element, and the magnitude of the value."""
        n = len(self.names)
        grad = self._reduce(self.gradient(**arguments)).reshape(n)
        mag = np.abs(self._reduce(self.magnitude(**arguments))).reshape(n)
        return grad, mag, float(np.abs(self._reduce(self.value_magnitude(**arguments))[0]))

    def kinks(self, arguments: Mapping[str, Any]) -> dict[int, str]:
        """Element -> why it sits on a kink here (see KinkSites.at)."""
        return self.kink_sites.at(arguments) if self.kink_sites is not None else {}

    def usable(self, arguments: Mapping[str, Any], margin: float) -> bool:
        """A finite gradient, and no kink site within ``margin`` (relative) of the point."""
        with np.errstate(all="ignore"):
            if not np.all(np.isfinite(self._reduce(self.gradient(**arguments)))):
                return False
        return self.kink_sites is None or self.kink_sites.distance(arguments) > margin

    def continuous(self, problem: Problem, point: Mapping[str, Any], element: int) -> bool:
        """Whether d f / d theta[element] is continuous across ``point`` along that
        element, from SymPy's derivative on either side: the gap between the one-sided
        values shrinks with the step where it is (x*abs(x) at 0), and stays at a kink
        (1e8 + abs(w) at 0, where float64 noise would hide the jump from differences)."""
        flat = problem.flatten(point).astype(float)
        scale = max(1.0, abs(float(flat[element])))
        gaps = []
        for step in (1e-5 * scale, 1e-8 * scale):
            sides = []
            for sign in (1.0, -1.0):
                theta = flat.copy()
                theta[element] += sign * step
                moved = {**point, **problem.unflatten(theta)}
                sides.append(self.evaluate(self.arguments(problem, moved))[0][element])
            gaps.append(abs(sides[0] - sides[1]))
        if not all(np.isfinite(gaps)):
            return False
        return gaps[1] <= 0.01 * gaps[0] or gaps[0] == 0

    def refined(self, arguments: Mapping[str, Any]) -> np.ndarray:
        """Every derivative at high precision (compiled once, on first need)."""
        key = tuple((k, v) for k, v in arguments.items() if k not in self.rows)
        if key not in self._refined:
            if "mpmath" not in self._refined:
                self._refined["mpmath"] = HighPrecision(self.symbols, self.exprs, shared_subexpressions)
            self._refined[key] = self._refined["mpmath"](arguments, self.rows, self.reduce)
        return self._refined[key]




def _trace(problem: Problem) -> tuple[sympy.Expr, dict[str, Any]]:
    """The model's SymPy expression and the stand-in (or symbol) of every argument."""
    from .stand_in import as_expression, symbols  # functions only: text has its own SymPy

    leaves: dict[str, Any] = {}
    budget = None
    for p, shape in problem.shapes.items():
        leaves[p] = symbols(p, shape, budget)
        budget = leaves[p].budget
    for n in problem.scalar_inputs:
        leaves[n] = symbols(n, (), budget)
    if problem.is_expression:
        return problem.model.to_sympy(), leaves
    try:
        with np.errstate(all="ignore"):  # object arrays of SymPy values warn like floats
            out = problem.call({}, **leaves)
        return as_expression(out, problem.reduce), leaves
    except Exception as error:  # the user's code met a symbolic value it cannot handle
        raise UnsupportedOperation(explain_failure(error, problem.model.function)) from None


class _RealAbs(sympy.Function):
    """|u| of a real u, whose derivative is sign(u) u'. SymPy's Abs of what it cannot prove
    real (sqrt(w), log(w)) differentiates through re, im and atan2: right for complex u,
    but no text a user could paste back, and gradcheck's variables are real."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.sign(self.args[0])


class _RealSign(sympy.Function):
    """sign(u) of a real u: its derivative is 2 DiracDelta(u) u' (SymPy leaves that of a
    u it cannot prove real as an unevaluated Derivative, which nothing can compile)."""

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return 2 * sympy.DiracDelta(self.args[0])


_REAL = ((sympy.Abs, _RealAbs), (sympy.sign, _RealSign))


def _differentiate(expr: sympy.Expr, elements: list[sympy.Symbol], budget: Budget) -> list[sympy.Expr]:
    """d expr / d element, differentiating only the terms of the sum that hold it: n
    derivatives of an n-term sum cost O(n), not O(n**2). |u| is differentiated as a real
    function (sign(u) u')."""
    if expr.has(sympy.Abs, sympy.sign):
        for general, real in _REAL:
            expr = expr.replace(general, real)
        out = _differentiate(expr, elements, budget)
        for general, real in _REAL:
            out = [d.replace(real, general) for d in out]
        return out
    terms = expr.args if isinstance(expr, sympy.Add) else (expr,)
    wanted, holding = set(elements), defaultdict(list)
    work = 0
    for term in terms:
        inside = term.free_symbols & wanted
        if inside:
            work += subexpressions(term, WORK_LIMIT + 1) * len(inside)
            if work > WORK_LIMIT:
                raise UnsupportedOperation(
                    f"the expression is too large to differentiate element by element "
                    f"(estimated work above {WORK_LIMIT:,}; SymPy would take minutes)")
            for s in inside:
                holding[s].append(term)
    out = []
    for s in elements:
        budget.check("the symbolic source (SymPy differentiating)")
        out.append(sympy.Add(*(_diff_term(t, s) for t in holding[s])))
    return out


def _diff_term(term: sympy.Expr, s: sympy.Symbol) -> sympy.Expr:
    """d term / d s; a product by the product rule over only the factors that hold s
    (SymPy differentiates every factor: a product of n names cost O(n**3), 8 s at 100)."""
    if not isinstance(term, sympy.Mul):
        return term.diff(s)
    factors = term.args
    return sympy.Add(*(sympy.Mul(*factors[:i], factor.diff(s), *factors[i + 1:])
                       for i, factor in enumerate(factors) if s in factor.free_symbols))


def build_symbolic(problem: Problem, limit: int = SYMBOLIC_LIMIT, budget: Budget | None = None,
                   shapes: bool = False) -> SymbolicModel:
    """Trace, differentiate and compile; UnsupportedOperation says why it cannot (the
    budget running out included). ``shapes``: a big smooth sum may be differentiated by
    the shapes of its terms (templates.py); its ``exprs`` are then built when read."""
    budget = budget or Budget(None)
    too_many = UnsupportedOperation(f"{problem.size:,} parameter elements, above the symbolic "
                                    f"limit of {limit:,} (symbolic_limit=)")
    # differentiating an expression by the shapes of its terms is cheap at any size; a
    # symbolic_limit the user chose is still theirs
    by_shapes = shapes and problem.is_expression and limit == SYMBOLIC_LIMIT
    if problem.size > limit and not by_shapes:
        raise too_many
    expr, leaves = _trace(problem)
    elements = [s for p in problem.wrt for s in leaves[p].array.flat]
    extra = [leaves[n].array.item() for n in problem.scalar_inputs]
    rows = tuple(problem.data) if problem.rows else ()
    all_symbols = tuple(elements) + tuple(extra) + tuple(sympy.Symbol(n, real=True) for n in rows)
    if len({s.name for s in all_symbols}) != len(all_symbols):
        raise UnsupportedOperation("names of parameter elements (W_0_1 for W[0, 1]) collide "
                                   "with the function's argument names")
    if shapes and not rows and not expr.has(sympy.Abs, sympy.sign) and not kink_arguments(expr):
        shared = templated(expr, all_symbols, len(elements), budget, _diff_term, WORK_LIMIT)
        if shared is not None:
            return SymbolicModel(expr, tuple(s.name for s in elements), LazyDerivatives(shared),
                                 all_symbols, rows, problem.reduce, shared.gradient,
                                 shared.magnitude, shared.value_magnitude, None)
    if problem.size > limit:
        raise too_many
    exprs = _differentiate(expr, elements, budget)
    compiling = "the symbolic source (compiling to NumPy)"
    budget.check(compiling)
    gradient = compile_numpy(all_symbols, exprs)
    budget.check(compiling)
    magnitude = compile_numpy(all_symbols, exprs, magnitude=True)
    budget.check(compiling)
    value_magnitude = compile_numpy(all_symbols, [expr], magnitude=True)
    budget.check(compiling)
    return SymbolicModel(expr, tuple(s.name for s in elements), exprs, all_symbols, rows,
                         problem.reduce, gradient, magnitude, value_magnitude,
                         kink_model(expr, elements, all_symbols))
