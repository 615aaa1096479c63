"""6. Start-up: ``gradcheck --help`` and ``gradcheck expr "(w*x - y)**2"`` as whole processes,
beside ``python -c "import sympy, numpy, click; sympy.Symbol('x') + 1"`` (the libraries
gradcheck is built on, and SymPy's own first use, which loads more of SymPy) timed in the
same run, interleaved.

Bars: ``--help`` under a third of the baseline; ``expr`` at most 1.1x it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import report
from .timing import clock, fmt_ratio, fmt_seconds, median, ratio

NAME = "startup"
BASELINE = "baseline: python -c \"import sympy, numpy, click; sympy.Symbol('x') + 1\""
TITLE = "6. Start-up"


def gradcheck_command() -> list[str] | None:
    """The installed console script beside this interpreter (the venv's), else on PATH."""
    beside = Path(sys.executable).parent / "gradcheck"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("gradcheck")
    return [found] if found else None


def _time(command: list[str], env: dict) -> tuple[float, int]:
    start = clock()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=env, cwd=os.path.expanduser("~") if os.path.isdir(os.path.expanduser("~")) else None)
    return clock() - start, done.returncode


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    script = gradcheck_command()
    if script is None:
        result["skipped"] = "skipped: the gradcheck console script is not installed (pip install -e .)"
        return result
    commands = {
        BASELINE: [sys.executable, "-c", "import sympy, numpy, click; sympy.Symbol('x') + 1"],
        "gradcheck --help": script + ["--help"],
        "gradcheck expr \"(w*x - y)**2\"": script + ["expr", "(w*x - y)**2"],
    }
    # A clean environment: no PYTHON* variables that would change what starts.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    repeat, warmup = (3, 1) if quick else (7, 1)
    codes: dict[str, set] = {name: set() for name in commands}
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for i in range(warmup + repeat):
        for name, command in commands.items():
            seconds, code = _time(command, env)
            codes[name].add(code)
            if i >= warmup:
                samples[name].append(seconds)
    names = list(commands)
    base = median(samples[names[0]])
    rows = []
    for name in names:
        m = median(samples[name])
        rows.append([name, fmt_seconds(m), fmt_seconds(min(samples[name])), fmt_ratio(ratio(m, base)),
                     ", ".join(str(c) for c in sorted(codes[name]))])
    report.table(result, f"Whole-process wall time, median of {repeat} after {warmup} warm-up",
                 ["command", "median", "best", "÷ baseline", "exit code"], rows)
    help_ratio = ratio(median(samples[names[1]]), base)
    expr_ratio = ratio(median(samples[names[2]]), base)
    report.bar(result, "`gradcheck --help` < 1/3 of the baseline",
               help_ratio < 1 / 3, f"{fmt_ratio(help_ratio)} of the baseline ({fmt_seconds(median(samples[names[1]]))} "
               f"vs {fmt_seconds(base)})")
    report.bar(result, "`gradcheck expr \"(w*x - y)**2\"` <= 1.1x the baseline",
               expr_ratio <= 1.1, f"{fmt_ratio(expr_ratio)} of the baseline ({fmt_seconds(median(samples[names[2]]))})")
    if any(codes[names[2]] - {0}) or any(codes[names[1]] - {0}):
        result["notes"].append("a gradcheck command exited non-zero: see the exit-code column")
    result["notes"].append(f"console script: {script[0]}; interpreter for the baseline: {sys.executable}")
    result["data"] = {"samples": samples, "codes": {k: sorted(v) for k, v in codes.items()},
                      "help_ratio": help_ratio, "expr_ratio": expr_ratio}
    return result
