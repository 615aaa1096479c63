"""Safe parser: turns an expression string such as "w*x**2 + b" into a SymPy expression.

The text is never evaluated: ``ast.parse`` only builds a syntax tree, and every node is
translated by hand against a whitelist (anything else raises ExpressionError). Size,
nesting and exponent limits are checked before SymPy does any arithmetic, so hostile
input fails fast instead of hanging or exhausting memory.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import math
import operator
import re
import warnings
from typing import Callable

import mpmath
import sympy

from .errors import ExpressionError

__all__ = [
    "CONSTANTS",
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_EXPONENT",
    "MAX_LENGTH",
    "parse",
    "symbol",
]

MAX_LENGTH = 10_000  # characters of expression text
MAX_DEPTH = 100  # AST nesting; a chain such as a + b - c + ... counts as one level
MAX_EXPONENT = 1024  # largest |numeric exponent|
MAX_INT_DIGITS = 100  # digits of an integer literal
MAX_RESULT_DIGITS = 300  # a variable-free part whose value exceeds 10**300 is refused
MAX_CONSTANT_NESTING = 5  # calls/powers/divisions nested over plain numbers: exp(1/exp(2)) is 3
MAX_MINMAX_ARGUMENTS = 10  # SymPy's Max/Min (and their derivatives) cost grows ~quadratically

_SNIPPET_LENGTH = 40  # longest piece of user text quoted in a message


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


_max = _min_max(sympy.Max)
_min = _min_max(sympy.Min)

# The whitelist: name -> builder. A builder's positional parameters give the argument count.
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
}

CONSTANTS: dict[str, sympy.Expr] = {
    "pi": sympy.pi,
    "E": sympy.E,
}

# Names people reach for that get_close_matches would not map to the right function.
_ALIASES = {"ln": "log", "arcsin": "asin", "arccos": "acos", "arctan": "atan"}

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

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_CHARACTER_HINTS = {
    "√": "write sqrt(x)",
    "×": "write * to multiply",
    "·": "write * to multiply",
    "⋅": "write * to multiply",
    "÷": "write / to divide",
    "−": "write - (ASCII minus)",
    "–": "write - (ASCII minus)",
}
_NUMBER_THEN_NAME = re.compile(r"(?<![\w.])(\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?)([^\W\d]\w*)")
_TOKEN = re.compile(r"[^\W\d]\w*|\d[\w.]*|\*\*|//|<=|>=|==|!=|:=|\S")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_LARGEST = 10.0**MAX_RESULT_DIGITS
_UNDEFINED = frozenset({sympy.zoo, sympy.nan, sympy.oo, -sympy.oo})


def parse(text: str) -> sympy.Expr:
    """Parse an expression string into a SymPy expression with real symbols.

    Allowed: numbers, variable names, + - * / ** ^ (power), unary +/-, parentheses,
    the constants in CONSTANTS and calls to the functions in FUNCTIONS. Everything
    else raises ExpressionError with ``column`` pointing at the offending token.

    >>> parse("w*x^2 + sigmoid(b)")
    w*x**2 + 1/(1 + exp(-b))
    >>> parse("x.real")
    Traceback (most recent call last):
        ...
    gradcheck.errors.ExpressionError: attribute access '.real' is not allowed
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(text)} characters, limit {MAX_LENGTH})", text, MAX_LENGTH
        )
    body = text.strip()
    if not body:
        raise ExpressionError("expression is empty", text, 0 if text else None)
    source = _Source(text, body)
    tree = source.parse_tree()
    source.check_depth(tree)
    source.check_constants(tree.body)
    try:
        expression = _Converter(source).convert(tree.body)
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


class _Source:
    """The user's text plus the mapping from parser positions back to offsets in it."""

    def __init__(self, text: str, body: str):
        self.text = text
        # "x^2" is how most people write a power, but Python's ^ binds looser than * and +,
        # so it becomes ** in the text itself (a ^ inside a string is refused anyway).
        self.carets = [i for i, c in enumerate(body) if c == "^"]
        # body: text without surrounding whitespace (ast.parse refuses an indent)
        self.body = body.replace("^", "**")
        self.lead = len(text) - len(text.lstrip())
        self.line_starts = [0] + [match.end() for match in _NEWLINE.finditer(self.body)]

    def _original(self, offset: int) -> int:
        """Offset in the stripped user text of an offset in ``body`` (undoing ^ -> **)."""
        return offset - sum(1 for k, caret in enumerate(self.carets) if caret + k < offset - 1)

    # --- positions -------------------------------------------------------------------
    def _line(self, lineno: int) -> tuple[int, str]:
        start = self.line_starts[lineno - 1]
        following = self.line_starts[lineno] if lineno < len(self.line_starts) else len(self.body)
        return start, self.body[start:following]

    def node_column(self, node: ast.AST, end: bool = False) -> int | None:
        """Offset in the user's text of a node's start (or end); ast gives UTF-8 byte columns."""
        lineno = getattr(node, "end_lineno" if end else "lineno", None)
        byte_column = getattr(node, "end_col_offset" if end else "col_offset", None)
        if lineno is None or byte_column is None or lineno > len(self.line_starts):
            return None
        start, line = self._line(lineno)
        characters = line.encode("utf-8")[:byte_column].decode("utf-8", errors="ignore")
        return self.lead + self._original(start + len(characters))

    def error_column(self, error: SyntaxError) -> int | None:
        """Offset in the user's text of a SyntaxError (1-based character offset per line)."""
        if not error.lineno or not error.offset or error.lineno > len(self.line_starts):
            return None
        start, line = self._line(error.lineno)
        return self.lead + self._original(start + min(error.offset - 1, len(line)))

    def snippet(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.body, node) or ""
        segment = " ".join(segment.split())  # keep messages on one line
        if len(segment) > _SNIPPET_LENGTH:
            segment = segment[: _SNIPPET_LENGTH - 3] + "..."
        return segment

    def token_at(self, column: int) -> str:
        match = _TOKEN.search(self.text, column)
        return match.group() if match else ""

    def refuse(self, message: str, column: int | None) -> ExpressionError:
        return ExpressionError(message, self.text, column)

    # --- parsing and the depth limit -------------------------------------------------
    def parse_tree(self) -> ast.Expression:
        null = self.text.find("\0")
        if null >= 0:
            raise self.refuse("character '\\x00' is not allowed", null)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "2(x)" warns 'int is not callable'
                return ast.parse(self.body, mode="eval")
        except SyntaxError as error:
            raise self._explain_syntax_error(error) from None
        except (RecursionError, MemoryError):
            # CPython's parser gives up on deep nesting such as "------...x" this way.
            raise self.too_deep(None) from None
        except ValueError as error:  # e.g. "source code string cannot contain null bytes"
            raise self.refuse(f"invalid expression: {error}", None) from None

    def check_depth(self, tree: ast.Expression) -> None:
        """Refuse trees nested deeper than MAX_DEPTH, walking with a stack (no recursion)."""
        stack: list[tuple[ast.AST, int, int | None]] = [(tree.body, 1, self.node_column(tree.body))]
        while stack:
            node, depth, column = stack.pop()
            if depth > MAX_DEPTH:
                raise self.too_deep(column)
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, _MARKER_NODES):
                    child_column = self.node_column(child)
                    level = depth if _continues_chain(node, child) else depth + 1
                    stack.append((child, level, column if child_column is None else child_column))

    def check_constants(self, root: ast.AST) -> None:
        """Vet every variable-free part of the tree with a cheap 15-digit Float estimate,
        before SymPy builds anything exactly: refuse exponents over MAX_EXPONENT, values
        beyond 1e300 (cosh(cosh(cosh(cosh(2)))) would make SymPy compute a number with
        10**8 digits), complex or undefined values, division by zero, and deep nests of
        functions of numbers, whose exact evaluation cost grows exponentially."""
        # Post-order walk with an explicit stack: + and * chains may be thousands long.
        # id(node) -> (estimate, nesting); estimate None: not a plain number (e.g. has a variable)
        seen: dict[int, tuple[sympy.Expr | None, int]] = {}
        stack: list[tuple[ast.AST, bool]] = [(root, False)]
        while stack:
            node, operands_done = stack.pop()
            operands = _operands(node)
            if not operands_done:
                stack.append((node, True))
                stack.extend((operand, False) for operand in operands)
                continue
            below = [seen[id(operand)] for operand in operands]
            estimates = [estimate for estimate, _ in below]
            if _is_power(node) and estimates[1] is not None:
                self._check_exponent(node, estimates[1])
            if any(estimate is None for estimate in estimates):
                seen[id(node)] = (None, 0)
                continue
            nesting = max((level for _, level in below), default=0) + _is_constant_level(node)
            if nesting > MAX_CONSTANT_NESTING:
                raise self.refuse(
                    f"'{self.snippet(node)}' nests functions of numbers too deeply "
                    f"(limit {MAX_CONSTANT_NESTING}); write the number instead",
                    self.node_column(node),
                )
            seen[id(node)] = (self._estimate(node, estimates), nesting)

    def _check_exponent(self, node: ast.BinOp, exponent: sympy.Expr) -> None:
        if abs(exponent) > MAX_EXPONENT:
            shown = int(exponent) if float(exponent).is_integer() else self.snippet(node.right)
            raise self.refuse(
                f"exponent {shown} is too large (limit {MAX_EXPONENT})", self.node_column(node.right)
            )

    def _estimate(self, node: ast.AST, operands: list[sympy.Expr]) -> sympy.Expr | None:
        """A node's value as a 15-digit Float from its operands' (None if not a plain number);
        raises ExpressionError when the value is unusable."""
        if isinstance(node, ast.BinOp) and (
            isinstance(node.op, ast.Div) and operands[1].is_zero
            or isinstance(node.op, ast.Pow) and operands[0].is_zero and operands[1].is_negative
        ):
            raise self.refuse(f"division by zero in '{self.snippet(node)}'", self.node_column(node.right))
        value = _float_value(node, operands)
        if value is None or value.is_Number and abs(float(value)) <= _LARGEST:  # float(huge) is inf
            return value
        # Messages only from here on: snippets cost a scan of the text.
        if value in _UNDEFINED:
            problem = f"is undefined (it gives {value})"
        elif not value.is_Number:  # 1.0*I and the like
            problem = "is not a real number"
        else:
            problem = f"is out of range (beyond 10**{MAX_RESULT_DIGITS})"
        raise self.refuse(f"'{self.snippet(node)}' {problem}", self.node_column(node))

    def too_deep(self, column: int | None) -> ExpressionError:
        return self.refuse(
            f"expression is nested too deeply (limit {MAX_DEPTH} levels of parentheses, "
            "calls, powers and signs)",
            column,
        )

    def _explain_syntax_error(self, error: SyntaxError) -> ExpressionError:
        message = error.msg or "invalid syntax"
        column = self.error_column(error)
        end = self.lead + len(self.body)
        if "was never closed" in message:
            return self.refuse(f"unbalanced parenthesis: {message}", column)
        if message.startswith(("unmatched", "closing parenthesis")):
            return self.refuse(f"unbalanced parenthesis: {message}", column)
        if "too many nested parentheses" in message:
            return self.too_deep(column)
        if "character" in message and column is not None and column < len(self.text):
            return self._invalid_character(column)
        if "Exceeds the limit" in message:
            return self._long_integer()
        if "literal" in message and column is not None:
            implicit = self._implicit_multiplication(column)
            if implicit is not None:
                return implicit
        if column is None or column >= end:
            last = self.body.split()[-1][-_SNIPPET_LENGTH:]
            return self.refuse(f"expression ends unexpectedly after '{last}'", end)
        token = self.token_at(column)
        hint = ""
        before = self.text[:column].rstrip(" \t")  # a newline in between: no operator hint
        if before and (before[-1].isalnum() or before[-1] in "_)") and (token[0].isalnum() or token[0] in "_("):
            hint = " (missing operator such as '*'?)"
        return self.refuse(f"unexpected token '{token}'{hint}", column)

    def _invalid_character(self, column: int) -> ExpressionError:
        character = self.text[column]
        code = f"U+{ord(character):04X}"
        if character in "⁰¹²³⁴⁵⁶⁷⁸⁹⁻":
            base = re.search(r"(\w+|\))$", self.text[:column])
            run = re.match(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+", self.text[column:]).group()
            suggestion = f"{base.group() if base else 'x'}**{run.translate(_SUPERSCRIPTS)}"
            hint = f"; write powers with **, e.g. {suggestion}"
        elif character in _CHARACTER_HINTS:
            hint = "; " + _CHARACTER_HINTS[character]
        else:
            hint = ""
        if not character.isprintable() or character.isspace():
            return self.refuse(f"invisible character {code} is not allowed", column)
        return self.refuse(f"character '{character}' ({code}) is not allowed{hint}", column)

    def _implicit_multiplication(self, column: int) -> ExpressionError | None:
        for match in _NUMBER_THEN_NAME.finditer(self.text):
            if match.start() <= column <= match.end():
                number, name = match.groups()
                return self.refuse(
                    f"implicit multiplication '{match.group()}' is not allowed; write {number}*{name}",
                    match.start(),
                )
        return None

    def _long_integer(self) -> ExpressionError:
        match = re.search(r"\d{%d,}" % (MAX_INT_DIGITS + 1), self.text)
        return self.refuse(
            f"integer literal is too long (limit {MAX_INT_DIGITS} digits)", match.start() if match else None
        )


class _Converter:
    """Translates a whitelisted AST into SymPy, one node type per method."""

    def __init__(self, source: _Source):
        self.source = source
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
        recursion along the chain: a 5,000-term sum is as easy as a 2-term one."""
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
            return sympy.Float(repr(value))  # from the shortest repr, so 0.1 stays 0.1
        kind = _CONSTANT_KINDS.get(type(value), "constant")
        shown = self.source.snippet(node)
        if not isinstance(value, (str, bytes)):  # string snippets already carry quotes
            shown = f"'{shown}'"
        raise self._refuse(f"{kind} {shown} is not allowed", node)

    def _name(self, node: ast.Name) -> sympy.Expr:
        name = node.id
        self._check_not_private(name, node)
        if name in CONSTANTS:
            return CONSTANTS[name]
        if name in FUNCTIONS:
            raise self._refuse(f"'{name}' is a function, not a variable; call it, e.g. {name}(x)", node)
        return symbol(name)

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
            raise self._refuse(self._unknown_function_message(name), function)
        if node.keywords:
            keyword = node.keywords[0]
            token = f"{keyword.arg}=" if keyword.arg else "**"
            raise self._refuse(f"keyword argument '{token}' is not allowed in {name}(...)", keyword)
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self._refuse_construct(argument)
        self._check_argument_count(name, node)
        arguments = [self.convert(argument) for argument in node.args]
        return self._checked(FUNCTIONS[name](*arguments), node)

    def _unknown_function_message(self, name: str) -> str:
        if name in CONSTANTS:
            return f"'{name}' is a constant, not a function"
        guess = _ALIASES.get(name) or next(iter(difflib.get_close_matches(name, FUNCTIONS, n=1)), None)
        if guess:
            return f"unknown function '{name}'; did you mean '{guess}'?"
        return f"unknown function '{name}'; known functions: {', '.join(FUNCTIONS)}"

    def _check_argument_count(self, name: str, node: ast.Call) -> None:
        least, most = _argument_range(FUNCTIONS[name])
        if name in ("max", "min"):
            most = MAX_MINMAX_ARGUMENTS
        given = len(node.args)
        if least <= given <= (given if most is None else most):
            return
        if least == most:
            expected = f"{least} argument{'s' if least != 1 else ''}"
        elif most is None or given < least:
            expected = f"at least {least} arguments"
        else:
            expected = f"at most {most} arguments"
        raise self._refuse(f"{name} takes {expected}, got {given}", node.func)

    def _checked(self, result: sympy.Expr, node: ast.AST) -> sympy.Expr:
        """Refuse a result that is infinite or undefined (e.g. tan(pi/2)); values that are
        complex or out of range were caught earlier, by _Source.check_constants."""
        # Only the node and its direct arguments: undefined values are caught where they appear.
        if result in _UNDEFINED or any(argument in _UNDEFINED for argument in result.args):
            raise self._refuse(f"'{self.source.snippet(node)}' is undefined (it gives {result})", node)
        return result


def _float_value(node: ast.AST, operands: list[sympy.Expr]) -> sympy.Expr | None:
    """Value of a node whose operands are Floats, or None if it is not a plain number.
    Uses the same builders as the exact conversion, so there is only one function table."""
    try:
        if isinstance(node, ast.Constant):
            if type(node.value) is int and abs(node.value) < 10**MAX_INT_DIGITS:
                return sympy.Float(node.value)
            if type(node.value) is float and math.isfinite(node.value):
                return sympy.Float(node.value)
            return None  # the converter explains what is wrong with it
        if isinstance(node, ast.Name):
            return sympy.Float(float(CONSTANTS[node.id])) if node.id in CONSTANTS else None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -operands[0] if isinstance(node.op, ast.USub) else operands[0]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
            return _BINARY_OPERATORS[type(node.op)][1](*operands)
        if isinstance(node, ast.Call) and _is_plain_call(node):
            return FUNCTIONS[node.func.id](*operands)
    except (ArithmeticError, ValueError):  # mpmath overflow and the like
        return sympy.oo
    return None


def _is_plain_call(node: ast.Call) -> bool:
    """A call the converter will accept: a known function, positional arguments, right count."""
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
        return False
    if any(isinstance(argument, ast.Starred) for argument in node.args):
        return False
    least, most = _argument_range(FUNCTIONS[node.func.id])
    return least <= len(node.args) and (most is None or len(node.args) <= most)


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


def _argument_range(builder: Callable[..., sympy.Expr]) -> tuple[int, int | None]:
    """(fewest, most) positional arguments a builder accepts; most is None if unbounded."""
    parameters = inspect.signature(builder).parameters.values()
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    least = sum(1 for p in positional if p.default is p.empty)
    variadic = any(p.kind is p.VAR_POSITIONAL for p in parameters)
    return least, None if variadic else len(positional)


def _log10_magnitude(number: sympy.Number) -> float:
    """log10 |number| for a nonzero SymPy number, without materialising huge values."""
    if number.is_Rational:
        return math.log10(abs(number.p)) - math.log10(number.q)  # math.log10 takes big ints
    return float(mpmath.log10(abs(mpmath.mpf(number))))
