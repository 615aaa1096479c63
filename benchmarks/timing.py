"""Timing shared by every benchmark: medians of several runs after a warm-up.

Contenders are run *interleaved* (A, B, C, A, B, C, ...) so that the noise of a shared
machine falls on all of them alike, and every figure the suite reports is a ratio of
two medians measured in the same process. As ``timeit`` does, the garbage collector
is run before each timed call and disabled during it.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping

ROOT = Path(__file__).resolve().parent.parent

__all__ = ["Phases", "interleaved", "median", "clock", "ratio", "fmt_seconds", "fmt_ratio"]

clock = time.perf_counter

# A run returns the seconds of each of its phases, e.g. {"forward": 0.1, "backward": 0.2}.
Phases = Mapping[str, float]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _timed(run: Callable[[], Phases | float], collector: bool = False) -> dict[str, float]:
    """One run's phases; the collector off (as timeit does), or on, as a user pays it."""
    gc.collect()
    enabled = gc.isenabled()
    if collector:
        gc.enable()
    else:
        gc.disable()
    try:
        start = clock()
        out = run()
        total = clock() - start
    finally:
        if enabled:
            gc.enable()
        else:
            gc.disable()
    phases = dict(out) if isinstance(out, Mapping) else {}
    phases["total"] = phases.get("total", total)
    return phases


def interleaved(runs: Mapping[str, Callable[[], Any]], repeat: int, warmup: int = 1,
                collector: bool = False) -> dict[str, dict[str, Any]]:
    """Run every contender ``warmup`` times untimed, then ``repeat`` times round-robin,
    with the garbage collector off (``collector=True``: on, as in a user's program).

    A run may return a mapping of phase -> seconds (it times its own phases); the
    wall time of the whole call is always recorded as ``total``. Returns, per
    contender and phase, the median and every sample (seconds).
    """
    # Objects alive now (imported libraries) are never garbage: freeze them, so the
    # collection before each run walks only what the runs made.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(warmup):
            for run in runs.values():
                _timed(run, collector)
        samples: dict[str, dict[str, list[float]]] = {name: {} for name in runs}
        for _ in range(repeat):
            for name, run in runs.items():
                for phase, seconds in _timed(run, collector).items():
                    samples[name].setdefault(phase, []).append(seconds)
    finally:
        gc.unfreeze()
    return {name: {phase: {"median": median(values), "samples": values}
                   for phase, values in phases.items()}
            for name, phases in samples.items()}


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, nan when either is missing or the denominator is 0."""
    try:
        if numerator is None or denominator is None or denominator == 0:
            return float("nan")
        return float(numerator) / float(denominator)
    except (TypeError, ValueError):
        return float("nan")


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "n/a"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_ratio(value: float | None) -> str:
    if value is None or value != value:
        return "n/a"
    if value >= 100:
        return f"{value:.0f}x"
    if value >= 10:
        return f"{value:.1f}x"
    return f"{value:.2f}x"


def in_child(module: str, call: str, timeout: float) -> tuple[dict | None, str | None]:
    """``benchmarks.<module>.<call>`` (a call returning a JSON-able dict) in a fresh
    process, stopped after ``timeout`` seconds: (its result, None), or (None, "timeout")
    or (None, "failed: <its last line of stderr>")."""
    code = (f"import json; from benchmarks.{module} import {call.split('(')[0]}; "
            f"print('RESULT', json.dumps({call}))")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return None, "timeout"
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"failed: {tail[:200]}"
    return json.loads(lines[-1][len("RESULT "):]), None
