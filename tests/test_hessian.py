"""Second derivatives (gradcheck.hessian): check_hessian and check_hvp against
independent truth: SymPy's Hessian evaluated at 50 digits with mpmath (sympy.hessian, not
gradcheck's code), closed forms, and for the 10,000-deep chain a second-order forward
(Taylor) propagation written here in plain floats."""

from __future__ import annotations

import json
import math
from importlib import resources

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck.errors import InputError
from gradcheck.hessian import check_hessian, check_hvp, check_order

AT = {"w1": 0.7, "w2": -1.3, "b": 0.4}
F = "exp(w1*w2) + w1**3*b + sin(b*w2)"


def truth(text: str, at: dict, names: list[str]) -> np.ndarray:
    """SymPy's Hessian at 50 digits (mpmath), as float64."""
    symbols = sympy.symbols(names)
    expr = sympy.sympify(text, locals=dict(zip(names, symbols)))
    h = sympy.hessian(expr, symbols)
    subs = {s: sympy.Float(repr(at[n]), 60) for s, n in zip(symbols, names)}
    return np.array([[float(h[i, j].evalf(50, subs=subs)) for j in range(len(names))]
                     for i in range(len(names))])


def matrix(report, source):
    return np.array(report.hessian["entries"][0][source], dtype=float)


# --------------------------------------------------------------------- right claims

RIGHT_TEXT = {  # the Hessian of F, written differently from SymPy's own forms
    ("w1", "w1"): "w2*w2*exp(w1*w2) + 6*b*w1",
    ("w1", "w2"): "exp(w1*w2)*(1 + w1*w2)",
    ("w1", "b"): "3*w1^2",
    ("w2", "w2"): "w1**2*exp(w2*w1) - b*b*sin(b*w2)",
    ("w2", "b"): "exp(w1*w2)*0 + cos(b*w2) - w2*b*sin(w2*b)",
    ("b", "b"): "-(w2**2)*sin(w2*b)",
}


def test_sources_match_sympy_at_50_digits():
    r = check_hessian(F, wrt=["w1", "w2", "b"], at=AT)
    assert r.ok, str(r)
    exact = truth(F, AT, ["w1", "w2", "b"])
    for source in ("symbolic", "tape", "numeric"):
        np.testing.assert_allclose(matrix(r, source), exact, rtol=1e-10, atol=1e-12)
    assert r.sources == ["symbolic", "tape", "numeric"]
    assert r.settings["order"] == 2 and r.hessian["size"] == 3


def test_a_right_text_claim_in_other_forms_passes():
    r = check_hessian(F, RIGHT_TEXT, wrt=["w1", "w2", "b"], at=AT)
    assert r.ok, str(r)
    assert "claimed" in r.sources
    assert r.hessian["symmetry"]["residual"] == 0.0
    assert r.derivatives["w1,b"] == "3*w1**2"  # the symbolic second derivative as text
    assert len(r.points[0].params) == 9  # every ordered pair is a row


def test_right_matrix_and_callable_claims_pass():
    exact = truth(F, AT, ["w1", "w2", "b"])
    assert check_hessian(F, exact, wrt=["w1", "w2", "b"], at=AT).ok

    def hess(w1, w2, b):
        e = math.exp(w1 * w2)
        return [[w2 ** 2 * e + 6 * b * w1, e * (1 + w1 * w2), 3 * w1 ** 2],
                [e * (1 + w1 * w2), w1 ** 2 * e - b ** 2 * math.sin(b * w2),
                 math.cos(b * w2) - b * w2 * math.sin(b * w2)],
                [3 * w1 ** 2, math.cos(b * w2) - b * w2 * math.sin(b * w2), -w2 ** 2 * math.sin(b * w2)]]
    r = check_hessian(F, hess, wrt=["w1", "w2", "b"], points=4, seed=3)
    assert r.ok and len(r.points) == 4, str(r)


# --------------------------------------------------------------------- slips

def _slipped(kind: str) -> tuple[np.ndarray, tuple[int, int]]:
    h = truth(F, AT, ["w1", "w2", "b"])
    if kind == "missing cross term":  # d2/dw1dw2 without the w1*w2*exp term
        h[0, 1] = h[1, 0] = math.exp(AT["w1"] * AT["w2"])
        return h, (0, 1)
    if kind == "factor 2 on the diagonal":
        h[2, 2] *= 2
        return h, (2, 2)
    if kind == "sign":
        h[1, 2] = h[2, 1] = -h[1, 2]
        return h, (1, 2)
    if kind == "relative 1e-6":
        h[0, 0] *= 1 + 1e-6
        return h, (0, 0)
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["missing cross term", "factor 2 on the diagonal", "sign",
                                  "relative 1e-6"])
def test_each_slip_is_caught_with_the_culprit_and_the_entry(kind):
    claim, (i, j) = _slipped(kind)
    r = check_hessian(F, claim, wrt=["w1", "w2", "b"], at=AT)
    assert not r.ok
    worst = r.hessian["worst"]
    assert worst["status"] == "mismatch" and worst["culprit"] == "claimed"
    assert {worst["i"], worst["j"]} == {i, j}
    names = ["w1", "w2", "b"]
    assert {worst["row"], worst["column"]} == {names[i], names[j]}
    bad = {p.name for p in r.points[0].params if p.status != "ok"}
    assert bad <= {f"{names[i]},{names[j]}", f"{names[j]},{names[i]}"}
    assert "worst entry" in str(r)


def test_a_relative_1e6_slip_in_text_is_caught_and_refined():
    claim = dict(RIGHT_TEXT)
    claim[("w1", "b")] = "3*w1^2*(1 + 1e-6)"
    r = check_hessian(F, claim, wrt=["w1", "w2", "b"], at=AT)
    row = next(p for p in r.points[0].params if p.name == "w1,b")
    assert row.status == "mismatch" and row.culprit == "claimed"
    assert row.rel_error == pytest.approx(1e-6, rel=1e-3)


def test_a_transposed_block_is_caught_and_its_asymmetry_reported():
    def f(a, c):
        m = np.array([[1.0, 2.0], [-3.0, 0.5]])
        return np.sum(a * (m @ c)) + np.sum(a ** 2 * c)
    at = {"a": np.array([0.3, -0.8]), "c": np.array([1.1, 0.6])}
    m = np.array([[1.0, 2.0], [-3.0, 0.5]])
    right = np.block([[np.diag(2 * at["c"]), m + np.diag(2 * at["a"])],
                      [(m + np.diag(2 * at["a"])).T, np.zeros((2, 2))]])
    assert check_hessian(f, right, at=at).ok
    wrong = right.copy()
    wrong[:2, 2:], wrong[2:, :2] = right[:2, 2:].T, right[2:, :2].T
    r = check_hessian(f, wrong, at=at)
    assert not r.ok
    assert r.hessian["worst"]["culprit"] == "claimed"
    assert {r.hessian["worst"]["block"]} <= {"a,c", "c,a"}
    residual = r.hessian["symmetry"]["residual"]
    assert residual == pytest.approx(np.max(np.abs(wrong - wrong.T)) / np.max(np.abs(wrong)))
    assert "symmetry residual" in str(r)


def test_blocks_per_pair_one_standing_for_its_mirror():
    def f(a, c):
        return np.sum(a ** 2) * np.sum(c)
    at = {"a": np.array([0.3, -0.8]), "c": np.array([1.1, 0.6, 2.0])}
    blocks = {("a", "a"): 2 * np.sum(at["c"]) * np.eye(2),
              ("a", "c"): np.outer(2 * at["a"], np.ones(3)), ("c", "c"): np.zeros((3, 3))}
    assert check_hessian(f, blocks, at=at).ok
    blocks[("a", "c")] = np.outer(at["a"], np.ones(3))  # a factor 2 lost
    r = check_hessian(f, blocks, at=at)
    assert {p.name for p in r.points[0].params if p.status == "mismatch"} == {"a,c", "c,a"}


# --------------------------------------------------------------------- tensors and H v

def _layer(W, x):
    return np.sum(np.tanh(W @ x))


LAYER_AT = {"W": np.array([[0.3, -0.2, 0.5], [0.1, 0.4, -0.6]]), "x": np.array([0.5, -1.0, 2.0])}


def _layer_hessian(W, x):
    a = np.tanh(W @ x)
    d = -2 * a * (1 - a ** 2)
    m, n = W.shape
    h = np.zeros((m, n, m, n))
    for i in range(m):
        h[i, :, i, :] = d[i] * np.outer(x, x)
    return h.reshape(m * n, m * n)


def test_a_tensor_parameter():
    r = check_hessian(_layer, _layer_hessian, wrt=["W"], at=LAYER_AT, inputs=["x"])
    assert r.ok, str(r)
    assert [p.name for p in r.points[0].params] == ["W"]
    row = r.points[0].params[0]
    assert row.shape == (2, 3, 2, 3)
    exact = _layer_hessian(**LAYER_AT)
    np.testing.assert_allclose(matrix(r, "tape"), exact, rtol=1e-12, atol=1e-14)

    def slipped(W, x):  # one entry off
        h = _layer_hessian(W, x)
        h[1, 4] += 1e-3
        return h
    r = check_hessian(_layer, slipped, wrt=["W"], at=LAYER_AT, inputs=["x"])
    worst = r.hessian["worst"]
    assert (worst["row"], worst["column"]) == ("W[0, 1]", "W[1, 1]")
    assert r.points[0].params[0].worst_index == (0, 1, 1, 1)


def _layer_hvp(v, W, x):
    a = np.tanh(W @ x)
    return ((-2 * a * (1 - a ** 2) * (v.reshape(W.shape) @ x))[:, None] * x).ravel()


def test_check_hvp_right_and_wrong():
    r = check_hvp(_layer, _layer_hvp, wrt=["W"], at=LAYER_AT, inputs=["x"], vectors=4, seed=5)
    assert r.ok, str(r)
    assert r.hessian["kind"] == "hvp" and r.hessian["vectors"] == 4
    assert r.hessian["symmetry"]["residual"] < 1e-12
    rng = np.random.default_rng(1)
    v = rng.normal(size=6)
    exact = _layer_hessian(**LAYER_AT) @ v
    np.testing.assert_allclose(_layer_hvp(v, **LAYER_AT), exact, rtol=1e-12)

    def wrong(v, W, x):  # the product with the transposed Hessian of the rows
        return {"W": _layer_hvp(v, W, x).reshape(W.shape)[::-1]}
    r = check_hvp(_layer, wrong, wrt=["W"], at=LAYER_AT, inputs=["x"])
    assert not r.ok and r.hessian["worst"]["culprit"] == "claimed"

    def slip(v, W, x):
        return _layer_hvp(v, W, x) * (1 + 1e-6)
    assert not check_hvp(_layer, slip, wrt=["W"], at=LAYER_AT, inputs=["x"]).ok


def test_check_hvp_above_the_symbolic_hessian_limit():
    rng = np.random.default_rng(0)
    at = {"W": rng.normal(size=(12, 15)) * 0.2, "x": rng.normal(size=15)}
    r = check_hvp(_layer, _layer_hvp, wrt=["W"], at=at, inputs=["x"], vectors=2)
    assert r.ok, str(r)
    assert "symbolic" in r.skipped and r.sources == ["tape", "numeric", "claimed"]
    assert r.hessian["entries"] is None


# --------------------------------------------------------------------- honesty

def test_undefined_and_kink_points_are_never_ok():
    undefined = check_hessian("log(w)*v", at={"w": -1.0, "v": 2.0})
    assert not undefined.ok and undefined.counts()["undefined"] == 4
    kink = check_hessian("abs(w)*w + v**3", at={"w": 0.0, "v": 2.0})
    statuses = {p.name: p.status for p in kink.points[0].params}
    assert statuses["w,w"] == "nondifferentiable" and statuses["v,v"] == "ok"
    assert kink.exit_code(allow_kinks=True) == 0 and kink.exit_code() == 1
    # without SymPy: the finite differences of the tape's gradient see the kink
    r = check_hessian(lambda w: np.abs(w) * w, at={"w": 0.0}, symbolic_limit=0)
    assert r.points[0].params[0].status == "nondifferentiable"
    assert check_hessian("sqrt(w)", at={"w": 0.0}).counts()["undefined"] == 1
    assert not check_hvp("abs(w)*w + v**3", at={"w": 0.0, "v": 2.0}).ok


def test_seeded_points_avoid_kinks_and_domain_edges():
    r = check_hessian("abs(w)*w + log(v)*w", points=5, seed=1)
    assert r.ok and len(r.points) == 5


# --------------------------------------------------------------------- data, deep chains

def test_a_loss_over_data_with_a_per_row_claim():
    data = {"x": [1.0, 2.0, 3.0], "y": [2.0, 3.9, 6.2]}
    claim = {("w", "w"): "2*x**2", ("w", "b"): "2*x", ("b", "b"): "2"}
    r = check_hessian("(w*x + b - y)**2", claim, wrt=["w", "b"], data=data, reduce="mean")
    assert r.ok, str(r)
    assert matrix(r, "symbolic") == pytest.approx(np.array([[28 / 3, 4], [4, 2]]))
    claim[("b", "b")] = "1"
    assert not check_hessian("(w*x + b - y)**2", claim, wrt=["w", "b"], data=data).ok


DEPTH = 10_000
STEP = 1e-4


def _chain(a, b):
    x = a * b
    for _ in range(DEPTH):
        x = x + STEP * np.sin(x)
    return x


def _chain_truth(a: float, b: float) -> np.ndarray:
    """Second-order forward propagation: (x, dx/da, dx/db, d2x/da2, d2x/dadb, d2x/db2)."""
    x, xa, xb, xaa, xab, xbb = a * b, b, a, 0.0, 1.0, 0.0
    for _ in range(DEPTH):
        s, c = math.sin(x), math.cos(x)
        xaa, xab, xbb = (xaa + STEP * (c * xaa - s * xa * xa), xab + STEP * (c * xab - s * xa * xb),
                         xbb + STEP * (c * xbb - s * xb * xb))
        xa, xb = xa + STEP * c * xa, xb + STEP * c * xb
        x = x + STEP * s
    return np.array([[xaa, xab], [xab, xbb]])


def test_a_10000_deep_chain_twice_without_recursion():
    import sys
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # anything recursing per level fails at once
    try:
        exact = _chain_truth(0.7, 1.3)
        r = check_hessian(_chain, exact, at={"a": 0.7, "b": 1.3}, symbolic_limit=0, timeout=None)
    finally:
        sys.setrecursionlimit(limit)
    assert r.ok, str(r)
    assert r.sources == ["tape", "numeric", "claimed"]
    np.testing.assert_allclose(matrix(r, "tape"), exact, rtol=1e-9)
    wrong = exact.copy()
    wrong[0, 1] = wrong[1, 0] = -exact[0, 1]
    assert not check_hessian(_chain, wrong, at={"a": 0.7, "b": 1.3}, symbolic_limit=0,
                             timeout=None).ok


# --------------------------------------------------------------------- inputs, JSON

def test_order_is_validated():
    assert check_order(1) == 1 and check_order(2) == 2
    for bad in (0, 3, 2.0, "2", True, None):
        with pytest.raises(InputError, match="order must be 1"):
            check_order(bad)


@pytest.mark.parametrize("hess, message", [
    ({("w1", "zz"): "1"}, "not a parameter"),
    ({"w1": "1"}, "pair must be"),
    (np.eye(2), "shape"),
    ({("w1", "w1"): "q*2"}, "uses q"),
])
def test_bad_claims_are_input_errors(hess, message):
    with pytest.raises(InputError, match=message):
        check_hessian(F, hess, wrt=["w1", "w2", "b"], at=AT)


def test_text_for_a_tensor_pair_is_refused():
    with pytest.raises(InputError, match="text"):
        check_hessian(_layer, {("W", "W"): "1"}, wrt=["W"], at=LAYER_AT, inputs=["x"])


def test_hessian_reports_validate_against_the_schema():
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(resources.files("gradcheck").joinpath("schema/report.schema.json").read_text())
    claim, _ = _slipped("sign")
    for report in (check_hessian(F, claim, wrt=["w1", "w2", "b"], at=AT),
                   check_hvp(_layer, _layer_hvp, wrt=["W"], at=LAYER_AT, inputs=["x"], per_element=True),
                   check_hessian("log(w)", at={"w": -1.0})):
        d = json.loads(json.dumps(report.to_dict(), allow_nan=False))
        jsonschema.validate(d, schema)
        assert d["settings"]["order"] == 2 and "hessian" in d


def test_text_pairs_for_a_function_and_a_model_no_source_can_run():
    def f(u, v):
        return np.sin(u) * v ** 2
    claim = {("u", "u"): "-sin(u)*v**2", "u,v": "2*v*cos(u)", ("v", "v"): "2*sin(u)"}
    assert check_hessian(f, claim, at={"u": 0.4, "v": 1.7}).ok
    claim["v,v"] = "sin(u)"
    assert not check_hessian(f, claim, at={"u": 0.4, "v": 1.7}).ok

    def opaque(w):
        return float(w) ** 2  # leaves both the tape and SymPy: nothing exact to compare with
    r = check_hessian(opaque, [[2.0]], at={"w": 0.5})
    assert not r.ok and r.counts()["undefined"] == 1
    assert {"symbolic", "tape", "numeric"} <= set(r.skipped) and r.sources == ["claimed"]


# ------------------------------------------------------------------ the faces: check(order=2), --order 2
def test_check_with_order_2_is_the_hessian_check():
    report = gradcheck.check("w1*x**2*w2 + sin(w1)", wrt=["w1", "w2"], at={"x": 2.0}, order=2,
                             claimed={("w1", "w1"): "-sin(w1)", ("w1", "w2"): "x**2", ("w2", "w2"): "0"})
    assert report.ok and report.settings["order"] == 2 and "hessian" in report.to_dict()
    wrong = gradcheck.check("w1*x**2*w2", wrt=["w1", "w2"], at={"x": 2.0}, order=2,
                            claimed={("w1", "w2"): "2*x**2"})
    assert not wrong.ok


@pytest.mark.parametrize("order", [0, 3, 2.0, "2", True, None])
def test_an_order_other_than_1_or_2_never_runs_a_check(order):
    with pytest.raises(InputError, match="order must be 1"):
        gradcheck.check("w*x", order=order)


def test_the_cli_checks_second_derivatives():
    from click.testing import CliRunner

    from gradcheck.cli import cli
    args = ["expr", "w1*x**2*w2 + sin(w1)", "--wrt", "w1,w2", "--at", "x=2", "--order", "2"]
    right = CliRunner().invoke(cli, args + ["--claim", "w1,w2=x**2"])
    wrong = CliRunner().invoke(cli, args + ["--claim", "w2,w2=1"])
    assert right.exit_code == 0 and wrong.exit_code == 1 and "w2,w2" in wrong.output
    assert CliRunner().invoke(cli, ["expr", "w*x", "--order", "3"]).exit_code == 2
