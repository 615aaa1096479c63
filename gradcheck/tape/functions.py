"""Module-level tape functions (``exp``, ``maximum``, ``sum``, ...) and NumPy dispatch.

Every argument may be a Tensor or a constant (Python number or array-like).

>>> x = Tensor(0.5, requires_grad=True)
>>> y = sin(x) * exp(x)
>>> y.backward()
>>> round(float(x.grad), 12)  # (cos x + sin x) e**x
2.237328119798
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from gradcheck.errors import UnsupportedOperation
from gradcheck.tape import arrays, contract, linalg
from gradcheck.tape.arrays import extreme
from gradcheck.tape.primitives import PRIMITIVES
from gradcheck.tape.tensor import Tensor, apply, install_numpy_dispatch

__all__ = [
    "add", "sub", "mul", "div", "neg", "power",
    "exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "abs", "sign", "heaviside", "dirac_delta", "relu", "sigmoid", "softplus",
    "maximum", "minimum", "matmul", "sum", "mean", "amax", "amin", "reshape", "transpose",
    "broadcast_to", "where", "dot", "clip", "log1p", "expm1", "expand_dims", "swapaxes", "array_ufunc",
    "array_function",
]

ArrayLike = Any  # Tensor, Python number or anything np.asarray accepts


def _op(name: str, doc: str) -> Callable[..., Tensor]:
    """A function applying one primitive positionally (the primitive is looked up once)."""
    prim = PRIMITIVES[name]

    def op(*xs: ArrayLike) -> Tensor:
        return apply(prim, *xs)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


# ---------------------------------------------------------------- arithmetic
add = _op("add", "a + b, broadcasting.\n\n>>> add(Tensor(1.0), 2).item()\n3.0")
sub = _op("sub", "a - b, broadcasting.\n\n>>> sub(Tensor(1.0), 2).item()\n-1.0")
mul = _op("mul", "a * b, broadcasting.\n\n>>> mul(Tensor(3.0), 2).item()\n6.0")
div = _op("div", "a / b, broadcasting.\n\n>>> div(Tensor(3.0), 2).item()\n1.5")
neg = _op("neg", "-a.\n\n>>> neg(Tensor(3.0)).item()\n-3.0")
power = _op("pow", "a ** b; both may require grad.\n\n>>> power(Tensor(3.0), 2).item()\n9.0")

# ---------------------------------------------------------------- elementwise functions
exp = _op("exp", "e ** x.\n\n>>> exp(Tensor(0.0)).item()\n1.0")
log = _op("log", "Natural logarithm.\n\n>>> log(Tensor(1.0)).item()\n0.0")
sqrt = _op("sqrt", "Square root.\n\n>>> sqrt(Tensor(4.0)).item()\n2.0")
sin = _op("sin", "Sine.\n\n>>> sin(Tensor(0.0)).item()\n0.0")
cos = _op("cos", "Cosine.\n\n>>> cos(Tensor(0.0)).item()\n1.0")
tan = _op("tan", "Tangent.\n\n>>> tan(Tensor(0.0)).item()\n0.0")
asin = _op("asin", "Arcsine.\n\n>>> asin(Tensor(0.0)).item()\n0.0")
acos = _op("acos", "Arccosine.\n\n>>> acos(Tensor(1.0)).item()\n0.0")
atan = _op("atan", "Arctangent.\n\n>>> atan(Tensor(0.0)).item()\n0.0")
sinh = _op("sinh", "Hyperbolic sine.\n\n>>> sinh(Tensor(0.0)).item()\n0.0")
cosh = _op("cosh", "Hyperbolic cosine.\n\n>>> cosh(Tensor(0.0)).item()\n1.0")
tanh = _op("tanh", "Hyperbolic tangent.\n\n>>> tanh(Tensor(0.0)).item()\n0.0")
log1p = _op("log1p", "log(1 + x), accurate near 0.\n\n>>> log1p(Tensor(0.0)).item()\n0.0")
expm1 = _op("expm1", "e**x - 1, accurate near 0.\n\n>>> expm1(Tensor(0.0)).item()\n0.0")
abs = _op("abs", "|x|; gradient sign(x), 0 at 0.\n\n>>> abs(Tensor(-2.0)).item()\n2.0")
sign = _op("sign", "sign(x); gradient 0.\n\n>>> sign(Tensor(-2.0)).item()\n-1.0")
dirac_delta = _op("dirac_delta", "DiracDelta(x): 0 off 0, nan at 0; gradient 0.\n\n"
                  ">>> dirac_delta(Tensor(2.0)).item()\n0.0")
relu = _op("relu", "max(0, x); gradient 0.5 at 0 (SymPy's Heaviside(0)).\n\n>>> relu(Tensor(-2.0)).item()\n0.0")
sigmoid = _op("sigmoid", "1 / (1 + e**-x), stable.\n\n>>> sigmoid(Tensor(0.0)).item()\n0.5")
softplus = _op("softplus", "log(1 + e**x), stable.\n\n>>> softplus(Tensor(-800.0)).item()\n0.0")
maximum = _op("maximum", "Elementwise max; ties split the gradient 0.5/0.5.\n\n"
              ">>> maximum(Tensor(1.0), 2.0).item()\n2.0")
minimum = _op("minimum", "Elementwise min; ties split the gradient 0.5/0.5.\n\n"
              ">>> minimum(Tensor(1.0), 2.0).item()\n1.0")
matmul = _op("matmul", "a @ b (NumPy's matmul rules).\n\n"
             ">>> matmul(Tensor([[1.0, 2.0]]), [3.0, 4.0]).tolist()\n[11.0]")

_HEAVISIDE, _SUM, _MEAN = PRIMITIVES["heaviside"], PRIMITIVES["sum"], PRIMITIVES["mean"]
_RESHAPE, _TRANSPOSE = PRIMITIVES["reshape"], PRIMITIVES["transpose"]
_BROADCAST_TO, _WHERE = PRIMITIVES["broadcast_to"], PRIMITIVES["where"]


def heaviside(x: ArrayLike, h0: float = 0.5) -> Tensor:
    """Step function: 0 below 0, ``h0`` at 0, 1 above; gradient 0.

    >>> heaviside(Tensor([-1.0, 0.0, 2.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    return apply(_HEAVISIDE, x, h0=h0)


# ---------------------------------------------------------------- reductions and shape
def sum(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all by default).

    >>> sum(Tensor([[1.0, 2.0], [3.0, 4.0]]), axis=0).tolist()
    [4.0, 6.0]
    """
    return apply(_SUM, x, axis=axis, keepdims=keepdims)


def mean(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis`` (all by default).

    >>> mean(Tensor([1.0, 2.0])).item()
    1.5
    """
    return apply(_MEAN, x, axis=axis, keepdims=keepdims)


def amax(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Largest element over ``axis`` (all by default); the gradient goes to the first maximum.

    >>> amax(Tensor([[1.0, 5.0], [7.0, 2.0]]), axis=1).tolist()
    [5.0, 7.0]
    """
    return extreme(x, np.argmax, axis, keepdims)


def amin(x: ArrayLike, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Smallest element over ``axis`` (all by default); the gradient goes to the first minimum.

    >>> amin(Tensor([[1.0, 5.0], [7.0, 2.0]])).item()
    1.0
    """
    return extreme(x, np.argmin, axis, keepdims)


def dot(a: ArrayLike, b: ArrayLike) -> Tensor:
    """``np.dot`` for up to two dimensions (where it equals matmul), or a scalar times an array.

    >>> dot(Tensor([1.0, 2.0]), [3.0, 4.0]).item()
    11.0
    """
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return mul(a, b)
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise UnsupportedOperation("the tape supports numpy.dot up to 2-D; use matmul (@) for stacks")
    return matmul(a, b)


def clip(x: ArrayLike, low: ArrayLike, high: ArrayLike) -> Tensor:
    """``np.clip`` as minimum(maximum(x, low), high) (None for no bound).

    >>> clip(Tensor([-2.0, 0.5, 3.0]), 0.0, 1.0).tolist()
    [0.0, 0.5, 1.0]
    """
    out = x if low is None else maximum(x, low)
    return out if high is None else minimum(out, high)


def reshape(x: ArrayLike, shape: Any) -> Tensor:
    """Reshape to ``shape``.

    >>> reshape(Tensor([1.0, 2.0]), (2, 1)).shape
    (2, 1)
    """
    return apply(_RESHAPE, x, shape=shape)


def transpose(x: ArrayLike, axes: Any = None) -> Tensor:
    """Permute axes (reverse by default).

    >>> transpose(Tensor([[1.0, 2.0]])).shape
    (2, 1)
    """
    return apply(_TRANSPOSE, x, axes=None if axes is None else tuple(axes))


def broadcast_to(x: ArrayLike, shape: Any) -> Tensor:
    """Broadcast to ``shape``; the gradient is summed back.

    >>> broadcast_to(Tensor(1.0), (2,)).tolist()
    [1.0, 1.0]
    """
    return apply(_BROADCAST_TO, x, shape=shape)


def expand_dims(x: ArrayLike, axis: Any) -> Tensor:
    """Insert axes of length 1 at ``axis`` (an int or a tuple), as a reshape.

    >>> expand_dims(Tensor([1.0, 2.0]), (0, 2)).shape
    (1, 2, 1)
    """
    return reshape(x, np.expand_dims(x.data if isinstance(x, Tensor) else np.asarray(x), axis).shape)


def swapaxes(x: ArrayLike, axis1: int, axis2: int) -> Tensor:
    """Exchange two axes, as a transpose.

    >>> swapaxes(Tensor([[1.0, 2.0]]), 0, 1).shape
    (2, 1)
    """
    axes = list(range(np.ndim(x)))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def where(condition: ArrayLike, x: ArrayLike, y: ArrayLike) -> Tensor:
    """``x`` where ``condition`` else ``y``; the condition gets no gradient.

    >>> where(np.array([True, False]), Tensor([1.0, 2.0]), 0.0).tolist()
    [1.0, 0.0]
    """
    return apply(_WHERE, np.asarray(getattr(condition, "data", condition)), x, y)


# ---------------------------------------------------------------- NumPy protocol (np.sin(t), array * t)
_UFUNCS = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div, np.negative: neg,
    np.power: power, np.exp: exp, np.log: log, np.sqrt: sqrt, np.sin: sin, np.cos: cos,
    np.tan: tan, np.arcsin: asin, np.arccos: acos, np.arctan: atan, np.sinh: sinh,
    np.cosh: cosh, np.tanh: tanh, np.absolute: abs, np.sign: sign, np.maximum: maximum,
    np.minimum: minimum, np.matmul: matmul,
    np.heaviside: lambda x, h0: heaviside(x, float(getattr(h0, "data", h0))),
    np.log1p: log1p, np.expm1: expm1, np.square: lambda x: mul(x, x),
    np.reciprocal: lambda x: div(1.0, x), np.positive: lambda x: x,
}
_NO_GRAD_UFUNCS = {np.less, np.less_equal, np.greater, np.greater_equal, np.equal,
                   np.not_equal, np.isnan, np.isinf, np.isfinite}
_ARRAY_FUNCTIONS = {
    np.sum: sum, np.mean: mean, np.reshape: reshape, np.transpose: transpose,
    np.broadcast_to: broadcast_to, np.where: where,
    np.shape: lambda a: np.shape(a.data), np.ndim: lambda a: np.ndim(a.data),
    np.size: lambda a, axis=None: np.size(a.data, axis),
    np.max: amax, np.amax: amax, np.min: amin, np.amin: amin, np.dot: dot, np.clip: clip,
    np.ravel: lambda a: reshape(a, (-1,)), np.expand_dims: expand_dims, np.swapaxes: swapaxes,
    np.var: arrays.var, np.std: arrays.std, np.pad: arrays.pad, np.outer: arrays.outer,
    np.concatenate: arrays.concatenate, np.stack: arrays.stack, np.hstack: arrays.hstack,
    np.vstack: arrays.vstack, np.einsum: contract.einsum, np.tensordot: contract.tensordot,
    np.trace: linalg.trace, np.diagonal: linalg.diagonal,
    np.linalg.det: linalg.det, np.linalg.slogdet: linalg.slogdet, np.linalg.inv: linalg.inv,
    np.linalg.solve: linalg.solve, np.linalg.norm: linalg.norm, np.linalg.matrix_power: linalg.matrix_power,
    # constants shaped like a tensor: no gradient flows through them
    np.zeros_like: lambda a, dtype=None: np.zeros_like(getattr(a, "data", a), dtype=dtype),
    np.ones_like: lambda a, dtype=None: np.ones_like(getattr(a, "data", a), dtype=dtype),
}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """Run a NumPy ufunc called on a Tensor on the tape; one without a rule is refused."""
    if method == "__call__" and not kwargs:
        if ufunc in _UFUNCS:
            return _UFUNCS[ufunc](*inputs)
        if ufunc in _NO_GRAD_UFUNCS:
            return ufunc(*(getattr(x, "data", x) for x in inputs))
    if method == "at":
        raise UnsupportedOperation(
            f"numpy.{ufunc.__name__}.at updates an array in place, which the tape cannot record: "
            "use the functional form, gradcheck.tape.scatter_add(target, index, values), "
            "which returns a new tensor")
    how = "" if method == "__call__" else f".{method}"
    raise UnsupportedOperation(f"the tape has no rule for numpy.{ufunc.__name__}{how}"
                               + (f" with {sorted(kwargs)}" if kwargs else ""))


def array_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """Run a NumPy function called on a Tensor on the tape; one without a rule is refused."""
    impl = _ARRAY_FUNCTIONS.get(func)
    if impl is None:
        raise UnsupportedOperation(f"the tape has no rule for {func.__module__}.{func.__name__}")
    return impl(*args, **kwargs)


install_numpy_dispatch(array_ufunc, array_function)
