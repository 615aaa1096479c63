"""Agreement rules: do the sources agree on one partial derivative at one point, and if
not, which one is the odd one out?

Each source gives an estimate with an uncertainty: symbolic and tape their float64
rounding (a multiple of eps times the size of the terms summed), numeric its own error
bound plus that rounding, a claim evaluated in float64 the same rounding. Two estimates
agree when they differ by no more than their uncertainties plus rtol/atol. When float64
cannot decide, the symbolic derivative and a text claim are re-evaluated with mpmath.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Callable, Mapping

__all__ = ["Estimate", "Verdict", "judge", "TRUST_ORDER", "ROUNDING_ULPS"]

# Who is believed when a vote is tied: exact sources before approximate, the user last.
TRUST_ORDER = ("symbolic", "tape", "autodiff", "numeric", "claimed")  # autodiff: a framework's
# A float64 evaluation is trusted to this many ulps of the magnitude of its terms.
ROUNDING_ULPS = 64
# Refined (50-digit) values carry this relative uncertainty.
REFINED_RTOL = 1e-30
# Float64-only sources are trusted to this multiple of the float64 error observed on refining.
OBSERVED_FACTOR = 8
# Re-evaluate when a difference is within this factor of the tolerance (a close call).
CLOSE_CALL = 0.1
FAR_BEYOND = 1e4


@dataclass
class Estimate:
    """One source's value for d(f)/d(p) with its absolute uncertainty.

    ``refine`` (optional) returns the value at high precision.
    """

    value: float
    uncertainty: float
    refine: Callable[[], float] | None = None
    refined: bool = False
    magnitude: float = 0.0  # size of the terms summed: what a refined value is relative to


@dataclass(frozen=True)
class Verdict:
    status: str  # "ok" | "mismatch" | "undefined" | "nondifferentiable"
    culprit: str | None
    rel_error: float | None
    message: str | None
    refined: tuple[str, ...] = ()
    values: Mapping[str, float] | None = None


def _tolerance(a: Estimate, b: Estimate, rtol: float, atol: float) -> float:
    return a.uncertainty + b.uncertainty + rtol * max(abs(a.value), abs(b.value)) + atol


def _agree(a: Estimate, b: Estimate, rtol: float, atol: float) -> bool:
    return abs(a.value - b.value) <= _tolerance(a, b, rtol, atol)


def _needs_refinement(estimates: Mapping[str, Estimate], rtol: float, atol: float) -> bool:
    """A close call (either way), or rounding too coarse for the requested rtol.

    A difference far beyond the tolerance (a sign error, a missing factor) is decided
    without mpmath: refining cannot move float64 values by that much.
    """
    for a, b in combinations(estimates.values(), 2):
        tolerance = _tolerance(a, b, rtol, atol)
        if CLOSE_CALL * tolerance < abs(a.value - b.value) <= FAR_BEYOND * tolerance:
            return True
    return any(e.uncertainty > rtol * abs(e.value) + atol for e in estimates.values()
               if e.refine is not None)


def _refine(estimates: Mapping[str, Estimate]) -> tuple[str, ...]:
    """Re-evaluate what can be at high precision; the float64 error thereby observed
    widens the uncertainty of the float64-only sources (they round alike)."""
    done, observed = [], 0.0
    for name, e in estimates.items():
        if e.refine is None or e.refined:
            continue
        value = e.refine()
        if math.isfinite(value):
            observed = max(observed, abs(e.value - value))
            e.value, e.refined = value, True
            e.uncertainty = max(abs(value), e.magnitude) * REFINED_RTOL
            done.append(name)
    for e in estimates.values():
        if not e.refined:
            e.uncertainty = max(e.uncertainty, OBSERVED_FACTOR * observed)
    return tuple(done)


def _largest_agreeing_group(estimates: Mapping[str, Estimate], rtol, atol) -> tuple[str, ...]:
    """The biggest set of sources that agree pairwise; ties go to the most trusted set."""
    names = sorted(estimates, key=TRUST_ORDER.index)
    for size in range(len(names), 1, -1):
        for group in combinations(names, size):
            if all(_agree(estimates[a], estimates[b], rtol, atol) for a, b in combinations(group, 2)):
                return group
    return ()


def _relative(value: float, reference: float) -> float:
    scale = abs(reference)
    return abs(value - reference) / scale if scale > 0 else (0.0 if value == 0 else math.inf)


def judge(estimates: Mapping[str, Estimate], rtol: float, atol: float) -> Verdict:
    """Decide agreement between finite estimates of one derivative (at least two)."""
    refined: tuple[str, ...] = ()
    if _needs_refinement(estimates, rtol, atol):
        refined = _refine(estimates)
    values = {name: e.value for name, e in estimates.items()}
    group = _largest_agreeing_group(estimates, rtol, atol)
    if not group and len(estimates) == 2:  # one against one: believe the more trusted
        group = (min(estimates, key=TRUST_ORDER.index),)
    if not group:
        return Verdict("mismatch", None, None,
                       "no two sources agree: " + _listing(values), refined, values)
    reference = estimates[group[0]].value
    outsiders = [n for n in TRUST_ORDER if n in estimates and n not in group]
    if not outsiders:
        worst = max(_relative(e.value, reference) for e in estimates.values())
        return Verdict("ok", None, worst, None, refined, values)
    culprit = "claimed" if "claimed" in outsiders else outsiders[-1]
    rel = _relative(estimates[culprit].value, reference)
    others = " and ".join(group)
    message = (f"{', '.join(outsiders)} disagree{'s' if len(outsiders) == 1 else ''} with "
               f"{others} (relative error {rel:.2g})")
    return Verdict("mismatch", culprit, rel, message, refined, values)


def _listing(values: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:.17g}" for k, v in values.items())


def classify(estimates: Mapping[str, Estimate], rtol: float, atol: float, *,
             undefined: str | None = None, kink: str | None = None) -> Verdict:
    """The verdict for one derivative at one point, non-finite values and kinks included.

    ``undefined`` (why the function itself is not finite here) and ``kink`` (where the
    function has a kink that involves this parameter) come from the caller.
    """
    values = {name: e.value for name, e in estimates.items()}
    if undefined:
        return Verdict("undefined", None, None, undefined, (), values)
    if kink:
        return Verdict("nondifferentiable", None, None, kink, (), values)
    for e in estimates.values():  # float64 overflow (exp(800)/exp(800)**2): ask mpmath
        if not math.isfinite(e.value) and e.refine is not None and not e.refined:
            value = e.refine()
            if math.isfinite(value):
                e.value, e.uncertainty, e.refined = value, abs(value) * REFINED_RTOL, True
    values = {name: e.value for name, e in estimates.items()}
    finite = {n: e for n, e in estimates.items() if math.isfinite(e.value)}
    broken = [n for n in estimates if n not in finite]
    notes = []
    if "numeric" in broken:
        notes.append("finite differences are not finite here (a step crossed the domain "
                     "edge?); judged without them")
        broken.remove("numeric")
    exact = [n for n in ("symbolic", "tape", "autodiff") if n in finite]
    if "symbolic" in broken and estimates["symbolic"].refine is not None:
        # the exact derivative, at 50 digits, is not finite: it does not exist here
        return Verdict("undefined", None, None,
                       f"the derivative is not finite here ({_listing(values)})", (), values)
    if broken and not exact:
        return Verdict("undefined", None, None,
                       f"the derivative is not finite here ({_listing(values)})", (), values)
    if broken:
        culprit = "claimed" if "claimed" in broken else broken[0]
        return Verdict("mismatch", culprit, math.inf,
                       f"{culprit} is {values[culprit]} where {exact[0]} gives "
                       f"{values[exact[0]]:.17g}", (), values)
    if len(finite) < 2:
        return Verdict("undefined", None, None,
                       "fewer than two sources could run here; nothing to compare", (), values)
    verdict = judge(finite, rtol, atol)
    message = "; ".join(filter(None, [verdict.message, *notes])) or None
    return Verdict(verdict.status, verdict.culprit, verdict.rel_error, message,
                   verdict.refined, {**values, **(verdict.values or {})})
