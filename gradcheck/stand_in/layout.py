"""Joining, padding and einsum on stand-ins, as NumPy computes them.

Joins (concatenate, stack, hstack, vstack, column_stack, dstack) take stand-ins and
numbers mixed. Padding copies elements (modes constant, edge, reflect, symmetric, wrap);
modes that compute statistics are refused. einsum takes explicit ('ij,jk->ik') and
implicit ('ij,jk') subscripts, ellipses, repeated labels (diagonals) and the sublist
form; it multiplies the aligned operands, one n-ary SymPy Mul per element, and sums
the contracted labels with one n-ary Add. (NumPy's own einsum runs on object arrays too,
but adds pairwise, quadratic in a long sum, and keeps numbers as given: 1.0*w.)
"""

from __future__ import annotations

import operator
import string
from collections import Counter
from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation
from .arrays import total
from .base import charge, operand, whole
from .rules import as_sympy

__all__ = ["FUNCTIONS"]

_COPYING_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")
# NumPy's C einsum names sublist label 0 'A' and 26 'a'; implicit output sorts by this code
_LETTERS = string.ascii_uppercase + string.ascii_lowercase
_SYMPY = np.frompyfunc(lambda e: e if isinstance(e, sympy.Basic) else as_sympy(whole(e)), 1, 1)


def _objects(x: Any) -> np.ndarray:
    return np.asarray(operand(x), dtype=object)


def _joined(join: Callable[..., Any]) -> Callable[..., Any]:
    def joined(arrays: Any, *args: Any, **kwargs: Any) -> Any:
        return join([_objects(x) for x in arrays], *args, **kwargs)
    return joined


def _pad(array: Any, pad_width: Any, mode: Any = "constant", **kwargs: Any) -> np.ndarray:
    if not isinstance(mode, str) or mode not in _COPYING_MODES:
        raise UnsupportedOperation(f"numpy.pad with mode={mode!r} is not supported by the "
                                   f"symbolic stand-in (modes: {', '.join(_COPYING_MODES)})")
    if "constant_values" in kwargs:
        kwargs["constant_values"] = _objects(kwargs["constant_values"])
    return _SYMPY(np.pad(_objects(array), pad_width, mode, **kwargs))


def _sublist(labels: Any) -> str:
    if any(s is not Ellipsis and not 0 <= operator.index(s) < len(_LETTERS) for s in labels):
        raise ValueError(f"einsum sublist labels must be in [0, {len(_LETTERS)}): {labels}")
    return "".join("..." if s is Ellipsis else _LETTERS[s] for s in labels)


def _subscripts(operands: tuple) -> tuple[str, list[Any]]:
    """The subscripts string and the operands, from either calling form."""
    if isinstance(operands[0], str):
        return operands[0].replace(" ", ""), list(operands[1:])
    pairs, output = (operands, None) if len(operands) % 2 == 0 else (operands[:-1], operands[-1])
    spec = ",".join(_sublist(s) for s in pairs[1::2])
    return spec + ("" if output is None else "->" + _sublist(output)), list(pairs[0::2])


def _letters(term: str) -> None:
    for c in term.replace("...", ""):
        if c not in _LETTERS:
            raise ValueError(f"invalid subscript '{c}' in einstein sum subscripts string, "
                             "subscripts must be letters")


def _labelled(term: str, array: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """The operand's labels, one per axis (broadcast axes numbered from the right), and
    the operand with a repeated label's axes replaced by their diagonal."""
    _letters(term)
    before, dots, after = term.partition("...")
    rank = array.ndim - len(before) - len(after) if dots else 0
    labels = list(before) + list(range(rank - 1, -1, -1)) + list(after)
    if rank < 0 or len(labels) != array.ndim:
        raise ValueError(f"einstein sum subscripts '{term}' do not match an operand of "
                         f"{array.ndim} dimensions")
    while len(set(labels)) < len(labels):
        label = next(x for x in labels if labels.count(x) > 1)
        i, j = [k for k, x in enumerate(labels) if x == label][:2]
        array = np.diagonal(array, axis1=i, axis2=j)
        labels = [x for k, x in enumerate(labels) if k not in (i, j)] + [label]
    return labels, array


def _output(spec: str, terms: list[str], rank: int) -> list[Any]:
    """The output's labels: as given after '->', else the broadcast axes and then every
    letter used once, in NumPy's order."""
    broadcast = list(range(rank - 1, -1, -1))
    inputs, arrow, output = spec.partition("->")
    if not arrow:
        counts = Counter(inputs.replace("...", "").replace(",", ""))
        return broadcast + sorted((c for c, k in counts.items() if k == 1), key=_LETTERS.index)
    _letters(output)
    before, dots, after = output.partition("...")
    if rank and not dots:
        raise ValueError("output has more dimensions than subscripts given in einstein sum, "
                         "but no '...' ellipsis provided to broadcast the extra dimensions.")
    letters = before + after
    for c in letters:
        if letters.count(c) > 1 or c not in inputs:
            raise ValueError(f"einstein sum subscripts string includes output subscript '{c}' "
                             "more than once or never in an input")
    return list(before) + (broadcast if dots else []) + list(after)


def _einsum(*operands: Any, optimize: Any = False) -> Any:
    """NumPy's einsum (``optimize`` changes only the order of NumPy's float operations)."""
    spec, arrays = _subscripts(operands)
    terms = spec.partition("->")[0].split(",")
    if len(terms) != len(arrays):
        raise ValueError(f"{len(terms)} subscript terms for {len(arrays)} operands")
    labelled = [_labelled(t, _objects(a)) for t, a in zip(terms, arrays)]
    rank = max((x for labels, _ in labelled for x in labels if isinstance(x, int)), default=-1) + 1
    output = _output(spec, terms, rank)
    order = output + sorted({x for labels, _ in labelled for x in labels} - set(output), key=str)
    aligned = []
    for labels, array in labelled:
        present = [x for x in order if x in labels]
        moved = np.transpose(array, [labels.index(x) for x in present])
        aligned.append(moved.reshape([moved.shape[present.index(x)] if x in labels else 1
                                      for x in order]))
    charge(arrays, len(aligned) * int(np.prod(np.broadcast_shapes(*(a.shape for a in aligned)))))
    product = aligned[0] if len(aligned) == 1 else \
        np.frompyfunc(lambda *xs: sympy.Mul(*xs), len(aligned), 1)(*aligned)
    if len(order) > len(output):
        product = total(product, axis=tuple(range(len(output), len(order))))
    product = np.asarray(product, dtype=object)
    return product if product.ndim else product[()]


FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    **{join: _joined(join) for join in (np.concatenate, np.stack, np.hstack, np.vstack,
                                        np.column_stack, np.dstack)},
    np.pad: _pad, np.einsum: _einsum,
}
