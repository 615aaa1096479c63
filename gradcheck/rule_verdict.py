"""Verdicts on whole arrays: every element of a gradient (or of an output tangent) from
several sources, judged by compare.classify, but only where a vectorised pass cannot
already see that the sources agree by far (a 200,000-element gradient costs one pass).

The result names how many elements mismatch and the first few, with every source's value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .compare import CLOSE_CALL, TRUST_ORDER, Estimate, Verdict, _agree, classify
from .report import SEVERITY

__all__ = ["ArrayVerdict", "judge_array", "rounding_bounds", "FIRST_FEW", "ROUNDING_ULPS"]

FIRST_FEW = 5  # mismatching elements listed by index
ROUNDING_ULPS = 64
EPS = float(np.finfo(float).eps)


@dataclass
class ArrayVerdict:
    """The verdict on one array: the worst element's status and values, and the
    mismatching elements (all counted, the first few listed)."""

    status: str
    culprit: str | None
    message: str | None
    elements: int
    mismatches: int = 0
    worst: tuple[int, ...] | None = None
    values: dict[str, float] = field(default_factory=dict)
    rel_error: float | None = None
    first: list[tuple[tuple[int, ...], dict[str, float]]] = field(default_factory=list)
    unit: str = "element"  # or "direction": the checks were projections on random directions
    dissent: int = 0  # elements where only the finite differences disagreed (ill-conditioned?)


def _exact_agree(estimates: Mapping[str, Estimate], rtol: float, atol: float) -> bool:
    """Two or more exact sources (all but the finite differences), all agreeing."""
    exact = [e for s, e in estimates.items() if s != "numeric"]
    return len(exact) >= 2 and all(_agree(a, b, rtol, atol) for i, a in enumerate(exact)
                                   for b in exact[i + 1:])


def rounding_bounds(values: Mapping[str, np.ndarray], magnitude: np.ndarray | None
                    ) -> dict[str, np.ndarray]:
    """Rounding of each exact source: ROUNDING_ULPS ulps of the size of the terms it adds
    (``magnitude``, where known), never less than of the array's largest element (an
    element that cancels to about 0 carries the rounding of the terms that cancelled)."""
    stack = np.abs(np.stack([np.asarray(v, dtype=float) for v in values.values()]))
    stack = np.where(np.isfinite(stack), stack, 0.0)
    size = stack.max(axis=0)
    floor = float(size.max(initial=0.0))
    if magnitude is not None:
        size = np.maximum(size, np.where(np.isfinite(magnitude), magnitude, 0.0))
    scale = ROUNDING_ULPS * EPS * np.maximum(size, floor)
    return {s: scale for s in values}


def _clearly_agree(values: Mapping[str, np.ndarray], bounds: Mapping[str, np.ndarray],
                   rtol: float, atol: float) -> np.ndarray:
    """Elements where every pair of sources is well within tolerance (no close call):
    classify would say ok without refining."""
    names = list(values)
    ok = np.ones(values[names[0]].shape, dtype=bool)
    for i, a in enumerate(names):
        ok &= np.isfinite(values[a])
        for b in names[i + 1:]:
            tol = bounds[a] + bounds[b] + rtol * np.maximum(np.abs(values[a]), np.abs(values[b])) + atol
            ok &= np.abs(values[a] - values[b]) <= CLOSE_CALL * tol
    return ok


def judge_array(values: Mapping[str, np.ndarray], bounds: Mapping[str, np.ndarray],
                shape: tuple[int, ...], rtol: float, atol: float,
                kinks: np.ndarray | None = None, undefined: str | None = None) -> ArrayVerdict:
    """Judge element by element. ``values``/``bounds``: per source, arrays of ``shape``
    elements (values and absolute uncertainties); ``kinks``: elements at a kink."""
    sources = [s for s in TRUST_ORDER if s in values]
    values = {s: np.asarray(values[s], dtype=float).ravel() for s in sources}
    bounds = {s: np.asarray(bounds[s], dtype=float).ravel() for s in sources}
    n = int(math.prod(shape)) if shape else 1
    if undefined:
        return ArrayVerdict("undefined", None, undefined, n)
    clear = _clearly_agree(values, bounds, rtol, atol) if len(sources) >= 2 else np.zeros(n, bool)
    if kinks is not None:
        clear &= ~kinks
    verdict = ArrayVerdict("ok", None, None, n)
    worst_key: tuple[int, float] = (-1, -1.0)
    for i in np.flatnonzero(~clear):
        estimates = {s: Estimate(float(values[s][i]), float(bounds[s][i])) for s in sources}
        kink = "finite differences see a kink here (one-sided slopes differ)" \
            if kinks is not None and kinks[i] else None
        v = classify(estimates, rtol, atol, kink=kink)
        if v.status == "mismatch" and v.culprit == "numeric" and _exact_agree(estimates, rtol, atol):
            verdict.dissent += 1  # finite differences alone against two or more exact sources
            v = Verdict("ok", None, v.rel_error, None, v.refined, v.values)
        index = tuple(int(k) for k in np.unravel_index(i, shape)) if shape else ()
        shown = {s: e.value for s, e in estimates.items()}
        if v.status == "mismatch":
            verdict.mismatches += 1
            if len(verdict.first) < FIRST_FEW:
                verdict.first.append((index, shown))
        rel = v.rel_error if v.rel_error is not None and not math.isnan(v.rel_error) else -1.0
        key = (SEVERITY[v.status], rel)
        if key > worst_key:
            worst_key = key
            verdict.status, verdict.culprit, verdict.message = v.status, v.culprit, v.message
            verdict.worst, verdict.values, verdict.rel_error = index, shown, v.rel_error
    if worst_key[0] <= 0 and clear.any():  # all ok: the largest spread, normwise
        stack = np.stack([values[s] for s in sources])
        spread = np.where(clear, stack.max(axis=0) - stack.min(axis=0), -1.0)
        i = int(np.argmax(spread))
        verdict.worst = tuple(int(k) for k in np.unravel_index(i, shape)) if shape else ()
        verdict.values = {s: float(values[s][i]) for s in sources}
        scale = float(np.max(np.abs(stack)))
        verdict.rel_error = float(spread[i]) / scale if scale > 0 else 0.0
    return verdict

