"""``np.einsum`` on the tape, one primitive for any number of operands, and tensordot on it.

Subscripts are brought to one explicit form first (ellipses spelled out as letters,
the implicit output made explicit), so the rules need not parse NumPy's shorthand.
The VJP for operand k is an einsum of ``g`` with the other operands, back to operand
k's subscripts: a letter it repeats (a diagonal) gets an identity matrix, a letter only
it has (summed out) a vector of ones, and an axis NumPy broadcast from length 1 is
summed back. The JVP is the einsum with the tangent in operand k's place (einsum is
multilinear).

>>> normalize("...ij,...jk", [(2, 3, 4), (4, 5)])
'aij,jk->aik'
"""

from __future__ import annotations

import string
from collections import Counter
from typing import Any, Sequence

import numpy as np

from gradcheck.errors import UnsupportedOperation
from gradcheck.tape.higher import TAPE_VJPS
from gradcheck.tape.primitives import MAX_OPERANDS, _def, variadic
from gradcheck.tape.tensor import Tensor, apply

__all__ = ["einsum", "tensordot", "normalize"]


def normalize(subscripts: str, shapes: Sequence[tuple]) -> str:
    """Explicit subscripts without ellipses for operands of ``shapes``, as NumPy reads them."""
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {len(terms)} operand subscripts for {len(shapes)} operands")
    unused = (c for c in string.ascii_letters if c not in text)
    widths = [len(shape) - (len(term) - 3) for term, shape in zip(terms, shapes) if "..." in term]
    ellipsis = "".join(next(unused) for _ in range(max(widths, default=0)))
    spelled = [term.replace("...", ellipsis[len(ellipsis) - width:] if width else "")
               for term, shape in zip(terms, shapes)
               for width in [len(shape) - (len(term) - 3)]]
    if not arrow:  # NumPy's implicit output: the broadcast axes, then letters used once, sorted
        counts = Counter("".join(terms).replace(".", ""))
        output = "..." + "".join(sorted(c for c, n in counts.items() if n == 1))
    return ",".join(spelled) + "->" + output.replace("...", ellipsis)


def _split(subscripts: str) -> tuple[list[str], str]:
    inputs, _, output = subscripts.partition("->")
    return inputs.split(","), output


def _einsum_vjp(k, g, out, *operands, subscripts, optimize):
    terms, output = _split(subscripts)
    shape = np.shape(operands[k])
    unused = (c for c in string.ascii_letters if c not in subscripts)
    subs, ops = [output], [g]
    for j, (term, x) in enumerate(zip(terms, operands)):
        if j != k:
            subs.append(term)
            ops.append(x)
    target, seen = "", set()
    for c, n in zip(terms[k], shape):
        if c in seen:  # a repeated letter: the gradient lands on the diagonal
            fresh = next(unused)
            subs.append(c + fresh)
            ops.append(np.eye(n, dtype=g.dtype))
            target += fresh
        else:
            seen.add(c)
            target += c
    present = set("".join(subs))
    for c, n in zip(terms[k], shape):
        if c not in present:  # summed out by operand k alone: every element gets g
            subs.append(c)
            ops.append(np.ones(n, dtype=g.dtype))
            present.add(c)
    result = np.einsum(",".join(subs) + "->" + target, *ops, optimize=optimize)
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(result)[i] != 1)
    return result.sum(axis=stretched, keepdims=True) if stretched else result


def _einsum_jvp(k, t, out, *operands, subscripts, optimize):
    operands = operands[:k] + (t,) + operands[k + 1:]
    return np.einsum(subscripts, *operands, optimize=optimize)


_EINSUM = _def("einsum",
               lambda *operands, subscripts, optimize: np.einsum(subscripts, *operands, optimize=optimize),
               vjps=variadic(_einsum_vjp), jvps=variadic(_einsum_jvp))
TAPE_VJPS[_EINSUM.name] = (_EINSUM, _EINSUM.vjps)  # its VJPs are einsums: they run on tensors


def einsum(subscripts: Any, *operands: Any, optimize: Any = False, **kwargs: Any) -> Tensor:
    """``np.einsum`` with a subscripts string (explicit or implicit, with ellipses).

    >>> einsum("ij,j", Tensor([[1.0, 2.0]]), [3.0, 4.0]).tolist()
    [11.0]
    """
    if not isinstance(subscripts, str):
        raise UnsupportedOperation("the tape supports numpy.einsum with a subscripts string, "
                                   "not the sublist form")
    if kwargs:
        raise UnsupportedOperation(f"the tape supports numpy.einsum without {sorted(kwargs)}")
    if len(operands) > MAX_OPERANDS:
        raise UnsupportedOperation(f"numpy.einsum of more than {MAX_OPERANDS} operands")
    subscripts = normalize(subscripts, [np.shape(x) for x in operands])
    return apply(_EINSUM, *operands, subscripts=subscripts, optimize=optimize)


def tensordot(a: Any, b: Any, axes: Any = 2) -> Tensor:
    """``np.tensordot``, as an einsum: the last ``axes`` axes of ``a`` with the first of ``b``,
    or the two given sequences of axes.

    >>> tensordot(Tensor(np.ones((2, 3))), np.ones((3, 4)), axes=1).shape
    (2, 4)
    """
    na, nb = np.ndim(a), np.ndim(b)
    if isinstance(axes, (int, np.integer)):
        axes_a, axes_b = list(range(na - axes, na)), list(range(axes))
    else:
        axes_a, axes_b = ([x] if isinstance(x, (int, np.integer)) else list(x) for x in axes)
    letters = iter(string.ascii_letters)
    sub_a = [next(letters) for _ in range(na)]
    sub_b = [next(letters) for _ in range(nb)]
    for i, j in zip(axes_a, axes_b):
        sub_b[j % nb] = sub_a[i % na]
    shared = set(sub_a) & set(sub_b)
    output = [c for c in sub_a + sub_b if c not in shared]
    return einsum(f"{''.join(sub_a)},{''.join(sub_b)}->{''.join(output)}", a, b)
