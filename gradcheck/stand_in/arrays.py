"""NumPy functions on stand-ins that need more than running on the object array:
n-ary sums (NumPy's pairwise + on objects is quadratic), matmul, max/min, where, clip."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation
from .rules import select
from .base import raw

__all__ = ["FUNCTIONS", "matmul"]

_MAX, _MIN = np.frompyfunc(sympy.Max, 2, 1), np.frompyfunc(sympy.Min, 2, 1)
_SELECT = np.frompyfunc(select, 3, 1)


def _extreme(pairwise: np.ufunc) -> Callable[..., Any]:
    def extreme(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        array = np.asarray(raw(a), dtype=object)
        if axis is None:  # an object ufunc reduces over one axis at a time
            out = pairwise.reduce(array.ravel(), axis=0)
            return np.full((1,) * array.ndim, out, dtype=object) if keepdims else out
        return pairwise.reduce(array, axis=axis, keepdims=keepdims)
    return extreme


def _sum(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """One n-ary SymPy Add per output element: NumPy's pairwise + on objects would
    re-flatten an ever longer Add at every step (quadratic)."""
    array = np.asarray(raw(a), dtype=object)
    axes = tuple(range(array.ndim)) if axis is None else tuple(
        ax % array.ndim for ax in ((axis,) if np.ndim(axis) == 0 else axis))
    kept = [ax for ax in range(array.ndim) if ax not in axes]
    moved = np.transpose(array, kept + list(axes))
    rows = moved.reshape(moved.shape[:len(kept)] + (-1,))
    out = np.empty(rows.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = sympy.Add(*rows[index])
    if keepdims:
        out = out.reshape([1 if ax in axes else n for ax, n in enumerate(array.shape)])
    return out if out.ndim else out[()]


def _mean(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    total = _sum(a, axis, keepdims)
    count = np.size(raw(a)) // max(np.size(total), 1)
    return np.true_divide(total, count) if isinstance(total, np.ndarray) else total / count


def matmul(a: Any, b: Any) -> Any:
    """NumPy's matmul rules, the products summed by _sum."""
    a, b = (np.asarray(raw(x), dtype=object) for x in (a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise UnsupportedOperation("matmul of a scalar: use * instead")
    left = a[None, :] if a.ndim == 1 else a
    right = b[:, None] if b.ndim == 1 else b
    out = _sum(left[..., :, :, None] * right[..., None, :, :], axis=-2)
    if b.ndim == 1:
        out = out[..., 0]
    if a.ndim == 1:
        out = out[..., 0, :] if b.ndim > 1 else out[..., 0]
    return np.asarray(out, dtype=object)


def _dot(a: Any, b: Any) -> Any:
    if np.ndim(raw(a)) == 0 or np.ndim(raw(b)) == 0:
        return np.multiply(a, b)
    if np.ndim(raw(a)) > 2 or np.ndim(raw(b)) > 2:
        raise UnsupportedOperation("numpy.dot of arrays with more than 2 dimensions is not "
                                   "supported by the symbolic stand-in; use matmul (@)")
    return matmul(a, b)


def _where(condition: Any, a: Any, b: Any) -> Any:
    return _SELECT(*(np.asarray(raw(x), dtype=object) for x in (condition, a, b)))


def _clip(a: Any, low: Any, high: Any) -> Any:
    out = a if low is None else np.maximum(a, low)
    return out if high is None else np.minimum(out, high)


# NumPy functions that need more than running on the object array.
FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.max: _extreme(_MAX), np.amax: _extreme(_MAX), np.min: _extreme(_MIN),
    np.amin: _extreme(_MIN), np.where: _where, np.clip: _clip, np.sum: _sum, np.mean: _mean,
    np.dot: _dot, np.matmul: matmul,
    np.shape: lambda a: np.shape(raw(a)), np.ndim: lambda a: np.ndim(raw(a)),
    np.size: lambda a, axis=None: np.size(raw(a), axis),
}
