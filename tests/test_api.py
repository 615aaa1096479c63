"""check() end to end: truth from SymPy at 50 digits, wrong claims caught, right ones
passing, hard numerics passing, kinks and domain errors reported, the Report schema."""

import json
import math

import pytest
import sympy

import gradcheck
from gradcheck import ExpressionError, InputError, check
from gradcheck.parse import FUNCTIONS, parse


def truth(text, wrt, at, digits=50):
    expr = parse(text)
    subs = {s: sympy.Float(at[s.name], 60) for s in expr.free_symbols}
    return float(sympy.diff(expr, sympy.Symbol(wrt, real=True)).evalf(digits, subs=subs))


def only(report, name):
    (point,) = report.points
    return next(p for p in point.params if p.name == name)


# --- the example -------------------------------------------------------------
def test_quadratic_model_example():
    r = check("w1*x**2 + w2*x + b", wrt=["w1", "w2", "b"],
              at={"x": 2.0, "w1": 1.0, "w2": 1.0, "b": 1.0})
    assert r.ok
    assert r.derivatives == {"w1": "x**2", "w2": "x", "b": "1"}
    assert [only(r, p).symbolic for p in ("w1", "w2", "b")] == [4.0, 2.0, 1.0]
    assert [only(r, p).tape for p in ("w1", "w2", "b")] == [4.0, 2.0, 1.0]
    text = str(r)
    for word in ("w1", "x**2", "symbolic", "tape", "numeric", "ok"):
        assert word in text


def test_to_dict_schema_is_json_and_complete():
    r = check("(w*x - y)**2", data={"x": [1, 2, 3], "y": [2, 4, 6]}, claimed={"w": "2*x*(w*x - y)"})
    d = json.loads(json.dumps(r.to_dict()))
    assert set(d) >= {"ok", "expression", "wrt", "derivatives", "points"}
    (point,) = d["points"]
    assert set(point) >= {"at", "value", "params"}
    assert set(point["params"][0]) >= {"name", "status", "symbolic", "tape", "numeric",
                                       "numeric_error", "claimed", "culprit", "rel_error", "message"}
    assert d["ok"] is True and point["params"][0]["culprit"] is None


# --- every whitelisted function, against 50-digit truth --------------------------------
SMOOTH_CALLS = {name: f"{name}(0.5*w + 0.1)" for name in FUNCTIONS}
SMOOTH_CALLS.update({"max": "max(w, 2*w - 1)", "min": "min(w, 2*w - 1)",
                     "Max": "Max(w, 2*w - 1)", "Min": "Min(w, 2*w - 1)",
                     "relu": "relu(w - 0.2)", "abs": "abs(w - 0.2)", "Abs": "Abs(w - 0.2)"})


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_every_whitelisted_function_agrees_with_truth(name):
    text = SMOOTH_CALLS[name]
    r = check(text, at={"w": 0.7})
    p = only(r, "w")
    assert p.status == "ok", str(r)
    true = truth(text, "w", {"w": 0.7})
    for source in (p.symbolic, p.tape, p.numeric):
        assert source == pytest.approx(true, rel=1e-12, abs=1e-300)


# --- wrong claims are caught, right ones in other forms pass ----------------------------
MODEL = "(w1*x**2 + w2*x + b - y)**2"
DATA = {"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]}
AT = {"w1": 0.7, "w2": -1.3, "b": 0.4}
RIGHT = "2*x**2*(w1*x**2 + w2*x + b - y)"
WRONG_CLAIMS = {
    "sign": "-2*x**2*(w1*x**2 + w2*x + b - y)",
    "missing chain-rule factor": "2*(w1*x**2 + w2*x + b - y)",
    "factor 2": "x**2*(w1*x**2 + w2*x + b - y)",
    "wrong variable": "2*x*(w1*x**2 + w2*x + b - y)",
    "power rule": "2*x**2*(w1*x**2 + w2*x + b - y)**2",
    "relative slip 1e-4": f"1.0001*{RIGHT}",
    "relative slip 1e-6": f"1.000001*{RIGHT}",
}


@pytest.mark.parametrize("kind", WRONG_CLAIMS)
def test_wrong_claims_are_caught_and_blamed(kind):
    r = check(MODEL, at=AT, data=DATA, claimed={"w1": WRONG_CLAIMS[kind]})
    p = only(r, "w1")
    assert not r.ok
    assert (p.status, p.culprit) == ("mismatch", "claimed")
    assert all(q.status == "ok" for q in r.points[0].params if q.name != "w1")


def test_slip_of_1e6_is_caught_by_a_callable_claim_too():
    slipped = lambda x, y, w1, w2, b: 1.000001 * 2 * x**2 * (w1 * x**2 + w2 * x + b - y)  # noqa: E731
    r = check(MODEL, at=AT, data=DATA, claimed={"w1": slipped})
    assert only(r, "w1").culprit == "claimed"


@pytest.mark.parametrize("claim", [
    RIGHT,
    "2*w1*x**4 + 2*w2*x**3 + 2*b*x**2 - 2*x**2*y",           # expanded
    "(x**2)*2*((b - y) + x*(w1*x + w2))",                      # refactored
    "2*x^2*(w1*x^2 + w2*x + b - y)",                           # ^ as power
])
def test_right_claims_in_other_forms_pass(claim):
    r = check(MODEL, at=AT, data=DATA, claimed={"w1": claim})
    assert r.ok, str(r)


def test_right_callable_claim_passes_and_mean_reduction():
    def grad(x, y, w1, w2, b):
        return 2 * x**2 * (w1 * x**2 + w2 * x + b - y)  # per row; check averages it
    r = check(MODEL, at=AT, data=DATA, reduce="mean", claimed={"w1": grad})
    assert r.ok, str(r)
    true = sum(truth(MODEL, "w1", {**AT, "x": x, "y": y}) for x, y in zip(DATA["x"], DATA["y"])) / 3
    assert only(r, "w1").symbolic == pytest.approx(true, rel=1e-14)


def test_claim_for_a_correct_but_cancelling_form_is_not_flagged():
    # d/dx of (x+1e8)**2 - x**2 is 2e8 exactly; this claim cancels badly in float64
    r = check("(x + 100000000)**2 - x**2", at={"x": 0.3},
              claimed={"x": "2*(x + 100000000) - 2*x"})
    assert r.ok, str(r)


# --- hard numerics pass ------------------------------------------------------------------
@pytest.mark.parametrize("text, at", [
    ("exp(50*x)", {"x": 1.0}),
    ("sin(10000*x)", {"x": 0.3}),
    ("log(x)", {"x": 1e-3}),
    ("w*x", {"w": 1e8, "x": 1e8}),
    ("w*x**2", {"w": 3.0, "x": 1e-8}),
    ("x**3", {"x": 1e8}),
    ("sin(x)*1e-8", {"x": 0.3}),
    ("1/(x - 1)", {"x": 1.0001}),
    ("exp(-x**2)", {"x": 6.0}),
])
def test_stiff_and_badly_scaled_cases_pass(text, at):
    r = check(text, at=at)
    assert r.ok, str(r)
    for p in r.points[0].params:
        assert p.symbolic == pytest.approx(truth(text, p.name, at), rel=1e-12)


def test_zero_and_tiny_gradients_are_judged_relatively():
    r = check("w*x", at={"w": 3.0, "x": 1e-8}, wrt=["w"], claimed={"w": "2*x"})
    assert only(r, "w").culprit == "claimed"
    r = check("x**2", at={"x": 0.0}, claimed={"x": "1e-12"})
    assert only(r, "x").culprit == "claimed"
    assert check("x**2", at={"x": 0.0}, claimed={"x": "0"}).ok


# --- kinks and domain errors ---------------------------------------------------------------
@pytest.mark.parametrize("text, at", [
    ("abs(x)", {"x": 0.0}), ("relu(x)", {"x": 0.0}), ("max(x, 1)", {"x": 1.0}),
    ("min(x, 2*x)", {"x": 0.0}), ("abs(w*x - 2)", {"w": 1.0, "x": 2.0}),
])
def test_kinks_are_nondifferentiable(text, at):
    r = check(text, at=at)
    assert not r.ok
    assert "nondifferentiable" in {p.status for p in r.points[0].params}
    assert r.exit_code(allow_kinks=True) == 0 and r.exit_code() == 1


@pytest.mark.parametrize("text, at", [
    ("log(x)", {"x": -1.0}), ("sqrt(x)", {"x": -4.0}), ("asin(x)", {"x": 2.0}),
    ("1/x", {"x": 0.0}), ("exp(x)", {"x": 1000.0}),
])
def test_outside_the_domain_is_undefined_with_a_message(text, at):
    r = check(text, at=at)
    p = only(r, "x")
    assert p.status == "undefined" and not r.ok
    assert p.message
    json.dumps(r.to_dict(), allow_nan=False)  # no NaN leaks into JSON


def test_infinite_derivative_is_undefined():
    p = only(check("sqrt(x)", at={"x": 0.0}), "x")
    assert p.status == "undefined"


# --- points and defaults -----------------------------------------------------------------
def test_default_points_are_seeded_in_domain_and_not_one():
    r1 = check("log(x) + asin(y)", points=20, seed=3)
    r2 = check("log(x) + asin(y)", points=20, seed=3)
    assert [p.at for p in r1.points] == [p.at for p in r2.points]
    assert r1.ok, str(r1)
    for p in r1.points:
        assert p.at["x"] > 0 and abs(p.at["y"]) < 1
        assert all(v not in (0.0, 1.0, -1.0) for v in p.at.values())
    assert [p.at for p in check("log(x) + asin(y)", points=20, seed=4).points] != [p.at for p in r1.points]


def test_pinned_variables_stay_and_the_report_keeps_every_point():
    r = check("w*x**3", at={"x": 2.5}, points=7)
    assert len(r.points) == 7 and {p.at["x"] for p in r.points} == {2.5}
    assert sorted(r.worst()) == ["w", "x"]


def test_default_wrt_skips_inputs_and_data():
    r = check("(w*x - y)**2 + b", data={"x": [1, 2], "y": [3, 4]}, inputs=["b"])
    assert r.wrt == ["w"]


# --- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"at": {"z": 1.0}}, "not a variable"),
    ({"wrt": ["q"]}, "not a variable"),
    ({"at": {"x": "abc"}}, "must be a number"),
    ({"data": {"x": [1, 2], "y": [1]}}, "unequal lengths"),
    ({"reduce": "max"}, "reduce"),
    ({"points": 0}, "points"),
    ({"rtol": -1}, "rtol"),
    ({"method": "forward"}, "method"),
    ({"claimed": {"q": "1"}}, "not a parameter"),
    ({"claimed": {"x": "z*2"}}, "does not have"),
])
def test_bad_input_raises_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        check("x*y", **kwargs)


def test_bad_expression_raises_expression_error():
    with pytest.raises(ExpressionError):
        check("__import__('os').system('x')")
    assert issubclass(ExpressionError, gradcheck.GradcheckError)


def test_assert_gradients_raises_with_the_table():
    with pytest.raises(gradcheck.GradientMismatch) as info:
        gradcheck.assert_gradients("sin(w*x)", at={"w": 0.5, "x": 2.0}, claimed={"w": "cos(w*x)"})
    assert "claimed" in str(info.value) and "w" in str(info.value)
    assert math.isfinite(only(info.value.report, "w").rel_error)


def test_a_kink_only_counts_for_parameters_that_cross_it():
    # relu(w*x) at w=0: moving w crosses the switch, moving x does not (it stays 0)
    r = check("relu(w*x)", at={"w": 0.0, "x": 2.0})
    assert only(r, "w").status == "nondifferentiable"
    assert only(r, "x").status == "ok" and only(r, "x").symbolic == 0.0


def test_rounding_bound_stays_finite_inside_function_arguments():
    # the cancellation bound once rewrote w - 2.84 inside acos into |w| + 2.84 (NaN):
    # equal sources were then reported as "no two sources agree"
    text = "acos(w - 2.84)**2"
    claim = "-2*acos(w - 2.84)/sqrt(1 - (w - 2.84)**2)"
    for w in (2.747, 2.443, 1.994):
        r = check(text, at={"w": w}, claimed={"w": claim})
        assert r.ok, str(r)
    assert only(check(text, at={"w": 2.443}, claimed={"w": f"1.000001*({claim})"}), "w").culprit == "claimed"
