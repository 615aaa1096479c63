"""numpy.linalg on stand-ins: det, slogdet, inv, solve, matrix_power and norm, as NumPy
computes them, on (stacks of) matrices of SymPy expressions.

A symbolic determinant is a Laplace expansion whose minors are built once and shared
(924 for a 6x6 and all its cofactors), division free: SymPy takes its 36 derivatives at
6x6 in about 2 s (10 s on Berkowitz's nested form, more on the n! expanded products),
and symbolic.py's work estimate accepts it (Berkowitz's 6x6 it refuses). An inverse is
the adjugate (cofactors: minors of the same expansion) over the determinant; solve is
that adjugate applied to b, over the determinant (Cramer's rule). Expressions still grow
quickly with n, so symbolic matrices above MATRIX_LIMIT x MATRIX_LIMIT are refused, and
the work is charged to the trace's budget before it starts. A matrix of constants goes
to NumPy itself (LAPACK, pivoted). Norms that need singular values (ord 2, -2, 'nuc' of
a matrix) have no SymPy form here.
"""

from __future__ import annotations

import functools
import math
import operator
from collections import namedtuple
from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation
from .arrays import matmul, reduce_axes, total
from .base import charge, operand, whole
from .rules import UFUNCS, as_sympy, is_constant

__all__ = ["FUNCTIONS", "MATRIX_LIMIT", "SlogdetResult"]

MATRIX_LIMIT = 6  # n of the largest symbolic n x n determinant or inverse
SlogdetResult = namedtuple("SlogdetResult", "sign logabsdet")

_ABS, _SQRT, _MUL = UFUNCS[np.absolute], UFUNCS[np.sqrt], UFUNCS[np.multiply]
_NONZERO = np.frompyfunc(lambda e: sympy.Piecewise((1, sympy.Ne(e, 0)), (0, True)), 1, 1)
# sign and |.| of a long polynomial spend their time looking for its sign: skip that
_SIGN = np.frompyfunc(lambda d: sympy.sign(d, evaluate=is_constant(d)), 1, 1)
_LOG_ABS = np.frompyfunc(
    lambda d: sympy.log(sympy.Abs(d, evaluate=is_constant(d)), evaluate=is_constant(d)), 1, 1)


def _matrices(a: Any, name: str, limited: bool = True) -> np.ndarray:
    """``a`` as an object array of square matrices (..., n, n), n within MATRIX_LIMIT."""
    array = np.asarray(operand(a), dtype=object)
    if array.ndim < 2:
        raise np.linalg.LinAlgError(f"{array.ndim}-dimensional array given. Array must be "
                                    "at least two-dimensional")
    n, m = array.shape[-2:]
    if n != m:
        raise np.linalg.LinAlgError("Last 2 dimensions of the array must be square")
    if limited and n > MATRIX_LIMIT and not _constant(array):
        raise UnsupportedOperation(
            f"numpy.linalg.{name} of a {n}x{n} symbolic matrix is above the stand-in's limit "
            f"of {MATRIX_LIMIT}x{MATRIX_LIMIT} (its expression grows combinatorially)")
    return array


def _constant(array: np.ndarray) -> bool:
    return all(is_constant(e) for e in array.flat)


def _minors(block: np.ndarray) -> Callable[[tuple, tuple], sympy.Expr]:
    """The determinant of block[rows][:, cols], by Laplace expansion along its first row,
    each minor built once and shared: a 6x6 determinant and all its cofactors take 924
    minors, not the 6! products of its expanded form."""
    elements = [[as_sympy(e) for e in row] for row in block]

    @functools.lru_cache(maxsize=None)
    def minor(rows: tuple, cols: tuple) -> sympy.Expr:
        if not rows:
            return sympy.Integer(1)
        return sympy.Add(*(sympy.Mul((-1) ** k, elements[rows[0]][c],
                                     minor(rows[1:], cols[:k] + cols[k + 1:]))
                           for k, c in enumerate(cols)))
    return minor


def _charge(array: np.ndarray, values: Any) -> None:
    """Spend the minors' operations: k terms for each of the C(n, k)**2 minors of size k."""
    n = array.shape[-1]
    count = sum(math.comb(n, k) ** 2 * k for k in range(1, n + 1)) + n * n
    charge(values, max(int(np.prod(array.shape[:-2], dtype=int)), 1) * count)


def _dets(array: np.ndarray, values: Any) -> np.ndarray:
    """The determinant of every matrix of the stack (an object array of the batch shape)."""
    _charge(array, values)
    out = np.empty(array.shape[:-2], dtype=object)
    every = tuple(range(array.shape[-1]))
    for index in np.ndindex(*out.shape):
        out[index] = _minors(array[index])(every, every)
    return out


def _adjugates(array: np.ndarray, values: Any) -> tuple[np.ndarray, np.ndarray]:
    """The adjugate and the determinant of every matrix of the stack; a singular one (its
    determinant 0 identically) is refused as NumPy refuses it."""
    _charge(array, values)
    n = array.shape[-1]
    dets, adjugates = np.empty(array.shape[:-2], dtype=object), np.empty(array.shape, dtype=object)
    every = tuple(range(n))
    for index in np.ndindex(*dets.shape):
        minor = _minors(array[index])
        dets[index] = minor(every, every)
        if dets[index] == 0:
            raise np.linalg.LinAlgError("Singular matrix")
        for i, j in np.ndindex(n, n):
            cofactor = minor(every[:i] + every[i + 1:], every[:j] + every[j + 1:])
            adjugates[index + (j, i)] = (-1) ** (i + j) * cofactor
    return adjugates, dets


def _scalar(out: Any) -> Any:
    out = np.asarray(out, dtype=object)
    return out if out.ndim else out[()]


def _determinant(a: Any) -> Any:
    array = _matrices(a, "det")
    if _constant(array):
        return np.linalg.det(array.astype(float))
    return _scalar(_dets(array, [a]))


def _slogdet(a: Any) -> Any:
    """(sign, log|det|): sign is SymPy's sign of the determinant, -1, 0 or 1 for a real
    matrix, as NumPy's; log|det| differentiates to the inverse transposed."""
    array = _matrices(a, "slogdet")
    if _constant(array):
        return np.linalg.slogdet(array.astype(float))
    dets = _dets(array, [a])
    return SlogdetResult(_scalar(_SIGN(dets)), _scalar(_LOG_ABS(dets)))


def _inverse(array: np.ndarray, values: Any) -> np.ndarray:
    if _constant(array):
        return np.linalg.inv(array.astype(float)).astype(object)
    adjugates, dets = _adjugates(array, values)
    return UFUNCS[np.true_divide](adjugates, dets[..., None, None])


def _inv(a: Any) -> Any:
    return _inverse(_matrices(a, "inv"), [a])


_VECTOR_B = np.lib.NumpyVersion(np.__version__) >= "2.0.0"  # NumPy 2: b is a vector iff 1-D


def _solve(a: Any, b: Any) -> Any:
    """x with a @ x = b: the adjugate applied to b, over the determinant (Cramer's rule)."""
    array = _matrices(a, "solve")
    rhs = np.asarray(operand(b), dtype=object)
    vector = rhs.ndim == 1 if _VECTOR_B else rhs.ndim == array.ndim - 1
    if _constant(array):
        return matmul(_inverse(array, [a, b]), rhs)
    adjugates, dets = _adjugates(array, [a, b])
    scale = dets[..., None] if vector else dets[..., None, None]
    return UFUNCS[np.true_divide](matmul(adjugates, rhs), scale)


def _matrix_power(a: Any, n: Any) -> Any:
    """NumPy's repeated squaring; a negative power is of the inverse."""
    n = operator.index(n)
    array = _matrices(a, "matrix_power", limited=n < 0)
    if n == 0:
        out = np.empty_like(array)
        out[...] = np.eye(array.shape[-2], dtype=object)
        return out
    if n < 0:
        array, n = _inverse(array, [a]), -n
    product = int(np.prod(array.shape[:-2], dtype=int)) * array.shape[-1] ** 3
    z = result = None
    while n > 0:
        charge([a], 2 * product)
        z = array if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def _reduced(values: np.ndarray, axis: int, keepdims: bool, largest: bool) -> Any:
    return reduce_axes(values, axis, keepdims, sympy.Max if largest else sympy.Min)


def _vector_norm(array: np.ndarray, ord: Any, axis: int, keepdims: bool) -> Any:
    if ord in (np.inf, -np.inf):
        return _reduced(_ABS(array), axis, keepdims, ord > 0)
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord == 0:
        return total(_NONZERO(array), axis, keepdims)
    if ord == 1:
        return total(_ABS(array), axis, keepdims)
    if ord is None or ord == 2:
        return _SQRT(total(_MUL(array, array), axis, keepdims))
    p = whole(float(ord))
    root = sympy.Rational(1, p) if isinstance(p, int) else whole(1.0 / p)
    return UFUNCS[np.power](total(UFUNCS[np.power](_ABS(array), p), axis, keepdims), root)


def _matrix_norm(array: np.ndarray, ord: Any, axes: tuple, keepdims: bool) -> Any:
    row, col = (operator.index(ax) % array.ndim for ax in axes)
    if row == col:
        raise ValueError("Duplicate axes given.")
    if ord in (2, -2, "nuc"):
        raise UnsupportedOperation(f"numpy.linalg.norm with ord={ord!r} of a matrix needs its "
                                   "singular values, which the symbolic stand-in cannot take")
    if ord in (None, "fro", "f"):
        out = _SQRT(total(_MUL(array, array), (row, col)))
    elif ord in (1, -1):  # the largest (smallest) column sum
        out = _reduced(total(_ABS(array), row), col - (col > row), False, ord > 0)
    elif ord in (np.inf, -np.inf):  # the largest (smallest) row sum
        out = _reduced(total(_ABS(array), col), row - (row > col), False, ord > 0)
    else:
        raise ValueError("Invalid norm order for matrices.")
    if keepdims:
        shape = [1 if ax in (row, col) else n for ax, n in enumerate(array.shape)]
        out = np.asarray(out, dtype=object).reshape(shape)
    return out


def _norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:
    """NumPy's norm: vectors of any ord but strings, matrices of ord None, 'fro', +-1, +-inf."""
    array = np.asarray(operand(x), dtype=object)
    nd = array.ndim
    if axis is None and (ord is None or ord in ("f", "fro") and nd == 2 or ord == 2 and nd == 1):
        out = _SQRT(total(_MUL(array, array)))
        return np.full((1,) * nd, out, dtype=object) if keepdims else out
    axes = (tuple(range(nd)) if axis is None else axis if isinstance(axis, tuple)
            else (operator.index(axis),))
    if len(axes) == 1:
        return _vector_norm(array, ord, axes[0], keepdims)
    if len(axes) == 2:
        return _matrix_norm(array, ord, axes, keepdims)
    raise ValueError("Improper number of dimensions to norm.")


FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.linalg.det: _determinant, np.linalg.slogdet: _slogdet, np.linalg.inv: _inv,
    np.linalg.solve: _solve, np.linalg.matrix_power: _matrix_power, np.linalg.norm: _norm,
}
