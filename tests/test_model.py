"""check() of Python functions and check_grad(): values against SymPy at 50 digits, wrong
gradients caught and located, untraceable code skipped with its reason, the Report for
tensor parameters, random projection, roles and input errors."""

import json
import math

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck import InputError, check, check_grad
from gradcheck import pipeline as model_check


def only(report, name, point=0):
    return next(r for r in report.points[point].params if r.name == name)


def truth(expr, at, wrt, digits=50):
    subs = {sympy.Symbol(k, real=True): sympy.Float(v, 60) for k, v in at.items()}
    return float(sympy.diff(expr, sympy.Symbol(wrt, real=True)).evalf(digits, subs=subs))


# --- the example: a model written with operators and NumPy functions -------------
def quadratic(x, w1, w2, b):
    return w1 * x ** 2 + w2 * x + b


def test_function_model_agrees_with_the_same_expression():
    at = {"x": 2.0, "w1": 1.0, "w2": 1.0, "b": 1.0}
    from_function = check(quadratic, wrt=["w1", "w2", "b"], at=at)
    from_text = check("w1*x**2 + w2*x + b", wrt=["w1", "w2", "b"], at=at)
    assert from_function.ok and from_function.sources == ["symbolic", "tape", "numeric"]
    assert from_function.derivatives == {"w1": "x**2", "w2": "x", "b": "1"}
    for p in ("w1", "w2", "b"):
        assert only(from_function, p).tape == only(from_text, p).tape
        assert only(from_function, p).symbolic == only(from_text, p).symbolic
    assert from_function.expression == "quadratic(x, w1, w2, b)"


def test_numpy_functions_against_fifty_digit_truth():
    def f(w, b, x):
        return np.sin(w * x) * np.exp(b) + np.tanh(w - b) + np.maximum(w, b) ** 2 + np.sqrt(w * w + 1)

    at = {"w": 0.7, "b": -0.3, "x": 1.9}
    w, b, x = sympy.symbols("w b x", real=True)
    expr = sympy.sin(w * x) * sympy.exp(b) + sympy.tanh(w - b) + sympy.Max(w, b) ** 2 + sympy.sqrt(w * w + 1)
    report = check(f, at=at, inputs=["x"])
    assert report.ok and report.wrt == ["w", "b"]
    for p in ("w", "b"):
        want = truth(expr, at, p)
        r = only(report, p)
        for value in (r.symbolic, r.tape):
            assert math.isclose(value, want, rel_tol=1e-14)
        assert abs(r.numeric - want) <= r.numeric_error


# --- check_grad ----------------------------------------------------------------------------
def layer(W, b, x):
    return np.sum(np.tanh(W @ x + b) ** 2)


def grad_layer(W, b, x):
    h = np.tanh(W @ x + b)
    g = 2 * h * (1 - h ** 2)
    return {"W": np.outer(g, x), "b": g}


RNG = np.random.default_rng(7)
AT = {"W": RNG.normal(size=(3, 4)), "b": RNG.normal(size=3), "x": RNG.normal(size=4)}


@pytest.mark.parametrize("form", ["dict", "tuple", "mapping of functions"])
def test_right_gradient_functions_pass_in_every_form(form):
    if form == "dict":
        report = check_grad(layer, grad_layer, at=AT, inputs=["x"])
    elif form == "tuple":
        report = check_grad(layer, lambda W, b, x: tuple(grad_layer(W, b, x).values()), at=AT, inputs=["x"])
    else:
        report = check(layer, at=AT, inputs=["x"],
                       claimed={"W": lambda W, b, x: grad_layer(W, b, x)["W"], "b": lambda W, b, x: grad_layer(W, b, x)["b"]})
    assert report.ok and report.sources == ["symbolic", "tape", "numeric", "claimed"]


def test_single_parameter_gradient_may_be_one_array():
    report = check_grad(lambda w, x: np.sum((w * x - 1.0) ** 2), lambda w, x: np.sum(2 * x * (w * x - 1.0)),
                        at={"w": 0.5, "x": np.array([1.0, 2.0])}, inputs=["x"])
    assert report.ok


def test_wrong_element_is_caught_and_located():
    def wrong(W, b, x):
        g = grad_layer(W, b, x)
        g["W"] = g["W"].copy()
        g["W"][2, 1] *= 1 + 1e-6  # off by one part in a million, in one element
        return g

    report = check_grad(layer, wrong, at=AT, inputs=["x"])
    assert not report.ok and report.exit_code() == 1
    r = only(report, "W")
    assert (r.status, r.culprit, r.worst_index, r.mismatches, r.elements) == ("mismatch", "claimed", (2, 1), 1, 12)
    assert r.max_rel_error == pytest.approx(1e-6, rel=1e-3)
    assert r.claimed == pytest.approx(r.tape * (1 + 1e-6), rel=1e-12)
    assert only(report, "b").status == "ok"
    assert "W[2, 1]" in str(report) and "1 of 12 elements mismatch" in str(report)


# --- untraceable code ----------------------------------------------------------------------
def test_operation_the_tape_lacks_skips_the_tape_only():
    def f(w):
        return np.cumsum(w * w).sum()

    report = check(f, at={"w": np.array([0.5, -1.5, 2.0])})
    assert report.ok and report.sources == ["symbolic", "numeric"]
    assert "numpy.cumsum" in report.skipped["tape"] and "line" in report.skipped["tape"]
    assert "tape skipped" in str(report)


def test_tensor_method_the_tape_lacks_is_named():
    report = check(lambda w: w.cumsum().sum(), at={"w": np.array([0.5, 2.0])})
    assert report.skipped["tape"].startswith("Tensor.cumsum is not supported by the tape")


def test_python_control_flow_skips_the_symbolic_source():
    def f(w):
        if w > 0:
            return w ** 3
        return -w

    report = check(f, at={"w": 0.7})
    assert report.ok and report.sources == ["tape", "numeric"]
    assert "bool()" in report.skipped["symbolic"] and "if w > 0" in report.skipped["symbolic"]


def test_math_functions_leave_both_traced_sources_and_nothing_is_called_ok():
    report = check(lambda w: math.exp(w) * w, at={"w": 0.7})
    assert set(report.skipped) == {"tape", "symbolic"} and report.sources == ["numeric"]
    assert "leaves the tape" in report.skipped["tape"] and "math.exp" in report.skipped["tape"]
    assert only(report, "w").status == "undefined" and not report.ok
    with_claim = check_grad(lambda w: math.exp(w) * w, lambda w: math.exp(w) * (1 + w), at={"w": 0.7})
    assert with_claim.ok and with_claim.sources == ["numeric", "claimed"]


# --- tensor reports ------------------------------------------------------------------------
def test_tensor_report_schema_keeps_its_keys_and_adds_the_summary():
    report = check_grad(layer, grad_layer, at=AT, inputs=["x"])
    d = json.loads(json.dumps(report.to_dict()))
    base = {"name", "status", "symbolic", "tape", "numeric", "numeric_error", "claimed",
            "culprit", "rel_error", "message", "high_precision"}
    (point,) = d["points"]
    W = next(p for p in point["params"] if p["name"] == "W")
    assert base | {"shape", "elements", "worst_index", "max_abs_error", "max_rel_error",
                   "mismatches", "projection"} == set(W)
    assert W["shape"] == [3, 4] and W["elements"] == 12 and "per_element" not in W
    assert set(d) >= {"ok", "expression", "wrt", "derivatives", "points", "sources", "skipped"}
    detailed = check_grad(layer, grad_layer, at=AT, inputs=["x"], per_element=True).to_dict()
    W = next(p for p in detailed["points"][0]["params"] if p["name"] == "W")
    assert len(W["per_element"]) == 12 and W["per_element"][5]["index"] == [1, 1]
    assert set(W["per_element"][0]) >= {"index", "status", "tape", "symbolic", "numeric", "claimed"}


def test_scalar_parameters_of_a_function_read_like_expression_results():
    r = only(check(quadratic, at={"x": 2.0, "w1": 1.0, "w2": 1.0, "b": 1.0}), "w1")
    assert r.shape is None and set(r.to_dict()) == {
        "name", "status", "symbolic", "tape", "numeric", "numeric_error", "claimed", "culprit",
        "rel_error", "message", "high_precision"}


# --- size limits and random projection -----------------------------------------------------
def test_symbolic_source_skipped_above_its_limit_with_the_reason():
    report = check(layer, at=AT, inputs=["x"], symbolic_limit=10)
    assert report.ok and report.sources == ["tape", "numeric"]
    assert "15 parameter elements, above the symbolic limit of 10" in report.skipped["symbolic"]


def test_expression_too_big_to_differentiate_is_skipped_quickly(monkeypatch):
    monkeypatch.setattr("gradcheck.symbolic.WORK_LIMIT", 500)
    x = np.linspace(-1, 1, 20)
    report = check(lambda W: np.sum(np.tanh(W @ x)), at={"W": np.full((10, 20), 0.1)})
    assert "too large to differentiate" in report.skipped["symbolic"] and report.ok


def test_one_wrong_element_of_a_projected_parameter_is_found_by_the_exact_sources():
    x, w = np.random.default_rng(3).normal(size=(100, 100)), np.linspace(-1, 1, 100)

    def grad(x, w):
        d = 1 - np.tanh(x * w) ** 2
        return {"x": d * w, "w": (d * x).sum(axis=0)}

    def off(x, w):
        out = grad(x, w)
        out["x"][17, 42] *= 1 + 1e-6
        return out

    f = lambda x, w: np.sum(np.tanh(x * w))  # noqa: E731
    assert check_grad(f, grad, at={"x": x, "w": w}).ok
    r = only(check_grad(f, off, at={"x": x, "w": w}), "x")
    assert (r.status, r.culprit, r.mismatches, r.worst_index) == ("mismatch", "claimed", 1, (17, 42))
    assert r.first_mismatches[0]["index"] == [17, 42]
    assert r.first_mismatches[0]["claimed"] == pytest.approx(grad(x, w)["x"][17, 42] * (1 + 1e-6), rel=1e-12)


def test_random_projection_checks_directions_and_says_so():
    report = check_grad(layer, grad_layer, at=AT, inputs=["x"], projections=3, seed=4)
    r = only(report, "W")
    assert report.ok and r.projection == 3 and isinstance(r.worst_index, int)
    assert any("W: 12 elements: the exact sources compared element by element, the finite "
               "differences along 3 random unit directions" in n for n in report.notes)
    # the projected tape value is the gradient projected on one of the seeded directions
    u = np.random.default_rng(4).normal(size=(3, 12))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    assert any(math.isclose(r.tape, float(ui @ grad_layer(**AT)["W"].ravel()), rel_tol=1e-12)
               for ui in u)


def test_random_projection_catches_a_wrong_matrix():
    def transposed_outer(W, b, x):
        g = grad_layer(W, b, x)
        return {"W": g["W"] * 1.5, "b": g["b"]}

    report = check_grad(layer, transposed_outer, at=AT, inputs=["x"], projections=2)
    r = only(report, "W")
    # the exact sources find it on every element before any direction is needed
    assert r.status == "mismatch" and r.culprit == "claimed" and r.mismatches == 12


def test_projection_is_the_default_above_the_threshold(monkeypatch):
    monkeypatch.setattr(model_check, "PROJECTION_THRESHOLD", 10)
    report = check(layer, at=AT, inputs=["x"])
    assert only(report, "W").projection == model_check.DEFAULT_DIRECTIONS
    assert only(report, "b").projection is None  # 3 elements: element by element
    assert report.derivatives["W"].startswith("random projection")


# --- kinks, domains, points ----------------------------------------------------------------
def test_kink_at_an_element_is_reported_with_or_without_sympy():
    for limit in (2000, 0):
        report = check(lambda w: np.sum(np.maximum(w, 0.0) * 3.0), at={"w": np.array([0.0, 1.0])},
                       symbolic_limit=limit, per_element=True)
        r = only(report, "w")
        assert [e["status"] for e in r.per_element] == ["nondifferentiable", "ok"]
        assert report.exit_code(allow_kinks=True) == 0


def test_a_kink_counts_only_for_elements_that_move_it():
    """relu(w * v) at w = 0 has a kink in w, but is flat (0) in v: v is differentiable."""
    report = check(lambda w, v: np.sum(np.maximum(w * v, 0.0)),
                   at={"w": np.array([0.0, 1.0]), "v": np.array([1.5, -2.0])}, per_element=True)
    w, v = only(report, "w"), only(report, "v")
    assert [e["status"] for e in w.per_element] == ["nondifferentiable", "ok"]
    assert [e["status"] for e in v.per_element] == ["ok", "ok"]
    assert "kink: v_0*w_0 = 0 here" in w.message


def test_outside_the_domain_is_undefined():
    report = check(lambda w: np.log(w).sum(), at={"w": np.array([-1.0, 2.0])})
    assert only(report, "w").status == "undefined" and "not finite" in only(report, "w").message


def test_free_scalar_arguments_are_seeded_per_point():
    report = check(lambda w, b: np.sin(w) * np.exp(b), points=3, seed=1)
    assert report.ok and len(report.points) == 3
    assert len({p.at["w"] for p in report.points}) == 3


def test_reduce_mean_and_data_columns_used_as_indices():
    def per_row(w, X, labels):
        scores = X * w
        return -np.log(np.exp(scores[np.arange(len(labels)), labels]) / np.exp(scores).sum(axis=1))

    X, labels = np.array([[0.5, 1.0], [2.0, -1.0], [0.1, 0.3]]), np.array([1, 0, 1])
    mean = check(per_row, at={"w": 0.8}, data={"X": X, "labels": labels}, reduce="mean")
    summed = check(per_row, at={"w": 0.8}, data={"X": X, "labels": labels})
    assert mean.ok and summed.ok and mean.settings["data"] == ["X", "labels"]
    assert math.isclose(only(summed, "w").tape, 3 * only(mean, "w").tape, rel_tol=1e-14)


# --- roles and input errors ----------------------------------------------------------------
@pytest.mark.parametrize("call,message", [
    (lambda: check(quadratic, at={"w3": 1.0}), "did you mean 'w2'"),
    (lambda: check(quadratic, wrt=["x"], data={"x": [1.0, 2.0]}), "data column"),
    (lambda: check_grad(layer, lambda W, b, x: {"W": np.zeros((4, 3)), "b": np.zeros(3)}, at=AT,
                        inputs=["x"]), r"shape \(4, 3\)"),
    (lambda: check_grad(layer, lambda W, b, x: (np.zeros((3, 4)),), at=AT, inputs=["x"]), "returned 1 values"),
    (lambda: check_grad(layer, lambda W, b, x: {"c": 1.0}, at=AT, inputs=["x"]), "not parameters"),
    (lambda: check_grad(layer, lambda W, q: 0, at=AT, inputs=["x"]), "asks for q"),
    (lambda: check(lambda w: [][1], at={"w": 1.0}), "raised IndexError on plain NumPy values"),
    (lambda: check("w*x", projections=-1), "projections must be"),
    (lambda: check(layer, at=AT, inputs=["x"], projections=-1), "projections must be"),
    (lambda: check(lambda *args: 0.0), "cannot be passed by name"),
])
def test_input_errors_say_what_and_where(call, message):
    with pytest.raises(InputError, match=message):
        call()


def test_defaults_are_left_alone_and_public_names_exported():
    def f(w, scale=2.0):
        return scale * w ** 2

    report = check(f, at={"w": 1.5})
    assert report.wrt == ["w"] and math.isclose(only(report, "w").tape, 6.0)
    assert gradcheck.check_grad is check_grad


def test_docstring_examples_run():
    import doctest

    import gradcheck.api
    import gradcheck.stand_in
    for module in (gradcheck.api, gradcheck.stand_in):
        assert doctest.testmod(module).failed == 0


def test_rounding_bound_of_a_function_model_stays_finite():
    # sums inside a function's argument must not become sums of magnitudes (acos -> NaN)
    import numpy as np
    import gradcheck

    def f(w):
        return np.arccos(w - 2.84) ** 2

    def g(w):
        return -2 * np.arccos(w - 2.84) / np.sqrt(1 - (w - 2.84) ** 2)

    assert gradcheck.check_grad(f, g, at={"w": 2.443}).ok
    slipped = gradcheck.check_grad(f, lambda w: 1.000001 * g(w), at={"w": 2.443})
    assert slipped.points[0].params[0].culprit == "claimed"


def test_integer_and_boolean_arrays_are_inputs_without_being_told():
    x = np.random.default_rng(0).normal(size=(4, 5))
    labels, mask = np.array([1, 0, 3, 4]), np.array([True, False, True, True, False])

    def loss(x, y, m):
        return (x[np.arange(4), y] ** 2).sum() + (x[:, m] ** 3).sum()
    report = check(loss, at={"x": x, "y": labels, "m": mask})
    assert report.ok and report.wrt == ["x"]
    assert "y, m: integer or boolean arrays, so inputs (not differentiated)" in report.notes
    truth = np.zeros_like(x)
    truth[np.arange(4), labels] += 2 * x[np.arange(4), labels]
    truth[:, mask] += 3 * x[:, mask] ** 2
    r = only(check_grad(loss, lambda x, y, m: {"x": truth}, at={"x": x, "y": labels, "m": mask}), "x")
    assert r.status == "ok"
    with pytest.raises(InputError, match="y holds int64 values: an integer or boolean array"):
        check(loss, wrt=["x", "y"], at={"x": x, "y": labels, "m": mask})


def test_a_gradient_function_that_leaves_a_parameter_out_is_a_mismatch_never_a_pass():
    x, b = np.ones((2, 3)), np.arange(3.0)
    report = check_grad(lambda x, b: np.sum(np.tanh(x + b)), lambda x, b: {"x": 1 - np.tanh(x + b) ** 2},
                        wrt=["x", "b"], at={"x": x, "b": b})
    assert not report.ok
    r = only(report, "b")
    assert (r.status, r.culprit, r.mismatches) == ("mismatch", "claimed", 3)
    assert "the gradient function returned no gradient for b: a mismatch (claimed)" in report.notes
    assert only(report, "x").status == "ok"
