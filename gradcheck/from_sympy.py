"""A SymPy expression as a syntax tree of the parser's kinds, so that it runs on the one
pipeline (tape and numeric included) like text does, without passing through text.

Only what the parser accepts is accepted: numbers, symbols, pi and E, + * ** and the
whitelisted functions. Anything else (``I``, ``zoo``, ``floor``, ``Integral``, ...) is
an ExpressionError naming it. The walk is iterative, so deep nests are fine.
"""

from __future__ import annotations

import ast
import math

import sympy

from .errors import ExpressionError
from .parse import SyntaxTree, symbol

__all__ = ["tree_from_sympy", "SYMPY_FUNCTIONS"]

# SymPy class -> the parser's function name.
SYMPY_FUNCTIONS: dict[type, str] = {
    sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan", sympy.asin: "asin",
    sympy.acos: "acos", sympy.atan: "atan", sympy.sinh: "sinh", sympy.cosh: "cosh",
    sympy.tanh: "tanh", sympy.exp: "exp", sympy.log: "log", sympy.Abs: "Abs",
    sympy.sign: "sign", sympy.Heaviside: "Heaviside", sympy.DiracDelta: "DiracDelta",
    sympy.Max: "Max", sympy.Min: "Min",
}


def _refuse(node: sympy.Basic) -> ExpressionError:
    shown = str(node)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return ExpressionError(f"SymPy {type(node).__name__} ({shown}) is not supported; gradcheck "
                           f"checks real expressions of + - * / ** and its whitelisted functions")


def _number(node: sympy.Basic) -> ast.expr:
    if node.is_Integer:
        return ast.Constant(int(node))
    if node.is_Rational:
        return ast.BinOp(ast.Constant(int(node.p)), ast.Div(), ast.Constant(int(node.q)))
    if node.is_Float:
        value = float(node)
        if not math.isfinite(value):
            raise ExpressionError(f"number {node} is out of range")
        return ast.Constant(value)
    if node is sympy.pi:
        return ast.Name("pi", ast.Load())
    if node is sympy.E:
        return ast.Name("E", ast.Load())
    raise _refuse(node)


def _chain(op: ast.operator, items: list[ast.expr]) -> ast.expr:
    out = items[0]
    for item in items[1:]:
        out = ast.BinOp(out, op, item)
    return out


def _combine(node: sympy.Basic, args: list[ast.expr]) -> ast.expr:
    if isinstance(node, sympy.Add):
        return _chain(ast.Add(), args)
    if isinstance(node, sympy.Mul):
        return _chain(ast.Mult(), args)
    if isinstance(node, sympy.Pow):
        return ast.BinOp(args[0], ast.Pow(), args[1])
    name = SYMPY_FUNCTIONS.get(type(node))
    if name is None:
        raise _refuse(node)
    return ast.Call(ast.Name(name, ast.Load()), args, [])


PRETTY_NODES = 500


def tree_from_sympy(expr: sympy.Basic) -> tuple[SyntaxTree, sympy.Expr]:
    """The syntax tree of ``expr`` and ``expr`` with real symbols (what parse gives)."""
    if not isinstance(expr, sympy.Expr):
        raise ExpressionError(f"expression must be a SymPy expression, got {type(expr).__name__}")
    built: dict[sympy.Basic, ast.expr] = {}
    names: set[str] = set()
    stack = [(expr, False)]
    while stack:
        node, ready = stack.pop()
        if node in built:
            continue
        if isinstance(node, sympy.Symbol):
            if node.name.startswith("_") or not node.name.isidentifier():
                raise ExpressionError(f"symbol name {node.name!r} is not allowed")
            if node.name in names:  # Symbol("x") and Symbol("x", positive=True) differ
                raise ExpressionError(f"two different SymPy symbols are both named "
                                      f"{node.name!r}; give them different names")
            names.add(node.name)
            built[node] = ast.Name(node.name, ast.Load())
        elif node.is_Atom:
            built[node] = _number(node)
        elif not ready:
            if not isinstance(node, (sympy.Add, sympy.Mul, sympy.Pow)) and type(node) not in SYMPY_FUNCTIONS:
                raise _refuse(node)
            stack.append((node, True))
            stack.extend((a, False) for a in node.args)
        else:
            built[node] = _combine(node, [built[a] for a in node.args])
    # only the symbols that are not already parse()'s: xreplace rebuilds every node above
    # a replaced one (3 s for 3,000 sin terms), even one replaced by an equal symbol
    renamed = {s: real for s in expr.free_symbols if (real := symbol(s.name)) != s}
    real = expr.xreplace(renamed) if renamed else expr
    # SymPy's printer sorts every sum: 0.26 s for 1,000 terms; past PRETTY_NODES, the
    # terms are shown in SymPy's own order
    text = str(expr) if len(built) <= PRETTY_NODES else sympy.sstr(expr, order="none")
    return SyntaxTree(text, built[expr], tuple(sorted(names)), ()), real
