"""9. Verdicts in float32: the verdict corpus's correct claims, computed by float32 code,
right and slipped by a relative 1e-3, judged by gradcheck (``dtype="float32"``) and by
the peers run in float32 on the same claims.

- gradcheck: ``check(expr, wrt, at, claimed={w: callable}, dtype="float32")``, the
  callable evaluating the claim text in float32 NumPy (lambdify), the tape in float32.
- PyTorch: ``torch.autograd.gradcheck`` on a float32 ``autograd.Function`` whose backward
  is the claim (its defaults: eps 1e-6, atol 1e-5, rtol 1e-3).
- JAX: ``jax.test_util.check_grads`` on a float32 ``custom_vjp`` (its float32 tolerances).

Bar: every 1e-3 slip caught, no correct float32 claim flagged. Claims whose true
derivative is 0 or that float32 cannot represent (overflow) are left out, and counted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import corpus, peers, report, verdicts
from .verdicts import Case

NAME = "float32"
TITLE = "9. Verdicts in float32"
SLIP = 1e-3


def _cases() -> tuple[list[tuple[Case, bool]], int]:
    """(case, slipped) for every correct claim a float32 program can compute."""
    out, left = [], 0
    for entry in corpus.entries():
        if entry.mistake is not None:
            continue
        case = Case(entry)
        f, claims = case.lambdify("numpy")
        with np.errstate(all="ignore"):
            args = case.arguments(case.p0.astype(np.float32), np.float32)
            values = [np.float32(c(*args)) for c in claims]
            value = np.float32(f(*args))
        if not (np.isfinite(value) and all(np.isfinite(v) and v != 0 for v in values)):
            left += 1
            continue
        out += [(case, False), (case, True)]
    return out, left


def _claim32(case: Case, k: int, slip: bool) -> Callable[..., Any]:
    import sympy
    function = sympy.lambdify(case.symbols, case.claims[k], modules="numpy")
    names = [s.name for s in case.symbols]

    def claim(**values: Any) -> Any:
        out = function(*(np.float32(values[n]) for n in names))
        return np.float32(out) * np.float32(1 + SLIP if slip else 1)

    return claim


def judge_gradcheck(case: Case, slip: bool) -> bool | str:
    """True if flagged; "vacuous" if it passed but said float32 cannot decide here."""
    import gradcheck
    e = case.entry
    claimed = {w: _claim32(case, k, slip) for k, w in enumerate(case.wrt)}
    r = gradcheck.check(e.expression, wrt=list(e.wrt), at=dict(e.point), claimed=claimed,
                        dtype="float32")
    if r.ok and any("vacuous" in (p.message or "") for pt in r.points for p in pt.params):
        return "vacuous"
    return not r.ok


def _peer(make: Callable[..., Callable], module: Any) -> Callable[[Case, bool], bool]:
    """A verdict-benchmark judge of the peer in float32, with the claim slipped or not."""
    judges = {slip: make(module, "float32", 1 + SLIP if slip else 1.0) for slip in (False, True)}
    return lambda case, slip: judges[slip](case)[0]


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    cases, left = _cases()
    if quick:
        cases = cases[:40]
    judges: list[tuple[str, Callable[[Case, bool], bool] | None, str | None]] = [
        ("gradcheck (dtype=float32)", judge_gradcheck, None)]
    torch, jax = peers.load("torch"), peers.load("jax")
    judges.append(("torch.autograd.gradcheck (float32)", _peer(verdicts.judge_torch, torch) if torch else None,
                   None if torch else peers.skipped("torch")))
    judges.append(("jax check_grads (float32)", _peer(verdicts.judge_jax, jax) if jax else None,
                   None if jax else peers.skipped("jax")))
    rows, figures = [], {}
    for label, judge, skipped in judges:
        if judge is None:
            rows.append([label, skipped, None, None, None])
            continue
        caught = missed = alarms = passed = errors = vacuous = 0
        start = time.perf_counter()
        for case, slip in cases:
            try:
                with np.errstate(all="ignore"):
                    flagged = judge(case, slip)
            except Exception:  # a peer that chokes did not pass the claim
                flagged, errors = True, errors + 1
            if flagged == "vacuous":  # passed, saying float32 cannot decide this one
                vacuous += slip
                passed += not slip
                continue
            if slip:
                caught, missed = caught + flagged, missed + (not flagged)
            else:
                alarms, passed = alarms + flagged, passed + (not flagged)
        seconds = time.perf_counter() - start
        figures[label] = (caught, missed, alarms, vacuous)
        rows.append([label, f"{caught} / {caught + missed + vacuous}", missed, vacuous or "-",
                     alarms, errors, round(seconds, 1)])
        print(f"   {label}: caught {caught}/{caught + missed}, false alarms {alarms} ({seconds:.1f} s)", flush=True)
    report.table(result, f"{len(cases) // 2} correct claims computed in float32, each also slipped by "
                 f"{SLIP:g} ({left} left out: a zero or overflowing float32 derivative)",
                 ["checker", "1e-3 slips caught", "missed silently", "said undecidable (vacuous)",
                  "false alarms", "errors", "seconds"], rows)
    caught, missed, alarms, vacuous = figures["gradcheck (dtype=float32)"]
    report.bar(result, "gradcheck in float32: every 1e-3 slip caught or said undecidable, "
               "none missed silently, no false alarm", missed == 0 and alarms == 0,
               f"{caught} caught, {vacuous} said undecidable (float32 rounding there exceeds "
               f"half the slip), {missed} missed silently, {alarms} false alarms")
    result["notes"].append("A check in float32 cannot see a 1e-3 slip where float32 itself is off "
                           "by that much (cancellation near a pole or in 1 - cos): there gradcheck "
                           "passes and says its bound is vacuous, and that is counted apart.")
    return result
