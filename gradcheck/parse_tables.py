"""The parser's tables: limits, the function and constant whitelists, operator names.

Shared by :mod:`gradcheck.parse` (the converter and public API) and
:mod:`gradcheck.parse_source` (positions, messages and pre-checks); imports neither.
"""

from __future__ import annotations

import ast
import re
import inspect
import math
import operator
from typing import Callable

import mpmath
import sympy

MAX_LENGTH = 10_000  # characters of expression text
MAX_DEPTH = 100  # AST nesting; a chain such as a + b - c + ... counts as one level
MAX_EXPONENT = 1024  # largest |numeric exponent|
MAX_INT_DIGITS = 100  # digits of an integer literal
MAX_RESULT_DIGITS = 300  # a variable-free part whose value exceeds 10**300 is refused
MAX_CONSTANT_NESTING = 5  # calls/powers/divisions nested over plain numbers: exp(1/exp(2)) is 3
MAX_MINMAX_ARGUMENTS = 10  # SymPy's Max/Min (and their derivatives) cost grows ~quadratically


def symbol(name: str) -> sympy.Symbol:
    """Return the real SymPy symbol that parse() uses for a variable name.

    Real symbols make derivatives real-valued (d/dx |x| is sign(x), not a complex formula).

    >>> symbol("x").is_real
    True
    """
    return sympy.Symbol(name, real=True)


def _min_max(lattice: type) -> Callable[..., sympy.Expr]:
    """Builder for max/min: evaluated only on plain numbers, since SymPy compares every
    pair of symbolic arguments (slow) and flattens nested calls into one big Max."""

    def build(first: sympy.Expr, second: sympy.Expr, *rest: sympy.Expr) -> sympy.Expr:
        arguments = (first, second, *rest)
        all_numbers = all(argument.is_Number for argument in arguments)
        return lattice(*arguments, evaluate=all_numbers)

    return build


def _heaviside(x: sympy.Expr, h0: sympy.Expr | None = None) -> sympy.Expr:
    """Heaviside(x) (1/2 at 0, SymPy's default) or Heaviside(x, h0); the parser checks
    that h0 is a number."""
    return sympy.Heaviside(x) if h0 is None else sympy.Heaviside(x, h0)


def _dirac_delta(x: sympy.Expr, k: sympy.Expr | None = None) -> sympy.Expr:
    """DiracDelta(x) or its k-th derivative DiracDelta(x, k); the parser checks that k is
    a non-negative integer."""
    return sympy.DiracDelta(x) if k is None else sympy.DiracDelta(x, k)


_max = _min_max(sympy.Max)
_min = _min_max(sympy.Min)

# The whitelist: name -> builder. A builder's positional parameters give the argument count.
# The capitalised names and sign/Heaviside/DiracDelta are how SymPy's str() prints functions
# and derivatives, so that derivative text from a report can be pasted back as a claim.
FUNCTIONS: dict[str, Callable[..., sympy.Expr]] = {
    "sin": lambda x: sympy.sin(x),
    "cos": lambda x: sympy.cos(x),
    "tan": lambda x: sympy.tan(x),
    "exp": lambda x: sympy.exp(x),
    "log": lambda x: sympy.log(x),
    "sqrt": lambda x: sympy.sqrt(x),
    "tanh": lambda x: sympy.tanh(x),
    "sinh": lambda x: sympy.sinh(x),
    "cosh": lambda x: sympy.cosh(x),
    "asin": lambda x: sympy.asin(x),
    "acos": lambda x: sympy.acos(x),
    "atan": lambda x: sympy.atan(x),
    "abs": lambda x: sympy.Abs(x),
    "Abs": lambda x: sympy.Abs(x),
    "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
    "softplus": lambda x: sympy.log(1 + sympy.exp(x)),
    "relu": lambda x: _max(sympy.Integer(0), x),
    "max": _max,
    "min": _min,
    "Max": _max,
    "Min": _min,
    "sign": lambda x: sympy.sign(x),
    "Heaviside": _heaviside,
    "DiracDelta": _dirac_delta,
}

# Read as constants unless the caller lists them as variables (parse(text, variables=...)).
CONSTANTS: dict[str, sympy.Expr] = {
    "pi": sympy.pi,
    "E": sympy.E,
    "e": sympy.E,
    "π": sympy.pi,
}

# Functions taking any number of arguments, and the most the parser accepts.
_MOST_ARGUMENTS = {"max": MAX_MINMAX_ARGUMENTS, "min": MAX_MINMAX_ARGUMENTS,
                   "Max": MAX_MINMAX_ARGUMENTS, "Min": MAX_MINMAX_ARGUMENTS}

# Names people reach for that get_close_matches would not map to the right function.
_ALIASES = {"ln": "log", "arcsin": "asin", "arccos": "acos", "arctan": "atan"}
# Functions people reach for that the whitelist spells another way.
_SPELLED_OUT = {"log10": "log(x)/log(10)", "log2": "log(x)/log(2)", "exp2": "2**x",
                "square": "x**2", "cbrt": "x**(1/3)", "arcsinh": "log(x + sqrt(x**2 + 1))",
                "asinh": "log(x + sqrt(x**2 + 1))"}

_BINARY_OPERATORS: dict[type, tuple[str, Callable[[sympy.Expr, sympy.Expr], sympy.Expr]]] = {
    ast.Add: ("+", operator.add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", operator.mul),
    ast.Div: ("/", operator.truediv),
    ast.Pow: ("**", operator.pow),
}
# Operators whose left-leaning chains (a + b - c + ...) are flattened into one n-ary node.
_CHAINS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}
_REFUSED_OPERATORS = {
    ast.Mod: "%",
    ast.FloorDiv: "//",
    ast.MatMult: "@",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.BitAnd: "&",
    ast.Not: "not",
    ast.Invert: "~",
    ast.And: "and",
    ast.Or: "or",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
_REFUSED_CONSTRUCTS = {
    ast.Attribute: "attribute access",
    ast.Subscript: "indexing",
    ast.Slice: "slice",
    ast.Lambda: "lambda",
    ast.Compare: "comparison",
    ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression",
    ast.ListComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.DictComp: "comprehension",
    ast.GeneratorExp: "generator expression",
    ast.List: "list",
    ast.Tuple: "tuple",
    ast.Set: "set",
    ast.Dict: "dict",
    ast.NamedExpr: "assignment",
    ast.JoinedStr: "f-string",
    ast.FormattedValue: "f-string",
    ast.Starred: "unpacking",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
}
_CONSTANT_KINDS = {
    bool: "boolean",
    complex: "complex number",
    str: "string",
    bytes: "bytes literal",
    type(None): "constant",
    type(Ellipsis): "constant",
}
# Tree nodes that are markers (operators, load/store), not sub-expressions.
_MARKER_NODES = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
_UNDEFINED = frozenset({sympy.zoo, sympy.nan, sympy.oo, -sympy.oo})


def _argument_range(name: str) -> tuple[int, int | None]:
    """(fewest, most) positional arguments of FUNCTIONS[name]; most is None if unbounded."""
    parameters = inspect.signature(FUNCTIONS[name]).parameters.values()
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    least = sum(1 for p in positional if p.default is p.empty)
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    return least, _MOST_ARGUMENTS.get(name) if variadic else len(positional)


def _operands(node: ast.AST) -> list[ast.AST]:
    """Sub-expressions of a node: a call's arguments (not its name), no operator markers."""
    if isinstance(node, ast.Call):
        return list(node.args)
    return [child for child in ast.iter_child_nodes(node) if not isinstance(child, _MARKER_NODES)]


def _is_constant_level(node: ast.AST) -> bool:
    """Whether a node adds a level that SymPy may evaluate numerically (call, power, division)."""
    return isinstance(node, ast.Call) or (
        isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Pow, ast.Div))
    )


def _is_power(node: ast.AST) -> bool:
    return isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)


def _continues_chain(parent: ast.AST, child: ast.AST) -> bool:
    """``child`` is the left operand of ``parent`` with an operator of the same family."""
    return (isinstance(parent, ast.BinOp) and type(parent.op) in _CHAINS
            and isinstance(child, ast.BinOp) and child is parent.left
            and type(child.op) in (type(parent.op), _CHAINS[type(parent.op)]))


def _log10_magnitude(number: sympy.Number) -> float:
    """log10 |number| for a nonzero SymPy number, without materialising huge values."""
    if number.is_Rational:
        return math.log10(abs(number.p)) - math.log10(number.q)  # math.log10 takes big ints
    return float(mpmath.log10(abs(mpmath.mpf(number))))

# Letters Python accepts in names that show as nothing (Hangul fillers): "w\u3164" would
# silently be a second variable that looks like w.
_INVISIBLE_LETTERS = re.compile("[\u115f\u1160\u3164\uffa0]")
# Cyrillic and Greek letters drawn like Latin ones: "х" (Cyrillic) next to "x" would be
# two variables that look the same. Greek letters that look like themselves (α, θ, μ) stay.
_LOOKALIKES = {
    "а": "a", "в": "B", "е": "e", "к": "k", "м": "M", "н": "H", "о": "o", "р": "p", "с": "c",
    "т": "T", "у": "y", "х": "x", "і": "i", "ј": "j", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "І": "I", "Ј": "J", "Ѕ": "S",
    "ο": "o", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}
_OPERAND_THEN_OPERATOR = re.compile(r"[\w)]\s*[-+*/]")
_LOOKALIKE = re.compile("[" + "".join(_LOOKALIKES) + "]")
