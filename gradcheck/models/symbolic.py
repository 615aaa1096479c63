"""The symbolic source for a function model: run it on stand-ins, differentiate by every element.

Every parameter element becomes a real SymPy symbol (``W_0_1`` for ``W[0, 1]``); the
function's output, summed or averaged, becomes one expression, and SymPy differentiates
it by each element. SymPy is slow (milliseconds per derivative of a long sum), so the
source is skipped, with the reason, above SYMBOLIC_LIMIT elements or when the
expression is too big to differentiate element by element (WORK_LIMIT).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.simplify.cse_main import tree_cse
from sympy.utilities.iterables import numbered_symbols

from ..errors import UnsupportedOperation
from ..stand_in import StandIn, as_expression, symbols
from ..evaluate import KINK_RTOL
from ..symbolic import HIGH_PRECISION_DIGITS, _kink_arguments
from .problem import FunctionProblem, explain_failure

__all__ = ["SymbolicModel", "KinkSites", "build_symbolic", "SYMBOLIC_LIMIT", "WORK_LIMIT"]

SYMBOLIC_LIMIT = 2_000  # parameter elements
# Estimated work of differentiating element by element: for each term of the (summed)
# expression, its size times the parameter elements in it (measured: about 0.25 ms of
# SymPy per unit on a busy 2-core machine, so about 10 s at the limit).
WORK_LIMIT = 40_000


def _dirac_delta(x: Any, k: int = 0) -> Any:
    return np.where(np.equal(x, 0), np.nan, 0.0)  # 0 off the jump, undefined on it


_NUMPY = [{"Heaviside": lambda x, h0=0.5: np.heaviside(x, h0), "DiracDelta": _dirac_delta}, np]  # module, not "numpy": no f2py star-import
_MPMATH = [{"DiracDelta": lambda x, k=0: mpmath.nan if x == 0 else mpmath.mpf(0)}, "mpmath"]


class _MagnitudePrinter(NumPyPrinter):
    """Prints every sum as the sum of its terms' absolute values: evaluated at a point,
    the size of the numbers a float64 evaluation adds (the bound symbolic.py's
    _term_magnitude gives, without building a second SymPy expression). Sums inside a
    function's argument or a division stay as they are: |w| + 2.84 inside acos is NaN."""

    _opaque = 0  # how many functions/divisions enclose the node being printed

    def _print(self, expr: Any, **kwargs: Any) -> str:
        opaque = isinstance(expr, sympy.Function) or (
            isinstance(expr, sympy.Pow) and not (expr.exp.is_Integer and expr.exp > 0))
        self._opaque += opaque
        try:
            return super()._print(expr, **kwargs)
        finally:
            self._opaque -= opaque

    def _print_Add(self, expr: sympy.Add, order: Any = None) -> str:
        if self._opaque:
            return super()._print_Add(expr, order)
        return " + ".join(f"abs({self._print(term)})" for term in expr.args)


def shared_subexpressions(exprs: Sequence[sympy.Expr]) -> tuple[list, list]:
    """SymPy's tree_cse: repeated subtrees only. Full cse also hunts common sub-sums and
    sub-products, which doubles compile time for no gain at one point per evaluation."""
    return tree_cse(list(exprs), numbered_symbols("_x"), opt_subs={}, order="none")


def _compile(symbols_: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr],
             magnitude: bool = False, cse: tuple | None = None) -> Callable[..., list[np.ndarray]]:
    printer = _MagnitudePrinter({"fully_qualified_modules": False, "inline": True,
                                 "allow_unknown_functions": True,
                                 "user_functions": {"Heaviside": "Heaviside", "DiracDelta": "DiracDelta"}}
                                ) if magnitude else None
    shared = cse or shared_subexpressions(exprs)
    raw = sympy.lambdify(symbols_, list(exprs), modules=_NUMPY, cse=lambda _: shared, printer=printer)

    def evaluate(**values: Any) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            return [np.asarray(o, dtype=float) for o in raw(*(values[s.name] for s in symbols_))]

    return evaluate


def _size(expr: sympy.Basic, cap: int) -> int:
    """Distinct subexpressions of ``expr`` (at most ``cap``): linear even when shared."""
    seen, stack = set(), [expr]
    while stack and len(seen) < cap:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return len(seen)


def _kink_sites(expr: sympy.Expr) -> list[sympy.Expr]:
    """Where ``expr`` may have a kink: symbolic.py's sites, plus the switches of the
    Piecewise that comparisons and np.where become."""
    sites = _kink_arguments(expr)
    for node in expr.atoms(sympy.Piecewise):
        for _, condition in node.args:
            if isinstance(condition, sympy.core.relational.Relational):
                sites.append(condition.lhs - condition.rhs)
    return [s for s in sites if s.free_symbols]


@dataclass(frozen=True)
class KinkSites:
    """Expressions that are zero where the function may have a kink, the elements each
    involves, and one compiled function: site values, then each (site, element) slope;
    ``magnitude`` gives the sites' term magnitudes."""

    sites: list[sympy.Expr]
    members: list[list[int]]
    values: Callable[..., list[np.ndarray]]
    magnitude: Callable[..., list[np.ndarray]]

    def at(self, arguments: Mapping[str, float]) -> dict[int, str]:
        values, magnitudes = self.values(**arguments), self.magnitude(**arguments)
        slopes, found = iter(values[len(self.sites):]), {}
        for site, members, value, magnitude in zip(self.sites, self.members, values, magnitudes):
            on_site = value == 0 or abs(value) <= KINK_RTOL * abs(magnitude)
            for element, slope in zip(members, slopes):
                if on_site and slope != 0:
                    found.setdefault(element, f"kink: {site} = 0 here, so the derivative does "
                                              "not exist (one-sided slopes differ)")
        return found


def _kink_model(expr: sympy.Expr, elements: list[sympy.Symbol], all_symbols: tuple
                ) -> KinkSites | None:
    sites = list(dict.fromkeys(-s if s.could_extract_minus_sign() else s for s in _kink_sites(expr)))
    if not sites:
        return None
    where = {s: i for i, s in enumerate(elements)}
    members = [sorted((s for s in site.free_symbols if s in where), key=where.get) for site in sites]
    slopes = [site.diff(s) for site, inside in zip(sites, members) for s in inside]
    return KinkSites(sites, [[where[s] for s in inside] for inside in members],
                     _compile(all_symbols, sites + slopes),
                     _compile(all_symbols, sites, magnitude=True))


@dataclass
class SymbolicModel:
    """The function's expression, one derivative per parameter element, compiled.

    ``names`` are the element symbols in flat order; ``symbols`` are those followed by
    the scalar inputs (problem.scalar_inputs), which are symbols too.
    """

    expr: sympy.Expr
    names: tuple[str, ...]
    exprs: list[sympy.Expr]
    symbols: tuple[sympy.Symbol, ...]
    gradient: Callable[..., list[np.ndarray]]
    magnitude: Callable[..., list[np.ndarray]]
    value_magnitude: Callable[..., list[np.ndarray]]
    kink_sites: KinkSites | None
    _refined: dict = field(default_factory=dict)

    def arguments(self, problem: FunctionProblem, point: Mapping[str, Any]) -> dict[str, float]:
        flat = problem.flatten(point)
        values = dict(zip(self.names, flat.tolist()))
        given = {**problem.fixed, **point}
        values.update({n: float(given[n]) for n in problem.scalar_inputs})
        return {s.name: values[s.name] for s in self.symbols}

    def evaluate(self, arguments: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray, float]:
        """Gradient, term magnitudes per element, and the magnitude of the value."""
        grad = np.array(self.gradient(**arguments), dtype=float).reshape(len(self.names))
        mag = np.abs(np.array(self.magnitude(**arguments), dtype=float).reshape(len(self.names)))
        return grad, mag, float(np.abs(self.value_magnitude(**arguments)[0]))

    def kinks(self, arguments: Mapping[str, float]) -> dict[int, str]:
        """Element -> why it sits on a kink here: a site within KINK_RTOL of zero (relative
        to its terms) that moving the element moves (its slope there is not zero)."""
        return self.kink_sites.at(arguments) if self.kink_sites is not None else {}

    def refined(self, arguments: Mapping[str, float]) -> np.ndarray:
        """Every derivative at HIGH_PRECISION_DIGITS digits (compiled once, on first need)."""
        key = tuple(sorted(arguments.items()))
        if key not in self._refined:
            if "mpmath" not in self._refined:
                self._refined["mpmath"] = sympy.lambdify(self.symbols, self.exprs, modules=_MPMATH,
                                                         cse=shared_subexpressions)
            with mpmath.workdps(HIGH_PRECISION_DIGITS):
                try:
                    raw = self._refined["mpmath"](*(mpmath.mpf(arguments[s.name]) for s in self.symbols))
                    values = [float(mpmath.re(v)) for v in raw]
                except (ValueError, ZeroDivisionError, OverflowError, TypeError):
                    values = [math.nan] * len(self.exprs)
            self._refined[key] = np.array(values)
        return self._refined[key]


def _trace(problem: FunctionProblem) -> tuple[sympy.Expr, dict[str, StandIn]]:
    leaves: dict[str, Any] = {}
    budget = None
    for p, shape in problem.shapes.items():
        leaves[p] = symbols(p, shape, budget)
        budget = leaves[p].budget
    for n in problem.scalar_inputs:
        leaves[n] = symbols(n, (), budget)
    try:
        out = problem.function(**{**problem.fixed, **leaves})
        return as_expression(out, problem.reduce), leaves
    except UnsupportedOperation as error:
        raise UnsupportedOperation(explain_failure(error, problem.function)) from None
    except Exception as error:  # the user's code met a symbolic value it cannot handle
        raise UnsupportedOperation(explain_failure(error, problem.function)) from None


def _differentiate(expr: sympy.Expr, elements: list[sympy.Symbol]) -> list[sympy.Expr]:
    """d expr / d element, differentiating only the terms of the sum that hold it."""
    terms = expr.args if isinstance(expr, sympy.Add) else (expr,)
    wanted, holding = set(elements), defaultdict(list)
    work = 0
    for term in terms:
        inside = term.free_symbols & wanted
        if inside:
            work += _size(term, WORK_LIMIT + 1) * len(inside)
            if work > WORK_LIMIT:
                raise UnsupportedOperation(
                    f"the expression is too large to differentiate element by element "
                    f"(estimated work above {WORK_LIMIT:,}; SymPy would take minutes)")
            for s in inside:
                holding[s].append(term)
    return [sympy.Add(*(t.diff(s) for t in holding[s])) for s in elements]


def build_symbolic(problem: FunctionProblem, limit: int = SYMBOLIC_LIMIT) -> SymbolicModel:
    """Trace, differentiate and compile; UnsupportedOperation says why it cannot."""
    if problem.size > limit:
        raise UnsupportedOperation(f"{problem.size:,} parameter elements, above the symbolic "
                                   f"limit of {limit:,} (symbolic_limit=)")
    expr, leaves = _trace(problem)
    elements = [s for p in problem.wrt for s in leaves[p].array.flat]
    extra = [leaves[n].array.item() for n in problem.scalar_inputs]
    all_symbols = tuple(elements) + tuple(extra)
    if len({s.name for s in all_symbols}) != len(all_symbols):
        raise UnsupportedOperation("names of parameter elements (W_0_1 for W[0, 1]) collide "
                                   "with the function's argument names")
    exprs = _differentiate(expr, elements)
    shared = shared_subexpressions(exprs)
    return SymbolicModel(
        expr, tuple(s.name for s in elements), exprs, all_symbols,
        gradient=_compile(all_symbols, exprs, cse=shared),
        # no shared subexpressions here: a sum moved out of a function's argument by CSE
        # would be printed as a sum of magnitudes
        magnitude=_compile(all_symbols, exprs, magnitude=True, cse=([], exprs)),
        value_magnitude=_compile(all_symbols, [expr], magnitude=True),
        kink_sites=_kink_model(expr, elements, all_symbols))
