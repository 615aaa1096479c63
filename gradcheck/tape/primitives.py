"""The derivative table: one entry per primitive, forward and vector-Jacobian products side by side.

A VJP has the signature ``vjp(g, out, *args, **params) -> ndarray``: ``g`` is the
gradient arriving at the output, ``out`` the forward value, ``args`` the forward
inputs (ndarrays, or Python scalars for constants). Its result has the shape of the
argument it differentiates, so binary rules "unbroadcast" (sum ``g`` back over the
axes NumPy broadcast). ``None`` in ``vjps`` marks an argument with no gradient.

Conventions at kinks match SymPy, whose answers the tape is checked against:
``maximum``/``minimum`` split ties 0.5/0.5 and ``relu`` has gradient 0.5 at 0
(``diff(Max(x, y), x) = Heaviside(x - y)`` with ``Heaviside(0) = 1/2``);
``abs`` has gradient ``sign(0) = 0`` at 0.

>>> PRIMITIVES["sin"].forward(np.array(0.0))
np.float64(0.0)
>>> PRIMITIVES["mul"].vjps[0](np.ones((2, 3)), None, np.ones((2, 3)), np.arange(3.0))
array([[0., 1., 2.],
       [0., 1., 2.]])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from gradcheck.errors import UnsupportedOperation

__all__ = ["Primitive", "PRIMITIVES", "get_primitive", "unbroadcast"]

Vjp = Callable[..., np.ndarray]


@dataclass(frozen=True, slots=True)
class Primitive:
    """A differentiable operation: ``forward(*arrays, **params)`` and one VJP (or None) per argument."""

    name: str
    forward: Callable[..., np.ndarray]
    vjps: tuple[Optional[Vjp], ...]


PRIMITIVES: dict[str, Primitive] = {}


def get_primitive(name: str) -> Primitive:
    """Return the primitive called ``name``; a missing rule is an UnsupportedOperation.

    >>> get_primitive("exp").name
    'exp'
    """
    try:
        return PRIMITIVES[name]
    except KeyError:
        raise UnsupportedOperation(f"the tape has no derivative rule for primitive {name!r}") from None


def _def(name: str, forward: Callable[..., np.ndarray], *vjps: Optional[Vjp]) -> None:
    PRIMITIVES[name] = Primitive(name, forward, vjps)


def unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    >>> unbroadcast(np.ones((3, 4)), (3, 1))
    array([[4.],
           [4.],
           [4.]])
    """
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return g.sum(axis=stretched, keepdims=True) if stretched else g


def _ub(g: np.ndarray, x: object) -> np.ndarray:
    return unbroadcast(g, np.shape(x))


# ---------------------------------------------------------------- arithmetic
_def("add", np.add, lambda g, out, a, b: _ub(g, a), lambda g, out, a, b: _ub(g, b))
_def("sub", np.subtract, lambda g, out, a, b: _ub(g, a), lambda g, out, a, b: _ub(-g, b))
_def("mul", np.multiply, lambda g, out, a, b: _ub(g * b, a), lambda g, out, a, b: _ub(g * a, b))
_def("div", np.true_divide,
     lambda g, out, a, b: _ub(g / b, a),
     lambda g, out, a, b: _ub(-g * (out / b), b))  # PyTorch's order: float32 runs match it
_def("neg", np.negative, lambda g, out, a: -g)


# ---------------------------------------------------------------- powers, exp, log
def _pow_vjp_base(g, out, a, b):
    if isinstance(b, (int, float)):  # constant exponent, the common x**2: no guards needed
        if b == 0:
            return np.zeros_like(g)
        if b >= 1:
            return g * (b * a ** (b - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        local = np.where(b == 0, 0, b * np.power(a, b - 1))  # x**0 is constant: 0, not 0*inf
    return _ub(g * local, a)


def _pow_vjp_exponent(g, out, a, b):
    # d/db a**b = a**b log(a): 0 at a == 0 (the limit for b > 0), nan for a < 0 (not real).
    log_a = np.where(a < 0, np.nan, np.log(np.where(a > 0, a, 1)))
    local = np.asarray(out * log_a).astype(out.dtype, copy=False)
    return _ub(g * local, b)


_def("pow", np.power, _pow_vjp_base, _pow_vjp_exponent)
_def("exp", np.exp, lambda g, out, a: g * out)
_def("log", np.log, lambda g, out, a: g / a)
_def("sqrt", np.sqrt, lambda g, out, a: g / (2 * out))
_def("log1p", np.log1p, lambda g, out, a: g / (1 + a))
_def("expm1", np.expm1, lambda g, out, a: g * (out + 1))

# ---------------------------------------------------------------- trigonometric
_def("sin", np.sin, lambda g, out, a: g * np.cos(a))
_def("cos", np.cos, lambda g, out, a: -g * np.sin(a))
_def("tan", np.tan, lambda g, out, a: g * (1 + out * out))
# (1 - a)(1 + a) rather than 1 - a*a: no cancellation near |a| = 1
_def("asin", np.arcsin, lambda g, out, a: g / np.sqrt((1 - a) * (1 + a)))
_def("acos", np.arccos, lambda g, out, a: -g / np.sqrt((1 - a) * (1 + a)))
_def("atan", np.arctan, lambda g, out, a: g / (1 + a * a))

# ---------------------------------------------------------------- hyperbolic
_def("sinh", np.sinh, lambda g, out, a: g * np.cosh(a))
_def("cosh", np.cosh, lambda g, out, a: g * np.sinh(a))
# 1/cosh^2 rather than 1 - tanh^2, which cancels catastrophically for |a| > a few
_def("tanh", np.tanh, lambda g, out, a: g / np.cosh(a) ** 2)


# ---------------------------------------------------------------- piecewise (SymPy's conventions at kinks)
def _tie_weight(a, b, dtype):
    """1 where a > b, 0.5 at ties, 0 elsewhere: Heaviside(a - b) with Heaviside(0) = 1/2."""
    return np.asarray(np.heaviside(np.subtract(a, b), 0.5)).astype(dtype, copy=False)


def _heaviside(a, h0=0.5):
    return np.heaviside(a, h0)


def _dirac_delta(a):
    # An impulse: 0 off 0; nan at 0, where SymPy leaves DiracDelta(0) unevaluated too.
    return np.where(np.equal(a, 0), np.nan, np.zeros_like(a))


_def("abs", np.abs, lambda g, out, a: g * np.sign(a))
_def("sign", np.sign, lambda g, out, a: np.zeros_like(g))  # 2*DiracDelta: 0 off the jump
_def("heaviside", _heaviside, lambda g, out, a, h0=0.5: np.zeros_like(g))  # DiracDelta: 0 off 0
_def("dirac_delta", _dirac_delta, lambda g, out, a: np.zeros_like(g))  # its derivative: 0 off 0
_def("maximum", np.maximum,
     lambda g, out, a, b: _ub(g * _tie_weight(a, b, g.dtype), a),
     lambda g, out, a, b: _ub(g * _tie_weight(b, a, g.dtype), b))
_def("minimum", np.minimum,
     lambda g, out, a, b: _ub(g * _tie_weight(b, a, g.dtype), a),
     lambda g, out, a, b: _ub(g * _tie_weight(a, b, g.dtype), b))
_def("relu", lambda a: np.maximum(a, 0), lambda g, out, a: g * np.heaviside(a, 0.5))


# ---------------------------------------------------------------- activations (numerically stable)
def _sigmoid(a):
    e = np.exp(-np.abs(a))  # never overflows
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


# sigmoid' = s(a) s(-a): avoids the cancellation in s(a) (1 - s(a)) for large a
_def("sigmoid", _sigmoid, lambda g, out, a: g * out * _sigmoid(-a))
_def("softplus", _softplus, lambda g, out, a: g * _sigmoid(a))


# ---------------------------------------------------------------- linear algebra
def _matmul_vjp_a(g, out, a, b):
    if a.ndim == 1 and b.ndim == 1:  # inner product
        return g * b
    if a.ndim == 1:
        g = np.expand_dims(g, -2)
    if b.ndim == 1:  # matrix-vector: the gradient is an outer product
        return _ub(g[..., None] * b, a)
    return _ub(np.matmul(g, np.swapaxes(b, -1, -2)), a)


def _matmul_vjp_b(g, out, a, b):
    if a.ndim == 1 and b.ndim == 1:
        return g * a
    if b.ndim == 1:
        g = np.expand_dims(g, -1)
    if a.ndim == 1:  # vector-matrix: outer product
        return _ub(a[:, None] * np.expand_dims(g, -2), b)
    result = np.matmul(np.swapaxes(a, -1, -2), g)
    return _ub(result[..., 0] if b.ndim == 1 else result, b)


_def("matmul", np.matmul, _matmul_vjp_a, _matmul_vjp_b)


# ---------------------------------------------------------------- reductions
def _restore_axes(g, a, axis, keepdims):
    """Reinsert the reduced axes of ``g`` so it broadcasts against ``a``."""
    if axis is None or keepdims:
        return g
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return np.expand_dims(g, tuple(ax % np.ndim(a) for ax in axes))


def _reduced_count(a, axis):
    if axis is None:
        return np.size(a)
    axes = (axis,) if np.ndim(axis) == 0 else tuple(axis)
    return int(np.prod([np.shape(a)[ax] for ax in axes]))


_def("sum", lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims),
     lambda g, out, a, axis=None, keepdims=False:
         np.broadcast_to(_restore_axes(g, a, axis, keepdims), np.shape(a)))
_def("mean", lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
     lambda g, out, a, axis=None, keepdims=False:
         np.broadcast_to(_restore_axes(g, a, axis, keepdims) / _reduced_count(a, axis), np.shape(a)))


# ---------------------------------------------------------------- shape and indexing
def _getitem_vjp(g, out, a, index):
    result = np.zeros(np.shape(a), dtype=g.dtype)
    np.add.at(result, index, g)  # add.at, not =: repeated indices must accumulate
    return result


def _transpose_vjp(g, out, a, axes=None):
    return np.transpose(g, None if axes is None else np.argsort(axes))


_def("reshape", lambda a, shape: np.reshape(a, shape), lambda g, out, a, shape: np.reshape(g, np.shape(a)))
_def("transpose", lambda a, axes=None: np.transpose(a, axes), _transpose_vjp)
_def("getitem", lambda a, index: a[index], _getitem_vjp)
_def("broadcast_to", lambda a, shape: np.broadcast_to(a, shape), lambda g, out, a, shape: _ub(g, a))

# ---------------------------------------------------------------- selection
_def("where", np.where, None,
     lambda g, out, c, a, b: _ub(np.where(c, g, 0), a),
     lambda g, out, c, a, b: _ub(np.where(c, 0, g), b))
