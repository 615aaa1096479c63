"""Tensor parameters: shapes and broadcasting in backward against finite differences at
high precision (mpmath, 60 digits), and matrix-calculus identities against their
closed forms. Every element of every source is compared (per_element=True)."""

import mpmath
import numpy as np
import pytest

from gradcheck import check
from gradcheck import finite as model_numeric
from gradcheck.problem import make_problem

mpmath.mp.dps = 60
H = mpmath.mpf("1e-25")  # central step: truncation ~1e-50, rounding ~1e-35


class MP:
    """The NumPy functions the cases use, for object arrays of mpmath numbers."""

    tanh, exp, log = (np.frompyfunc(f, 1, 1) for f in (mpmath.tanh, mpmath.exp, mpmath.log))
    sum, mean, maximum, where = staticmethod(np.sum), staticmethod(np.mean), np.maximum, np.where


def _mp(a):
    return np.array(np.frompyfunc(mpmath.mpf, 1, 1)(np.asarray(a, dtype=float)), dtype=object)


def high_precision_gradient(case, at):
    """d case / d every element, by central differences in 60-digit arithmetic."""
    point = {k: _mp(v) for k, v in at.items()}
    out = {}
    for name, value in at.items():
        grad = np.zeros(np.shape(value))
        for index in np.ndindex(*np.shape(value)):
            up, down = point[name].copy(), point[name].copy()
            up[index] += H
            down[index] -= H
            diff = case(**{**point, name: up}, xp=MP) - case(**{**point, name: down}, xp=MP)
            grad[index] = float(diff / (2 * H))
        out[name] = grad
    return out


CASES = {
    "bias row broadcast": (lambda A, b, xp=np: xp.sum(xp.tanh(A + b)), {"A": (3, 4), "b": (4,)}),
    "column broadcast": (lambda A, c, xp=np: xp.sum(A * c ** 2), {"A": (3, 4), "c": (3, 1)}),
    "scalar times matrix": (lambda s, M, xp=np: xp.sum(xp.exp(s * M)), {"s": (), "M": (2, 3)}),
    "mean over an axis, keepdims": (
        lambda A, xp=np: xp.sum((A / xp.mean(A, axis=-1, keepdims=True)) ** 2), {"A": (2, 3, 4)}),
    "reshape, transpose, matmul": (
        lambda A, B, xp=np: xp.sum(xp.tanh(A.reshape(3, 4) @ B).T @ np.array([1.0, 2.0, 3.0])),
        {"A": (2, 6), "B": (4, 3)}),
    "indexing, repeated and sliced": (
        lambda v, xp=np: xp.sum(v[np.array([0, 0, 3])] ** 3) + xp.sum(v[:2] * v[3:]), {"v": (5,)}),
    "maximum and where, broadcast": (
        lambda A, b, xp=np: xp.sum(xp.maximum(A, b) * xp.where(A > 0, A, 0.5 * A)),
        {"A": (3, 4), "b": (4,)}),
    "sums over axes, log-sum-exp": (
        lambda Z, xp=np: xp.sum(xp.log(xp.exp(Z).sum(axis=1)) - Z.sum(axis=0).mean()), {"Z": (3, 4)}),
}


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.uniform(0.5, 1.5, size=s) * rng.choice([-1, 1], size=s) if s else 0.7
            for k, s in shapes.items()}


def _per_element(report, name):
    (point,) = report.points
    result = next(r for r in point.params if r.name == name)
    return result, {tuple(e["index"]): e for e in result.per_element or []}


def _assert_matches(report, truth, exact_rtol=1e-12):
    for name, grad in truth.items():
        result, elements = _per_element(report, name)
        scale = np.max(np.abs(grad))
        for index in np.ndindex(*np.shape(grad)):
            e = elements[index] if elements else {s: getattr(result, s) for s in ("tape", "symbolic", "numeric", "numeric_error")}
            want = grad[index]
            for source in ("tape", "symbolic"):
                assert abs(e[source] - want) <= exact_rtol * scale, (name, index, source, e[source], want)
            assert abs(e["numeric"] - want) <= e["numeric_error"] + 1e-15 * scale, (name, index)


@pytest.mark.parametrize("label", list(CASES))
def test_backward_through_shapes_and_broadcasting(label):
    case, shapes = CASES[label]
    at = _values(shapes)
    report = check(case, at=at, per_element=True)
    assert report.ok, str(report)
    assert report.sources == ["symbolic", "tape", "numeric"]
    _assert_matches(report, high_precision_gradient(case, at))
    for name, shape in shapes.items():
        result, _ = _per_element(report, name)
        if shape:
            assert result.shape == shape and result.elements == int(np.prod(shape))
            assert result.mismatches == 0 and result.max_rel_error < 1e-8


# ---------------------------------------------------------------- matrix calculus identities
def test_d_sum_W_x_by_W_is_ones_outer_x():
    rng = np.random.default_rng(1)
    W, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    report = check(lambda W, x: np.sum(W @ x), at={"W": W, "x": x}, inputs=["x"], per_element=True)
    assert report.ok and report.wrt == ["W"]
    _assert_matches(report, {"W": np.outer(np.ones(3), x)}, exact_rtol=1e-15)


def test_quadratic_form_gradients():
    """d(x.T W x)/dW = x x.T and d/dx = (W + W.T) x."""
    rng = np.random.default_rng(2)
    W, x = rng.normal(size=(4, 4)), rng.normal(size=4)
    report = check(lambda W, x: x.T @ W @ x, at={"W": W, "x": x}, per_element=True)
    assert report.ok
    _assert_matches(report, {"W": np.outer(x, x), "x": (W + W.T) @ x}, exact_rtol=1e-13)


def _softmax_cross_entropy(Z, labels):
    z = Z - Z.max(axis=1, keepdims=True)  # the usual stabilising shift: its gradient cancels
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


def test_softmax_cross_entropy_gradient_is_p_minus_onehot():
    rng = np.random.default_rng(3)
    Z, labels = rng.normal(size=(4, 3)), np.array([0, 2, 1, 2])
    report = check(_softmax_cross_entropy, at={"Z": Z}, data={"labels": labels}, per_element=True)
    assert report.ok, str(report)
    p = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    onehot = np.eye(3)[labels]
    _assert_matches(report, {"Z": (p - onehot) / len(labels)}, exact_rtol=1e-13)


def test_softmax_regression_weight_gradient():
    """Z = X W: d/dW = X.T (P - Y) / N."""
    rng = np.random.default_rng(4)
    X, W, labels = rng.normal(size=(5, 2)), rng.normal(size=(2, 3)), np.array([0, 1, 2, 1, 0])

    def loss(W, X, labels):
        return _softmax_cross_entropy(X @ W, labels)

    report = check(loss, at={"W": W}, data={"X": X, "labels": labels}, per_element=True)
    assert report.ok
    Z = X @ W
    p = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    _assert_matches(report, {"W": X.T @ (p - np.eye(3)[labels]) / 5}, exact_rtol=1e-13)


# ---------------------------------------------------------------- the numeric source's cost
def test_numeric_source_calls_the_function_once_per_perturbation():
    calls = []

    def f(W):
        calls.append(1)
        return np.sum(np.sin(W))

    W = np.random.default_rng(5).normal(size=(3, 5))
    report = check(f, at={"W": W}, symbolic_limit=0, method="central")
    assert report.ok and "symbolic" in report.skipped
    tape_and_seeding = 3  # the plain value, the tape run, the symbolic trace is skipped
    assert len(calls) <= W.size * model_numeric.calls_per_check("central") + tape_and_seeding


def test_automatic_scheme_keeps_to_the_call_budget():
    problem = make_problem(lambda W: np.sum(np.sin(W)), at={"W": np.ones(3)})
    assert model_numeric.choose_method("auto", 10, problem) == "richardson"
    assert model_numeric.choose_method("auto", 10_000, problem) == "central"
    assert model_numeric.choose_method("central", 1, problem) == "central"
