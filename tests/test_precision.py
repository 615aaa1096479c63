"""Verdicts for float32, float16 and bfloat16 code: within that dtype's rounding, or wrong
by so many times the bound; never a tolerance set by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcheck
from gradcheck import InputError
from gradcheck.precision import SLIP, rounding_bound, tape_operations

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def statuses(report) -> list[str]:
    return [p.status for point in report.points for p in point.params]


def tanh_backward(slip: float = 0.0):
    return lambda w, x: x * (1 - np.tanh(w * x) ** 2) * (1 + slip)


def test_a_right_float32_tanh_backward_passes_at_every_seeded_point():
    report = gradcheck.check("tanh(w*x)", wrt=["w"], claimed={"w": tanh_backward()},
                             dtype="float32", points=20, seed=4)
    assert statuses(report) == ["ok"] * 20, report
    assert all("within float32 rounding" in p.params[0].message for p in report.points)


def test_a_float32_tanh_backward_slipped_by_1e_3_is_wrong_at_every_seeded_point():
    report = gradcheck.check("tanh(w*x)", wrt=["w"], claimed={"w": tanh_backward(1e-3)},
                             dtype="float32", points=20, seed=4)
    assert statuses(report) == ["mismatch"] * 20
    assert all(p.params[0].culprit == "claimed" and "times the float32 rounding bound"
               in p.params[0].message for p in report.points)


def test_the_float32_tape_differs_from_float64_yet_passes():
    report = gradcheck.check("sin(w*x)**2 + w/x", at={"w": 0.7, "x": 1.3}, dtype="float32")
    param = report.points[0].params[0]
    assert report.ok and param.tape != param.symbolic  # a float32 value, honestly not equal
    assert report.settings["dtype"] == "float32"


def test_a_float32_layer_backward_right_and_slipped():
    rng = np.random.default_rng(0)
    W, X = rng.normal(size=(4, 3)), rng.normal(size=(3, 5))

    def loss(W):
        return np.sum(np.tanh(W @ X))

    def backward(W):
        return (1 - np.tanh(W @ X) ** 2) @ X.T

    assert gradcheck.check_grad(loss, backward, at={"W": W}, dtype="float32").ok
    wrong = gradcheck.check_grad(loss, lambda W: backward(W) * (1 + 1e-3), at={"W": W}, dtype="float32")
    (param,) = wrong.points[0].params
    assert param.status == "mismatch" and param.mismatches == 12


def test_a_bound_that_could_not_catch_a_slip_is_called_vacuous():
    # float16 carries 11 bits: its rounding bound is far above a 1e-3 slip
    report = gradcheck.check("tanh(w*x)", at={"w": 2.5, "x": 1.7}, dtype="float16",
                             claimed={"w": tanh_backward()})
    assert "vacuous" in report.points[0].params[0].message


def test_the_rounding_bound_grows_with_operations_and_terms():
    dt = np.dtype(np.float32)
    assert rounding_bound(20, 1.0, dt) == pytest.approx(10 * rounding_bound(2, 1.0, dt))
    assert rounding_bound(2, 3.0, dt) == pytest.approx(3 * rounding_bound(2, 1.0, dt))
    assert rounding_bound(1, 1.0, dt) < SLIP / 1000


def test_reductions_count_their_pairwise_additions():
    from gradcheck.tape import Tensor
    from gradcheck.tape.engine import reachable_nodes
    w = Tensor(np.ones(1024, dtype=np.float32), requires_grad=True)
    loss = (w * 2.0).sum()
    assert tape_operations(reachable_nodes(loss._node)) == pytest.approx(2 + 10)


def test_float64_checks_are_unchanged_by_the_dtype_machinery():
    report = gradcheck.check("tanh(w*x)", at={"w": 0.3, "x": 1.1}, claimed={"w": "x*(1 - tanh(w*x)**2)"})
    assert report.ok and report.points[0].params[0].message is None


@pytest.mark.parametrize("bad", ["float8", "int32", 32, "Float32"])
def test_a_bad_dtype_is_an_input_error(bad):
    with pytest.raises(InputError, match="dtype must be one of"):
        gradcheck.check("w*x", dtype=bad)


def test_bfloat16_where_ml_dtypes_is_installed():
    pytest.importorskip("ml_dtypes", reason="bfloat16 needs the ml_dtypes extra")
    report = gradcheck.check("tanh(w*x)", wrt=["w"], claimed={"w": tanh_backward()}, dtype="bfloat16",
                             at={"w": 0.4, "x": 0.9})
    assert report.ok and "bfloat16 rounding" in report.points[0].params[0].message


def test_the_tutorials_float32_training_step_is_checked():
    result = subprocess.run([sys.executable, str(EXAMPLES / "float32_training_step.py")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "claimed within float32 rounding" in result.stdout
    assert "claimed wrong:" in result.stdout and "times the float32 rounding bound" in result.stdout


def test_the_cli_takes_a_dtype():
    from click.testing import CliRunner

    from gradcheck.cli import cli
    result = CliRunner().invoke(cli, ["expr", "tanh(w*x)", "--dtype", "float32", "--points", "3"])
    assert result.exit_code == 0 and "within float32 rounding" in result.output
