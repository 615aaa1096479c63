"""Results: one JSON file per benchmark, RESULTS.md regenerated from all of them, and plots.

Every benchmark returns a plain dict (see :func:`new_result`). :func:`write` stores it as
``<out>/<name>.json`` with the command, the date and the machine; :func:`render` turns
every JSON file in ``<out>`` into RESULTS.md, so the figures in it are never typed by hand.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

from . import peers

__all__ = ["new_result", "machine", "write", "render", "figure", "update_readme", "ORDER"]

# The order of the sections in RESULTS.md (the order of the issue).
ORDER = ("scalar_tape", "tensor_tape", "verdicts", "numeric_accuracy", "scaling", "startup",
         "reliability", "float32", "hessians", "rules", "big_backward")
README_START = "<!-- benchmarks:start -->"
README_END = "<!-- benchmarks:end -->"


def new_result(name: str, title: str) -> dict[str, Any]:
    """An empty result: bars (met or not, with the measured figure), tables, plots, notes."""
    return {"benchmark": name, "title": title, "skipped": None, "bars": [], "tables": [],
            "plots": [], "notes": [], "data": {}}


def bar(result: dict, text: str, met: bool | None, figure: str) -> None:
    """Record one bar of the issue: ``met`` is None when it could not be measured."""
    result["bars"].append({"bar": text, "met": met, "figure": figure})


def table(result: dict, title: str, columns: list[str], rows: list[list[Any]]) -> None:
    result["tables"].append({"title": title, "columns": columns, "rows": rows})


def _blas() -> str | None:
    try:
        import numpy as np
        config = np.show_config(mode="dicts")
        blas = config.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name')} {blas.get('version')}".strip()
    except Exception:
        return None


def machine() -> dict[str, Any]:
    """Cores, CPU, Python and library versions: recorded with every result."""
    cpu = platform.processor() or None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "versions": peers.versions(),
        "blas": _blas(),
        "threads": {k: os.environ.get(k) for k in
                    ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "OPENBLAS_CORETYPE")},
        "load_average_1min_at_start": load,
    }


def _clean(value: Any) -> Any:
    """JSON has no NaN or infinity: NaN becomes None and infinity the string "inf"
    (strict JSON that any reader accepts)."""
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            return _clean(value.item())
        except (TypeError, ValueError):
            pass
    return value


def write(result: dict, out: Path, command: str, quick: bool, seconds: float) -> Path:
    result = dict(result)
    result.update({
        "command": command,
        "quick": quick,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "wall_seconds": round(seconds, 2),
        "machine": machine(),
    })
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{result['benchmark']}.json"
    path.write_text(json.dumps(_clean(result), indent=1, allow_nan=False) + "\n")
    return path


def load_all(out: Path) -> list[dict]:
    results = []
    for path in sorted(out.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and "benchmark" in data:
            results.append(data)
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(results, key=lambda r: rank.get(r["benchmark"], len(ORDER)))


def figure(name: str, out: Path):
    """A fresh matplotlib figure (Agg backend) and the path to save it to; None without matplotlib."""
    if peers.load("matplotlib") is None:
        return None, None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    return (fig, ax), out / name


def save(fig_ax, path: Path, result: dict) -> None:
    fig, _ = fig_ax
    import matplotlib.pyplot as plt
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    result["plots"].append(path.name)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if value == "inf":
        return "inf (a nan/inf result)"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        if math.isinf(value):
            return "inf (nan/inf result)" if value > 0 else "-inf"
        return f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _md_table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _met(value: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "not measured"}[value]


def _machine_lines(m: dict) -> list[str]:
    versions = ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items() if v)
    missing = ", ".join(k for k, v in m.get("versions", {}).items() if not v)
    lines = [f"- machine: {m.get('nproc')} cores ({m.get('cpu')}), {m.get('platform')}",
             f"- Python {m.get('python')} ({m.get('implementation')}); NumPy BLAS: {m.get('blas')}",
             f"- versions: {versions}"]
    if missing:
        lines.append(f"- not installed: {missing}")
    if m.get("load_average_1min_at_start") is not None:
        lines.append(f"- 1-minute load average when the run started: "
                     f"{m['load_average_1min_at_start']:.2f} (the machine is shared: "
                     "absolute times are noisy, ratios less so)")
    return lines


def render(out: Path, path: Path, plots_relative: str) -> str:
    """Regenerate RESULTS.md from every ``<out>/*.json``; returns the text written."""
    results = load_all(out)
    lines = ["# Benchmark results", "",
             "Generated by `python -m benchmarks` from `benchmarks/results/*.json`: do not edit by "
             "hand. Every time is the median of several runs after a warm-up (garbage "
             "collector off while timing, as `timeit` does), and every figure is a ratio to a "
             "peer measured in the same process, interleaved run by run.", ""]
    if not results:
        lines.append("No results yet: run `python -m benchmarks`.")
    runs = {(r.get("command"), r.get("date", "")[:10]) for r in results}
    if results:
        lines += ["## The bars", "", "| # | benchmark | bar | figure | verdict |", "|---|---|---|---|---|"]
        for i, r in enumerate(results, 1):
            if r.get("skipped"):
                lines.append(f"| {i} | {r['title']} | — | {_cell(r['skipped'])} | not measured |")
            for b in r.get("bars", []):
                lines.append(f"| {i} | {r['title']} | {_cell(b['bar'])} | {_cell(b['figure'])} "
                             f"| {_met(b['met'])} |")
        lines.append("")
        lines += ["## How these figures were made", ""]
        for command, day in sorted(runs, key=lambda x: (x[1], x[0] or "")):
            lines.append(f"- `{command}` on {day}")
        lines += _machine_lines(results[-1].get("machine", {}))
        lines.append("")
    for r in results:
        lines += [f"## {r['title']}", ""]
        lines.append(f"`{r.get('command')}` — {r.get('date')} — {r.get('wall_seconds')} s"
                     + (" — **quick mode** (smaller sizes, fewer runs)" if r.get("quick") else ""))
        lines.append("")
        if r.get("skipped"):
            lines += [r["skipped"], ""]
            continue
        for t in r.get("tables", []):
            lines += [f"**{t['title']}**", ""] + _md_table(t["columns"], t["rows"]) + [""]
        for plot in r.get("plots", []):
            lines += [f"![{plot}]({plots_relative}/{plot})", ""]
        for note in r.get("notes", []):
            lines.append(f"- {note}")
        if r.get("notes"):
            lines.append("")
    text = "\n".join(lines).rstrip() + "\n"
    path.write_text(text)
    return text


def headline(out: Path) -> list[str]:
    """The bars as short lines, for the README block."""
    lines = []
    for r in load_all(out):
        for b in r.get("bars", []):
            lines.append(f"| {r['title']} | {_cell(b['bar'])} | {_cell(b['figure'])} | {_met(b['met'])} |")
    return lines


def update_readme(readme: Path, out: Path) -> bool:
    """Replace the block between the README's benchmark markers (if it has them) with the bars."""
    try:
        text = readme.read_text()
    except OSError:
        return False
    if README_START not in text or README_END not in text:
        return False
    results = load_all(out)
    if not results:
        return False
    first = results[0]
    m = first.get("machine", {})
    body = [README_START, "",
            f"Measured by `{first.get('command')}` on {first.get('date', '')[:10]}, "
            f"{m.get('nproc')} cores, Python {m.get('python')} (details and every table: "
            "[benchmarks/RESULTS.md](benchmarks/RESULTS.md)).", "",
            "| benchmark | bar | measured | verdict |", "|---|---|---|---|", *headline(out), "",
            README_END]
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    readme.write_text(head + "\n".join(body) + tail)
    return True
