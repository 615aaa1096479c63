"""The benchmark suite is not part of the test run, but it must keep working: run its
quickest benchmark that needs no peer (numeric accuracy, where PyTorch, JAX & co. are
skipped when absent) as a whole process into a temporary directory, and check the JSON."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _finite_numbers(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite_numbers(v) for v in value)
    return True


def test_quick_numeric_accuracy_writes_valid_json(tmp_path: Path) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--only", "numeric_accuracy", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    path = out / "numeric_accuracy.json"
    text = path.read_text()
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    for key in ("benchmark", "title", "bars", "tables", "notes", "data", "command", "date", "machine", "quick"):
        assert key in data, key
    assert data["benchmark"] == "numeric_accuracy" and data["quick"] is True
    assert data["skipped"] is None
    assert {"nproc", "python", "versions"} <= set(data["machine"])
    assert data["machine"]["versions"]["gradcheck"]
    bar = data["bars"][0]
    assert set(bar) == {"bar", "met", "figure"} and isinstance(bar["met"], bool)
    summary = data["data"]["summary"]
    ours = summary["gradcheck numeric (auto: complex step if analytic)"]
    assert 0 <= ours["median"] < 1e-6  # the real bar (1e-11) is the suite's business, not the tests'
    assert len(data["data"]["targets"]) >= 50
    assert _finite_numbers(data["tables"])
    # RESULTS.md regenerated beside the JSON (not the repository's, since --out was given)
    md = (out / "RESULTS.md").read_text()
    assert "4. Numeric accuracy" in md and "How these figures were made" in md


def test_unknown_benchmark_is_refused() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "unknown benchmark nope" in done.stderr
