"""The API reference builds from the docstrings with warnings as errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("mkdocstrings", reason="the test extra installs mkdocs and mkdocstrings")


def build(root: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                          cwd=root, capture_output=True, text=True, timeout=300)


def test_docs_build_strictly(tmp_path):
    result = build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stderr
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert "Compute every partial derivative symbolically" in api  # check's docstring
    assert "gradcheck.report.Report" in api or "Report" in api


def test_a_broken_reference_fails_the_build(tmp_path):
    copy = tmp_path / "project"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    (copy / "gradcheck").symlink_to(ROOT / "gradcheck")
    with open(copy / "docs" / "index.md", "a", encoding="utf-8") as f:
        f.write("\nSee [the missing thing][gradcheck.report.NoSuchThing].\n")
    result = build(copy, tmp_path / "site")
    assert result.returncode != 0 and "NoSuchThing" in result.stderr
    (copy / "docs" / "index.md").write_text((ROOT / "docs" / "index.md").read_text())
    with open(copy / "docs" / "api.md", "a", encoding="utf-8") as f:
        f.write("\n::: gradcheck.report.NoSuchThing\n")
    result = build(copy, tmp_path / "site")
    assert result.returncode != 0 and "NoSuchThing" in result.stderr
