"""The numeric source: finite differences with a scale-aware step and an error estimate.

Schemes:
- ``central``: one central difference at h = cbrt(eps) * max(1, |x|); error from
  comparing it with the difference at 2h, plus rounding.
- ``richardson``: central differences at h, h/2, h/4, h/8 extrapolated to order h**8,
  over a range of base steps; the base step with the smallest error estimate wins.
- ``complex``: Im f(x + ih) / h, exact to rounding for analytic f (no kinks).

Every perturbed point of every parameter goes into one vectorised call of ``f``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

__all__ = ["NumericDerivative", "differentiate_numerically", "METHODS"]

METHODS = ("central", "richardson", "complex")
EPS = np.finfo(np.float64).eps
LEVELS = 4  # Richardson halvings: D(h), D(h/2), D(h/4), D(h/8)
# Base steps, a ladder of powers of two from 1/2 to ~1e-12 times the variable's scale.
BASE_EXPONENTS = np.arange(-1, -41, -2)
# Steps for the one-sided kink test, relative to min(1, |x|) (or 1 at x = 0).
KINK_STEPS = np.array([2.0 ** -10, 2.0 ** -17, 2.0 ** -24])
COMPLEX_STEP = 1e-100
# Largest batch handed to f at once (rows times numbers per row): bounds memory.
MAX_BATCH = 4_000_000
# A function evaluation is trusted to this many ulps of its magnitude.
EVAL_ULPS = 16
# No evaluation is more accurate than this absolute floor: a few subnormal quanta.
NOISE_FLOOR = EVAL_ULPS * np.finfo(np.float64).smallest_subnormal


@dataclass(frozen=True)
class NumericDerivative:
    """Per point: the estimate, its error bound, and whether one-sided slopes disagree."""

    value: np.ndarray
    error: np.ndarray
    kink: np.ndarray
    method: str


def _extrapolation_weights(levels: int) -> np.ndarray:
    """Weights w such that w @ [D(h), D(h/2), ...] (``levels`` of them) is the Richardson
    extrapolation of central differences, which cancels h**2, h**4, ... in turn."""
    table = [np.eye(levels)[j] for j in range(levels)]
    for i in range(1, levels):
        table = [table[j] + (table[j] - table[j - 1]) / (4 ** i - 1) for j in range(1, len(table))]
    return table[-1]


WEIGHTS = _extrapolation_weights(LEVELS)
# One order lower, from the three smallest steps: its distance to WEIGHTS' value is the
# truncation error estimate.
LOWER_WEIGHTS = _extrapolation_weights(LEVELS - 1)


def _pow2(h: np.ndarray) -> np.ndarray:
    """Round steps to powers of two, so x +- h and the halvings lose no bits to rounding."""
    return np.exp2(np.round(np.log2(h)))


def _ladder_steps(x: np.ndarray) -> np.ndarray:
    """Steps (B, 2 ladders, bases, levels): one ladder scaled by max(1, |x|), one by
    min(1, |x|), so both a large variable and a function varying on a unit scale are served."""
    big = np.maximum(1.0, np.abs(x))
    small = np.where(x != 0, np.minimum(1.0, np.abs(x)), 1.0)
    bases = np.stack([big, small], axis=1)[:, :, None] * 2.0 ** BASE_EXPONENTS
    return _pow2(bases)[..., None] * 2.0 ** -np.arange(LEVELS)


def _complex_step(x: np.ndarray) -> np.ndarray:
    """COMPLEX_STEP times the scale, but never above 2**-30 |x|: sqrt(1e-300 + 1e-100j) is
    not near sqrt(1e-300). Underflowing to 0 (subnormal x), the result is NaN and the
    caller falls back to Richardson."""
    step = COMPLEX_STEP * np.maximum(1.0, np.abs(x))
    return np.where(x != 0, np.minimum(step, np.abs(x) * 2.0 ** -30), step)


def _kink_steps(x: np.ndarray) -> np.ndarray:
    return KINK_STEPS[None, :] * np.where(x != 0, np.minimum(1.0, np.abs(x)), 1.0)[:, None]


def _offsets(x: np.ndarray, method: str) -> np.ndarray:
    """Perturbations per point, shape (B, K); the kink test's come last (real methods)."""
    scale = np.maximum(1.0, np.abs(x))[:, None]
    if method == "complex":
        return 1j * _complex_step(x)[:, None]
    if method == "central":
        h = _pow2(np.cbrt(EPS) * scale)
        main = np.concatenate([h, -h, 2 * h, -2 * h], axis=1)
    else:
        h = _ladder_steps(x)
        main = np.stack([h, -h], axis=-1).reshape(len(x), -1)
    k = _kink_steps(x)
    return np.concatenate([main, k, -k, np.zeros((len(x), 1))], axis=1)


def _kink(x, fk, noise) -> np.ndarray:
    """One-sided slopes that disagree by the same jump at every step size mark a kink."""
    n = len(KINK_STEPS)
    h = _kink_steps(x)
    plus, minus, center = fk[:, :n], fk[:, n:2 * n], fk[:, 2 * n:]
    jump = (plus - 2 * center + minus) / h  # = h f'' where smooth, the slope jump at a kink
    slope = np.maximum(np.abs(plus - center), np.abs(center - minus)) / h
    steady = np.abs(jump[:, 2]) > 0.25 * np.abs(jump[:, 1])
    real = np.abs(jump[:, 2]) > 1000 * noise / h[:, 2]
    sizeable = np.abs(jump[:, 2]) > 1e-6 * slope[:, 2]
    return steady & real & sizeable & np.all(np.isfinite(fk), axis=1)


def _estimate(x, fm, noise, method):
    """Derivative and error bound from the main perturbations ``fm`` (B, K)."""
    scale = np.maximum(1.0, np.abs(x))
    if method == "complex":
        h = _complex_step(x)
        value = fm[:, 0].imag / h
        # Im f(x + ih) = h f'(x) is tiny: below the subnormal floor it underflows; and the
        # imaginary parts of terms that cancel ((1+x)**2 - x**2 - 2x at 1e8) round like
        # f's own terms, whose noise over the variable's scale bounds the derivative's
        return value, (EVAL_ULPS * EPS * np.abs(value) + NOISE_FLOOR / h
                       + noise / np.maximum(1.0, np.abs(x)))
    if method == "central":
        h = _pow2(np.cbrt(EPS) * scale)
        d1 = (fm[:, 0] - fm[:, 1]) / (2 * h)
        d2 = (fm[:, 2] - fm[:, 3]) / (4 * h)
        local = np.maximum(np.maximum(noise, NOISE_FLOOR), EVAL_ULPS * EPS * np.abs(fm).max(axis=1))
        return d1, np.abs(d2 - d1) / 3 * 2 + 2 * local / h
    return _richardson(x, fm, noise)


def _richardson(x, fm, noise):
    """Best base step of each ladder; where the two ladders disagree, say so in the error."""
    h = _ladder_steps(x)
    f = fm.reshape(h.shape[:3] + (LEVELS, 2))
    d = (f[..., 0] - f[..., 1]) / (2 * h)
    value = d @ WEIGHTS
    lower = d[..., 1:] @ LOWER_WEIGHTS
    # rounding of each difference: the evaluation noise where f was actually evaluated
    local = np.maximum(np.maximum(noise[:, None, None, None], NOISE_FLOOR),
                       EVAL_ULPS * EPS * np.abs(f).max(axis=-1))
    rounding = (np.abs(WEIGHTS) * local / h).sum(axis=-1)
    error = 2 * (np.abs(value - lower) + rounding)
    error = np.where(np.isfinite(value) & np.isfinite(error), error, np.inf)
    best = np.argmin(error, axis=2)[..., None]
    value = np.take_along_axis(value, best, axis=2)[..., 0]
    error = np.take_along_axis(error, best, axis=2)[..., 0]
    (va, vb), (ea, eb) = value.T, error.T
    agree = np.abs(va - vb) <= ea + eb
    # On disagreement trust the smaller steps: large ones can alias a fast oscillation.
    chosen = np.where(agree & (ea <= eb), va, vb)
    bound = np.where(agree, np.minimum(ea, eb), np.abs(va - vb) + np.maximum(ea, eb))
    # A ladder whose every step left the domain (sqrt at 1e-300 with steps of 2**-40)
    # has no say: the other one answers alone.
    only_a, only_b = np.isfinite(ea) & np.isinf(eb), np.isinf(ea) & np.isfinite(eb)
    chosen = np.where(only_a, va, np.where(only_b, vb, chosen))
    bound = np.where(only_a, ea, np.where(only_b, eb, bound))
    return chosen, np.where(np.isinf(ea) & np.isinf(eb), np.nan, bound)


def _perturbed_values(f, at, offsets, row_size) -> dict[str, np.ndarray]:
    """f at every perturbed point, shape (B, K) per parameter: as few calls as memory
    allows (one for small problems), each row a copy of its point with one entry moved."""
    names = list(at)
    budget = max(1, MAX_BATCH // max(len(names), row_size))
    blocks: dict[str, np.ndarray] = {}
    group: list[str] = []
    for p in list(offsets) + [None]:
        rows = sum(offsets[q].size for q in group)
        if group and (p is None or rows + offsets[p].size > budget):
            dtype = offsets[group[0]].dtype
            point = np.concatenate([np.repeat(np.arange(offsets[q].shape[0]), offsets[q].shape[1])
                                    for q in group])
            flat = {name: at[name][point].astype(dtype) for name in names}
            start = 0
            for q in group:
                flat[q][start:start + offsets[q].size] += offsets[q].ravel()
                start += offsets[q].size
            values, start = np.asarray(f(**flat)), 0
            for q in group:
                blocks[q] = values[start:start + offsets[q].size].reshape(offsets[q].shape)
                start += offsets[q].size
            group = []
        if p is not None:
            group.append(p)
    return blocks


def differentiate_numerically(
    f: Callable[..., np.ndarray],
    at: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    method: str = "richardson",
    noise: Callable[..., np.ndarray] | None = None,
    row_size: int = 1,
) -> dict[str, NumericDerivative]:
    """Finite-difference derivatives of ``f`` by each name in ``wrt``, at B points.

    ``f`` takes keyword arrays of shape (K,) (every name in ``at``) and returns (K,)
    values; ``at`` maps names to arrays of shape (B,). ``noise`` (same call signature)
    bounds the absolute rounding error of one evaluation of ``f``; by default
    EVAL_ULPS ulps of |f|. ``row_size`` is how many numbers ``f`` handles per row (e.g.
    data rows), to size the batches.

    >>> import numpy as np
    >>> d = differentiate_numerically(lambda x: np.sin(x), {"x": np.array([0.5])}, ["x"])
    >>> abs(d["x"].value[0] - np.cos(0.5)) < 1e-12
    True
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    at = {k: np.asarray(v, dtype=float) for k, v in at.items()}
    b = len(next(iter(at.values())))
    offsets = {p: _offsets(at[p], method) for p in wrt}
    with np.errstate(all="ignore"):
        blocks = _perturbed_values(f, at, offsets, row_size)
    with np.errstate(all="ignore"):
        center = np.asarray(f(**at), dtype=float)
        scale_noise = (np.asarray(noise(**at), dtype=float) if noise is not None
                       else EVAL_ULPS * EPS * np.abs(center))
        results = {}
        for p in wrt:
            block = blocks[p]
            if method == "complex":
                value, error = _estimate(at[p], block, scale_noise, method)
                kink = np.zeros(b, dtype=bool)
            else:
                n_kink = 2 * len(KINK_STEPS) + 1
                value, error = _estimate(at[p], block[:, :-n_kink], scale_noise, method)
                kink = _kink(at[p], block[:, -n_kink:], scale_noise)
            # where f itself is not finite there is no derivative, whatever the steps say
            defined = np.isfinite(center)
            results[p] = NumericDerivative(np.where(defined, value, np.nan),
                                           np.where(defined, error, np.nan), kink, method)
    return results
