"""Safe parser: turns an expression string such as "w*x**2 + b" into a SymPy expression.

The text is never evaluated: ``ast.parse`` only builds a syntax tree, and every node is
translated by hand against a whitelist (anything else raises ExpressionError). Size,
nesting and exponent limits are checked before SymPy does any arithmetic, so hostile
input fails fast instead of hanging or exhausting memory.

``parse_tree`` validates text and returns the checked syntax tree (for evaluators that
walk it themselves); ``to_sympy`` converts such a tree; ``parse`` does both. The tables
live in :mod:`gradcheck.parse_tables`, positions and messages in
:mod:`gradcheck.parse_source`.
"""

from __future__ import annotations

import ast
import math
import re
import sys
import types
from dataclasses import dataclass
from typing import Callable, Iterable

import sympy

from .errors import ExpressionError
from .parse_source import _read, _Source, argument_count_message, unknown_function_message
from .parse_tables import (
    _BINARY_OPERATORS,
    _CHAINS,
    _CONSTANT_KINDS,
    _REFUSED_CONSTRUCTS,
    _REFUSED_OPERATORS,
    _UNDEFINED,
    CONSTANTS,
    FUNCTIONS,
    MAX_CONSTANT_NESTING,  # noqa: F401  (the limits stay importable from here)
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_LENGTH,
    MAX_MINMAX_ARGUMENTS,  # noqa: F401
    MAX_RESULT_DIGITS,
    _continues_chain,
    _log10_magnitude,
    symbol,
)

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "SyntaxTree",
    "parse",
    "parse_tree",
    "parse_validated",
    "symbol",
    "to_sympy",
]


@dataclass(frozen=True)
class SyntaxTree:
    """A validated expression: the user's ``text``; ``body``, the Python ast expression
    node of it (``^`` already rewritten to ``**``) that the converter walks, made only of
    BinOp (+ - * / **), UnaryOp (unary - +), Constant (int or float), Name, and Call of a
    name in FUNCTIONS with positional arguments; ``names``, the variables (sorted, without
    function names and constants); ``constants``, the names read as constants (sorted)."""

    text: str
    body: ast.expr
    names: tuple[str, ...]
    constants: tuple[str, ...]


def parse(text: str, variables: Iterable[str] = ()) -> sympy.Expr:
    """Parse an expression string into a SymPy expression with real symbols.

    Allowed: numbers, variable names, + - * / ** ^ (power), unary +/-, parentheses,
    the constants in CONSTANTS and calls to the functions in FUNCTIONS. Everything
    else raises ExpressionError with ``column`` pointing at the offending token.
    Names in ``variables`` that would be constants (e, π, E, pi) are variables instead.
    The same as ``to_sympy(parse_tree(text, variables), variables)``, in one pass.

    >>> parse("w*x^2 + sigmoid(b)")
    w*x**2 + 1/(1 + exp(-b))
    >>> parse("e*x"), parse("e*x", variables=["e"])
    (E*x, e*x)
    >>> parse("x.real")
    Traceback (most recent call last):
        ...
    gradcheck.errors.ExpressionError: attribute access '.real' is not allowed
    """
    constants = _constants(variables)
    source = _read(text)
    return _build(source, source.parse_ast().body, constants)


def parse_tree(text: str, variables: Iterable[str] = ()) -> SyntaxTree:
    """Validate ``text`` exactly as parse() does (same errors, messages and columns) and
    return its syntax tree. ``variables`` only matters for e, π, E and pi: listed, they
    are variables (in ``names``, and validated as such), else constants.

    >>> tree = parse_tree("e^(-x^2) * sin(w*x) / pi")
    >>> tree.names, tree.constants
    (('w', 'x'), ('e', 'pi'))
    >>> ast.dump(parse_tree("x^2").body)
    "BinOp(left=Name(id='x', ctx=Load()), op=Pow(), right=Constant(value=2))"
    """
    return parse_validated(text, variables)[0]


def parse_validated(text: str, variables: Iterable[str] = ()) -> tuple[SyntaxTree, sympy.Expr]:
    """parse_tree(), and the SymPy expression its validation built (the same as
    to_sympy(tree, variables) returns: kept, it need not be built twice)."""
    constants = _constants(variables)
    source = _read(text)
    body = source.parse_ast().body
    expression = _build(source, body, constants)  # validation: the converter runs once
    found: set[str] = set()
    callees: set[int] = set()
    for node in ast.walk(body):  # breadth first: a call comes before its function's name
        if isinstance(node, ast.Call):
            callees.add(id(node.func))
        elif isinstance(node, ast.Name) and id(node) not in callees:
            found.add(node.id)
    return SyntaxTree(text, body, tuple(sorted(found - constants.keys())),
                      tuple(sorted(found & constants.keys()))), expression


def to_sympy(tree: SyntaxTree, variables: Iterable[str] = ()) -> sympy.Expr:
    """Convert a tree from parse_tree() to SymPy, reading the names in ``variables`` that
    would be constants (e, π, E, pi) as variables. The limits are checked again (cheap,
    and a tree may have been built by hand or validated with other variables)."""
    if not isinstance(tree, SyntaxTree):
        raise TypeError(f"to_sympy() takes a SyntaxTree, got {type(tree).__name__}")
    constants = _constants(variables)
    return _build(_Source(tree.text, tree.text.strip()), tree.body, constants)


def _constants(variables: Iterable[str]) -> dict[str, sympy.Expr]:
    """CONSTANTS without the names the caller reads as variables."""
    if isinstance(variables, str):  # "pi" would silently be the variables p and i
        raise TypeError(f"variables must be a collection of names, not the string {variables!r}")
    listed = set()
    for name in variables:
        if not isinstance(name, str):
            raise TypeError(f"variable names must be strings, got {type(name).__name__}")
        listed.add(name)
    return {name: value for name, value in CONSTANTS.items() if name not in listed}


def _build(source: _Source, body: ast.AST, constants: dict[str, sympy.Expr]) -> sympy.Expr:
    """Check the limits, then convert ``body`` (an expression node of ``source``)."""
    text = source.text
    source.check_depth(body)
    source.check_constants(body, constants)
    try:
        expression = _Converter(source, constants).convert(body)
    except RecursionError:  # SymPy recurses several frames per tree level
        raise source.too_deep(None) from None
    except ExpressionError:
        raise
    except (ArithmeticError, ValueError) as error:  # e.g. an mpmath overflow inside SymPy
        raise ExpressionError(f"expression cannot be built: {error}", text, None) from None
    # Safety net; check_constants and _Converter normally catch these earlier, with a column.
    if expression.has(*_UNDEFINED):
        raise ExpressionError(f"expression is undefined: {expression}", text, None)
    if expression.has(sympy.I):
        raise ExpressionError(f"expression is not real-valued: {expression}", text, None)
    return expression


class _Converter:
    """Translates a whitelisted AST into SymPy, one node type per method."""

    def __init__(self, source: _Source, constants: dict[str, sympy.Expr]):
        self.source = source
        self.constants = constants  # names read as constants; every other name is a variable
        self.handlers: dict[type, Callable[[ast.AST], sympy.Expr]] = {
            ast.BinOp: self._binary,
            ast.UnaryOp: self._unary,
            ast.Constant: self._constant,
            ast.Name: self._name,
            ast.Call: self._call,
        }

    def convert(self, node: ast.AST) -> sympy.Expr:
        handler = self.handlers.get(type(node))
        if handler is None:
            raise self._refuse_construct(node)
        return handler(node)

    def _refuse(self, message: str, node: ast.AST, end: bool = False) -> ExpressionError:
        return self.source.refuse(message, self.source.node_column(node, end))

    def _refuse_construct(self, node: ast.AST) -> ExpressionError:
        what = _REFUSED_CONSTRUCTS.get(type(node), type(node).__name__)
        column = self.source.node_column(node)
        if isinstance(node, ast.Attribute):
            attribute_end = self.source.node_column(node, end=True)
            if attribute_end is not None:
                column = self.source.text.rfind(".", 0, attribute_end - len(node.attr))
            token = f".{node.attr}"
            if node.attr in FUNCTIONS:  # np.sin(x), math.exp(x), torch.tanh(x)
                return self.source.refuse(f"{what} '{token}' is not allowed; write "
                                          f"{node.attr}(...) without a module prefix", column)
        elif isinstance(node, ast.Compare):
            token = _REFUSED_OPERATORS.get(type(node.ops[0]), "?")
            column = self._operator_column(node.left, node.comparators[0], token)
        elif isinstance(node, ast.BoolOp):
            token = _REFUSED_OPERATORS.get(type(node.op), "?")
            column = self._operator_column(node.values[0], node.values[1], token)
        else:
            token = self.source.snippet(node)
        return self.source.refuse(f"{what} '{token}' is not allowed", column)

    def _operator_column(self, left: ast.AST, right: ast.AST, token: str) -> int | None:
        """Where an operator sits: ast records operands' positions, not the operator's."""
        start = self.source.node_column(left, end=True)
        stop = self.source.node_column(right)
        if start is None or stop is None:
            return start
        found = self.source.text.find(token, start, stop)
        return found if found >= 0 else start

    # --- node handlers ---------------------------------------------------------------
    def _binary(self, node: ast.BinOp) -> sympy.Expr:
        op_type = type(node.op)
        if op_type not in _BINARY_OPERATORS:
            token = _REFUSED_OPERATORS.get(op_type, op_type.__name__)
            column = self._operator_column(node.left, node.right, token)
            raise self.source.refuse(f"operator '{token}' is not allowed", column)
        if op_type in _CHAINS:
            return self._checked(self._chain(node), node)
        left = self.convert(node.left)
        right = self.convert(node.right)
        self._check_power(node, left, right)
        return self._checked(left ** right, node)

    def _chain(self, node: ast.BinOp) -> sympy.Expr:
        """a + b - c + ... (or a * b / c ...) as one n-ary SymPy node, walked without
        recursion along the chain: a 2,900-term sum (about what Python's own parser takes)
        is as easy as a 2-term one."""
        is_sum = type(node.op) in (ast.Add, ast.Sub)
        operands = []  # (operator, operand, the BinOp it belongs to), right to left
        while True:
            operands.append((type(node.op), node.right, node))
            if not _continues_chain(node, node.left):
                operands.append((None, node.left, node))
                break
            node = node.left
        terms = []
        for op, operand, owner in reversed(operands):
            value = self.convert(operand)
            if op is ast.Div and value.is_Number and value.is_zero:
                raise self._refuse(f"division by zero in '{self.source.snippet(owner)}'", operand)
            terms.append(-value if op is ast.Sub else value ** -1 if op is ast.Div else value)
        return sympy.Add(*terms) if is_sum else sympy.Mul(*terms)

    def _check_power(self, node: ast.BinOp, base: sympy.Expr, exponent: sympy.Expr) -> None:
        """Refuse powers whose size would make SymPy (or later numerics) blow up."""
        if not exponent.is_Number:
            return
        if abs(exponent) > MAX_EXPONENT:
            shown = exponent if exponent.is_Integer else self.source.snippet(node.right)
            raise self._refuse(f"exponent {shown} is too large (limit {MAX_EXPONENT})", node.right)
        if not base.is_Number:
            return
        if base.is_zero:
            if exponent.is_negative:
                raise self._refuse(f"division by zero in '{self.source.snippet(node)}'", node)
            return
        if abs(exponent) * abs(_log10_magnitude(base)) > MAX_RESULT_DIGITS:
            raise self._refuse(
                f"'{self.source.snippet(node)}' is out of range (beyond 10**{MAX_RESULT_DIGITS})", node
            )

    def _unary(self, node: ast.UnaryOp) -> sympy.Expr:
        if isinstance(node.op, ast.USub):
            return -self.convert(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.convert(node.operand)
        token = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
        raise self._refuse(f"operator '{token}' is not allowed", node)

    def _constant(self, node: ast.Constant) -> sympy.Expr:
        value = node.value
        if type(value) is int:  # exact type: bool is an int subclass
            if abs(value) >= 10**MAX_INT_DIGITS:
                raise self._refuse(f"integer literal is too long (limit {MAX_INT_DIGITS} digits)", node)
            return sympy.Integer(value)
        if type(value) is float:
            if not math.isfinite(value):
                raise self._refuse(f"number '{self.source.snippet(node)}' is out of range", node)
            written = self.source.snippet(node)
            if value == 0 and re.search(r"[1-9]", written.lower().split("e")[0]):
                raise self._refuse(f"number '{written}' is too small for float64 and would "
                                   "silently be 0 (the smallest is about 5e-324)", node)
            return sympy.Float(repr(value))  # from the shortest repr, so 0.1 stays 0.1
        kind = _CONSTANT_KINDS.get(type(value), "constant")
        shown = self.source.snippet(node)
        if not isinstance(value, (str, bytes)):  # string snippets already carry quotes
            shown = f"'{shown}'"
        raise self._refuse(f"{kind} {shown} is not allowed", node)

    def _name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        self._check_not_private(name, node)
        if not self.source.body.isascii():  # ｘ and x, µ and μ: one name, two spellings
            self._check_spelling(name, node)
        if name in self.constants:
            return self.constants[name]
        if name in FUNCTIONS:
            raise self._refuse(f"'{name}' is a function, not a variable; call it, e.g. {name}(x)", node)
        return symbol(name)

    def _check_spelling(self, name: str, node: ast.AST) -> None:
        # Python normalises names (NFKC): "ℯ" is read as e, "ϖ" as π, "ｘ" as x; refuse
        # such spellings rather than let two look-alikes become one name unnoticed.
        spelled = self.source.spelling(node)
        if spelled is not None and spelled != name:
            raise self._refuse(f"name '{spelled}' would be read as '{name}'; write {name}", node)

    def _check_not_private(self, name: str, node: ast.AST) -> None:
        # Dunder names are the usual first step of sandbox escapes; refuse them all.
        if name.startswith("_"):
            raise self._refuse(f"name '{name}' is not allowed (names must not start with '_')", node)

    def _call(self, node: ast.Call) -> sympy.Expr:
        function = node.func
        if not isinstance(function, ast.Name):
            if type(function) not in self.handlers:
                raise self._refuse_construct(function)
            callee = self.source.snippet(function)
            if not isinstance(function, ast.Constant):
                callee = f"({callee})"
            callee_end = self.source.node_column(function, end=True) or 0
            raise self.source.refuse(
                f"'{callee}' is not a function; to multiply write {callee}*(...)",
                self.source.text.find("(", callee_end),
            )
        name = function.id
        self._check_not_private(name, function)
        if name not in FUNCTIONS:
            raise self._refuse(unknown_function_message(self.source, name, node, self.constants), function)
        if node.keywords:
            keyword = node.keywords[0]
            token = f"{keyword.arg}=" if keyword.arg else "**"
            raise self._refuse(f"keyword argument '{token}' is not allowed in {name}(...)", keyword)
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self._refuse_construct(argument)
        self._check_argument_count(name, node)
        arguments = [self.convert(argument) for argument in node.args]
        self._check_parameter(name, node, arguments)
        return self._checked(FUNCTIONS[name](*arguments), node)

    def _check_parameter(self, name: str, node: ast.Call, arguments: list[sympy.Expr]) -> None:
        """The second argument of Heaviside and DiracDelta is a parameter, not an operand."""
        if len(arguments) < 2:
            return
        if name == "Heaviside" and not arguments[1].is_Number:
            raise self._refuse(
                "the second argument of Heaviside (its value at 0) must be a number, "
                "e.g. Heaviside(x, 0)", node.args[1])
        if name == "DiracDelta" and not (arguments[1].is_Integer and arguments[1] >= 0):
            raise self._refuse(
                "the second argument of DiracDelta (the order of its derivative) must be "
                "a non-negative integer, e.g. DiracDelta(x, 1)", node.args[1])

    def _check_argument_count(self, name: str, node: ast.Call) -> None:
        message = argument_count_message(name, len(node.args))
        if message:
            raise self._refuse(message, node.func)

    def _checked(self, result: sympy.Expr, node: ast.AST) -> sympy.Expr:
        """Refuse a result that is infinite or undefined (e.g. tan(pi/2)); values that are
        complex or out of range were caught earlier, by _Source.check_constants."""
        # Only the node and its direct arguments: undefined values are caught where they appear.
        if result in _UNDEFINED or any(argument in _UNDEFINED for argument in result.args):
            raise self._refuse(f"'{self.source.snippet(node)}' is undefined (it gives {result})", node)
        if isinstance(result, sympy.DiracDelta) and result.args[0] == 0:
            raise self._refuse(
                f"'{self.source.snippet(node)}' is undefined (DiracDelta is infinite at 0)", node)
        return result


class _CallableModule(types.ModuleType):
    """Importing this module binds ``gradcheck.parse`` to it, over the exported function
    of the same name; calling the module calls the function, so both spellings work."""

    def __call__(self, text: str, variables: Iterable[str] = ()) -> sympy.Expr:
        return parse(text, variables)


sys.modules[__name__].__class__ = _CallableModule
