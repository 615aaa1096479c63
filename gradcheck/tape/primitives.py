"""The derivative table: one entry per primitive, forward, VJPs and JVPs side by side.

A VJP has the signature ``vjp(g, out, *args, **params) -> ndarray``: ``g`` is the
gradient arriving at the output, ``out`` the forward value, ``args`` the forward
inputs (ndarrays, or Python scalars for constants). Its result has the shape of the
argument it differentiates, so binary rules "unbroadcast" (sum ``g`` back over the
axes NumPy broadcast). ``None`` in ``vjps`` marks an argument with no gradient.

A JVP, ``jvp(t, out, *args, **params) -> ndarray``, is forward mode's: the tangent of
the output caused by the tangent ``t`` (shaped like its argument) of one argument; its
result has the output's shape. ``None`` in ``jvps`` marks the same arguments as in ``vjps``.

Conventions at kinks match SymPy, whose answers the tape is checked against, in both modes:
``maximum``/``minimum`` split ties 0.5/0.5 and ``relu`` has gradient 0.5 at 0
(``diff(Max(x, y), x) = Heaviside(x - y)`` with ``Heaviside(0) = 1/2``);
``abs`` has gradient ``sign(0) = 0`` at 0.

>>> PRIMITIVES["sin"].forward(np.array(0.0))
np.float64(0.0)
>>> PRIMITIVES["mul"].vjps[0](np.ones((2, 3)), None, np.ones((2, 3)), np.arange(3.0))
array([[0., 1., 2.],
       [0., 1., 2.]])
>>> PRIMITIVES["mul"].jvps[1](np.ones(3), np.zeros((2, 3)), np.ones((2, 1)) * 2, np.arange(3.0))
array([[2., 2., 2.],
       [2., 2., 2.]])
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Optional

import numpy as np

from gradcheck.errors import UnsupportedOperation

__all__ = ["Primitive", "PRIMITIVES", "MAX_OPERANDS", "get_primitive", "unbroadcast", "variadic"]

Vjp = Callable[..., np.ndarray]
Jvp = Callable[..., np.ndarray]

# Slots of a variadic primitive (einsum, concatenate): one per possible argument.
# NumPy's einsum takes at most 64 operands; concatenate groups longer lists.
MAX_OPERANDS = 64


@dataclass(frozen=True, slots=True)
class Primitive:
    """A differentiable operation: ``forward(*arrays, **params)``, one VJP (or None) per
    argument and one JVP (or None) per argument (none at all: no forward mode)."""

    name: str
    forward: Callable[..., np.ndarray]
    vjps: tuple[Optional[Vjp], ...]
    jvps: tuple[Optional[Jvp], ...] = ()


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


def _def(name: str, forward: Callable[..., np.ndarray], vjps: tuple, jvps: tuple) -> Primitive:
    prim = PRIMITIVES[name] = Primitive(name, forward, tuple(vjps), tuple(jvps))
    return prim


def _elementwise(name: str, forward: Callable[..., np.ndarray], rule: Vjp) -> None:
    """A unary elementwise primitive: its Jacobian is diagonal, so one rule, ``g`` times
    the derivative, is both its VJP and its JVP."""
    _def(name, forward, vjps=(rule,), jvps=(rule,))


def variadic(rule: Callable[..., np.ndarray]) -> tuple:
    """The slots of a primitive taking any number of arrays: ``rule(k, g, out, *args)``
    for argument ``k``, for every ``k`` below MAX_OPERANDS."""
    return tuple(partial(rule, k) for k in range(MAX_OPERANDS))


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


def _bc(t: np.ndarray, out: object) -> np.ndarray:
    """A tangent broadcast to the output's shape (what a JVP returns)."""
    return np.broadcast_to(t, np.shape(out))


# ---------------------------------------------------------------- arithmetic
_def("add", np.add,
     vjps=(lambda g, out, a, b: _ub(g, a), lambda g, out, a, b: _ub(g, b)),
     jvps=(lambda t, out, a, b: _bc(t, out), lambda t, out, a, b: _bc(t, out)))
_def("sub", np.subtract,
     vjps=(lambda g, out, a, b: _ub(g, a), lambda g, out, a, b: _ub(-g, b)),
     jvps=(lambda t, out, a, b: _bc(t, out), lambda t, out, a, b: _bc(-t, out)))
_def("mul", np.multiply,
     vjps=(lambda g, out, a, b: _ub(g * b, a), lambda g, out, a, b: _ub(g * a, b)),
     jvps=(lambda t, out, a, b: _bc(t * b, out), lambda t, out, a, b: _bc(a * t, out)))
_def("div", np.true_divide,
     vjps=(lambda g, out, a, b: _ub(g / b, a),
           lambda g, out, a, b: _ub(-g * (out / b), b)),  # PyTorch's order: float32 runs match it
     jvps=(lambda t, out, a, b: _bc(t / b, out), lambda t, out, a, b: -t * (out / b)))
_elementwise("neg", np.negative, lambda g, out, a: -g)


# ---------------------------------------------------------------- powers, exp, log
def _pow_base_derivative(a, b):
    """d(a**b)/da, 0 where b == 0 (x**0 is constant: 0, not 0*inf)."""
    if isinstance(b, (int, float)) and b >= 1:  # constant exponent, the common x**2: no guards needed
        return b * a ** (b - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0, b * np.power(a, b - 1))


def _pow_vjp_base(g, out, a, b):
    if isinstance(b, (int, float)) and b == 0:  # zeros even where g is inf or nan
        return np.zeros_like(g)
    return _ub(g * _pow_base_derivative(a, b), a)


def _pow_exponent_derivative(out, a):
    # d/db a**b = a**b log(a): 0 at a == 0 (the limit for b > 0), nan for a < 0 (not real).
    log_a = np.where(a < 0, np.nan, np.log(np.where(a > 0, a, 1)))
    return np.asarray(out * log_a).astype(out.dtype, copy=False)


_def("pow", np.power,
     vjps=(_pow_vjp_base, lambda g, out, a, b: _ub(g * _pow_exponent_derivative(out, a), b)),
     jvps=(lambda t, out, a, b: _bc(t * _pow_base_derivative(a, b), out),
           lambda t, out, a, b: t * _pow_exponent_derivative(out, a)))
_elementwise("exp", np.exp, lambda g, out, a: g * out)
_elementwise("log", np.log, lambda g, out, a: g / a)
_elementwise("sqrt", np.sqrt, lambda g, out, a: g / (2 * out))
_elementwise("log1p", np.log1p, lambda g, out, a: g / (1 + a))
_elementwise("expm1", np.expm1, lambda g, out, a: g * (out + 1))

# ---------------------------------------------------------------- trigonometric
_elementwise("sin", np.sin, lambda g, out, a: g * np.cos(a))
_elementwise("cos", np.cos, lambda g, out, a: -g * np.sin(a))
_elementwise("tan", np.tan, lambda g, out, a: g * (1 + out * out))
# (1 - a)(1 + a) rather than 1 - a*a: no cancellation near |a| = 1
_elementwise("asin", np.arcsin, lambda g, out, a: g / np.sqrt((1 - a) * (1 + a)))
_elementwise("acos", np.arccos, lambda g, out, a: -g / np.sqrt((1 - a) * (1 + a)))
_elementwise("atan", np.arctan, lambda g, out, a: g / (1 + a * a))

# ---------------------------------------------------------------- hyperbolic
_elementwise("sinh", np.sinh, lambda g, out, a: g * np.cosh(a))
_elementwise("cosh", np.cosh, lambda g, out, a: g * np.sinh(a))
# 1/cosh^2 rather than 1 - tanh^2, which cancels catastrophically for |a| > a few
_elementwise("tanh", np.tanh, lambda g, out, a: g / np.cosh(a) ** 2)


# ---------------------------------------------------------------- piecewise (SymPy's conventions at kinks)
def _tie_weight(a, b, dtype):
    """1 where a > b, 0.5 at ties, 0 elsewhere: Heaviside(a - b) with Heaviside(0) = 1/2."""
    return np.asarray(np.heaviside(np.subtract(a, b), 0.5)).astype(dtype, copy=False)


def _heaviside(a, h0=0.5):
    return np.heaviside(a, h0)


def _dirac_delta(a):
    # An impulse: 0 off 0; nan at 0, where SymPy leaves DiracDelta(0) unevaluated too.
    return np.where(np.equal(a, 0), np.nan, np.zeros_like(a))


_elementwise("abs", np.abs, lambda g, out, a: g * np.sign(a))
_elementwise("sign", np.sign, lambda g, out, a: np.zeros_like(g))  # 2*DiracDelta: 0 off the jump
_elementwise("heaviside", _heaviside, lambda g, out, a, h0=0.5: np.zeros_like(g))  # DiracDelta: 0 off 0
_elementwise("dirac_delta", _dirac_delta, lambda g, out, a: np.zeros_like(g))  # its derivative: 0 off 0
_def("maximum", np.maximum,
     vjps=(lambda g, out, a, b: _ub(g * _tie_weight(a, b, g.dtype), a),
           lambda g, out, a, b: _ub(g * _tie_weight(b, a, g.dtype), b)),
     jvps=(lambda t, out, a, b: _bc(t * _tie_weight(a, b, t.dtype), out),
           lambda t, out, a, b: _bc(t * _tie_weight(b, a, t.dtype), out)))
_def("minimum", np.minimum,
     vjps=(lambda g, out, a, b: _ub(g * _tie_weight(b, a, g.dtype), a),
           lambda g, out, a, b: _ub(g * _tie_weight(a, b, g.dtype), b)),
     jvps=(lambda t, out, a, b: _bc(t * _tie_weight(b, a, t.dtype), out),
           lambda t, out, a, b: _bc(t * _tie_weight(a, b, t.dtype), out)))
_elementwise("relu", lambda a: np.maximum(a, 0), lambda g, out, a: g * np.heaviside(a, 0.5))


# ---------------------------------------------------------------- activations (numerically stable)
def _sigmoid(a):
    e = np.exp(-np.abs(a))  # never overflows
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(a):
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


# sigmoid' = s(a) s(-a): avoids the cancellation in s(a) (1 - s(a)) for large a
_elementwise("sigmoid", _sigmoid, lambda g, out, a: g * out * _sigmoid(-a))
_elementwise("softplus", _softplus, lambda g, out, a: g * _sigmoid(a))


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


# bilinear: the JVP of each factor is the product with the tangent in its place
_def("matmul", np.matmul, vjps=(_matmul_vjp_a, _matmul_vjp_b),
     jvps=(lambda t, out, a, b: np.matmul(t, b), lambda t, out, a, b: np.matmul(a, t)))


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


# linear: the JVP is the operation applied to the tangent
_def("sum", lambda a, axis=None, keepdims=False: np.sum(a, axis=axis, keepdims=keepdims),
     vjps=(lambda g, out, a, axis=None, keepdims=False:
           np.broadcast_to(_restore_axes(g, a, axis, keepdims), np.shape(a)),),
     jvps=(lambda t, out, a, axis=None, keepdims=False: np.sum(t, axis=axis, keepdims=keepdims),))
_def("mean", lambda a, axis=None, keepdims=False: np.mean(a, axis=axis, keepdims=keepdims),
     vjps=(lambda g, out, a, axis=None, keepdims=False:
           np.broadcast_to(_restore_axes(g, a, axis, keepdims) / _reduced_count(a, axis), np.shape(a)),),
     jvps=(lambda t, out, a, axis=None, keepdims=False: np.mean(t, axis=axis, keepdims=keepdims),))


# ---------------------------------------------------------------- shape and indexing
def _getitem_vjp(g, out, a, index):
    result = np.zeros(np.shape(a), dtype=g.dtype)
    np.add.at(result, index, g)  # add.at, not =: repeated indices must accumulate
    return result


def _transpose_vjp(g, out, a, axes=None):
    return np.transpose(g, None if axes is None else np.argsort(axes))


_def("reshape", lambda a, shape: np.reshape(a, shape),
     vjps=(lambda g, out, a, shape: np.reshape(g, np.shape(a)),),
     jvps=(lambda t, out, a, shape: np.reshape(t, np.shape(out)),))
_def("transpose", lambda a, axes=None: np.transpose(a, axes),
     vjps=(_transpose_vjp,), jvps=(lambda t, out, a, axes=None: np.transpose(t, axes),))
_def("getitem", lambda a, index: a[index],
     vjps=(_getitem_vjp,), jvps=(lambda t, out, a, index: t[index],))
_def("broadcast_to", lambda a, shape: np.broadcast_to(a, shape),
     vjps=(lambda g, out, a, shape: _ub(g, a),), jvps=(lambda t, out, a, shape: np.broadcast_to(t, shape),))

# ---------------------------------------------------------------- selection
_def("where", np.where,
     vjps=(None, lambda g, out, c, a, b: _ub(np.where(c, g, 0), a),
           lambda g, out, c, a, b: _ub(np.where(c, 0, g), b)),
     jvps=(None, lambda t, out, c, a, b: _bc(np.where(c, t, 0), out),
           lambda t, out, c, a, b: _bc(np.where(c, 0, t), out)))
