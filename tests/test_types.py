"""What a type checker sees of the public API: mypy --strict on a user's script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gradcheck

ROOT = Path(gradcheck.__file__).resolve().parents[1]
pytest.importorskip("mypy", reason="the test extra installs mypy")

GOOD = """
    import numpy as np
    import gradcheck
    from gradcheck import Report, Status, check

    def loss(w: float, x: float) -> float:
        return w * x

    r: Report = check("(w*x - y)**2", data={"x": [1, 2], "y": [2, 4]},
                      claimed={"w": "2*x*(w*x - y)"})
    r2 = gradcheck.check(loss, at={"x": 2.0}, method="central", reduce="mean")
    r3 = gradcheck.check_grad(loss, lambda w, x: x, at={"x": 2.0, "w": 1.0}, inputs=["x"])
    ok: bool = r.ok and r2.ok and r3.ok
    status: Status = r.points[0].params[0].status
    gradcheck.assert_gradients("x*w", seed=3, rtol=1e-6)
    text: str = str(r.trace()) + r.graph().source
    reveal_type(gradcheck.check)
"""

BAD = """
    import gradcheck
    gradcheck.nonexistent
    gradcheck.check("x*w", method="magic")
    gradcheck.check("x*w", reduce="max")
    gradcheck.assert_gradients("x*w", sed=3)
    n: int = gradcheck.check("x").points[0].params[0].status
"""

# gradcheck's own modules are analysed but not reported, as for an installed package
# (the editable install's import hook is invisible to mypy, hence MYPYPATH).
CONFIG = """
    [mypy]
    strict = True
    [mypy-gradcheck.*]
    ignore_errors = True
    [mypy-gradcheck]
    ignore_errors = True
"""


def mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    (tmp_path / "mypy.ini").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "user.py").write_text(textwrap.dedent(source))
    env = {"MYPYPATH": str(ROOT), "PATH": "", "HOME": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", "mypy.ini",
                           "--cache-dir", str(tmp_path / ".cache"), "user.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_mypy_strict_sees_the_real_signatures(tmp_path):
    result = mypy(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout
    revealed = result.stdout
    assert "Literal['auto'] | Literal['central']" in revealed and "-> gradcheck.report.Report" in revealed
    assert "def (*Any, **Any) -> Any" in revealed  # callables are accepted


def test_mypy_strict_catches_misuse(tmp_path):
    out = mypy(tmp_path, BAD).stdout
    assert 'Module has no attribute "nonexistent"' in out
    assert "Argument \"method\" to \"check\" has incompatible type \"Literal['magic']\"" in out
    assert "Argument \"reduce\" to \"check\" has incompatible type \"Literal['max']\"" in out
    assert 'Unexpected keyword argument "sed" for "assert_gradients"' in out
    assert "Literal['ok', 'mismatch', 'undefined', 'nondifferentiable']" in out


def test_lazy_import_still_works_at_run_time():
    code = "import sys, gradcheck; assert 'sympy' not in sys.modules; gradcheck.check; print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "True", out.stderr
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        gradcheck.nonexistent  # noqa: B018


@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright is not installed")
def test_pyright_sees_the_real_signatures(tmp_path):
    (tmp_path / "user.py").write_text(textwrap.dedent(BAD))
    result = subprocess.run(["pyright", "user.py"], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": shutil.which("pyright").rsplit("/", 1)[0]})
    assert '"nonexistent" is not a known attribute of module' in result.stdout
