"""One parameter of a function model: a verdict per element (or random direction) by
compare.classify, summarised into one ParamResult: the worst element's values, the
largest errors and how many elements mismatch."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .compare import Estimate, Verdict, classify
from .report import SEVERITY, ParamResult

FIRST_FEW = 5  # mismatching elements a tensor's result lists

__all__ = ["Check", "summarise"]



@dataclass
class Check:
    """One element (``label`` its index) or one direction (``label`` its number)."""

    label: tuple[int, ...] | int
    estimates: dict[str, Estimate]
    numeric_error: float
    kink: str | None = None
    explain: Callable[[Verdict], str | None] | None = None  # a note on the verdict (dtype)


def _key(verdict: Verdict) -> tuple[int, float]:
    rel = verdict.rel_error if verdict.rel_error is not None else -1.0
    return SEVERITY[verdict.status], rel if not math.isnan(rel) else -1.0


def _values(check: Check, verdict: Verdict) -> dict[str, float]:
    return {s: (verdict.values or {}).get(s, e.value) for s, e in check.estimates.items()}


def _spread(values: dict[str, float]) -> float:
    finite = [v for v in values.values() if math.isfinite(v)]
    return max(finite) - min(finite) if len(finite) > 1 else 0.0


def _label(name: str, label: tuple[int, ...] | int) -> str:
    if isinstance(label, tuple):
        return f"{name}[{', '.join(map(str, label))}]" if label else name
    return f"direction {label}"


def _message(name: str, checks: Sequence[Check], verdicts: list[Verdict], worst: int,
             unit: str) -> str | None:
    counts = {s: sum(v.status == s for v in verdicts) for s in SEVERITY if s != "ok"}
    bad = ", ".join(f"{n} of {len(verdicts)} {unit} {s}" for s, n in counts.items() if n)
    if not bad:
        return None
    detail = verdicts[worst].message
    return f"{bad}; worst {_label(name, checks[worst].label)}" + (f": {detail}" if detail else "")


def _entry(check: Check, verdict: Verdict) -> dict[str, Any]:
    label = check.label
    return {"index": list(label) if isinstance(label, tuple) else label,
            "status": verdict.status, **_values(check, verdict),
            "numeric_error": check.numeric_error, "culprit": verdict.culprit,
            "rel_error": verdict.rel_error}


def summarise(name: str, shape: tuple[int, ...], checks: Sequence[Check], rtol: float,
              atol: float, undefined: str | None, per_element: bool = False,
              projection: int | None = None) -> ParamResult:
    """Classify every check and keep the worst; scalars read exactly like expression results."""
    verdicts = [classify(c.estimates, rtol, atol, undefined=undefined, kink=c.kink) for c in checks]
    worst = max(range(len(checks)), key=lambda i: _key(verdicts[i]))
    verdict, values = verdicts[worst], _values(checks[worst], verdicts[worst])
    result = ParamResult(
        name=name, status=verdict.status, symbolic=values.get("symbolic"), tape=values.get("tape"),
        numeric=values.get("numeric"), numeric_error=float(checks[worst].numeric_error),
        claimed=values.get("claimed"), culprit=verdict.culprit, rel_error=verdict.rel_error,
        message=verdict.message, high_precision=verdict.refined)
    note = checks[worst].explain(verdict) if checks[worst].explain else None
    result.message = "; ".join(filter(None, [verdict.message, note])) or None
    if shape == () and projection is None:
        return result
    rels = [v.rel_error for v in verdicts if v.rel_error is not None]
    unit = "directions" if projection is not None else "elements"
    result.shape, result.elements = tuple(shape), int(math.prod(shape))
    result.worst_index, result.projection = checks[worst].label, projection
    result.max_abs_error = max(_spread(_values(c, v)) for c, v in zip(checks, verdicts))
    result.max_rel_error = max(rels) if rels else None
    result.mismatches = sum(v.status == "mismatch" for v in verdicts)
    if projection is None:
        bad = [i for i, v in enumerate(verdicts) if v.status == "mismatch"][:FIRST_FEW]
        result.first_mismatches = [{"index": list(checks[i].label), **_values(checks[i], verdicts[i])}
                                   for i in bad] or None
    result.message = "; ".join(filter(None, [_message(name, checks, verdicts, worst, unit), note])) or None
    if per_element:
        result.per_element = [_entry(c, v) for c, v in zip(checks, verdicts)]
    return result
