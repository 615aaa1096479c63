"""NumPy functions on stand-ins that need more than running on the object array:
n-ary reductions (NumPy's pairwise + on objects is quadratic, and its object max/min
take one axis at a time), var and std, matmul, dot, outer, trace, where, clip."""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation
from .rules import UFUNCS, select
from .base import operand, raw

__all__ = ["FUNCTIONS", "matmul", "reduce_axes", "total"]

_SELECT = np.frompyfunc(select, 3, 1)


def _axes(ndim: int, axis: Any) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple) as a tuple of distinct non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(operator.index(ax) for ax in ((axis,) if np.ndim(axis) == 0 else axis))
    if any(not -ndim <= ax < ndim for ax in axes):
        raise ValueError(f"axis {axis} is out of bounds for an array of dimension {ndim}")
    axes = tuple(ax % ndim for ax in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"duplicate value in 'axis': {axis}")
    return axes


def reduce_axes(a: Any, axis: Any, keepdims: bool, combine: Callable[..., Any]) -> Any:
    """``combine`` (an n-ary SymPy Add, Max, Min) of the elements along ``axis`` (None, an
    int or a tuple), one call per output element."""
    array = np.asarray(raw(a), dtype=object)
    axes = _axes(array.ndim, axis)
    kept = [ax for ax in range(array.ndim) if ax not in axes]
    moved = np.transpose(array, kept + list(axes))
    rows = moved.reshape(moved.shape[:len(kept)] + (-1,))
    out = np.empty(rows.shape[:-1], dtype=object)
    for index in np.ndindex(*out.shape):
        out[index] = combine(*rows[index])
    if keepdims:
        out = out.reshape([1 if ax in axes else n for ax, n in enumerate(array.shape)])
    return out if out.ndim else out[()]


def total(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """One n-ary SymPy Add per output element: NumPy's pairwise + on objects would
    re-flatten an ever longer Add at every step (quadratic)."""
    return reduce_axes(a, axis, keepdims, sympy.Add)


def _extreme(combine: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return reduce_axes(a, axis, keepdims, combine)
    return extreme


def _divide(value: Any, count: int) -> Any:
    return UFUNCS[np.true_divide](value, count) if isinstance(value, np.ndarray) else value / count


def _mean(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    out = total(a, axis, keepdims)
    return _divide(out, np.size(raw(a)) // max(np.size(out), 1))


def _var(a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, *,
         correction: int | None = None) -> Any:
    """NumPy's var: the mean squared deviation from the mean, divided by N - ddof."""
    array = np.asarray(operand(a), dtype=object)
    centred = UFUNCS[np.subtract](array, _mean(array, axis, keepdims=True))
    squares = total(UFUNCS[np.multiply](centred, centred), axis, keepdims)
    count = array.size // max(np.size(squares), 1)
    return _divide(squares, max(count - (ddof if correction is None else correction), 0))


def _std(a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, *,
         correction: int | None = None) -> Any:
    return UFUNCS[np.sqrt](_var(a, axis, ddof, keepdims, correction=correction))


def matmul(a: Any, b: Any) -> Any:
    """NumPy's matmul rules, the products summed by total."""
    a, b = (np.asarray(raw(x), dtype=object) for x in (a, b))
    if a.ndim == 0 or b.ndim == 0:
        raise UnsupportedOperation("matmul of a scalar: use * instead")
    left = a[None, :] if a.ndim == 1 else a
    right = b[:, None] if b.ndim == 1 else b
    out = total(left[..., :, :, None] * right[..., None, :, :], axis=-2)
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


def _outer(a: Any, b: Any) -> Any:
    left, right = (np.ravel(operand(x)) for x in (a, b))
    return UFUNCS[np.multiply](left[:, None], right[None, :])


def _trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    return total(np.diagonal(np.asarray(raw(a), dtype=object), offset, axis1, axis2), axis=-1)


def _where(condition: Any, a: Any, b: Any) -> Any:
    return _SELECT(*(np.asarray(raw(x), dtype=object) for x in (condition, a, b)))


def _clip(a: Any, low: Any, high: Any) -> Any:
    out = a if low is None else np.maximum(a, low)
    return out if high is None else np.minimum(out, high)


# NumPy functions that need more than running on the object array.
FUNCTIONS: dict[Callable, Callable[..., Any]] = {
    np.max: _extreme(sympy.Max), np.amax: _extreme(sympy.Max), np.min: _extreme(sympy.Min),
    np.amin: _extreme(sympy.Min), np.where: _where, np.clip: _clip, np.sum: total, np.mean: _mean,
    np.var: _var, np.std: _std, np.dot: _dot, np.matmul: matmul, np.outer: _outer,
    np.trace: _trace,
    np.shape: lambda a: np.shape(raw(a)), np.ndim: lambda a: np.ndim(raw(a)),
    np.size: lambda a, axis=None: np.size(raw(a), axis),
}
