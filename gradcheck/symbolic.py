"""The symbolic source: SymPy derivatives compiled to vectorised NumPy, and re-evaluated
with mpmath at high precision when float64 cannot decide a comparison."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import mpmath
import numpy as np
import sympy

__all__ = ["Derivatives", "differentiate", "high_precision", "HIGH_PRECISION_DIGITS"]

HIGH_PRECISION_DIGITS = 50
CSE_NODES = 1_000
SUM_CHUNK = 256

# Heaviside(0) = 1/2 matches the tape's tie rule for max/min and relu. The numpy module
# object (not the string "numpy") spares lambdify a star-import that loads f2py (0.6 s).
_NUMPY_NAMES = [{"Heaviside": lambda x, at_zero=0.5: np.heaviside(x, at_zero)}, np]


def _kink_arguments(expr: sympy.Expr) -> list[sympy.Expr]:
    """Expressions that are zero exactly where ``expr`` may have a kink."""
    sites = []
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, (sympy.Abs, sympy.sign, sympy.Heaviside)):
            sites.append(node.args[0])
        elif isinstance(node, (sympy.Max, sympy.Min)):
            args = node.args
            sites += [a - b for i, a in enumerate(args) for b in args[i + 1:]]
    return sites


def _term_magnitude(expr: sympy.Expr) -> sympy.Expr:
    """The size of the numbers a float64 evaluation of ``expr`` adds up: sums become sums of
    their terms' magnitudes, through products and positive integer powers; any other node
    (a function, a division) counts as its own absolute value, its argument untouched.

    eps times it, evaluated at a point, estimates the rounding error under cancellation.
    """
    if isinstance(expr, sympy.Add):
        return sympy.Add(*[_term_magnitude(t) for t in expr.args])
    if isinstance(expr, sympy.Mul):
        return sympy.Mul(*[_term_magnitude(f) for f in expr.args])
    if isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
        return _term_magnitude(expr.base) ** expr.exp
    # evaluate=False: Abs would otherwise query assumptions on every term (slow for big sums)
    return sympy.Abs(expr, evaluate=False)


def _sparse_diff(expr: sympy.Expr, wrt: Sequence[str]) -> dict[str, sympy.Expr]:
    """d(expr)/dp for each p, differentiating only the terms of a sum that contain p.

    A loss is usually a sum; indexing its terms by symbol once makes n derivatives of an
    n-term sum cost O(n) instead of O(n**2) (sympy.diff walks every term every time).
    """
    terms = expr.args if isinstance(expr, sympy.Add) else (expr,)
    holding: dict[str, list[sympy.Expr]] = {}
    symbols: dict[str, sympy.Symbol] = {}
    for term in terms:
        for s in term.free_symbols:
            holding.setdefault(s.name, []).append(term)
            symbols[s.name] = s
    return {p: sympy.Add(*[sympy.diff(t, symbols[p]) for t in holding.get(p, [])]) for p in wrt}


@dataclass(frozen=True)
class Derivatives:
    """An expression, its partial derivatives, and their compiled NumPy forms.

    All compiled functions take keyword arrays (one per free symbol, broadcastable)
    and return arrays of the broadcast shape.
    """

    expr: sympy.Expr
    wrt: tuple[str, ...]
    exprs: dict[str, sympy.Expr]
    symbols: tuple[sympy.Symbol, ...]
    value: Callable[..., np.ndarray]
    value_magnitude: Callable[..., np.ndarray]
    gradient: Callable[..., list[np.ndarray]]
    magnitude: Callable[..., list[np.ndarray]]
    kinks: dict[str, list[sympy.Expr]]
    kink_sites: tuple[sympy.Expr, ...]
    # [sites..., their term magnitudes..., d(site)/d(p) for each site and p in wrt]
    kink_value: Callable[..., list[np.ndarray]] | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.symbols)

    @property
    def analytic(self) -> bool:
        """No kinks anywhere: complex-step differentiation is valid."""
        return not any(self.kinks.values())


def _pieces(expr: sympy.Expr) -> list[sympy.Expr]:
    """A huge sum split into sums of at most SUM_CHUNK terms: Python's compiler recurses
    once per term of a generated a + b + c + ... and fails near a few thousand."""
    if not isinstance(expr, sympy.Add) or len(expr.args) <= SUM_CHUNK:
        return [expr]
    terms = expr.args
    return [sympy.Add(*terms[i:i + SUM_CHUNK]) for i in range(0, len(terms), SUM_CHUNK)]


def _compile(symbols, exprs) -> Callable:
    pieces = [_pieces(e) for e in exprs]
    flat = [piece for group in pieces for piece in group]
    # CSE pays for itself on models with shared subexpressions, but its cost grows faster
    # than linearly: above CSE_NODES nodes (thousands of parameters) it is left out.
    size = sum(sympy.count_ops(e, visual=False) + 1 for e in flat)
    raw = sympy.lambdify(symbols, flat, modules=_NUMPY_NAMES, cse=size <= CSE_NODES)
    bounds = np.cumsum([0] + [len(group) for group in pieces])

    def evaluate(**values):
        arrays = np.broadcast_arrays(*(np.asarray(values[s.name]) for s in symbols))
        shape = arrays[0].shape if arrays else ()
        with np.errstate(all="ignore"):
            out = [np.broadcast_to(np.asarray(o), shape) for o in raw(*arrays)]
            return [out[a] if b == a + 1 else sum(out[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    return evaluate


def differentiate(expr: sympy.Expr, wrt: Sequence[str]) -> Derivatives:
    """Differentiate ``expr`` by each name in ``wrt`` and compile everything once.

    >>> from gradcheck.parse import parse
    >>> d = differentiate(parse("w*x**2"), ["w"])
    >>> str(d.exprs["w"]), float(d.gradient(w=3.0, x=2.0)[0])
    ('x**2', 4.0)
    """
    symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
    by_name = {s.name: s for s in symbols}
    exprs = _sparse_diff(expr, wrt)
    sites = _kink_arguments(expr)
    kinks = {p: [k for k in sites if p in {s.name for s in k.free_symbols}] for p in wrt}
    kink_exprs = [-k if k.could_extract_minus_sign() else k for k in sites if k.free_symbols]
    # a kink matters for p only where moving p crosses it: d(site)/dp != 0 there
    slopes = [sympy.diff(k, by_name[p]) if p in by_name else sympy.Integer(0)
              for k in kink_exprs for p in wrt]
    value = _compile(symbols, [expr])
    value_magnitude = _compile(symbols, [_term_magnitude(expr)])
    return Derivatives(
        expr=expr,
        wrt=tuple(wrt),
        exprs=exprs,
        symbols=symbols,
        value=lambda **v: value(**v)[0],
        value_magnitude=lambda **v: value_magnitude(**v)[0],
        gradient=_compile(symbols, [exprs[p] for p in wrt]),
        magnitude=_compile(symbols, [_term_magnitude(exprs[p]) for p in wrt]),
        kinks=kinks,
        kink_sites=tuple(kink_exprs),
        kink_value=_compile(symbols, kink_exprs + [_term_magnitude(k) for k in kink_exprs] + slopes)
        if kink_exprs else None,
    )


def high_precision(expr: sympy.Expr, rows: Sequence[dict[str, float]],
                   reduce: str = "sum", digits: int = HIGH_PRECISION_DIGITS) -> float:
    """Evaluate ``expr`` with mpmath at ``digits`` digits, summed (or averaged) over rows.

    Inputs are converted to mpmath exactly (a float64 is a dyadic rational), so the only
    rounding left is mpmath's own, far below float64's.
    """
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    function = sympy.lambdify(symbols, expr, modules="mpmath")
    with mpmath.workdps(digits):
        total = mpmath.mpf(0)
        for row in rows:
            try:
                term = function(*(mpmath.mpf(float(row[s.name])) for s in symbols))
            except (ValueError, ZeroDivisionError, OverflowError, NameError, TypeError):
                return float("nan")  # outside the domain, or a function mpmath lacks
            if isinstance(term, mpmath.mpc):
                if abs(term.imag) > abs(term) * mpmath.mpf(10) ** (-digits // 2):
                    return float("nan")
                term = term.real
            total += term
        if reduce == "mean" and rows:
            total /= len(rows)
        return float(total)


def first_undefined(expr: sympy.Expr, rows: Sequence[dict[str, float]], limit: int = 200) -> str | None:
    """Name the innermost subexpression that stops being finite at these rows, if any."""
    arrays = {name: np.array([row[name] for row in rows]) for name in rows[0]} if rows else {}
    for node in list(sympy.postorder_traversal(expr))[:limit]:
        if node.is_Atom or not node.free_symbols:
            continue
        symbols = tuple(sorted(node.free_symbols, key=lambda s: s.name))
        values = _compile(symbols, [node])(**{s.name: arrays[s.name] for s in symbols})[0]
        bad = ~np.isfinite(values)
        if bad.any():
            row = rows[int(np.flatnonzero(bad)[0])]
            at = ", ".join(f"{s.name}={row[s.name]:.6g}" for s in symbols)
            return f"{node} is {values[bad][0]} at {at} (outside its domain or overflowing)"
    return None
