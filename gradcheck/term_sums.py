"""An expression that is a big sum, evaluated for finite differences term by term.

Moving one parameter element moves only the terms that hold it; the rest of the sum
stays put, so differencing the terms that hold an element gives the same derivative as
differencing the whole sum, with only those terms' rounding (the other terms' is gone,
and so is the O(n**2) cost of evaluating n terms at n perturbed points). Terms of one
shape (the same text up to their variables: sin(w1*x1) and sin(w2*x2)) are evaluated
together, one walk of the expression over arrays.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

if TYPE_CHECKING:
    from .problem import Problem

__all__ = ["TermSum", "SPLIT_TERMS"]

SPLIT_TERMS = 64  # terms in the sum from which it is differenced term by term


def _shape(node: ast.AST, variables: frozenset[str]) -> tuple[tuple, list[str]]:
    """A key equal for terms equal up to their variables, and the variables in the order
    the walk meets them (a variable met twice is one placeholder)."""
    order: dict[str, int] = {}

    def key(n: ast.AST) -> tuple:
        if isinstance(n, ast.Name):
            return ("v", order.setdefault(n.id, len(order))) if n.id in variables else ("c", n.id)
        if isinstance(n, ast.Constant):
            return ("k", type(n.value).__name__, n.value)
        if isinstance(n, ast.BinOp):
            return ("b", type(n.op).__name__, key(n.left), key(n.right))
        if isinstance(n, ast.UnaryOp):
            return ("u", type(n.op).__name__, key(n.operand))
        if isinstance(n, ast.Call):
            return ("f", n.func.id, tuple(key(a) for a in n.args))
        raise ValueError(f"not a parser node: {type(n).__name__}")

    return key(node), list(order)


class _Terms:
    """The terms of one shape: a representative, and per term its sign and where each of
    its variables sits in the value vector (parameters first, then inputs)."""

    def __init__(self, representative: Any, names: list[str], positions: list[list[int]],
                 signs: list[float]):
        self.representative, self.names = representative, names
        self.positions = np.array(positions, dtype=int).reshape(len(positions), len(names))
        self.signs = np.array(signs)


class TermSum:
    """Sum(sign_t * term_t) of an expression, by shapes of terms."""

    def __init__(self, shapes: list[_Terms], parameters: int, inputs: list[str]):
        self.shapes, self.parameters, self.inputs = shapes, parameters, inputs

    @classmethod
    def of(cls, problem: Problem) -> TermSum | None:
        """The problem's expression as a TermSum: a sum of at least SPLIT_TERMS terms, no
        data rows and scalar inputs; else None."""
        if not problem.is_expression or problem.rows:
            return None
        terms = problem.model.terms()
        if len(terms) < SPLIT_TERMS:
            return None
        variables = frozenset(problem.model.names)
        slot = {p: j for j, p in enumerate(problem.wrt)}  # an expression's parameters are scalars
        inputs = sorted(variables - slot.keys())
        slot.update({n: len(problem.wrt) + i for i, n in enumerate(inputs)})
        grouped: dict[tuple, list] = defaultdict(list)
        for sign, term in terms:
            try:
                key, met = _shape(term.tree.body, variables)
            except (RecursionError, ValueError):
                return None
            grouped[key].append((sign, term, met))
        shapes = [_Terms(members[0][1], members[0][2], [[slot[n] for n in met] for _, _, met in members],
                         [sign for sign, _, _ in members]) for members in grouped.values()]
        return cls(shapes, len(problem.wrt), inputs)

    def _values(self, given: Mapping[str, Any], base: np.ndarray) -> np.ndarray | None:
        """The value vector: parameters, then inputs; None if an input is missing or not
        a number (the caller then evaluates the whole sum)."""
        if any(n not in given for n in self.inputs):
            return None
        inputs = [np.asarray(given[n]) for n in self.inputs]
        if any(a.ndim or a.dtype.kind not in "biuf" for a in inputs):
            return None
        return np.concatenate([base, np.array(inputs, dtype=float)])

    def losses(self, given: Mapping[str, Any], base: np.ndarray, v: np.ndarray,
               index: np.ndarray) -> np.ndarray | None:
        """For each perturbation k (parameter element index[k] moved to v[k]) the sum of
        the terms that hold that element; None if an input is not a number."""
        values = self._values(given, base)
        if values is None:
            return None
        values = values.astype(v.dtype)
        count = np.bincount(index, minlength=self.parameters)
        order = np.argsort(index, kind="stable")
        start = np.cumsum(count) - count  # where each element's perturbations sit in order
        out = np.zeros(len(v), dtype=v.dtype)
        for shape in self.shapes:
            held_t, held_j = np.nonzero(shape.positions < self.parameters)
            element = shape.positions[held_t, held_j]
            c = count[element]
            if not c.any():
                continue
            rows = int(c.sum())
            term = np.repeat(held_t, c)
            k = order[np.repeat(start[element] - (np.cumsum(c) - c), c) + np.arange(rows)]
            at = values[shape.positions[term]]  # (rows, variables)
            moved = shape.positions[term] == index[k][:, None]
            at[moved] = np.broadcast_to(v[k][:, None], at.shape)[moved]
            got = shape.representative(**{n: at[:, j] for j, n in enumerate(shape.names)})
            np.add.at(out, k, shape.signs[term] * np.broadcast_to(got, (rows,)))
        return out

    def tape_gradient(self, given: Mapping[str, Any], base: np.ndarray) -> np.ndarray | None:
        """The gradient by the tape: each shape run once on tensors holding its terms'
        values (a term's output depends on its own row only: the parser's functions are
        elementwise), one backward sweep, and each row's leaf gradient added to the
        element it holds. None if an input is not a number."""
        from .tape.engine import enable_grad, strict
        from .tape.tensor import Tensor

        values = self._values(given, base)
        if values is None:
            return None
        grad = np.zeros(self.parameters)
        for shape in self.shapes:
            held = shape.positions < self.parameters
            leaves = {n: Tensor(values[shape.positions[:, j]], requires_grad=bool(held[:, j].any()), name=n)
                      for j, n in enumerate(shape.names)}
            with enable_grad(), strict(), np.errstate(all="ignore"):
                out = shape.representative(**leaves)
                if not (isinstance(out, Tensor) and out.requires_grad):
                    continue
                out.sum().backward()
            for j, n in enumerate(shape.names):
                if leaves[n].grad is None or not held[:, j].any():
                    continue
                part = shape.signs * np.broadcast_to(np.asarray(leaves[n].grad, dtype=float), (len(held),))
                np.add.at(grad, shape.positions[held[:, j], j], part[held[:, j]])
        return grad
