"""11. A big hand-written backward: the gradient of a 784x256 weight matrix (200,704
parameters) of ``sum((tanh(x W) - y)**2)`` over a batch of 32, right and with one element
off by a relative 1e-6, checked by ``gradcheck.check_grad`` with its defaults.

The exact sources (tape and claim) are compared on every element, the finite differences
along 8 random directions (central differences: Richardson would pass the function over
50M numbers per point). Timed after one warm-up, median of several runs, BLAS on one
thread. PyTorch is not run here: its default mode would take two evaluations per element
(400,000 calls), and its fast mode re-runs the slow mode on a failure.

Bar: under 1 s each, the right one passing and the wrong element named.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import report
from .timing import fmt_seconds, interleaved

NAME = "big_backward"
TITLE = "11. A 784x256 hand-written backward"


def _problem() -> dict:
    rng = np.random.default_rng(0)
    return {"W": rng.normal(size=(784, 256)) * 0.05, "x": rng.normal(size=(32, 784)),
            "y": rng.normal(size=(32, 256))}


def loss(W, x, y):
    return ((np.tanh(x @ W) - y) ** 2).sum()


def backward(W, x, y):
    a = np.tanh(x @ W)
    return {"W": x.T @ (2 * (a - y) * (1 - a ** 2))}


def slipped(W, x, y):
    out = backward(W, x, y)
    out["W"][5, 7] *= 1 + 1e-6
    return out


def run(quick: bool = False, out: Path | None = None) -> dict:
    import gradcheck

    result = report.new_result(NAME, TITLE)
    at = _problem()
    reports: dict[str, object] = {}

    def runner(name, claim):
        def run_once():
            reports[name] = gradcheck.check_grad(loss, claim, wrt=["W"], at=at)
        return run_once

    timings = interleaved({"right": runner("right", backward), "one element off by 1e-6": runner("wrong", slipped)},
                          repeat=3 if quick else 7)
    right, wrong = reports["right"], reports["wrong"]
    found = wrong.points[0].params[0]
    rows = []
    for name, rep in (("right", right), ("one element off by 1e-6", wrong)):
        r = rep.points[0].params[0]
        rows.append([name, fmt_seconds(timings[name]["total"]["median"]), r.status, r.culprit or "-",
                     f"{r.mismatches} of {r.elements}", ", ".join(rep.sources)])
    report.table(result, "check_grad on 200,704 parameters (median after a warm-up, interleaved)",
                 ["backward", "seconds", "status", "culprit", "elements mismatching", "sources"], rows)
    seconds = max(timings[n]["total"]["median"] for n in timings)
    named = found.worst_index == (5, 7) and found.culprit == "claimed"
    report.bar(result, "a 784x256 hand-written backward, right and wrong, under 1 s each; the right one "
               "passes, the wrong element is named", seconds < 1 and right.ok and named,
               f"{fmt_seconds(timings['right']['total']['median'])} right (ok: {right.ok}), "
               f"{fmt_seconds(timings['one element off by 1e-6']['total']['median'])} wrong "
               f"(worst element {found.worst_index}, culprit {found.culprit})")
    return result
