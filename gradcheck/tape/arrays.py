"""Array building and reductions on the tape: pad, concatenate and stacks, max/min over
axes, var/std, outer and scatter_add. ``pad`` and ``concatenate`` are primitives
(registered into the one table); the rest are compositions of primitives.

>>> x = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> stack([x, np.zeros((2, 2))], axis=1).shape
(2, 2, 2)
>>> var(x, axis=(0, 1), ddof=1).item()
1.6666666666666667
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.errors import UnsupportedOperation
from gradcheck.tape.higher import SCATTER, TAPE_VJPS
from gradcheck.tape.primitives import MAX_OPERANDS, PRIMITIVES, _def, _reduced_count, variadic
from gradcheck.tape.tensor import Tensor, apply

__all__ = ["extreme", "pad", "concatenate", "stack", "hstack", "vstack", "var", "std", "outer",
           "scatter_add"]

_ADD, _SUB, _MUL, _DIV = (PRIMITIVES[n] for n in ("add", "sub", "mul", "div"))
_SUM, _MEAN, _SQRT = PRIMITIVES["sum"], PRIMITIVES["mean"], PRIMITIVES["sqrt"]
_RESHAPE, _TRANSPOSE, _BROADCAST_TO = PRIMITIVES["reshape"], PRIMITIVES["transpose"], PRIMITIVES["broadcast_to"]


# ---------------------------------------------------------------- the primitives
def _unpad(pad_width: tuple, shape: tuple) -> tuple:
    return tuple(slice(before, n - after) for (before, after), n in zip(pad_width, shape))


def _piece(k: int, arrays: tuple, axis: int) -> tuple:
    """The index of argument ``k``'s block in the concatenation of ``arrays``."""
    start = sum(np.shape(a)[axis] for a in arrays[:k])
    return (slice(None),) * axis + (slice(start, start + np.shape(arrays[k])[axis]),)


def _concatenate_vjp(k, g, out, *arrays, axis):
    return g[_piece(k, arrays, axis)]


def _concatenate_jvp(k, t, out, *arrays, axis):
    result = np.zeros(np.shape(out), dtype=np.result_type(t, out))
    result[_piece(k, arrays, axis)] = t
    return result


# pad with zeros (the constant is added by pad()); linear, so the JVP pads the tangent
_PAD = _def("pad", lambda a, pad_width: np.pad(a, pad_width),
            vjps=(lambda g, out, a, pad_width: g[_unpad(pad_width, np.shape(g))],),
            jvps=(lambda t, out, a, pad_width: np.pad(t, pad_width),))
_CONCATENATE = _def("concatenate", lambda *arrays, axis: np.concatenate(arrays, axis=axis),
                    vjps=variadic(_concatenate_vjp), jvps=variadic(_concatenate_jvp))
# both VJPs are slicing, which runs on tensors: second order as they are
TAPE_VJPS.update({p.name: (p, p.vjps) for p in (_PAD, _CONCATENATE)})


# ---------------------------------------------------------------- pad, concatenate, stacks
def _pad_pairs(pad_width: Any, ndim: int) -> tuple:
    """NumPy's accepted forms of ``pad_width`` (n, (n,), (before, after), one pair per axis)
    as one (before, after) pair of ints per axis."""
    widths = np.asarray(pad_width)
    if widths.dtype.kind not in "iu":
        raise TypeError("`pad_width` must be of integral type.")
    if widths.size == 1:
        widths = np.repeat(widths.ravel(), 2)
    if widths.size == 2 and widths.shape != (2, 1):
        widths = widths.ravel()
    if (widths < 0).any():
        raise ValueError("index can't contain negative values")
    return tuple(tuple(int(n) for n in pair) for pair in np.broadcast_to(widths, (ndim, 2)))


def pad(array: Any, pad_width: Any, mode: str = "constant", **kwargs: Any) -> Tensor:
    """``np.pad`` in mode "constant": ``constant_values`` a number, a scalar tensor or NumPy's
    per-axis constants."""
    constant = kwargs.pop("constant_values", 0)
    if mode != "constant" or kwargs:
        raise UnsupportedOperation(f"the tape supports numpy.pad in mode 'constant' only, not {mode!r}"
                                   + (f" with {sorted(kwargs)}" if kwargs else ""))
    shape = np.shape(array)
    widths = _pad_pairs(pad_width, len(shape))
    out = apply(_PAD, array, pad_width=widths)
    if isinstance(constant, Tensor) or np.ndim(constant) == 0:
        if isinstance(constant, Tensor) or constant != 0:  # the frame of padding, times the constant
            frame = np.pad(np.zeros(shape, dtype=out.dtype), widths, constant_values=1)
            out = apply(_ADD, out, apply(_MUL, frame, constant))
        return out
    return apply(_ADD, out, np.pad(np.zeros(shape, dtype=out.dtype), widths, constant_values=constant))


def concatenate(arrays: Any, axis: Any = 0, **kwargs: Any) -> Tensor:
    """``np.concatenate`` of tensors and arrays (``axis=None`` flattens them first)."""
    _no_options("concatenate", kwargs)
    arrays = list(arrays)
    if axis is None:
        arrays, axis = [apply(_RESHAPE, a, shape=(-1,)) for a in arrays], 0
    ndim = np.ndim(arrays[0]) if arrays else 0
    axis = int(axis) % ndim if ndim else axis
    if len(arrays) > MAX_OPERANDS:  # more than one node has slots for: concatenate in groups
        arrays = [concatenate(arrays[i:i + MAX_OPERANDS], axis) for i in range(0, len(arrays), MAX_OPERANDS)]
    return apply(_CONCATENATE, *arrays, axis=axis)


def stack(arrays: Any, axis: int = 0, **kwargs: Any) -> Tensor:
    """``np.stack``: the arrays, each given a new axis, concatenated along it."""
    _no_options("stack", kwargs)
    arrays = list(arrays)
    axis = int(axis) % (np.ndim(arrays[0]) + 1) if arrays else axis
    return concatenate([apply(_RESHAPE, a, shape=np.shape(a)[:axis] + (1,) + np.shape(a)[axis:])
                        for a in arrays], axis)


def _at_least(x: Any, ndim: int) -> Any:
    shape = np.shape(x)
    return x if len(shape) >= ndim else apply(_RESHAPE, x, shape=(1,) * (ndim - len(shape)) + shape)


def hstack(arrays: Any, **kwargs: Any) -> Tensor:
    """``np.hstack``: along the first axis for 1-D arrays, else the second."""
    _no_options("hstack", kwargs)
    arrays = [_at_least(a, 1) for a in arrays]
    return concatenate(arrays, 0 if arrays and np.ndim(arrays[0]) == 1 else 1)


def vstack(arrays: Any, **kwargs: Any) -> Tensor:
    """``np.vstack``: along the first axis, 1-D arrays as rows."""
    _no_options("vstack", kwargs)
    return concatenate([_at_least(a, 2) for a in arrays], 0)


def _no_options(name: str, kwargs: dict) -> None:
    if any(value is not None for value in kwargs.values()):
        raise UnsupportedOperation(f"the tape supports numpy.{name} without {sorted(kwargs)}")


# ---------------------------------------------------------------- reductions
def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted({int(a) % ndim for a in axes}))


def extreme(x: Any, choose: Callable, axis: Any, keepdims: bool) -> Tensor:
    """The element ``choose`` (argmax or argmin) selects over ``axis`` (None, an int or a
    tuple), by indexing: the gradient goes to that one element (a valid subgradient at
    ties). Tensor.max/min, amax/amin."""
    x = x if isinstance(x, Tensor) else Tensor(x)
    if axis is None:
        out = x[np.unravel_index(choose(x.data), x.shape)]
        return apply(_RESHAPE, out, shape=(1,) * x.ndim) if keepdims else out
    axes = _axes(axis, x.ndim)
    if len(axes) > 1:  # the reduced axes moved to the end and merged into one
        kept = [i for i in range(x.ndim) if i not in axes]
        moved = apply(_TRANSPOSE, x, axes=tuple(kept + list(axes)))
        out = extreme(apply(_RESHAPE, moved, shape=tuple(x.shape[i] for i in kept) + (-1,)), choose, -1, False)
        return apply(_RESHAPE, out, shape=_kept_shape(x.shape, axes)) if keepdims else out
    axis = axes[0]
    chosen = np.expand_dims(choose(x.data, axis=axis), axis)
    index = list(np.ix_(*(np.arange(n) for n in chosen.shape)))
    index[axis] = chosen
    out = x[tuple(index)]
    return out if keepdims else apply(_RESHAPE, out, shape=chosen.shape[:axis] + chosen.shape[axis + 1:])


def _kept_shape(shape: tuple, axes: tuple) -> tuple:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def var(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, **kwargs: Any) -> Tensor:
    """``np.var``: the mean squared deviation from the mean, divided by ``n - ddof`` for ``n`` values."""
    _no_options("var", {"dtype": dtype, "out": out, **kwargs})
    deviation = apply(_SUB, x, apply(_MEAN, x, axis=axis, keepdims=True))
    total = apply(_SUM, apply(_MUL, deviation, deviation), axis=axis, keepdims=keepdims)
    return apply(_DIV, total, max(_reduced_count(x, axis) - ddof, 0))


def std(x: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: int = 0,
        keepdims: bool = False, **kwargs: Any) -> Tensor:
    """``np.std``: the square root of ``var``."""
    return apply(_SQRT, var(x, axis, dtype, out, ddof, keepdims, **kwargs))


# ---------------------------------------------------------------- products and scatter
def outer(a: Any, b: Any, out: Any = None) -> Tensor:
    """``np.outer``: the flattened ``a`` as a column times the flattened ``b`` as a row."""
    _no_options("outer", {"out": out})
    return apply(_MUL, apply(_RESHAPE, a, shape=(-1, 1)), apply(_RESHAPE, b, shape=(1, -1)))


def scatter_add(target: Any, index: Any, values: Any) -> Tensor:
    """A new tensor: ``target`` with ``values`` added at ``index``, repeated indices
    accumulating. The functional form of ``np.add.at(target, index, values)``, which
    updates an array in place and so cannot be recorded.

    >>> scatter_add(np.zeros(3), np.array([0, 2, 0]), Tensor([1.0, 2.0, 3.0])).tolist()
    [4.0, 0.0, 2.0]
    """
    if isinstance(index, tuple):
        index = tuple(getattr(i, "data", i) for i in index)
    index = getattr(index, "data", index)
    shape = np.shape(target)
    selected = np.zeros(shape, dtype=bool)[index].shape
    values = values if isinstance(values, Tensor) else np.asarray(values)
    if np.shape(values) != selected:  # the rule for scatter reads back values of this shape
        values = apply(_BROADCAST_TO, values, shape=selected)
    return apply(_ADD, target, apply(SCATTER, values, shape=shape, index=index))
