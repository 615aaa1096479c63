"""A library of CS231n-style layer rules and matrix identities for ``gradcheck.check_rule``.

Plain data and functions, no tests: ``tests/test_rules_suite.py`` and
``benchmarks/rules.py`` both read it. Each :class:`Case` is a forward ``f(**arguments)``
written in plain NumPy (no in-place assignment, so a tape can record it), the right
backward ``vjp(g, **arguments)`` written by hand the way a student writes it (not derived
by autodiff), a point ``at`` drawn from a seeded ``np.random.default_rng`` with small
realistic shapes, the names that are inputs (labels, masks, indices: not differentiated),
and the realistic bugs of that backward, each with the parameters whose gradient it gets
wrong and how a checker sees it:

* ``how="vjp"``: the values are wrong (a ``vjp`` row mismatches, the claim blamed);
* ``how="property"``: the result is malformed for those parameters (one missing from the
  result, or a gradient of the wrong shape): a ``property`` row names them.

Points are generic: ReLU and max-pool inputs stay away from their kinks and ties, the
matrices are well conditioned, dropout masks keep and drop some of each row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

__all__ = ["Bug", "Case", "CASES", "BUGS", "case", "bugs"]

EPS = 1e-5  # batchnorm / layernorm epsilon
KEEP = 0.6  # dropout: the probability of keeping a unit (inverted dropout scales by 1/KEEP)


@dataclass(frozen=True)
class Bug:
    """A wrong backward: its name, the buggy vjp, the parameters it gets wrong, and how
    the mistake shows ("vjp": wrong values; "property": missing or misshapen)."""

    name: str
    vjp: Callable[..., Any]
    wrong: frozenset[str]
    how: str = "vjp"


@dataclass(frozen=True)
class Case:
    """One rule: forward, right backward, point, inputs and the bugs of its backward."""

    name: str
    f: Callable[..., Any]
    vjp: Callable[..., Any]
    at: dict[str, Any]
    wrt: tuple[str, ...]
    inputs: tuple[str, ...] = ()
    bugs: tuple[Bug, ...] = field(default_factory=tuple)

    def arguments(self) -> dict[str, Any]:
        """Fresh copies of the point (no caller can alter another's)."""
        return {k: np.array(v, copy=True) for k, v in self.at.items()}

    def bug(self, name: str) -> Bug:
        return next(b for b in self.bugs if b.name == name)


def _bug(name: str, vjp: Callable[..., Any], *wrong: str, how: str = "vjp") -> Bug:
    return Bug(name, vjp, frozenset(wrong), how)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def _away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], low: float = 0.2,
                    high: float = 1.5) -> np.ndarray:
    """Values of both signs with |v| in [low, high]: no ReLU kink within reach."""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def _conditioned(rng: np.random.Generator, n: int) -> np.ndarray:
    """A well-conditioned n x n matrix, not symmetric (a missing transpose shows)."""
    return rng.normal(size=(n, n)) + 3.0 * np.eye(n)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# ============================================================================ affine
def affine(x, W, b):
    return x.reshape(x.shape[0], -1) @ W + b


def affine_vjp(g, x, W, b):
    N = x.shape[0]
    dx = (g @ W.T).reshape(x.shape)
    dW = x.reshape(N, -1).T @ g
    db = g.sum(axis=0)
    return dx, dW, db


def _affine_dW_transposed(g, x, W, b):
    dx, _, db = affine_vjp(g, x, W, b)
    return dx, g.T @ x.reshape(x.shape[0], -1), db  # (M, D), W is (D, M)


def _affine_db_axis(g, x, W, b):
    dx, dW, _ = affine_vjp(g, x, W, b)
    return dx, dW, g.sum(axis=1)  # N == M: the shape fits, the values do not


def _affine_no_db(g, x, W, b):
    dx, dW, _ = affine_vjp(g, x, W, b)
    return {"x": dx, "W": dW}


def _affine_dW_slip(g, x, W, b):
    dx, dW, db = affine_vjp(g, x, W, b)
    dW[0, 1] *= 1 + 1e-6
    return dx, dW, db


def _affine_dx_sign(g, x, W, b):
    dx, dW, db = affine_vjp(g, x, W, b)
    return -dx, dW, db


def _affine_dx_flat(g, x, W, b):
    dx, dW, db = affine_vjp(g, x, W, b)
    return dx.reshape(x.shape[0], -1), dW, db  # (N, D): not reshaped back to x's (N, d1, d2)


def _affine_case() -> Case:
    rng = _rng(231)
    N, d1, d2, M = 3, 2, 3, 3
    at = {"x": rng.normal(size=(N, d1, d2)), "W": rng.normal(size=(d1 * d2, M)) * 0.5,
          "b": rng.normal(size=M) * 0.1}
    return Case("affine", affine, affine_vjp, at, ("x", "W", "b"), (), (
        _bug("dW transposed (dout.T @ x)", _affine_dW_transposed, "W", how="property"),
        _bug("db over the wrong axis (sum(axis=1))", _affine_db_axis, "b"),
        _bug("db missing from the result", _affine_no_db, "b", how="property"),
        _bug("dW[0, 1] off by a relative 1e-6", _affine_dW_slip, "W"),
        _bug("dx sign error", _affine_dx_sign, "x"),
        _bug("dx not reshaped to x's shape", _affine_dx_flat, "x", how="property"),
    ))


# ============================================================================ relu
def relu(x):
    return np.maximum(x, 0)


def relu_vjp(g, x):
    return g * (x > 0)


def _relu_ignores_dout(g, x):
    return (x > 0).astype(float)


def _relu_mask_from_output(g, x):
    out = np.maximum(x, 0)
    return g * (out >= 0)  # every unit passes: out >= 0 always


def _relu_inverted_mask(g, x):
    return g * (x < 0)


def _relu_case() -> Case:
    rng = _rng(232)
    return Case("relu", relu, relu_vjp, {"x": _away_from_zero(rng, (3, 5))}, ("x",), (), (
        _bug("ignores dout ((x > 0) alone)", _relu_ignores_dout, "x"),
        _bug("mask from the output (out >= 0)", _relu_mask_from_output, "x"),
        _bug("inverted mask (x < 0)", _relu_inverted_mask, "x"),
    ))


# ============================================================================ softmax loss
def softmax_loss(x, y):
    N = x.shape[0]
    shifted = x - np.max(x, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    return -np.sum(log_probs[np.arange(N), y]) / N


def _softmax_probs(x):
    shifted = x - x.max(axis=1, keepdims=True)
    probs = np.exp(shifted)
    return probs / probs.sum(axis=1, keepdims=True)


def softmax_loss_vjp(g, x, y):
    N = x.shape[0]
    dx = _softmax_probs(x)
    dx[np.arange(N), y] -= 1
    dx /= N
    return g * dx


def _softmax_no_mean(g, x, y):
    N = x.shape[0]
    dx = _softmax_probs(x)
    dx[np.arange(N), y] -= 1
    return g * dx  # forgot / N


def _softmax_ignores_dout(g, x, y):
    return softmax_loss_vjp(1.0, x, y)


def _softmax_whole_columns(g, x, y):
    N = x.shape[0]
    dx = _softmax_probs(x)
    dx[:, y] -= 1  # every row loses 1 in every labelled column
    dx /= N
    return g * dx


def _softmax_sign(g, x, y):
    return -softmax_loss_vjp(g, x, y)


def _softmax_case() -> Case:
    rng = _rng(233)
    N, C = 4, 5
    at = {"x": rng.normal(size=(N, C)), "y": np.array([1, 4, 0, 1])}
    return Case("softmax cross-entropy", softmax_loss, softmax_loss_vjp, at, ("x",), ("y",), (
        _bug("no / N", _softmax_no_mean, "x"),
        _bug("ignores dout", _softmax_ignores_dout, "x"),
        _bug("subtracts 1 in whole columns (dx[:, y])", _softmax_whole_columns, "x"),
        _bug("sign error", _softmax_sign, "x"),
    ))


# ============================================================================ batchnorm (train)
def batchnorm(x, gamma, beta):
    mu = x.mean(axis=0)
    xc = x - mu
    var = (xc ** 2).mean(axis=0)
    xhat = xc / np.sqrt(var + EPS)
    return gamma * xhat + beta


def _bn_parts(g, x, gamma):
    std = np.sqrt(x.var(axis=0) + EPS)
    xhat = (x - x.mean(axis=0)) / std
    return std, xhat, g * gamma


def batchnorm_vjp(g, x, gamma, beta):
    N = x.shape[0]
    std, xhat, dxhat = _bn_parts(g, x, gamma)
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def _bn_no_mean_var_terms(g, x, gamma, beta):
    std, xhat, dxhat = _bn_parts(g, x, gamma)
    return dxhat / std, (g * xhat).sum(axis=0), g.sum(axis=0)


def _bn_no_var_term(g, x, gamma, beta):
    N = x.shape[0]
    std, xhat, dxhat = _bn_parts(g, x, gamma)
    dx = (N * dxhat - dxhat.sum(axis=0)) / (N * std)
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)


def _bn_dgamma_without_xhat(g, x, gamma, beta):
    dx, _, dbeta = batchnorm_vjp(g, x, gamma, beta)
    return dx, g.sum(axis=0), dbeta


def _bn_dbeta_axis(g, x, gamma, beta):
    dx, dgamma, _ = batchnorm_vjp(g, x, gamma, beta)
    return dx, dgamma, g.sum(axis=1)  # (N,), beta is (D,)


def _bn_dx_slip(g, x, gamma, beta):
    dx, dgamma, dbeta = batchnorm_vjp(g, x, gamma, beta)
    dx[0, 1] *= 1 + 1e-6
    return dx, dgamma, dbeta


def _batchnorm_case() -> Case:
    rng = _rng(234)
    N, D = 4, 5
    at = {"x": rng.normal(size=(N, D)) * 2.0 + 0.5, "gamma": 1.0 + 0.2 * rng.normal(size=D),
          "beta": 0.1 * rng.normal(size=D)}
    return Case("batchnorm (train)", batchnorm, batchnorm_vjp, at, ("x", "gamma", "beta"), (), (
        _bug("dx without the mean and variance terms", _bn_no_mean_var_terms, "x"),
        _bug("dx without the variance term", _bn_no_var_term, "x"),
        _bug("dgamma without xhat", _bn_dgamma_without_xhat, "gamma"),
        _bug("dbeta over the wrong axis (sum(axis=1))", _bn_dbeta_axis, "beta", how="property"),
        _bug("dx[0, 1] off by a relative 1e-6", _bn_dx_slip, "x"),
    ))


# ============================================================================ layernorm
def layernorm(x, gamma, beta):
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    var = (xc ** 2).mean(axis=1, keepdims=True)
    xhat = xc / np.sqrt(var + EPS)
    return gamma * xhat + beta


def _ln_parts(g, x, gamma):
    std = np.sqrt(x.var(axis=1, keepdims=True) + EPS)
    xhat = (x - x.mean(axis=1, keepdims=True)) / std
    return std, xhat, g * gamma


def layernorm_vjp(g, x, gamma, beta):
    D = x.shape[1]
    std, xhat, dxhat = _ln_parts(g, x, gamma)
    dx = (D * dxhat - dxhat.sum(axis=1, keepdims=True)
          - xhat * (dxhat * xhat).sum(axis=1, keepdims=True)) / (D * std)
    return {"x": dx, "gamma": (g * xhat).sum(axis=0), "beta": g.sum(axis=0)}


def _ln_batchnorm_backward(g, x, gamma, beta):
    N = x.shape[0]
    std, xhat, dxhat = _ln_parts(g, x, gamma)
    dx = (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0)) / (N * std)
    return {"x": dx, "gamma": (g * xhat).sum(axis=0), "beta": g.sum(axis=0)}


def _ln_dgamma_axis(g, x, gamma, beta):
    out = layernorm_vjp(g, x, gamma, beta)
    std, xhat, _ = _ln_parts(g, x, gamma)
    out["gamma"] = (g * xhat).sum(axis=1)  # (N,), gamma is (D,)
    return out


def _ln_dbeta_sign(g, x, gamma, beta):
    out = layernorm_vjp(g, x, gamma, beta)
    out["beta"] = -out["beta"]
    return out


def _ln_no_dgamma(g, x, gamma, beta):
    out = layernorm_vjp(g, x, gamma, beta)
    del out["gamma"]
    return out


def _layernorm_case() -> Case:
    rng = _rng(235)
    N, D = 3, 6
    at = {"x": rng.normal(size=(N, D)) * 1.5 - 0.3, "gamma": 1.0 + 0.2 * rng.normal(size=D),
          "beta": 0.1 * rng.normal(size=D)}
    return Case("layernorm", layernorm, layernorm_vjp, at, ("x", "gamma", "beta"), (), (
        _bug("batchnorm's backward (sums over axis 0)", _ln_batchnorm_backward, "x"),
        _bug("dgamma over the wrong axis (sum(axis=1))", _ln_dgamma_axis, "gamma", how="property"),
        _bug("dbeta sign error", _ln_dbeta_sign, "beta"),
        _bug("dgamma missing from the result", _ln_no_dgamma, "gamma", how="property"),
    ))


# ============================================================================ dropout
def dropout(x, mask):
    return x * mask / KEEP


def dropout_vjp(g, x, mask):
    return g * mask / KEEP


def _dropout_no_scale(g, x, mask):
    return g * mask


def _dropout_ignores_dout(g, x, mask):
    return mask / KEEP


def _dropout_drop_scale(g, x, mask):
    return g * mask / (1 - KEEP)  # the drop probability, not the keep probability


def _dropout_times_p(g, x, mask):
    return g * mask * KEEP


def _mask(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    mask = rng.random(shape) < KEEP
    mask[:, 0], mask[:, 1] = True, False  # every row keeps and drops some
    return mask


def _dropout_case() -> Case:
    rng = _rng(236)
    at = {"x": rng.normal(size=(4, 5)), "mask": _mask(rng, (4, 5))}
    return Case("dropout (boolean mask)", dropout, dropout_vjp, at, ("x",), ("mask",), (
        _bug("no 1/p scale", _dropout_no_scale, "x"),
        _bug("ignores dout", _dropout_ignores_dout, "x"),
        _bug("scales by 1/(1 - p)", _dropout_drop_scale, "x"),
    ))


def _dropout_float_case() -> Case:
    rng = _rng(237)
    at = {"x": rng.normal(size=(3, 6)), "mask": _mask(rng, (3, 6)).astype(float)}
    return Case("dropout (0/1 float mask)", dropout, dropout_vjp, at, ("x",), ("mask",), (
        _bug("no 1/p scale", _dropout_no_scale, "x"),
        _bug("multiplies by p instead of dividing", _dropout_times_p, "x"),
    ))


# ============================================================================ conv (naive)
STRIDE, PAD = 2, 1


def conv(x, w, b):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * PAD - HH) // STRIDE, 1 + (W + 2 * PAD - WW) // STRIDE
    xp = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    rows = []
    for i in range(Ho):
        cols = []
        for j in range(Wo):
            patch = xp[:, :, i * STRIDE:i * STRIDE + HH, j * STRIDE:j * STRIDE + WW]
            cols.append(np.stack([np.sum(patch * w[f], axis=(1, 2, 3)) + b[f] for f in range(F)],
                                 axis=1))  # (N, F)
        rows.append(np.stack(cols, axis=-1))  # (N, F, Wo)
    return np.stack(rows, axis=-2)  # (N, F, Ho, Wo)


def _conv_backward(g, x, w, stride=STRIDE, accumulate=True, crop=True):
    F, _, HH, WW = w.shape
    _, _, Ho, Wo = g.shape
    xp = np.pad(x, ((0, 0), (0, 0), (PAD, PAD), (PAD, PAD)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(Ho):
        for j in range(Wo):
            rows = slice(i * stride, i * stride + HH)
            cols = slice(j * stride, j * stride + WW)
            patch = xp[:, :, rows, cols]
            for f in range(F):
                gf = g[:, f, i, j][:, None, None, None]
                dw[f] += np.sum(patch * gf, axis=0)
                if accumulate:
                    dxp[:, :, rows, cols] += w[f] * gf
                else:
                    dxp[:, :, rows, cols] = w[f] * gf
    dx = dxp[:, :, PAD:-PAD, PAD:-PAD] if crop else dxp
    return dx, dw


def conv_vjp(g, x, w, b):
    dx, dw = _conv_backward(g, x, w)
    return dx, dw, g.sum(axis=(0, 2, 3))


def _conv_no_crop(g, x, w, b):
    dx, dw = _conv_backward(g, x, w, crop=False)
    return dx, dw, g.sum(axis=(0, 2, 3))


def _conv_assigns(g, x, w, b):
    dx, dw = _conv_backward(g, x, w, accumulate=False)
    return dx, dw, g.sum(axis=(0, 2, 3))


def _conv_no_stride(g, x, w, b):
    dx, dw = _conv_backward(g, x, w, stride=1)
    return dx, dw, g.sum(axis=(0, 2, 3))


def _conv_db_axes(g, x, w, b):
    dx, dw = _conv_backward(g, x, w)
    return dx, dw, g.sum(axis=(0, 1, 2))  # (Wo,) == (F,) here: fits, but wrong


def _conv_dw_slip(g, x, w, b):
    dx, dw = _conv_backward(g, x, w)
    dw[0, 0, 1, 1] *= 1 + 1e-6
    return dx, dw, g.sum(axis=(0, 2, 3))


def _conv_case() -> Case:
    rng = _rng(238)
    N, C, H, W, F, HH, WW = 2, 2, 5, 5, 3, 3, 3
    at = {"x": rng.normal(size=(N, C, H, W)), "w": rng.normal(size=(F, C, HH, WW)) * 0.3,
          "b": rng.normal(size=F) * 0.1}
    return Case("conv (stride 2, pad 1)", conv, conv_vjp, at, ("x", "w", "b"), (), (
        _bug("dx not cropped to x (padding kept)", _conv_no_crop, "x", how="property"),
        _bug("dx assigned per window, not accumulated", _conv_assigns, "x"),
        _bug("stride ignored in the backward", _conv_no_stride, "x", "w"),
        _bug("db over the wrong axes (0, 1, 2)", _conv_db_axes, "b"),
        _bug("dw[0, 0, 1, 1] off by a relative 1e-6", _conv_dw_slip, "w"),
    ))


# ============================================================================ max-pool 2x2
def maxpool(x):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // 2, 2, W // 2, 2).max(axis=5).max(axis=3)


def _windows(x):
    N, C, H, W = x.shape
    return x.reshape(N, C, H // 2, 2, W // 2, 2)


def maxpool_vjp(g, x):
    windows = _windows(x)
    out = windows.max(axis=(3, 5))
    mask = windows == out[:, :, :, None, :, None]
    return (mask * g[:, :, :, None, :, None]).reshape(x.shape)


def _maxpool_average(g, x):
    ones = np.ones_like(_windows(x))
    return (ones * g[:, :, :, None, :, None] / 4).reshape(x.shape)


def _maxpool_first_element(g, x):
    dwin = np.zeros_like(_windows(x))
    dwin[:, :, :, 0, :, 0] = g  # the top-left of each window, whatever the argmax
    return dwin.reshape(x.shape)


def _maxpool_ignores_dout(g, x):
    windows = _windows(x)
    mask = windows == windows.max(axis=(3, 5))[:, :, :, None, :, None]
    return mask.reshape(x.shape).astype(float)


def _maxpool_case() -> Case:
    rng = _rng(239)
    shape = (2, 2, 4, 4)
    n = int(np.prod(shape))
    # distinct values 0.05 apart (no ties in a window), and no window's max at its top-left
    # corner only by chance: shuffled
    x = (rng.permutation(n) - n / 2).reshape(shape) * 0.05
    win = _windows(x)
    top_left_is_max = win[:, :, :, 0, :, 0] == win.max(axis=(3, 5))
    assert not top_left_is_max.all()
    return Case("max-pool 2x2 stride 2", maxpool, maxpool_vjp, {"x": x}, ("x",), (), (
        _bug("average-pool backward (dout / 4 everywhere)", _maxpool_average, "x"),
        _bug("routes dout to each window's first element", _maxpool_first_element, "x"),
        _bug("ignores dout (the mask alone)", _maxpool_ignores_dout, "x"),
    ))


# ============================================================================ RNN step
def rnn_step(x, h, Wx, Wh, b):
    return np.tanh(x @ Wx + h @ Wh + b)


def rnn_step_vjp(g, x, h, Wx, Wh, b):
    next_h = np.tanh(x @ Wx + h @ Wh + b)
    da = g * (1 - next_h ** 2)
    return {"x": da @ Wx.T, "h": da @ Wh.T, "Wx": x.T @ da, "Wh": h.T @ da, "b": da.sum(axis=0)}


def _rnn_tanh_of_preactivation(g, x, h, Wx, Wh, b):
    a = x @ Wx + h @ Wh + b
    da = g * (1 - a ** 2)  # tanh' written on the pre-activation
    return {"x": da @ Wx.T, "h": da @ Wh.T, "Wx": x.T @ da, "Wh": h.T @ da, "b": da.sum(axis=0)}


def _rnn_dWh_transposed(g, x, h, Wx, Wh, b):
    out = rnn_step_vjp(g, x, h, Wx, Wh, b)
    next_h = np.tanh(x @ Wx + h @ Wh + b)
    out["Wh"] = (g * (1 - next_h ** 2)).T @ h  # square: the shape fits
    return out


def _rnn_dh_without_transpose(g, x, h, Wx, Wh, b):
    out = rnn_step_vjp(g, x, h, Wx, Wh, b)
    next_h = np.tanh(x @ Wx + h @ Wh + b)
    out["h"] = (g * (1 - next_h ** 2)) @ Wh
    return out


def _rnn_no_db(g, x, h, Wx, Wh, b):
    out = rnn_step_vjp(g, x, h, Wx, Wh, b)
    del out["b"]
    return out


def _rnn_db_slip(g, x, h, Wx, Wh, b):
    out = rnn_step_vjp(g, x, h, Wx, Wh, b)
    out["b"][1] *= 1 + 1e-6
    return out


def _rnn_case() -> Case:
    rng = _rng(240)
    N, D, H = 3, 4, 5
    at = {"x": rng.normal(size=(N, D)), "h": rng.normal(size=(N, H)) * 0.5,
          "Wx": rng.normal(size=(D, H)) * 0.4, "Wh": rng.normal(size=(H, H)) * 0.4,
          "b": rng.normal(size=H) * 0.1}
    return Case("rnn step", rnn_step, rnn_step_vjp, at, ("x", "h", "Wx", "Wh", "b"), (), (
        _bug("tanh' on the pre-activation (1 - a**2)", _rnn_tanh_of_preactivation,
             "x", "h", "Wx", "Wh", "b"),
        _bug("dWh transposed (da.T @ h)", _rnn_dWh_transposed, "Wh"),
        _bug("dh = da @ Wh (no transpose)", _rnn_dh_without_transpose, "h"),
        _bug("db missing from the result", _rnn_no_db, "b", how="property"),
        _bug("db[1] off by a relative 1e-6", _rnn_db_slip, "b"),
    ))


# ============================================================================ LSTM step
def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = _sigmoid(a[:, :H])
    f = _sigmoid(a[:, H:2 * H])
    o = _sigmoid(a[:, 2 * H:3 * H])
    gg = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * gg
    next_h = o * np.tanh(next_c)
    return next_h, next_c


def _lstm_backward(g, x, prev_h, prev_c, Wx, Wh, b, use_dnext_c=True, swap_if=False,
                   dprev_c_from_dnext_c_only=False):
    dnext_h, dnext_c = g
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 2 * H:3 * H])
    gg = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * gg
    tc = np.tanh(next_c)
    dc = dnext_h * o * (1 - tc ** 2) + (dnext_c if use_dnext_c else 0)
    do = dnext_h * tc
    di, df, dg = dc * gg, dc * prev_c, dc * i
    dprev_c = (dnext_c if dprev_c_from_dnext_c_only else dc) * f
    dai, daf = di * i * (1 - i), df * f * (1 - f)
    if swap_if:
        dai, daf = daf, dai
    da = np.hstack([dai, daf, do * o * (1 - o), dg * (1 - gg ** 2)])
    return {"x": da @ Wx.T, "prev_h": da @ Wh.T, "prev_c": dprev_c,
            "Wx": x.T @ da, "Wh": prev_h.T @ da, "b": da.sum(axis=0)}


def lstm_step_vjp(g, x, prev_h, prev_c, Wx, Wh, b):
    return _lstm_backward(g, x, prev_h, prev_c, Wx, Wh, b)


def _lstm_ignores_dnext_c(g, x, prev_h, prev_c, Wx, Wh, b):
    return _lstm_backward(g, x, prev_h, prev_c, Wx, Wh, b, use_dnext_c=False)


def _lstm_dprev_c_short(g, x, prev_h, prev_c, Wx, Wh, b):
    return _lstm_backward(g, x, prev_h, prev_c, Wx, Wh, b, dprev_c_from_dnext_c_only=True)


def _lstm_swapped_gates(g, x, prev_h, prev_c, Wx, Wh, b):
    return _lstm_backward(g, x, prev_h, prev_c, Wx, Wh, b, swap_if=True)


def _lstm_dWh_slip(g, x, prev_h, prev_c, Wx, Wh, b):
    out = _lstm_backward(g, x, prev_h, prev_c, Wx, Wh, b)
    out["Wh"][1, 9] *= 1 + 1e-6
    return out


def _lstm_case() -> Case:
    rng = _rng(241)
    N, D, H = 3, 4, 3
    at = {"x": rng.normal(size=(N, D)), "prev_h": rng.normal(size=(N, H)) * 0.5,
          "prev_c": rng.normal(size=(N, H)) * 0.5, "Wx": rng.normal(size=(D, 4 * H)) * 0.4,
          "Wh": rng.normal(size=(H, 4 * H)) * 0.4, "b": rng.normal(size=4 * H) * 0.1}
    return Case("lstm step (next_h, next_c)", lstm_step, lstm_step_vjp, at,
                ("x", "prev_h", "prev_c", "Wx", "Wh", "b"), (), (
        _bug("ignores dnext_c", _lstm_ignores_dnext_c, "x", "prev_h", "prev_c", "Wx", "Wh", "b"),
        _bug("dprev_c = dnext_c * f (the path through next_h lost)", _lstm_dprev_c_short, "prev_c"),
        _bug("input and forget gate gradients swapped", _lstm_swapped_gates,
             "x", "prev_h", "Wx", "Wh", "b"),
        _bug("dWh[1, 9] off by a relative 1e-6", _lstm_dWh_slip, "Wh"),
    ))


# ============================================================================ embedding
def embedding(W, idx):
    return W[idx]


def embedding_vjp(g, W, idx):
    dW = np.zeros_like(W)
    np.add.at(dW, idx, g)
    return dW


def _embedding_buffered(g, W, idx):
    dW = np.zeros_like(W)
    dW[idx] += g  # buffered: a repeated index keeps only one of its rows
    return dW


def _embedding_ignores_dout(g, W, idx):
    dW = np.zeros_like(W)
    np.add.at(dW, idx, 1.0)
    return dW


def _embedding_case() -> Case:
    rng = _rng(242)
    V, D, N, T = 5, 3, 2, 4
    idx = rng.integers(0, V, size=(N, T))
    idx[1, 2] = idx[0, 1]  # a repeated index, whatever the draw
    return Case("embedding W[idx] (repeated indices)", embedding, embedding_vjp,
                {"W": rng.normal(size=(V, D)), "idx": idx}, ("W",), ("idx",), (
        _bug("dW[idx] += dout (repeats lost)", _embedding_buffered, "W"),
        _bug("ignores dout (counts the indices)", _embedding_ignores_dout, "W"),
    ))


# ============================================================================ matrix identities
def trace_ab(A, B):
    return np.trace(A @ B)


def trace_ab_vjp(g, A, B):
    return {"A": g * B.T, "B": g * A.T}


def _trace_no_transpose(g, A, B):
    return {"A": g * B, "B": g * A}  # (4, 3) for A (3, 4) and the other way round


def _trace_ignores_g(g, A, B):
    return {"A": B.T.copy(), "B": A.T.copy()}


def _trace_dB_sign(g, A, B):
    return {"A": g * B.T, "B": -g * A.T}


def _trace_case() -> Case:
    rng = _rng(243)
    at = {"A": rng.normal(size=(3, 4)), "B": rng.normal(size=(4, 3))}
    return Case("trace(A @ B)", trace_ab, trace_ab_vjp, at, ("A", "B"), (), (
        _bug("no transposes (dA = g B, dB = g A)", _trace_no_transpose, "A", "B", how="property"),
        _bug("ignores g", _trace_ignores_g, "A", "B"),
        _bug("dB sign error", _trace_dB_sign, "B"),
    ))


def det(A):
    return np.linalg.det(A)


def det_vjp(g, A):
    return g * np.linalg.det(A) * np.linalg.inv(A).T


def _det_no_transpose(g, A):
    return g * np.linalg.det(A) * np.linalg.inv(A)


def _det_no_det_factor(g, A):
    return g * np.linalg.inv(A).T  # the slogdet rule


def _det_sign(g, A):
    return -det_vjp(g, A)


def _det_case() -> Case:
    rng = _rng(244)
    return Case("det(A)", det, det_vjp, {"A": _conditioned(rng, 3)}, ("A",), (), (
        _bug("no transpose (det A inv(A))", _det_no_transpose, "A"),
        _bug("det factor dropped (inv(A).T)", _det_no_det_factor, "A"),
        _bug("sign error", _det_sign, "A"),
    ))


def logabsdet(A):
    return np.linalg.slogdet(A)[1]


def logabsdet_vjp(g, A):
    return g * np.linalg.inv(A).T


def _logabsdet_no_transpose(g, A):
    return g * np.linalg.inv(A)


def _logabsdet_det_rule(g, A):
    return g * np.linalg.det(A) * np.linalg.inv(A).T  # det's rule reused


def _logabsdet_case() -> Case:
    rng = _rng(245)
    A = _conditioned(rng, 3)
    A[0] = -A[0]  # a negative determinant: log|det A| still differentiates to inv(A).T
    return Case("slogdet(A)[1]", logabsdet, logabsdet_vjp, {"A": A}, ("A",), (), (
        _bug("no transpose (inv(A))", _logabsdet_no_transpose, "A"),
        _bug("det's rule (det A inv(A).T)", _logabsdet_det_rule, "A"),
    ))


def inv(A):
    return np.linalg.inv(A)


def inv_vjp(g, A):
    Ai = np.linalg.inv(A)
    return -Ai.T @ g @ Ai.T


def _inv_no_transposes(g, A):
    Ai = np.linalg.inv(A)
    return -Ai @ g @ Ai


def _inv_sign(g, A):
    Ai = np.linalg.inv(A)
    return Ai.T @ g @ Ai.T


def _inv_one_factor(g, A):
    return -np.linalg.inv(A).T @ g


def _inv_case() -> Case:
    rng = _rng(246)
    return Case("inv(A)", inv, inv_vjp, {"A": _conditioned(rng, 3)}, ("A",), (), (
        _bug("no transposes (-inv(A) g inv(A))", _inv_no_transposes, "A"),
        _bug("sign error", _inv_sign, "A"),
        _bug("one factor of inv(A).T only", _inv_one_factor, "A"),
    ))


def solve(A, b):
    return np.linalg.solve(A, b)


def solve_vjp(g, A, b):
    db = np.linalg.solve(A.T, g)
    x = np.linalg.solve(A, b)
    return {"A": -np.outer(db, x), "b": db}


def _solve_with_A(g, A, b):
    db = np.linalg.solve(A, g)  # A, not A.T
    return {"A": -np.outer(db, np.linalg.solve(A, b)), "b": db}


def _solve_outer_reversed(g, A, b):
    out = solve_vjp(g, A, b)
    out["A"] = -np.outer(np.linalg.solve(A, b), out["b"])
    return out


def _solve_dA_sign(g, A, b):
    out = solve_vjp(g, A, b)
    out["A"] = -out["A"]
    return out


def _solve_case() -> Case:
    rng = _rng(247)
    at = {"A": _conditioned(rng, 3), "b": rng.normal(size=3)}
    return Case("solve(A, b)", solve, solve_vjp, at, ("A", "b"), (), (
        _bug("solves with A, not A.T", _solve_with_A, "A", "b"),
        _bug("dA outer product reversed (x db^T)", _solve_outer_reversed, "A"),
        _bug("dA sign error", _solve_dA_sign, "A"),
    ))


def frobenius(A):
    return np.linalg.norm(A)


def frobenius_vjp(g, A):
    return g * A / np.linalg.norm(A)


def _frobenius_squared(g, A):
    return 2 * g * A  # the gradient of the squared norm


def _frobenius_over_square(g, A):
    return g * A / np.linalg.norm(A) ** 2


def _frobenius_slip(g, A):
    dA = frobenius_vjp(g, A)
    dA[0, 1] *= 1 + 1e-6
    return dA


def _frobenius_case() -> Case:
    rng = _rng(248)
    return Case("Frobenius norm", frobenius, frobenius_vjp, {"A": rng.normal(size=(3, 4))}, ("A",), (), (
        _bug("gradient of the squared norm (2 g A)", _frobenius_squared, "A"),
        _bug("divides by the squared norm", _frobenius_over_square, "A"),
        _bug("dA[0, 1] off by a relative 1e-6", _frobenius_slip, "A"),
    ))


def norm2(v):
    return np.linalg.norm(v)


def norm2_vjp(g, v):
    return g * v / np.linalg.norm(v)


def _norm2_no_division(g, v):
    return g * v


def _norm2_ignores_g(g, v):
    return v / np.linalg.norm(v)


def _norm2_case() -> Case:
    rng = _rng(249)
    return Case("vector 2-norm", norm2, norm2_vjp, {"v": rng.normal(size=5)}, ("v",), (), (
        _bug("no division by the norm", _norm2_no_division, "v"),
        _bug("ignores g", _norm2_ignores_g, "v"),
    ))


# ============================================================================ the library
CASES: tuple[Case, ...] = (
    _affine_case(), _relu_case(), _softmax_case(), _batchnorm_case(), _layernorm_case(),
    _dropout_case(), _dropout_float_case(), _conv_case(), _maxpool_case(), _rnn_case(),
    _lstm_case(), _embedding_case(), _trace_case(), _det_case(), _logabsdet_case(),
    _inv_case(), _solve_case(), _frobenius_case(), _norm2_case(),
)

BUGS: tuple[tuple[Case, Bug], ...] = tuple((c, b) for c in CASES for b in c.bugs)


def case(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


def bugs() -> Iterator[tuple[Case, Bug]]:
    return iter(BUGS)
