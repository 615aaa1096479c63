"""Worked example: test the hand-written gradient of a small model with gradcheck.

Copy this file into your project's tests. With gradcheck installed, the ``gradcheck``
fixture is there without any set-up; run ``pytest -v`` (or ``pytest -m gradcheck`` to
run only gradient checks). A failing check prints a table: which parameter, at which
point, the symbolic / tape / numeric / claimed values, and which source is the culprit.
"""

import numpy as np
import pytest

from gradcheck import GradientMismatch, assert_gradients

# A one-feature linear regression, trained on mean squared error.
LOSS = "(w*x + b - y)**2"
DATA = {"x": [0.5, 1.0, 1.5, 2.0, 2.5], "y": [1.1, 1.9, 3.2, 3.9, 5.1]}


# The gradients we derived by hand; vectorised over the data rows (NumPy arrays in,
# one value per row out: gradcheck averages them like the loss).
def grad_w(w, b, x, y):
    return 2 * x * (w * x + b - y)


def grad_b(w, b, x, y):
    return 2 * (w * x + b - y)


def test_linear_regression_gradient(gradcheck):
    # w and b are the parameters; x and y are data columns. Points are seeded
    # (--gradcheck-seed) and their number is set by --gradcheck-points.
    gradcheck(LOSS, wrt=["w", "b"], data=DATA, reduce="mean",
              claimed={"w": grad_w, "b": grad_b})


def test_gradient_at_a_chosen_point(gradcheck):
    # Pin values with `at`; the fixture returns the Report for further asserts.
    report = gradcheck(LOSS, wrt=["w", "b"], at={"w": 2.0, "b": 0.1}, data=DATA,
                       reduce="mean", claimed={"w": grad_w, "b": grad_b})
    assert report.ok


def test_logistic_neuron(gradcheck):
    # Claims may also be written as expressions; here a logistic loss for labels +-1.
    gradcheck("log(1 + exp(-y*(w*x + b)))", wrt=["w", "b"],
              data={"x": [0.3, -1.2, 2.0], "y": [1, -1, 1]},
              claimed={"w": "-y*x/(1 + exp(y*(w*x + b)))",
                       "b": "-y/(1 + exp(y*(w*x + b)))"},
              points=5)


def test_a_wrong_gradient_is_caught():
    # Without the fixture: gradcheck.assert_gradients raises GradientMismatch (an
    # AssertionError) whose message is the table. Here the factor 2 is forgotten.
    def forgot_the_two(w, b, x, y):
        return x * (w * x + b - y)

    with pytest.raises(GradientMismatch) as failure:
        assert_gradients(LOSS, wrt=["w", "b"], data=DATA, reduce="mean",
                         claimed={"w": forgot_the_two, "b": grad_b})
    worst = failure.value.report.worst()
    point, result = worst["w"]
    assert result.status == "mismatch" and result.culprit == "claimed"
    assert np.isfinite(result.symbolic)
