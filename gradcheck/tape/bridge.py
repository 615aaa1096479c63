"""Run a SymPy expression on the tape.

The tree is walked iteratively (post-order with an explicit stack), so deep
expressions cannot hit Python's recursion limit, and equal subexpressions are
computed once (SymPy expressions hash structurally).

>>> import sympy
>>> from gradcheck.tape import Tensor
>>> x = sympy.Symbol("x", real=True)
>>> t = Tensor(2.0, requires_grad=True)
>>> y = evaluate(sympy.sin(x) ** 2 + sympy.sin(x), {"x": t})
>>> y.backward()
>>> bool(np.isclose(t.grad, (2 * np.sin(2.0) + 1) * np.cos(2.0)))
True
"""

from __future__ import annotations

from functools import reduce
from typing import Any, Mapping

import numpy as np
import sympy

from gradcheck.errors import GradcheckError, UnsupportedOperation
from gradcheck.tape.primitives import PRIMITIVES, Primitive, get_primitive
from gradcheck.tape.tensor import Tensor, apply

__all__ = ["SYMPY_PRIMITIVES", "evaluate"]

# The one table from SymPy node classes to tape primitives. Symbols and constant
# subexpressions (numbers, pi, E, sqrt(2), ...) are leaves and need no entry.
# sign, Heaviside and DiracDelta are here because SymPy's derivatives of Abs, Max, Min
# (and of those) use them.
SYMPY_PRIMITIVES: dict[type, str] = {
    # arithmetic (Add, Mul, Max, Min are n-ary: folded left)
    sympy.Add: "add",
    sympy.Mul: "mul",
    sympy.Pow: "pow",
    # exponential and logarithm
    sympy.exp: "exp",
    sympy.log: "log",
    # trigonometric
    sympy.sin: "sin",
    sympy.cos: "cos",
    sympy.tan: "tan",
    sympy.asin: "asin",
    sympy.acos: "acos",
    sympy.atan: "atan",
    # hyperbolic
    sympy.sinh: "sinh",
    sympy.cosh: "cosh",
    sympy.tanh: "tanh",
    # piecewise
    sympy.Abs: "abs",
    sympy.sign: "sign",
    sympy.Heaviside: "heaviside",
    sympy.DiracDelta: "dirac_delta",
    sympy.Max: "maximum",
    sympy.Min: "minimum",
}

_PRIMS = {cls: get_primitive(name) for cls, name in SYMPY_PRIMITIVES.items()}
_MUL, _DIV, _SQRT, _POW = (PRIMITIVES[n] for n in ("mul", "div", "sqrt", "pow"))
_HEAVISIDE, _DIRAC_DELTA = PRIMITIVES["heaviside"], PRIMITIVES["dirac_delta"]
_LEAF = object()  # marks "not a leaf" in _leaf_value


def evaluate(expr: Any, values: Mapping[Any, Any]) -> Tensor:
    """Evaluate ``expr`` on the tape with symbols bound by name in ``values``.

    Values may be Tensors (gradients flow to them), arrays or numbers (constants),
    of any broadcast-compatible shapes. Keys are names (or the Symbols themselves).

    >>> x = sympy.Symbol("x")
    >>> evaluate(x ** 2 + 1, {"x": 3.0}).item()
    10.0
    """
    expr = sympy.sympify(expr)
    cache: dict[sympy.Basic, Any] = {}
    stack = [expr]
    while stack:
        node = stack[-1]
        if node in cache:
            stack.pop()
            continue
        leaf = _leaf_value(node, values)
        if leaf is not _LEAF:
            cache[node] = leaf
            stack.pop()
            continue
        pending = [op for op in _operands(node) if op not in cache]
        if pending:
            stack.extend(pending)
            continue
        stack.pop()
        cache[node] = _combine(node, cache)
    result = cache[expr]
    return result if isinstance(result, Tensor) else Tensor(result)


def _leaf_value(node: sympy.Basic, values: Mapping[Any, Any]) -> Any:
    if isinstance(node, sympy.Symbol):
        for key in (node.name, node):
            if key in values:
                value = values[key]
                return value if isinstance(value, (Tensor, int, float)) else np.asarray(value)
        raise GradcheckError(f"no value given for symbol {node.name!r}")
    # Not node.is_number: it recurses. Constant operator nodes are folded by _call instead;
    # only constants the table cannot run (gamma(1/3), ...) are asked of SymPy.
    if node.is_Number or node.is_NumberSymbol or (type(node) not in _PRIMS and not node.free_symbols):
        try:
            return float(node)  # a Python float stays "weak": float32 tensors stay float32
        except TypeError:
            raise GradcheckError(f"constant {node} is not a real number") from None
    return _LEAF


def _call(prim: Primitive, *args: Any, **params: Any) -> Any:
    """apply() for tensors; constants fold to Python floats (weak) or arrays (data)."""
    if any(isinstance(a, Tensor) for a in args):
        return apply(prim, *args, **params)
    out = prim.forward(*args, **params)
    return float(out) if np.ndim(out) == 0 else out


def _split_fraction(node: sympy.Mul) -> tuple[list, list]:
    """Numerator factors and denominator bases: x*y**-1 runs as a division."""
    num, den = [], []
    for factor in node.args:
        if isinstance(factor, sympy.Pow) and factor.exp == -1:
            den.append(factor.base)
        else:
            num.append(factor)
    return num, den


def _operands(node: sympy.Basic) -> list:
    if isinstance(node, sympy.Pow) and node.exp.is_Number:
        return [node.base]
    if isinstance(node, sympy.Mul):
        num, den = _split_fraction(node)
        return num + den
    if isinstance(node, (sympy.Heaviside, sympy.DiracDelta)):
        return [node.args[0]]  # H0 and the derivative order are parameters, not operands
    return list(node.args)


def _product(factors: list) -> Any:
    return reduce(lambda a, b: _call(_MUL, a, b), factors)


def _combine(node: sympy.Basic, cache: dict) -> Any:
    prim = _PRIMS.get(type(node))
    if prim is None:
        shown = str(node) if len(str(node)) < 80 else str(node)[:77] + "..."
        raise UnsupportedOperation(f"the tape has no rule for SymPy {type(node).__name__} (in {shown})")
    if prim is _POW:
        return _pow(node, cache)
    if prim is _MUL:
        num, den = _split_fraction(node)
        top = _product([cache[f] for f in num]) if num else 1.0
        return _call(_DIV, top, _product([cache[f] for f in den])) if den else top
    if prim is _HEAVISIDE:
        h0 = float(node.args[1]) if len(node.args) > 1 else 0.5
        return _call(prim, cache[node.args[0]], h0=h0)
    if prim is _DIRAC_DELTA:
        return _call(prim, cache[node.args[0]])
    args = [cache[a] for a in node.args]
    return reduce(lambda a, b: _call(prim, a, b), args) if len(args) > 1 else _call(prim, args[0])


def _pow(node: sympy.Pow, cache: dict) -> Any:
    base, exponent = cache[node.base], node.exp
    if not exponent.is_Number:
        return _call(_POW, base, cache[exponent])
    if exponent == -1:
        return _call(_DIV, 1.0, base)
    if exponent == sympy.Rational(1, 2):
        return _call(_SQRT, base)
    if exponent == sympy.Rational(-1, 2):
        return _call(_DIV, 1.0, _call(_SQRT, base))
    if exponent == 2:
        return _call(_MUL, base, base)  # exactly rounded, like np.square
    return _call(_POW, base, float(exponent))
