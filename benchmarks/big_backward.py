"""11. A big hand-written backward: the gradient of a 784x256 weight matrix (200,704
parameters) of ``sum((tanh(x W) - y)**2)`` over a batch of 32, right and with one element
off by a relative 1e-6, checked by ``gradcheck.check_grad`` with its defaults.

The exact sources (tape and claim) are compared on every element, the finite differences
along 8 random directions (central differences: Richardson would pass the function over
50M numbers per point). Timed after one warm-up, median of several runs, BLAS on one
thread.

Beside it, ``torch.autograd.gradcheck`` on the same backward (a ``torch.autograd.Function``
calling the NumPy code), default and fast mode, each in a child process stopped after a
time budget: its default mode makes two evaluations per element (400,000 calls), and its
fast mode re-runs the slow mode on a failure. A run past the budget is reported as such.

Bar: under 1 s each, the right one passing and the wrong element named.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import peers, report, timing
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


def torch_child(wrong: bool, fast: bool) -> dict:
    """In a child process: torch.autograd.gradcheck on the NumPy backward, timed."""
    import torch

    at = _problem()
    claim = slipped if wrong else backward

    class Loss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, W):
            ctx.save_for_backward(W)
            return torch.tensor(loss(W.detach().numpy(), at["x"], at["y"]))

        @staticmethod
        def backward(ctx, g):
            (W,) = ctx.saved_tensors
            return g * torch.from_numpy(claim(W.detach().numpy(), at["x"], at["y"])["W"])

    W = torch.tensor(at["W"], requires_grad=True)
    start = time.perf_counter()
    ok = torch.autograd.gradcheck(Loss.apply, (W,), fast_mode=fast, raise_exception=False)
    return {"seconds": time.perf_counter() - start, "ok": bool(ok)}


def _torch_in_child(wrong: bool, fast: bool, budget: float) -> dict:
    got, why = timing.in_child("big_backward", f"torch_child({wrong!r}, {fast!r})", budget)
    if why == "timeout":
        return {"seconds": None, "ok": None, "note": f"did not finish within its {budget:g} s budget"}
    return got if why is None else {"seconds": None, "ok": None, "note": why}


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
    if peers.load("torch") is None:
        result["notes"].append(peers.skipped("torch"))
    else:
        budget = 20.0 if quick else 60.0
        torch_rows = []
        for fast, mode in ((True, "fast_mode"), (False, "default")):
            for wrong, name in ((False, "right"), (True, "one element off by 1e-6")):
                got = _torch_in_child(wrong, fast, budget)
                verdict = {True: "pass", False: "FAIL", None: "-"}[got.get("ok")]
                torch_rows.append([mode, name, fmt_seconds(got["seconds"]) if got.get("seconds") else
                                   got.get("note", "-"), verdict])
        report.table(result, f"torch.autograd.gradcheck on the same backward (float64), each in a child "
                     f"process with a {budget:g} s budget", ["mode", "backward", "seconds", "verdict"],
                     torch_rows)
    seconds = max(timings[n]["total"]["median"] for n in timings)
    named = found.worst_index == (5, 7) and found.culprit == "claimed"
    report.bar(result, "a 784x256 hand-written backward, right and wrong, under 1 s each; the right one "
               "passes, the wrong element is named", seconds < 1 and right.ok and named,
               f"{fmt_seconds(timings['right']['total']['median'])} right (ok: {right.ok}), "
               f"{fmt_seconds(timings['one element off by 1e-6']['total']['median'])} wrong "
               f"(worst element {found.worst_index}, culprit {found.culprit})")
    return result
