"""SymPy expressions compiled to NumPy (values, or the magnitudes of the terms a float64
evaluation adds up) and evaluated with mpmath at high precision."""

from __future__ import annotations

import math
import threading
from typing import Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import MpmathPrinter
from sympy.simplify.cse_main import tree_cse
from sympy.utilities.iterables import numbered_symbols

from .codegen import MPMATH, compile_function
from .errors import UnsupportedOperation

__all__ = ["compile_numpy", "HighPrecision", "shared_subexpressions", "real_values",
           "HIGH_PRECISION_DIGITS"]

HIGH_PRECISION_DIGITS = 50
# mpmath costs some 50 us per row and derivative: beyond this many data rows the
# re-evaluation is not offered (the comparison stays in float64, and says nothing false).
MAX_REFINED_ROWS = 20_000
SUM_CHUNK = 256


def _dirac_delta(x: Any, k: int = 0) -> Any:
    return np.where(np.equal(x, 0), np.nan, 0.0)  # 0 off the jump, undefined on it


# Heaviside(0) = 1/2 matches the tape's tie rule for max/min and relu.
_NAMESPACE = {**np.__dict__, "Heaviside": lambda x, h0=0.5: np.heaviside(x, h0), "DiracDelta": _dirac_delta}
_PRINTER_SETTINGS = {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True,
                     "user_functions": {"Heaviside": "Heaviside", "DiracDelta": "DiracDelta"}}


class _MagnitudePrinter(NumPyPrinter):
    """Prints every sum as the sum of its terms' absolute values: evaluated at a point,
    the size of the numbers a float64 evaluation adds. Sums inside a function's argument
    or a division stay as they are: |w| + 2.84 inside acos is NaN."""

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


def _repeats(exprs: Sequence[sympy.Expr]) -> bool:
    """Whether some compound subexpression occurs twice: only then does CSE pay (it costs
    about 1 s per 1,000 terms, which a sum of independent terms would pay for nothing)."""
    seen: set = set()
    stack = list(exprs)
    while stack:
        node = stack.pop()
        if node.is_Atom:
            continue
        if node in seen:
            return True
        seen.add(node)
        stack.extend(node.args)
    return False


def _pieces(expr: sympy.Expr) -> list[sympy.Expr]:
    """A huge sum split into sums of at most SUM_CHUNK terms: Python's compiler recurses
    once per term of a generated a + b + c + ... and fails near a few thousand."""
    if not isinstance(expr, sympy.Add) or len(expr.args) <= SUM_CHUNK:
        return [expr]
    terms = expr.args
    return [sympy.Add(*terms[i:i + SUM_CHUNK]) for i in range(0, len(terms), SUM_CHUNK)]


def compile_numpy(symbols: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr],
                  magnitude: bool = False, cse: bool = True) -> Callable[..., list[np.ndarray]]:
    """One NumPy function of keyword arrays returning every expression's value (or term
    magnitude), broadcast. Magnitudes never share subexpressions: a sum moved out of a
    function's argument by CSE would be printed as a sum of magnitudes (|w| + |x| for
    the w - x inside cos(w - x))."""
    pieces = [_pieces(e) for e in exprs]
    flat = [piece for group in pieces for piece in group]
    printer = (_MagnitudePrinter if magnitude else NumPyPrinter)(_PRINTER_SETTINGS)
    shared = cse and not magnitude and _repeats(flat)
    pairs, reduced = shared_subexpressions(flat) if shared else ([], flat)
    try:
        raw = compile_function(symbols, reduced, pairs, _NAMESPACE, printer, magnitude=magnitude)
    except Exception as error:  # e.g. an unevaluated Derivative SymPy could not print
        raise UnsupportedOperation(f"SymPy cannot compile the derivative to NumPy "
                                   f"({type(error).__name__})") from None
    bounds = np.cumsum([0] + [len(group) for group in pieces])

    def evaluate(**values: Any) -> list[np.ndarray]:
        with np.errstate(all="ignore"):
            out = raw(*(values[s.name] for s in symbols))
            return [out[a] if b == a + 1 else sum(out[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]

    return evaluate


def real_values(value: Any) -> np.ndarray:
    """A compiled derivative's float64 values; a complex one (SymPy's (-1)**x*log(-1)) is
    its real part where the imaginary part vanishes, else undefined (NaN), never a warning."""
    array = np.asarray(value)
    if not np.iscomplexobj(array):
        return array.astype(float)
    return np.where(array.imag == 0, array.real, np.nan)


_contexts = threading.local()


def _context(digits: int) -> tuple[mpmath.ctx_mp.MPContext, dict[str, Any]]:
    """This thread's mpmath context at ``digits``, and the names compiled code sees in it.
    mpmath's functions raise their context's precision while they work, so a context is
    never shared between threads (and mpmath's global one never used)."""
    pool = _contexts.__dict__.setdefault("pool", {})
    if digits not in pool:
        ctx = mpmath.MPContext()
        ctx.dps = digits
        namespace = {name: getattr(ctx, name) for name in dir(mpmath)
                     if not name.startswith("_") and hasattr(ctx, name)}
        namespace.update({"DiracDelta": lambda x, k=0: ctx.nan if x == 0 else ctx.mpf(0),
                          "Heaviside": lambda x, h0=0.5: ctx.mpf(h0) if x == 0 else ctx.mpf(x > 0)})
        pool[digits] = ctx, namespace
    return pool[digits]


class HighPrecision:
    """Expressions compiled for mpmath at ``digits`` digits, on the context of the thread
    that calls them (see _context): compiled again for another thread, so no two
    threads ever share a context."""

    def __init__(self, symbols: Sequence[sympy.Symbol], exprs: Sequence[sympy.Expr],
                 cse: Any = None, digits: int = HIGH_PRECISION_DIGITS):
        self.digits = digits
        self.symbols = tuple(symbols)
        self.count = len(exprs)
        self._shared = cse(list(exprs)) if cse is not None else ([], list(exprs))
        self._compiled: dict[int, tuple[Any, Callable[..., list]]] = {}
        self._here()

    def _here(self) -> tuple[Any, Callable[..., list]]:
        """This thread's context and the expressions compiled on it."""
        thread = threading.get_ident()
        if thread not in self._compiled:
            ctx, namespace = _context(self.digits)
            pairs, reduced = self._shared
            self._compiled[thread] = ctx, compile_function(
                self.symbols, reduced, pairs, namespace, MpmathPrinter(_PRINTER_SETTINGS), MPMATH)
        return self._compiled[thread]

    ctx = property(lambda self: self._here()[0])
    function = property(lambda self: self._here()[1])

    def __call__(self, arguments: Mapping[str, Any], rows: Sequence[str], reduce: str) -> np.ndarray:
        """Every expression, summed (or averaged) over the data rows. Inputs convert to
        mpmath exactly (a float64 is a dyadic rational): the only rounding left is mpmath's."""
        (ctx, function), count = self._here(), self.count
        ctx.dps = self.digits  # whatever an interrupted mpmath function left behind
        length = len(np.asarray(arguments[rows[0]])) if rows else 1
        if length > MAX_REFINED_ROWS:
            return np.full(count, math.nan)
        total = [ctx.mpf(0)] * count
        for i in range(length):
            try:
                raw = function(*(ctx.mpf(float(np.asarray(arguments[s.name])[i] if s.name in rows
                                                    else arguments[s.name])) for s in self.symbols))
            except (ValueError, ZeroDivisionError, OverflowError, NameError, TypeError):
                return np.full(count, math.nan)  # outside the domain, or a function mpmath lacks
            for k, term in enumerate(raw):
                if isinstance(term, ctx.mpc):
                    if abs(term.imag) > abs(term) * ctx.mpf(10) ** (-self.digits // 2):
                        total[k] = ctx.nan
                        continue
                    term = term.real
                total[k] += term
        if reduce == "mean" and length:
            total = [t / length for t in total]
        return np.array([float(t) for t in total])
