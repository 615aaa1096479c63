"""Evaluating a Problem at a batch of points: data broadcasting, reduction, and the
seeded choice of points inside the expression's domain."""

from __future__ import annotations

from typing import Callable

import numpy as np

from .problem import Problem, candidate_values
from .symbolic import Derivatives

__all__ = ["Batch", "reduce_rows", "choose_points", "kink_distance", "kinks", "KINK_RTOL"]

# A kink site closer to zero than this (relative to its terms) is "at" the kink.
KINK_RTOL = 1e-12
# Seeded points stay at least this far (relative) from a kink, so they test smooth behaviour.
KINK_MARGIN = 1e-3


class Batch:
    """Values for B points (each variable an array of shape (B,)) bound to the data set."""

    def __init__(self, problem: Problem, values: dict[str, np.ndarray]):
        self.problem = problem
        self.values = values
        self.size = len(next(iter(values.values()))) if values else 1

    def arguments(self, values: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """Keyword arrays for a compiled function: (B, 1) per point and (N,) per data column."""
        values = self.values if values is None else values
        if not self.problem.data:
            return dict(values)
        return {**{k: np.asarray(v)[:, None] for k, v in values.items()}, **self.problem.data}

    def reduced(self, function: Callable[..., np.ndarray], values=None) -> np.ndarray:
        return reduce_rows(np.asarray(function(**self.arguments(values))), self.problem)

    def rows(self, index: int) -> list[dict[str, float]]:
        """Point ``index`` as a list of rows (one per data row), for mpmath evaluation."""
        point = {k: float(v[index]) for k, v in self.values.items()}
        if not self.problem.data:
            return [point]
        columns = self.problem.data
        return [{**point, **{k: float(c[i]) for k, c in columns.items()}}
                for i in range(self.problem.rows)]


def reduce_rows(array: np.ndarray, problem: Problem) -> np.ndarray:
    if not problem.data:
        return array
    return array.sum(axis=-1) if problem.reduce == "sum" else array.mean(axis=-1)


def _site_ratios(out: list[np.ndarray], n: int) -> list[np.ndarray]:
    """|site| / |its terms| per site, point (and data row): 0 exactly on the kink."""
    ratios = []
    for site, magnitude in zip(out[:n], out[n:2 * n]):
        with np.errstate(all="ignore"):
            r = np.abs(site) / np.maximum(np.abs(magnitude), np.finfo(float).tiny)
        ratios.append(np.where(site == 0, 0.0, r))
    return ratios


def kink_distance(derivs: Derivatives, batch: Batch) -> np.ndarray:
    """Per kink site and point: the smallest relative distance to it over the data rows."""
    if derivs.kink_value is None:
        return np.full((0, batch.size), np.inf)
    n = len(derivs.kink_sites)
    ratios = _site_ratios(derivs.kink_value(**batch.arguments()), n)
    rows = [r.min(axis=-1) if batch.problem.data else r for r in ratios]
    return np.array(rows).reshape(n, batch.size)


def kinks(derivs: Derivatives, batch: Batch) -> dict[str, list[str | None]]:
    """Per parameter and point: the kink site the point sits on and moving p crosses."""
    found: dict[str, list[str | None]] = {p: [None] * batch.size for p in derivs.wrt}
    if derivs.kink_value is None:
        return found
    n, count = len(derivs.kink_sites), len(derivs.wrt)
    out = derivs.kink_value(**batch.arguments())
    for i, ratio in enumerate(_site_ratios(out, n)):
        for j, p in enumerate(derivs.wrt):
            hit = (ratio <= KINK_RTOL) & (out[2 * n + i * count + j] != 0)
            hit = hit.any(axis=-1) if batch.problem.data else hit
            for point in np.flatnonzero(hit):
                found[p][point] = found[p][point] or str(derivs.kink_sites[i])
    return found


def _usable(derivs: Derivatives, batch: Batch) -> np.ndarray:
    with np.errstate(all="ignore"):
        ok = np.isfinite(batch.reduced(derivs.value))
        for g in derivs.gradient(**batch.arguments()):
            ok &= np.isfinite(reduce_rows(g, batch.problem))
        ok &= np.all(kink_distance(derivs, batch) > KINK_MARGIN, axis=0)
    return ok


def choose_points(problem: Problem, derivs: Derivatives, count: int, seed: int
                  ) -> tuple[Batch, list[str]]:
    """``count`` points: pinned values as given, the rest seeded inside the domain."""
    free = [n for n in problem.point_names if n not in problem.pinned]
    notes = []
    if not free:
        if count > 1:
            notes.append(f"every variable is pinned by 'at', so 1 point was checked, not {count}")
        values = {n: np.array([problem.pinned[n]]) for n in problem.point_names}
        return Batch(problem, values), notes
    rng = np.random.default_rng(seed)
    budget = max(64, 16 * count)
    if problem.rows * budget > 4_000_000:
        budget = max(4 * count, 4_000_000 // max(problem.rows, 1))
    drawn = {n: candidate_values(rng, budget) for n in free}
    values = {n: drawn[n] if n in drawn else np.full(budget, problem.pinned[n])
              for n in problem.point_names}
    usable = np.flatnonzero(_usable(derivs, Batch(problem, values)))
    chosen = list(usable[:count])
    if len(chosen) < count:
        spare = [i for i in range(budget) if i not in set(chosen)]
        chosen += spare[:count - len(chosen)]
        notes.append(f"only {len(usable)} of {budget} seeded candidate points lay inside the "
                     "domain and away from kinks; the others are reported as they are")
    index = np.array(chosen)
    return Batch(problem, {n: v[index] for n, v in values.items()}), notes
