"""The examples run: the tutorial scripts reproduce PyTorch's output digit for digit
(examples/expected/, made by PyTorch itself), the MLP passes its gradient check and
trains, and the hand-written backward pass with a slip is caught."""

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
EXPECTED = EXAMPLES / "expected"


def run(script, *args):
    done = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                          text=True, timeout=600, cwd=EXAMPLES.parent)
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("model", ["linear_model", "quadratic_model"])
def test_tutorial_output_equals_pytorch_byte_for_byte(model, dtype):
    code, out, err = run(f"{model}.py", "--dtype", dtype)
    assert code == 0, err
    want = (EXPECTED / f"{model}.{dtype}.txt").read_text()
    for i, (got_line, want_line) in enumerate(zip(out.splitlines(), want.splitlines())):
        assert got_line == want_line, f"line {i + 1}"
    assert out == want


def test_the_numbers_the_issue_quotes():
    linear = run("linear_model.py", "--dtype", "float32")[1].splitlines()
    assert linear[1].split()[-1] == "-2.0" and linear[2].split()[-1] == "-7.840000152587891"
    quadratic = run("quadratic_model.py", "--dtype", "float32")[1].splitlines()
    assert quadratic[-1] == "Prediction (after training) 4.0 8.544171333312988"
    assert run("quadratic_model.py")[1].splitlines()[-1].endswith("8.544170120967518")  # float64


def test_expected_outputs_say_how_they_were_made():
    note = (EXPECTED / "README.md").read_text()
    assert "make_expected.py" in note and "torch==2.13.0" in note
    assert "import torch" in (EXPECTED / "make_expected.py").read_text()


def test_mlp_checks_every_weight_matrix_then_trains():
    code, out, err = run("mlp.py")
    assert code == 0, err
    assert "OK: symbolic, tape, numeric agree on all 4 parameters" in out
    for name in ("W1[", "b1[", "W2[", "b2 "):
        assert f"\n  {name}" in out
    assert "training accuracy: 100%" in out


def test_custom_backward_slip_is_caught_and_the_fix_passes():
    code, out, err = run("custom_backward.py")
    assert code == 0, err
    slip, fixed = out.split("2. the corrected backward pass")
    assert "mismatch (claimed)" in slip and "W1: 6 of 6 elements mismatch" in slip
    assert "OK: symbolic, tape, numeric, claimed agree" in fixed
