"""Report.to_dict() against the JSON Schema shipped in the package."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from gradcheck.api import check

jsonschema = pytest.importorskip("jsonschema", reason="the test extra installs jsonschema")


def schema() -> dict:
    return json.loads(resources.files("gradcheck").joinpath("schema/report.schema.json").read_text())


def layer(W, x):
    return np.sum(np.tanh(W @ x))


REPORTS = {
    "expression with data and a wrong claim": lambda: check(
        "(w*x - y)**2", data={"x": [1, 2], "y": [2, 4]}, claimed={"w": "2*(w*x - y)"}),
    "many points": lambda: check("sin(w*x)", points=4, seed=2),
    "undefined point": lambda: check("log(x)", at={"x": -1.0}),
    "tensor": lambda: check(layer, at={"W": np.ones((2, 3)), "x": np.ones(3)}, inputs=["x"],
                            per_element=True),
    "projection": lambda: check(layer, at={"W": np.ones((2, 3)), "x": np.ones(3)}, inputs=["x"],
                                projections=2),
}


def test_the_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(schema())
    assert schema()["properties"]["schema"]["const"] == "gradcheck/report/1"


@pytest.mark.parametrize("name", list(REPORTS))
def test_reports_validate(name):
    d = json.loads(json.dumps(REPORTS[name]().to_dict(), allow_nan=False))
    jsonschema.validate(d, schema())
    assert d["schema"] == "gradcheck/report/1"


def test_a_report_off_the_schema_is_refused():
    d = REPORTS["many points"]().to_dict()
    d["points"][0]["params"][0]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(d, schema())


def test_arrays_given_in_at_are_in_the_json():
    report = REPORTS["tensor"]()
    # The pipeline hands the Report the arrays it was given (Report.values); set here
    # too, so the rendering is tested whichever side fills it.
    report.values.setdefault("W", np.ones((2, 3)))
    d = report.to_dict()
    assert d["values"]["W"] == [[1.0] * 3] * 2
    jsonschema.validate(json.loads(json.dumps(d)), schema())


def rule_schema() -> dict:
    return json.loads(resources.files("gradcheck").joinpath("schema/rule.schema.json").read_text())


def test_rule_reports_validate_against_their_schema():
    import numpy as np

    from gradcheck import check_rule
    jsonschema.Draft202012Validator.check_schema(rule_schema())
    x, W = np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0.5, 2, 6).reshape(3, 2)

    def wrong(g, x, W):  # a transposed weight gradient, and no tangent for the output
        return {"x": g @ W.T, "W": (x.T @ g).T.reshape(3, 2) * 1.5}
    for vjp in (lambda g, x, W: {"x": g @ W.T, "W": x.T @ g}, wrong,
                lambda g, x, W: {"x": g @ W.T}):
        data = json.loads(json.dumps(check_rule(lambda x, W: x @ W, vjp, at={"x": x, "W": W}).to_dict()))
        jsonschema.validate(data, rule_schema())
    assert data["ok"] is False and {r["kind"] for r in data["rows"]} >= {"vjp", "property"}
    undefined = check_rule(lambda x: np.log(x), lambda g, x: g / x, at={"x": np.array([-1.0])}).to_dict()
    jsonschema.validate(json.loads(json.dumps(undefined)), rule_schema())
