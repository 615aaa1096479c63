"""2. Tensor tape: a two-layer MLP (784-256-10, batch 128, float64, ReLU, softmax
cross-entropy) forward and backward, gradcheck's tape against PyTorch on one thread.

Both start from the same seeded weights and data; PyTorch is written as a user would
(``F.cross_entropy``), ours with the tape's primitives (log-sum-exp with the row max
subtracted as a constant, which changes no gradient). NumPy's BLAS is held to one
thread too (``OPENBLAS_NUM_THREADS=1``, set by ``python -m benchmarks``).

Bars: within 1.5x of PyTorch (forward + backward), and our backward at most 3x our
forward (the cheap-gradient principle).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import peers, report
from .timing import clock, fmt_ratio, fmt_seconds, interleaved, ratio

NAME = "tensor_tape"
TITLE = "2. Tensor tape"
SIZES = (784, 256, 10)
BATCH = 128


def problem(seed: int = 0, batch: int = BATCH, sizes=SIZES) -> dict:
    rng = np.random.default_rng(seed)
    d_in, hidden, classes = sizes
    return {
        "X": rng.standard_normal((batch, d_in)),
        "labels": rng.integers(0, classes, batch),
        "W1": rng.standard_normal((d_in, hidden)) * np.sqrt(2.0 / d_in),
        "b1": np.zeros(hidden),
        "W2": rng.standard_normal((hidden, classes)) * np.sqrt(2.0 / hidden),
        "b2": np.zeros(classes),
    }


def ours(p: dict):
    from gradcheck.tape import Tensor, exp, log, matmul, relu

    onehot = np.eye(p["W2"].shape[1])[p["labels"]]
    X = p["X"]
    names = ("W1", "b1", "W2", "b2")
    state: dict = {}

    def run() -> dict:
        params = {k: Tensor(p[k], requires_grad=True) for k in names}
        t0 = clock()
        h = relu(matmul(X, params["W1"]) + params["b1"])
        logits = matmul(h, params["W2"]) + params["b2"]
        z = logits - logits.data.max(axis=1, keepdims=True)  # a constant shift: same gradient
        lse = log(exp(z).sum(axis=1))
        loss = (lse - (z * onehot).sum(axis=1)).mean()
        t1 = clock()
        loss.backward()
        t2 = clock()
        state["loss"] = float(loss.data)
        state["grads"] = {k: params[k].grad for k in names}
        return {"forward": t1 - t0, "backward": t2 - t1}

    run.state = state  # type: ignore[attr-defined]
    return run


def torch_run(torch, p: dict):
    F = torch.nn.functional
    X = torch.from_numpy(p["X"])
    labels = torch.from_numpy(p["labels"]).long()
    names = ("W1", "b1", "W2", "b2")
    state: dict = {}

    def run() -> dict:
        params = {k: torch.tensor(p[k], dtype=torch.float64, requires_grad=True) for k in names}
        t0 = clock()
        h = torch.relu(X @ params["W1"] + params["b1"])
        loss = F.cross_entropy(h @ params["W2"] + params["b2"], labels)
        t1 = clock()
        loss.backward()
        t2 = clock()
        state["loss"] = float(loss.detach())
        state["grads"] = {k: params[k].grad.numpy() for k in names}
        return {"forward": t1 - t0, "backward": t2 - t1}

    run.state = state  # type: ignore[attr-defined]
    return run


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    p = problem()
    repeat, warmup = (5, 2) if quick else (21, 3)
    runs = {"gradcheck tape": ours(p)}
    torch = peers.load("torch")
    if torch is not None:
        runs["PyTorch (1 thread)"] = torch_run(torch, p)
    else:
        result["notes"].append(peers.skipped("torch"))
    timings = interleaved(runs, repeat=repeat, warmup=warmup)
    mine = timings["gradcheck tape"]
    rows = []
    for name, t in timings.items():
        rows.append([name, fmt_seconds(t["forward"]["median"]), fmt_seconds(t["backward"]["median"]),
                     fmt_seconds(t["forward"]["median"] + t["backward"]["median"]),
                     fmt_ratio(ratio(t["backward"]["median"], t["forward"]["median"])),
                     fmt_ratio(ratio(mine["forward"]["median"] + mine["backward"]["median"],
                                     t["forward"]["median"] + t["backward"]["median"]))])
    report.table(result, f"MLP {'-'.join(map(str, SIZES))}, batch {BATCH}, float64: median of {repeat} runs "
                 f"after {warmup} warm-up, interleaved",
                 ["engine", "forward", "backward", "forward + backward", "backward ÷ forward",
                  "our time ÷ this"], rows)
    ours_total = mine["forward"]["median"] + mine["backward"]["median"]
    if torch is not None:
        t = timings["PyTorch (1 thread)"]
        theirs = t["forward"]["median"] + t["backward"]["median"]
        slow = ratio(ours_total, theirs)
        report.bar(result, "forward + backward within 1.5x of PyTorch (one thread)", slow <= 1.5,
                   f"{fmt_ratio(slow)} PyTorch's time ({fmt_seconds(ours_total)} vs {fmt_seconds(theirs)})")
        a, b = runs["gradcheck tape"].state, runs["PyTorch (1 thread)"].state
        gap = max(float(np.max(np.abs(a["grads"][k] - b["grads"][k])) / max(float(np.max(np.abs(b["grads"][k]))), 1e-300))
                  for k in a["grads"])
        result["notes"].append(f"gradients agree with PyTorch to {gap:.1e} (max |diff| / max |grad| per "
                               f"parameter); losses {a['loss']:.15g} vs {b['loss']:.15g}")
        result["data"]["gradient_disagreement"] = gap
    else:
        report.bar(result, "forward + backward within 1.5x of PyTorch (one thread)", None, peers.skipped("torch"))
    cheap = ratio(mine["backward"]["median"], mine["forward"]["median"])
    report.bar(result, "our backward <= 3x our forward", cheap <= 3.0, f"backward = {fmt_ratio(cheap)} forward")
    result["data"]["timings"] = timings
    return result
