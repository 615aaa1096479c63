"""Linear algebra on the tape: det, slogdet, inv and solve are primitives (registered into
the one table, batched over leading axes as NumPy's); norm, matrix_power, trace and
diagonal are compositions of primitives.

The rules are the classical ones (Giles, "An extended collection of matrix derivative
results", 2008), written with NumPy calls that also run on tensors, so they are second
order as they are. ``d det(A) = det(A) tr(A^-1 dA)``: the VJP ``g det(A) A^-T`` needs a
nonsingular ``A`` (at a singular one it is nan, though the derivative, the adjugate,
exists); ``d log|det A| = tr(A^-1 dA)``; ``d A^-1 = -A^-1 dA A^-1``;
``x = A^-1 b``: ``dx = A^-1 (db - dA x)``, so ``b`` gets ``A^-T g`` and ``A`` gets ``-(A^-T g) x^T``.

>>> A = Tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> np.linalg.det(A).backward()  # the gradient of det is the cofactor matrix
>>> A.grad
array([[ 3., -1.],
       [-1.,  2.]])
"""

from __future__ import annotations

import operator
from collections import namedtuple
from typing import Any

import numpy as np

from gradcheck.errors import UnsupportedOperation
from gradcheck.tape.arrays import extreme
from gradcheck.tape.higher import TAPE_VJPS
from gradcheck.tape.primitives import PRIMITIVES, _def, _ub
from gradcheck.tape.tensor import Tensor, apply

__all__ = ["det", "slogdet", "inv", "solve", "norm", "matrix_power", "trace", "diagonal"]

SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")

_ABS, _MUL, _POW, _SQRT = (PRIMITIVES[n] for n in ("abs", "mul", "pow", "sqrt"))
_SUM, _RESHAPE, _TRANSPOSE, _MATMUL = (PRIMITIVES[n] for n in ("sum", "reshape", "transpose", "matmul"))


def _mT(x: Any) -> Any:
    return np.swapaxes(x, -1, -2)


def _trace_of_product(m: Any, t: Any) -> Any:
    """tr(m t) over the last two axes."""
    return np.sum(_mT(m) * t, axis=(-2, -1))


def _solve_adjoint(g, a, b):
    """A^-T g: the gradient of ``b`` before unbroadcasting (NumPy reads a 1-D ``b`` as a vector)."""
    if np.ndim(b) == 1:
        return np.linalg.solve(_mT(a), g[..., None])[..., 0]
    return np.linalg.solve(_mT(a), g)


def _solve_vjp_a(g, out, a, b):
    gb = _solve_adjoint(g, a, b)
    if np.ndim(b) == 1:
        return _ub(-(gb[..., :, None] * out[..., None, :]), a)
    return _ub(-np.matmul(gb, _mT(out)), a)


def _solve_jvp_a(t, out, a, b):
    if np.ndim(b) == 1:
        return -np.linalg.solve(a, np.matmul(t, out[..., None]))[..., 0]
    return -np.linalg.solve(a, np.matmul(t, out))


_SOLVE = _def("solve", np.linalg.solve,
              vjps=(_solve_vjp_a, lambda g, out, a, b: _ub(_solve_adjoint(g, a, b), b)),
              jvps=(_solve_jvp_a, lambda t, out, a, b: np.linalg.solve(a, t)))
_DET = _def("det", np.linalg.det,
            vjps=(lambda g, out, a: (g * out)[..., None, None] * _mT(np.linalg.inv(a)),),
            jvps=(lambda t, out, a: out * _trace_of_product(np.linalg.inv(a), t),))
_LOGABSDET = _def("logabsdet", lambda a: np.linalg.slogdet(a)[1],
                  vjps=(lambda g, out, a: g[..., None, None] * _mT(np.linalg.inv(a)),),
                  jvps=(lambda t, out, a: _trace_of_product(np.linalg.inv(a), t),))
_INV = _def("inv", np.linalg.inv,
            vjps=(lambda g, out, a: -np.matmul(np.matmul(_mT(out), g), _mT(out)),),
            jvps=(lambda t, out, a: -np.matmul(np.matmul(out, t), out),))
TAPE_VJPS.update({p.name: (p, p.vjps) for p in (_SOLVE, _DET, _LOGABSDET, _INV)})


def det(a: Any) -> Tensor:
    """``np.linalg.det``."""
    return apply(_DET, a)


def slogdet(a: Any) -> SlogdetResult:
    """``np.linalg.slogdet``: ``sign`` a constant array (its derivative is 0 where it is
    defined), ``logabsdet`` a tensor."""
    sign = np.linalg.slogdet(getattr(a, "data", a))[0]
    return SlogdetResult(sign, apply(_LOGABSDET, a))


def inv(a: Any) -> Tensor:
    """``np.linalg.inv``."""
    return apply(_INV, a)


def solve(a: Any, b: Any) -> Tensor:
    """``np.linalg.solve``: ``b`` a vector if 1-D, else (a stack of) matrices, as NumPy 2 reads it."""
    return apply(_SOLVE, a, b)


def matrix_power(a: Any, n: Any) -> Tensor:
    """``np.linalg.matrix_power``, by NumPy's sequence of squarings; ``n < 0`` through inv."""
    n = operator.index(n)
    if n == 0:
        shape = np.shape(a)
        return Tensor(np.broadcast_to(np.eye(shape[-1]), shape), dtype=getattr(a, "dtype", None))
    if n < 0:
        a, n = inv(a), -n
    if n <= 3:
        result = a
        for _ in range(n - 1):
            result = apply(_MATMUL, result, a)
        return result
    power = result = None
    while n > 0:
        power = a if power is None else apply(_MATMUL, power, power)
        n, bit = divmod(n, 2)
        if bit:
            result = power if result is None else apply(_MATMUL, result, power)
    return result


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    """``np.diagonal``, by indexing: the diagonal's axis last."""
    ndim = np.ndim(a)
    axis1, axis2 = axis1 % ndim, axis2 % ndim
    rest = [i for i in range(ndim) if i not in (axis1, axis2)]
    rows, cols = np.shape(a)[axis1], np.shape(a)[axis2]
    i = np.arange(max(0, min(rows, cols - offset) if offset >= 0 else min(rows + offset, cols)))
    moved = apply(_TRANSPOSE, a, axes=tuple(rest + [axis1, axis2]))
    return moved[..., i - min(offset, 0), i + max(offset, 0)]


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None,
          out: Any = None) -> Tensor:
    """``np.trace``: the sum of the diagonal."""
    if dtype is not None or out is not None:
        raise UnsupportedOperation("the tape supports numpy.trace without dtype and out")
    return apply(_SUM, diagonal(a, offset, axis1, axis2), axis=-1)


# ---------------------------------------------------------------- norm
def _vector_norm(x: Any, order: Any, axis: int) -> Any:
    if order is None or order == 2:
        return apply(_SQRT, apply(_SUM, apply(_MUL, x, x), axis=axis))
    if isinstance(order, str):
        raise ValueError(f"Invalid norm order '{order}' for vectors")
    size = apply(_ABS, x)
    if order == np.inf:
        return extreme(size, np.argmax, axis, False)
    if order == -np.inf:
        return extreme(size, np.argmin, axis, False)
    if order == 0:  # the number of nonzero elements: piecewise constant
        return Tensor(np.sum(getattr(x, "data", x) != 0, axis=axis))
    if order == 1:
        return apply(_SUM, size, axis=axis)
    return apply(_POW, apply(_SUM, apply(_POW, size, order), axis=axis), 1 / order)


def _matrix_norm(x: Any, order: Any, rows: int, cols: int) -> Any:
    if order in (None, "fro", "f"):
        return apply(_SQRT, apply(_SUM, apply(_MUL, x, x), axis=(rows, cols)))
    if order not in (1, -1, np.inf, -np.inf):
        raise UnsupportedOperation(f"the tape supports numpy.linalg.norm of matrices with ord None, "
                                   f"'fro', 1, -1, inf, -inf, not {order!r} (singular values)")
    summed, other = (rows, cols) if order in (1, -1) else (cols, rows)  # 1: column sums; inf: row sums
    sums = apply(_SUM, apply(_ABS, x), axis=summed)
    return extreme(sums, np.argmax if order > 0 else np.argmin, other - (other > summed), False)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Tensor:
    """``np.linalg.norm``: vector norms (ord None, 2, 1, inf, -inf, 0, p) over one axis and
    matrix norms (None, 'fro', 1, -1, inf, -inf) over two; by default all of ``x``, flattened
    when ``ord`` is None."""
    shape = np.shape(x)
    if axis is None:
        if ord is None:
            result = _vector_norm(apply(_RESHAPE, x, shape=(-1,)), None, 0)
            return apply(_RESHAPE, result, shape=(1,) * len(shape)) if keepdims else result
        if len(shape) not in (1, 2):
            raise ValueError("Improper number of dimensions to norm.")
        axis = tuple(range(len(shape)))
    axes = tuple(a % len(shape) for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))
    if len(axes) == 1:
        result = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2:
        result = _matrix_norm(x, ord, *axes)
    else:
        raise ValueError("Improper number of dimensions to norm.")
    if keepdims:
        result = apply(_RESHAPE, result, shape=tuple(1 if i in axes else n for i, n in enumerate(shape)))
    return result
