"""Text positions and error explanations for the safe parser (:mod:`gradcheck.parse`).

``_Source`` holds the user's text and maps the positions ``ast`` reports (UTF-8 byte
columns of the text with ``^`` rewritten to ``**``) back to character offsets in it, quotes
snippets, explains syntax errors, and runs the checks that need no SymPy arithmetic: the
nesting depth, and a cheap Float estimate of every variable-free part of the tree.
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata
import warnings
from typing import Mapping

import sympy

from .errors import ExpressionError
from .parse_tables import (
    _ALIASES,
    _INVISIBLE_LETTERS,
    _LOOKALIKE,
    _LOOKALIKES,
    _OPERAND_THEN_OPERATOR,
    _BINARY_OPERATORS,
    _SPELLED_OUT,
    _MARKER_NODES,
    _UNDEFINED,
    FUNCTIONS,
    MAX_CONSTANT_NESTING,
    MAX_DEPTH,
    MAX_EXPONENT,
    MAX_INT_DIGITS,
    MAX_LENGTH,
    MAX_RESULT_DIGITS,
    _argument_range,
    _continues_chain,
    _is_constant_level,
    _is_power,
    _operands,
)

_SNIPPET_LENGTH = 40  # longest piece of user text quoted in a message

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_CHARACTER_HINTS = {
    "√": "write sqrt(x)",
    "×": "write * to multiply",
    "·": "write * to multiply",
    "\u0387": "write * to multiply",  # GREEK ANO TELEIA, which Python reads as U+00B7
    "⋅": "write * to multiply",
    "∙": "write * to multiply",
    "÷": "write / to divide",
    "−": "write - (ASCII minus)",
    "–": "write - (ASCII minus)",
}
# Python reads these as identifier characters, so "w·x" would be one variable named "w·x".
_IDENTIFIER_DOTS = re.compile("[\u00b7\u0387]")

_NUMBER_THEN_NAME = re.compile(r"(?<![\w.])(\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?)([^\W\d]\w*)")
_TOKEN = re.compile(r"[^\W\d]\w*|\d[\w.]*|\*\*|//|<=|>=|==|!=|:=|\S")
_NEWLINE = re.compile(r"\r\n|\r|\n")
_LARGEST = 10.0**MAX_RESULT_DIGITS


def _paren_depth(text: str) -> int:
    depth = deepest = 0
    for c in text:
        depth += (c == "(") - (c == ")")
        deepest = max(deepest, depth)
    return deepest


def _read(text: str) -> _Source:
    """The user's text, refused at once if it is not a string, too long or empty."""
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is too long ({len(text)} characters, limit {MAX_LENGTH})", text, MAX_LENGTH
        )
    body = text.strip()
    if not body:
        raise ExpressionError("expression is empty", text, 0 if text else None)
    return _Source(text, body)


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
        self._encoded: dict[int, bytes] = {}  # line number -> UTF-8 text, for spelling()

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

    def spelling(self, node: ast.AST) -> str | None:
        """A one-line node's text exactly as written (ast normalises names with NFKC)."""
        lineno = getattr(node, "lineno", None)
        if lineno is None or lineno != getattr(node, "end_lineno", None) or lineno > len(self.line_starts):
            return None
        if lineno not in self._encoded:
            self._encoded[lineno] = self._line(lineno)[1].encode("utf-8")
        return self._encoded[lineno][node.col_offset:node.end_col_offset].decode("utf-8", "replace")

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
    def parse_ast(self) -> ast.Expression:
        null = self.text.find("\0")
        if null >= 0:
            raise self.refuse("character '\\x00' is not allowed", null)
        dot = _IDENTIFIER_DOTS.search(self.text)
        if dot:  # before ast.parse, which would read "w·x" as one name
            raise self._invalid_character(dot.start())
        invisible = _INVISIBLE_LETTERS.search(self.text)
        if invisible:
            raise self.refuse(f"invisible character U+{ord(invisible.group()):04X} is not allowed "
                              "(it would make a second variable that looks like another)",
                              invisible.start())
        lookalike = _LOOKALIKE.search(self.text)
        if lookalike:
            letter = lookalike.group()
            raise self.refuse(f"'{letter}' (U+{ord(letter):04X}, {unicodedata.name(letter, 'a letter')}) "
                              f"looks like the Latin '{_LOOKALIKES[letter]}'; write names in "
                              "Latin letters, or Greek ones that do not look Latin", lookalike.start())
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # e.g. "2(x)" warns 'int is not callable'
                return ast.parse(self.body, mode="eval")
        except SyntaxError as error:
            raise self._explain_syntax_error(error) from None
        except (RecursionError, MemoryError):
            # CPython's parser gives up on deep nesting such as "------...x" this way, and on
            # chains of some 2,900 operators (a left-deep tree to Python's AST builder).
            if _paren_depth(self.body) < MAX_DEPTH and len(_OPERAND_THEN_OPERATOR.findall(self.body)) > 2000:
                raise self.refuse("too many terms in one chain of + - * / for Python's parser "
                                  "(about 2,900 at most); group them in parentheses, "
                                  "e.g. (a + b + ...) + (...)", None) from None
            raise self.too_deep(None) from None
        except ValueError as error:  # e.g. "source code string cannot contain null bytes"
            raise self.refuse(f"invalid expression: {error}", None) from None

    def check_depth(self, root: ast.AST) -> None:
        """Refuse trees nested deeper than MAX_DEPTH, walking with a stack (no recursion)."""
        stack: list[tuple[ast.AST, int, int | None]] = [(root, 1, self.node_column(root))]
        while stack:
            node, depth, column = stack.pop()
            if depth > MAX_DEPTH:
                raise self.too_deep(column)
            for child in ast.iter_child_nodes(node):
                if not isinstance(child, _MARKER_NODES):
                    child_column = self.node_column(child)
                    level = depth if _continues_chain(node, child) else depth + 1
                    stack.append((child, level, column if child_column is None else child_column))

    def check_constants(self, root: ast.AST, constants: Mapping[str, sympy.Expr]) -> None:
        """Vet every variable-free part of the tree with a cheap 15-digit Float estimate,
        before SymPy builds anything exactly: refuse exponents over MAX_EXPONENT, values
        beyond 1e300 (cosh(cosh(cosh(cosh(2)))) would make SymPy compute a number with
        10**8 digits), complex or undefined values, division by zero, and deep nests of
        functions of numbers, whose exact evaluation cost grows exponentially.
        ``constants``: the names read as constants (the rest are variables)."""
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
            seen[id(node)] = (self._estimate(node, estimates, constants), nesting)

    def _check_exponent(self, node: ast.BinOp, exponent: sympy.Expr) -> None:
        if abs(exponent) > MAX_EXPONENT:
            shown = int(exponent) if float(exponent).is_integer() else self.snippet(node.right)
            raise self.refuse(
                f"exponent {shown} is too large (limit {MAX_EXPONENT})", self.node_column(node.right)
            )

    def _estimate(self, node: ast.AST, operands: list[sympy.Expr],
                  constants: Mapping[str, sympy.Expr]) -> sympy.Expr | None:
        """A node's value as a 15-digit Float from its operands' (None if not a plain number);
        raises ExpressionError when the value is unusable."""
        if isinstance(node, ast.BinOp) and (
            isinstance(node.op, ast.Div) and operands[1].is_zero
            or isinstance(node.op, ast.Pow) and operands[0].is_zero and operands[1].is_negative
        ):
            raise self.refuse(f"division by zero in '{self.snippet(node)}'", self.node_column(node.right))
        value = _float_value(node, operands, constants)
        if value is None or value.is_Number and abs(float(value)) <= _LARGEST:  # float(huge) is inf
            return value
        # Messages only from here on: snippets cost a scan of the text.
        if value in _UNDEFINED:
            problem = f"is undefined (it gives {value})"
        elif value.has(sympy.DiracDelta):
            problem = "is undefined (DiracDelta is infinite at 0)"
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


def _float_value(node: ast.AST, operands: list[sympy.Expr],
                 constants: Mapping[str, sympy.Expr]) -> sympy.Expr | None:
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
            return sympy.Float(float(constants[node.id])) if node.id in constants else None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return -operands[0] if isinstance(node.op, ast.USub) else operands[0]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
            return _BINARY_OPERATORS[type(node.op)][1](*operands)
        if isinstance(node, ast.Call) and _is_plain_call(node):
            if node.func.id == "DiracDelta":  # 0 or undefined whatever the order, which
                return FUNCTIONS["DiracDelta"](operands[0])  # the converter checks
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
    least, most = _argument_range(node.func.id)
    return least <= len(node.args) and (most is None or len(node.args) <= most)


def unknown_function_message(source: _Source, name: str, node: ast.Call, constants: Mapping) -> str:
    """Why ``name(...)`` is refused, with the likeliest fix."""
    if name in constants:
        return f"'{name}' is a constant, not a function"
    if name in _SPELLED_OUT:
        return f"unknown function '{name}'; write {_SPELLED_OUT[name]}"
    import difflib  # error messages only: start-up time

    guess = _ALIASES.get(name) or next(iter(difflib.get_close_matches(name, FUNCTIONS, n=1)), None)
    if guess:
        return f"unknown function '{name}'; did you mean '{guess}'?"
    if len(node.args) == 1 and not node.keywords:  # x(w+1): a product, written as in algebra
        inside = source.snippet(node.args[0])
        return (f"unknown function '{name}': implicit multiplication '{name}({inside})' is "
                f"not allowed; write {name}*({inside})")
    return f"unknown function '{name}'; known functions: {', '.join(FUNCTIONS)}"


def argument_count_message(name: str, given: int) -> str | None:
    """Why ``given`` arguments are wrong for ``name`` (None if they are right)."""
    least, most = _argument_range(name)
    if least <= given <= (given if most is None else most):
        return None
    if least == most:
        expected = f"{least} argument{'s' if least != 1 else ''}"
    elif most is None or given < least:
        expected = f"at least {least} argument{'s' if least != 1 else ''}"
    else:
        expected = f"at most {most} arguments"
    return f"{name} takes {expected}, got {given}"
