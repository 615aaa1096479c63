"""A text expression as a model: the parser's syntax tree, run as the user wrote it.

The same walk evaluates the tree on plain NumPy arrays (the numeric source, the points)
and on tape tensors (the tape source, ``--trace``, ``--graph``): each node applies the
tape primitive of the one rule table, so ``(x*w - y)**2`` records ``mul(x, w)``,
``sub(v0, y)``, ``pow(v1, 2)``. Nothing here touches SymPy: the symbolic source gets
its expression from the parser's converter (:func:`gradcheck.parse.to_sympy`).

>>> e = Expression.parse("w*x**2 + b")
>>> e.names, float(e(w=2.0, x=3.0, b=1.0))
(('b', 'w', 'x'), 19.0)
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, Iterable, Mapping

import numpy as np

from .values import unwrap
from .errors import InputError
from .parse import CONSTANTS, SyntaxTree, parse_validated, to_sympy
from .tape.primitives import PRIMITIVES
from .tape.tensor import Tensor, apply

__all__ = ["Expression", "FUNCTION_PRIMITIVES", "CONSTANT_VALUES", "KINKED_FUNCTIONS"]

# Parser function name -> tape primitive: the tree runs on the one rule table.
# max/min (any number of arguments) fold left over the binary primitive.
FUNCTION_PRIMITIVES: dict[str, str] = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
    "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "exp": "exp", "log": "log", "sqrt": "sqrt",
    "abs": "abs", "Abs": "abs", "sign": "sign", "Heaviside": "heaviside",
    "DiracDelta": "dirac_delta", "sigmoid": "sigmoid", "softplus": "softplus", "relu": "relu",
    "max": "maximum", "Max": "maximum", "min": "minimum", "Min": "minimum",
}
# Functions with a kink or a jump: complex-step differentiation is invalid through them.
KINKED_FUNCTIONS = frozenset({"abs", "Abs", "sign", "Heaviside", "DiracDelta", "relu",
                              "max", "Max", "min", "Min"})
CONSTANT_VALUES: dict[str, float] = {name: float(value) for name, value in CONSTANTS.items()}

_OPERATORS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
# Complex step needs analytic formulas; these branch on the real part only, so they
# stay analytic and never overflow (the real forwards are piecewise-stable the same way).
_COMPLEX_FORWARD = {
    "sigmoid": lambda a: np.where(a.real >= 0, 1 / (1 + np.exp(-np.where(a.real >= 0, a, 0))),
                                  np.exp(np.where(a.real < 0, a, 0)) / (1 + np.exp(np.where(a.real < 0, a, 0)))),
    "softplus": lambda a: np.where(a.real > 0, a + np.log1p(np.exp(-np.where(a.real > 0, a, 0))),
                                   np.log1p(np.exp(np.where(a.real > 0, 0, a)))),
}


def _children(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Expression:
    """A parsed expression. ``names`` are its variables; ``constants`` the names read as
    constants (``e``, ``pi``, ...) unless listed in ``variables``."""

    tree: SyntaxTree
    variables: frozenset[str] = frozenset()
    exact: Any = None  # the SymPy form, when the model came as a SymPy expression
    built: Any = field(default=None, compare=False, repr=False)  # the parser's SymPy form

    batched = True  # NumPy broadcasting evaluates many points in one call
    defaults = MappingProxyType({})  # no argument has a default

    @classmethod
    def parse(cls, text: str, variables: Iterable[str] = ()) -> "Expression":
        variables = frozenset(variables)
        tree, built = parse_validated(text, variables)
        return cls(tree, variables, built=built)

    @classmethod
    def from_sympy(cls, expr: Any) -> "Expression":
        from .from_sympy import tree_from_sympy

        tree, exact = tree_from_sympy(expr)
        return cls(tree, frozenset(n for n in tree.names if n in CONSTANT_VALUES), exact)

    @property
    def text(self) -> str:
        return self.tree.text

    @property
    def names(self) -> tuple[str, ...]:
        return self.tree.names

    @property
    def constants(self) -> tuple[str, ...]:
        return self.tree.constants

    @property
    def size(self) -> int:
        """Operations in the tree (its nodes)."""
        return len(self._order[0])

    @property
    def analytic(self) -> bool:
        """No kinks or jumps anywhere: complex-step differentiation is valid."""
        return not any(isinstance(n, ast.Call) and n.func.id in KINKED_FUNCTIONS
                       for n in self._order[0])

    def to_sympy(self) -> Any:
        if self.exact is not None:
            return self.exact
        return self.built if self.built is not None else to_sympy(self.tree, self.variables)

    def __call__(self, **values: Any) -> Any:
        return self.evaluate(values)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """The value at ``values`` (arrays broadcast; tape tensors are recorded on)."""
        return self._walk(values)

    def magnitude(self, values: Mapping[str, Any]) -> Any:
        """The size of the numbers a float64 evaluation adds up: |a| + |b| for a + b and
        a - b, |a| |b| for products, through integer powers; any other node (a function,
        a division) counts as its own absolute value. eps times it bounds the rounding
        of a sum that cancels."""
        results = self._walk(values, keep=True)
        size: dict[int, Any] = {}
        for node in self._order[0]:
            kids = _children(node)
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
                size[id(node)] = size[id(kids[0])] + size[id(kids[1])]
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                size[id(node)] = size[id(kids[0])] * size[id(kids[1])]
            elif isinstance(node, ast.UnaryOp):
                size[id(node)] = size[id(kids[0])]
            else:
                size[id(node)] = np.abs(getattr(results[id(node)], "data", results[id(node)]))
        return size[id(self.tree.body)]

    def first_undefined(self, values: Mapping[str, Any], limit: int = 200) -> str | None:
        """The innermost part of the text that stops being finite at ``values``."""
        results = self._walk(values, keep=True)
        for node in self._order[0][:limit]:
            if isinstance(node, (ast.Name, ast.Constant)):
                continue
            used = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in values})
            if not used:  # a part made of numbers only was vetted by the parser
                continue
            array = np.asarray(getattr(results[id(node)], "data", results[id(node)]))
            bad = ~np.isfinite(array)
            if bad.any():
                where = np.unravel_index(int(np.flatnonzero(bad)[0]), array.shape) if array.ndim else ()
                at = ", ".join(f"{n}={_pick(values[n], where):.6g}" for n in used)
                segment = (ast.get_source_segment(self.tree.text.strip().replace("^", "**"), node)
                           if self.exact is None else None) or ast.unparse(node)
                why = ("a negative number to a non-integer power is not real"
                       if _negative_power(node, results) else "outside its domain or overflowing")
                return f"{' '.join(segment.split())} is {array[where]} at {at} ({why})"
        return None

    # ------------------------------------------------------------------ the walk
    def terms(self) -> list[tuple[float, "Expression"]]:
        """The top-level terms of a sum, each an Expression of its own with its sign
        (a - (b - c): +a, -b, +c); anything else is its one term."""
        out: list[tuple[float, Expression]] = []
        variables = set(self.tree.names)
        stack = [(self.tree.body, 1.0)]
        while stack:
            node, sign = stack.pop()
            if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
                stack.append((node.right, -sign if isinstance(node.op, ast.Sub) else sign))
                stack.append((node.left, sign))
                continue
            names = sorted({n.id for n in ast.walk(node) if isinstance(n, ast.Name)} & variables)
            tree = SyntaxTree(self.tree.text, node, tuple(names), self.tree.constants)
            out.append((sign, Expression(tree, self.variables)))
        return out

    @cached_property
    def _order(self) -> tuple[list[ast.AST], list[tuple[int, ...]]]:
        """The nodes in post-order, and each one's operands as positions in it: computed
        once, since a check evaluates the tree many times (a 3,000-term sum: 9 walks). A
        node shared by two parents (a SymPy front end shares repeated subtrees) appears
        once under each, as in the tree."""
        nodes: list[ast.AST] = []
        operands: list[tuple[int, ...]] = []
        finished: list[int] = []  # positions of the nodes whose parent is not out yet
        stack = [(self.tree.body, False)]
        while stack:
            node, ready = stack.pop()
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(_children(node)))
                continue
            count = len(_children(node))
            below = tuple(finished[len(finished) - count:]) if count else ()
            del finished[len(finished) - count:]
            finished.append(len(nodes))
            nodes.append(node)
            operands.append(below)
        return nodes, operands

    def _walk(self, values: Mapping[str, Any], keep: bool = False) -> Any:
        """The root's value; with ``keep``, every node's, by id(node)."""
        nodes, operands = self._order
        results: list[Any] = [None] * len(nodes)
        for i, node in enumerate(nodes):
            below = operands[i]
            results[i] = self._node(node, [results[k] for k in below], values)
            if not keep:
                for k in below:
                    results[k] = None
        return {id(node): r for node, r in zip(nodes, results)} if keep else results[-1]

    def _node(self, node: ast.AST, args: list, values: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in values:
                return values[node.id]
            if node.id in CONSTANT_VALUES and node.id not in self.variables:
                return CONSTANT_VALUES[node.id]
            raise InputError(f"no value given for {node.id!r}")
        if isinstance(node, ast.UnaryOp):
            return _apply("neg", args) if isinstance(node.op, ast.USub) else args[0]
        if isinstance(node, ast.BinOp):
            return _apply(_OPERATORS[type(node.op)], args)
        name = node.func.id
        primitive = FUNCTION_PRIMITIVES[name]
        if primitive in ("maximum", "minimum"):
            out = args[0]
            for a in args[1:]:
                out = _apply(primitive, [out, a])
            return out
        if primitive == "heaviside" and len(args) == 2:
            return _apply(primitive, args[:1], h0=float(args[1]))
        if primitive == "dirac_delta":
            args = args[:1]  # the derivative order is not an operand (only 0 reaches here)
        return _apply(primitive, args)


def _negative_power(node: ast.AST, results: dict[int, Any]) -> bool:
    if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow)):
        return False
    base = np.asarray(unwrap(results[id(node.left)]), dtype=float)
    exponent = np.asarray(unwrap(results[id(node.right)]), dtype=float)
    with np.errstate(all="ignore"):
        return bool(np.any((base < 0) & (exponent != np.round(exponent))))


def _pick(value: Any, where: tuple) -> float:
    array = np.asarray(unwrap(value))
    return float(array[where[-array.ndim:]] if array.ndim else array) if where else float(array)


def _apply(name: str, args: list, **params: Any) -> Any:
    """A tape node when a tensor is involved; else the primitive's forward (numbers stay
    Python numbers, so 2**-1 is 0.5 and literals stay weakly typed)."""
    if any(isinstance(a, Tensor) for a in args):
        return apply(PRIMITIVES[name], *args, **params)
    if all(_is_number(a) for a in args):
        out = PRIMITIVES[name].forward(*(float(a) for a in args), **params)
        return float(out)
    if name in _COMPLEX_FORWARD and any(np.iscomplexobj(a) for a in args):
        return _COMPLEX_FORWARD[name](*args)
    return PRIMITIVES[name].forward(*args, **params)
