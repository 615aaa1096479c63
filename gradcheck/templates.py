"""A big sum's structurally equal terms differentiated once.

sum_i sin(w_i * x_i) has one shape, sin(p0 * p1), bound to (w_i, x_i) in term i. SymPy
differentiates the shape once per placeholder, the derivative is compiled once and
evaluated on arrays over the terms, and each element's derivative is the sum of its
terms' values: d term_i / d s = sum over the placeholders k bound to s of
(d shape / d p_k) at term i's binding. Exact, like differentiating every term, at the
cost of one term per shape (the whole sum of 1,000 terms: 1 s of SymPy before).

Numbers are part of a shape (2*w and 3*w are two shapes); symbols are placeholders in
the order a walk meets them, so w*sin(w) is p0*sin(p0) and w*sin(x) is p0*sin(p1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence as SequenceABC
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from .budget import Budget
from .lambdify import compile_numpy, real_values

__all__ = ["Templated", "LazyDerivatives", "templated", "subexpressions"]

MIN_TERMS = 64  # fewer terms: the plain per-element derivatives cost no more


def _shape(term: sympy.Basic) -> tuple[tuple, list[sympy.Symbol]]:
    """A hashable key equal for terms equal up to their symbols, and the symbols in the
    order the walk meets them."""
    order: dict[sympy.Symbol, int] = {}

    def key(node: sympy.Basic) -> tuple:
        if node.is_Symbol:
            return ("s", order.setdefault(node, len(order)), tuple(sorted(node.assumptions0.items())))
        if not node.args:
            return ("a", type(node), node)
        return (node.func, tuple(key(a) for a in node.args))

    return key(term), list(order)


class _Group:
    """One shape: its derivative by each placeholder some term binds to an element,
    compiled over the placeholders, and where each term's placeholders point."""

    def __init__(self, representative: sympy.Expr, bound: np.ndarray, elements: int,
                 differentiate: Callable[[sympy.Expr, sympy.Symbol], sympy.Expr]):
        _, symbols = _shape(representative)
        self.placeholders = tuple(sympy.Symbol(f"_p{k}", **s.assumptions0) for k, s in enumerate(symbols))
        self.shape = representative.xreplace(dict(zip(symbols, self.placeholders)))
        self.bound = bound  # (terms, placeholders): positions in the model's symbols
        self.wanted = [k for k in range(bound.shape[1]) if np.any(bound[:, k] < elements)]
        self.derivatives = [differentiate(self.shape, self.placeholders[k]) for k in self.wanted]
        self.values = compile_numpy(self.placeholders, self.derivatives)
        self.magnitudes = compile_numpy(self.placeholders, self.derivatives, magnitude=True)
        self.size = compile_numpy(self.placeholders, [self.shape], magnitude=True)

    def arguments(self, values: np.ndarray) -> dict[str, np.ndarray]:
        return {p.name: values[self.bound[:, k]] for k, p in enumerate(self.placeholders)}


class Templated:
    """The per-element derivatives of a sum of shapes, with SymbolicModel's callables:
    gradient(**arguments) and magnitude(**arguments) give one value per element, and
    value_magnitude(**arguments) the size of the sum's terms."""

    def __init__(self, groups: list[_Group], symbols: Sequence[sympy.Symbol], elements: int):
        self.groups, self.symbols, self.elements = groups, tuple(symbols), elements

    def _vector(self, arguments: Mapping[str, Any]) -> np.ndarray:
        return np.array([arguments[s.name] for s in self.symbols])

    def _gather(self, arguments: Mapping[str, Any], magnitude: bool) -> list:
        values = self._vector(arguments)
        out = np.zeros(self.elements)
        for group in self.groups:
            evaluate = group.magnitudes if magnitude else group.values
            for k, part in zip(group.wanted, evaluate(**group.arguments(values))):
                part = real_values(np.broadcast_to(part, (len(group.bound),)))
                part = np.abs(part) if magnitude else part
                target = group.bound[:, k]
                mine = target < self.elements
                np.add.at(out, target[mine], part[mine])
        return list(out)

    def gradient(self, **arguments: Any) -> list:
        return self._gather(arguments, magnitude=False)

    def magnitude(self, **arguments: Any) -> list:
        return self._gather(arguments, magnitude=True)

    def value_magnitude(self, **arguments: Any) -> list:
        values = self._vector(arguments)
        return [sum(float(np.sum(np.abs(group.size(**group.arguments(values))[0])))
                    for group in self.groups)]

    def derivative(self, element: int) -> sympy.Expr:
        """d sum / d element as one SymPy expression (for its text and for mpmath)."""
        parts = []
        for group in self.groups:
            for k, d in zip(group.wanted, group.derivatives):
                for row in np.flatnonzero(group.bound[:, k] == element):
                    binding = {p: self.symbols[j] for p, j in zip(group.placeholders, group.bound[row])}
                    parts.append(d.xreplace(binding))
        return sympy.Add(*parts)


class LazyDerivatives(SequenceABC):
    """Every element's derivative as a SymPy expression, each built when first read (the
    report shows one; the 50-digit refinement, when a comparison needs it, reads all)."""

    def __init__(self, source: Templated):
        self.source, self._built = source, {}

    def __len__(self) -> int:
        return self.source.elements

    def __getitem__(self, element: int) -> sympy.Expr:
        if element < 0:
            element += len(self)
        if not 0 <= element < len(self):
            raise IndexError(element)
        if element not in self._built:
            self._built[element] = self.source.derivative(element)
        return self._built[element]


def subexpressions(expr: sympy.Basic, cap: int) -> int:
    """Distinct subexpressions of ``expr`` (at most ``cap``): linear even when shared."""
    seen, stack = set(), [expr]
    while stack and len(seen) < cap:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(node.args)
    return len(seen)


def templated(expr: sympy.Expr, symbols: Sequence[sympy.Symbol], elements: int, budget: Budget,
              differentiate: Callable[[sympy.Expr, sympy.Symbol], sympy.Expr],
              work_limit: int) -> Templated | None:
    """The sum's terms grouped by shape, when it has at least MIN_TERMS terms, some shape
    repeats and differentiating the shapes stays within ``work_limit``; else None (the
    caller differentiates element by element, or says why it cannot)."""
    if not isinstance(expr, sympy.Add) or len(expr.args) < MIN_TERMS:
        return None
    position = {s: j for j, s in enumerate(symbols)}
    shapes: dict[tuple, list[list[int]]] = defaultdict(list)
    first: dict[tuple, sympy.Expr] = {}
    for term in expr.args:
        try:
            key, met = _shape(term)
        except RecursionError:
            return None
        if any(s not in position for s in met):
            return None
        shapes[key].append([position[s] for s in met])
        first.setdefault(key, term)
    if len(shapes) > len(expr.args) // 2:
        return None  # hardly any sharing: nothing to gain
    work = 0  # as symbolic.WORK_LIMIT estimates it, per shape instead of per term
    for key, rows in shapes.items():
        held = sum(1 for k in range(len(rows[0])) if any(r[k] < elements for r in rows))
        work += subexpressions(first[key], work_limit + 1) * held
        if work > work_limit:
            return None  # the caller's estimate decides, and says why
    groups = []
    for key, rows in shapes.items():
        budget.check("the symbolic source (SymPy differentiating)")
        bound = np.array(rows, dtype=int).reshape(len(rows), len(rows[0]))
        groups.append(_Group(first[key], bound, elements, differentiate))
    return Templated(groups, symbols, elements)
