"""A big parameter's exact sources (symbolic, tape, claim) compared on every element,
whatever the size: only the finite differences need random directions. One element off
by 1e-6 in 10,000 is found and named here, before any projection could average it away."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .report import ParamResult
from .rule_verdict import judge_array, rounding_bounds

__all__ = ["exact_elements", "first_mismatches"]


def first_mismatches(found: list) -> list[dict]:
    """(index, values) pairs as the report's JSON-ready entries."""
    return [{"index": list(index), **values} for index, values in found]


def exact_elements(name: str, shape: tuple[int, ...], values: Mapping[str, np.ndarray | None],
                   magnitude: np.ndarray | None, rtol: float, atol: float) -> ParamResult | None:
    """The parameter's result if its exact sources disagree on some element, else None
    (then the directions, with the finite differences, decide)."""
    present = {s: np.asarray(v, dtype=float) for s, v in values.items() if v is not None}
    if len(present) < 2:
        return None
    verdict = judge_array(present, rounding_bounds(present, magnitude), shape, rtol, atol)
    if verdict.status == "ok":
        return None
    n = verdict.elements
    index = ", ".join(map(str, verdict.worst or ()))
    message = (f"{verdict.mismatches} of {n} elements mismatch between the exact sources "
               f"(compared element by element; finite differences only along random "
               f"directions); worst {name}[{index}]: {verdict.message}")
    v = verdict.values
    return ParamResult(
        name=name, status=verdict.status, symbolic=v.get("symbolic"), tape=v.get("tape"),
        claimed=v.get("claimed"), culprit=verdict.culprit, rel_error=verdict.rel_error,
        message=message, shape=tuple(shape), elements=n, worst_index=verdict.worst,
        mismatches=verdict.mismatches, max_rel_error=verdict.rel_error,
        first_mismatches=first_mismatches(verdict.first))
