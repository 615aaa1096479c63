"""What NumPy's ufuncs mean for one SymPy element: the stand-in's one table.

Elementary functions skip SymPy's automatic simplification when their argument is
symbolic (see _lazy); comparisons give 0/1 indicators, so masks and np.where work.
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation

__all__ = ["ELEMENTWISE", "COMPARISONS", "UFUNCS", "is_constant", "select", "as_sympy"]


def is_constant(x: Any) -> bool:
    return not isinstance(x, sympy.Basic) or not x.free_symbols


def as_sympy(value: Any) -> sympy.Basic:
    """A SymPy object or a plain number as SymPy; anything else (text above all, which
    sympify would evaluate as code) is refused."""
    if isinstance(value, sympy.Basic):
        return value
    if isinstance(value, (bool, np.bool_)):
        return sympy.true if value else sympy.false
    if isinstance(value, (int, float, np.integer, np.floating)):
        return sympy.sympify(value)  # a number, never text
    raise UnsupportedOperation(f"the symbolic stand-in cannot use a {type(value).__name__} "
                               "value; return numbers or arrays of numbers")


def _indicator(relation: Any) -> Any:
    """1 where ``relation`` holds, else 0; a plain bool when SymPy can decide it."""
    relation = as_sympy(relation)
    if relation in (sympy.true, sympy.false):
        return bool(relation)
    return sympy.Piecewise((1, relation), (0, True))


def select(condition: Any, a: Any, b: Any) -> Any:
    """``a if condition else b`` for one element; symbolic conditions become Piecewise."""
    if isinstance(condition, (bool, np.bool_, int, float)) or getattr(condition, "is_Number", False):
        return a if condition else b
    if isinstance(condition, sympy.Piecewise) and condition.args[-1] == (0, True):
        return sympy.Piecewise((a, condition.args[0].cond), (b, True))
    return sympy.Piecewise((a, sympy.Ne(condition, 0)), (b, True))


def _lazy(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` without SymPy's automatic simplification when its argument is symbolic:
    ``tanh`` of a long sum spends ~0.1 s looking for a sign to extract; diff needs none of it."""
    def apply(*args: Any) -> Any:
        if any(not is_constant(a) for a in args):
            return function(*args, evaluate=False)
        return function(*args)
    return apply


# The one table: NumPy ufunc -> what it means for one element.
ELEMENTWISE: dict[np.ufunc, Callable[..., Any]] = {
    # arithmetic
    np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
    np.true_divide: operator.truediv, np.power: operator.pow, np.negative: operator.neg,
    np.positive: operator.pos, np.square: lambda a: a ** 2, np.reciprocal: lambda a: 1 / a,
    # exponential and logarithm
    np.exp: _lazy(sympy.exp), np.log: _lazy(sympy.log), np.sqrt: sympy.sqrt,
    np.log1p: lambda a: _lazy(sympy.log)(1 + a), np.expm1: lambda a: _lazy(sympy.exp)(a) - 1,
    # trigonometric and hyperbolic
    np.sin: _lazy(sympy.sin), np.cos: _lazy(sympy.cos), np.tan: _lazy(sympy.tan),
    np.arcsin: _lazy(sympy.asin), np.arccos: _lazy(sympy.acos), np.arctan: _lazy(sympy.atan),
    np.sinh: _lazy(sympy.sinh), np.cosh: _lazy(sympy.cosh), np.tanh: _lazy(sympy.tanh),
    # piecewise
    np.absolute: sympy.Abs, np.sign: sympy.sign, np.maximum: sympy.Max, np.minimum: sympy.Min,
    np.heaviside: lambda a, h0: sympy.Heaviside(a, h0),
    # comparisons: 0/1 indicators
    np.greater: lambda a, b: _indicator(sympy.Gt(a, b)),
    np.greater_equal: lambda a, b: _indicator(sympy.Ge(a, b)),
    np.less: lambda a, b: _indicator(sympy.Lt(a, b)),
    np.less_equal: lambda a, b: _indicator(sympy.Le(a, b)),
    np.equal: lambda a, b: _indicator(sympy.Eq(a, b)),
    np.not_equal: lambda a, b: _indicator(sympy.Ne(a, b)),
}
COMPARISONS = {np.greater, np.greater_equal, np.less, np.less_equal, np.equal, np.not_equal}
UFUNCS = {u: np.frompyfunc(f, u.nin, 1) for u, f in ELEMENTWISE.items()}
