"""The one place that chooses points: pinned values as given, free scalars seeded inside
the domain and away from kinks, for expressions and functions alike."""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .problem import Problem

__all__ = ["choose_points", "candidate_values", "check_points", "MAX_POINTS", "KINK_MARGIN"]

MAX_POINTS = 100_000
# Seeded points stay at least this far (relative) from a kink, so they test smooth behaviour.
KINK_MARGIN = 1e-3
# Candidates times data rows evaluated at once, at most.
_CANDIDATE_VALUES = 4_000_000

Usable = Callable[[dict[str, Any]], bool]


def candidate_values(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seeded values that do not hide bugs: never 0 or 1, mixed signs and magnitudes.

    A third are in (0.05, 0.95) so inverse trigonometric functions find their domain.
    Four significant digits keep the points readable and exactly replayable.
    """
    magnitude = np.exp(rng.uniform(math.log(0.2), math.log(3.0), count))
    unit = rng.uniform(0.05, 0.95, count)
    kind = rng.integers(0, 3, count)
    sign = np.where(rng.random(count) < 0.5, -1.0, 1.0)
    values = np.select([kind == 0, kind == 1], [magnitude, sign * magnitude], sign * unit)
    scale = 10.0 ** (3 - np.floor(np.log10(np.abs(values))))  # 4 significant digits,
    values = np.round(values * scale) / scale  # as float(f"{v:.4g}") gives, 18x faster
    return np.where(np.abs(np.abs(values) - 1) < 0.02, values * 1.37, values)


def check_points(points: Any) -> int:
    from .errors import InputError

    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 1 <= points <= MAX_POINTS:
        raise InputError(f"points must be a whole number from 1 to {MAX_POINTS}, got {points!r}")
    return int(points)


def choose_points(problem: Problem, count: int, seed: int, usable: Usable | None = None,
                  time: Any = None) -> tuple[list[dict[str, Any]], list[str]]:
    """``count`` points, each {name: value} for the parameters and free scalars.

    ``usable(point)`` (from the symbolic source, when it runs) adds its own test to the
    finite value: a finite gradient, and no kink within KINK_MARGIN. ``time`` (a Budget)
    stops the search when the check's time is spent.
    """
    base = dict(problem.pinned)
    if not problem.free:
        notes = ([f"every variable is pinned by 'at', so 1 point was checked, not {count}"]
                 if count > 1 else [])
        return [base], notes
    rng = np.random.default_rng(seed)
    budget = max(64, 16 * count)
    if problem.rows * budget > _CANDIDATE_VALUES:
        budget = max(4 * count, _CANDIDATE_VALUES // max(problem.rows, 1))
    drawn = {n: candidate_values(rng, budget) for n in problem.free}
    finite = _finite(problem, budget, drawn)
    chosen, spare, stopped = [], [], False
    for i in range(budget):  # points are made one at a time: 100,000 of them are many dicts
        if time is not None and time.spent():
            stopped = True
            break
        point = {**base, **{n: np.array(drawn[n][i]) for n in problem.free}}
        ok = finite[i] if finite is not None else _finite_value(problem, point)
        if ok and (usable is None or usable(point)):
            chosen.append(point)
        elif len(spare) < count:
            spare.append(point)
        if len(chosen) == count:
            return chosen, []
    if not chosen and not spare:  # the budget ran out before the first candidate
        spare.append({**base, **{n: np.array(drawn[n][0]) for n in problem.free}})
    if stopped:
        notes = [f"the time budget ran out while choosing points: {len(chosen)} of {count} "
                 "found inside the domain and away from kinks"]
    else:
        notes = [f"only {len(chosen)} of {budget} seeded candidate points lay inside the domain "
                 "and away from kinks; the others are reported as they are"]
    return (chosen + spare)[:count], notes


def _finite(problem: Problem, count: int, drawn: dict) -> np.ndarray | None:
    """Every candidate's value at once, where the model broadcasts (expressions)."""
    if not problem.is_expression:
        return None
    columns = {**{p: np.full(count, float(v)) for p, v in problem.pinned.items()}, **drawn}
    with np.errstate(all="ignore"):
        return np.isfinite(problem.values(columns))


def _finite_value(problem: Problem, point: dict) -> bool:
    try:
        with np.errstate(all="ignore"):
            return bool(np.isfinite(problem.value(point)))
    except Exception:  # the user's function refused this point: try another
        return False
