"""Nothing a user passes crashes, runs code or comes back with a wrong verdict: the
minimal repros of the reliability issue, each against what it must give."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck import ExpressionError, GradcheckError, InputError
from gradcheck.parse import parse

PACKAGE = Path(gradcheck.__file__).resolve().parent


def statuses(report) -> dict[str, str]:
    return {p.name: p.status for point in report.points for p in point.params}


# ------------------------------------------------------------------ no text becomes code
# The only calls that could turn a string into code, each with why it never gets one.
ALLOWED_EVALUATORS = {
    ("tape/scalar_rules.py", "exec"),  # generated from the rule table, never user text
    ("codegen.py", "exec"),  # generated from SymPy nodes; arguments are _a0, _a1, ...
    ("stand_in/rules.py", "sympify"),  # as_sympy: numbers only, text is refused before
}


def test_no_user_text_can_reach_an_evaluator():
    found = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            builtin = node.func.id if isinstance(node.func, ast.Name) else None
            name = getattr(node.func, "attr", None) or builtin
            if builtin in {"eval", "exec", "__import__"} or name in {"sympify", "parse_expr", "S"}:
                found.add((path.relative_to(PACKAGE).as_posix(), name))
    assert found == ALLOWED_EVALUATORS


def test_the_tape_has_no_text_entry_point(tmp_path):
    import gradcheck.tape as tape
    assert not hasattr(tape, "evaluate") and "evaluate" not in tape.__all__
    marker = tmp_path / "C"
    with pytest.raises(GradcheckError):
        gradcheck.check(f"__import__('os').system('touch {marker}') + x")
    assert not marker.exists()


def test_a_function_returning_text_runs_no_code(tmp_path):
    marker = tmp_path / "C"

    def f(w):
        return np.array([f"__import__('os').system('touch {marker}')"], dtype=object).sum() + 0 * w

    with pytest.raises(GradcheckError):
        gradcheck.check(f, at={"w": 1.0})
    assert not marker.exists()


# ------------------------------------------------------------------ valid input, no crash
@pytest.mark.parametrize("text", ["10**20*x", "2**64*x", "**".join(["x"] * 99),
                                  "max(" * 20 + "x" + ", y)" * 20])
def test_valid_expressions_give_a_report(text):
    report = gradcheck.check(text, at={"x": 0.7, "y": 0.2} if "y" in text else {"x": 0.7})
    assert report.points and all(s in ("ok", "nondifferentiable") for s in statuses(report).values())


@pytest.mark.parametrize("call, message", [
    (lambda: gradcheck.check(sympy.I * sympy.Symbol("x")), "ImaginaryUnit"),
    (lambda: gradcheck.check(sympy.floor(sympy.Symbol("x"))), "floor"),
    (lambda: gradcheck.check(sympy.Derivative(sympy.Symbol("x") ** 2, sympy.Symbol("x"))), "Derivative"),
    (lambda: gradcheck.check(sympy.Sum(sympy.Symbol("x"), (sympy.Symbol("k"), 1, 3))), "Sum"),
    (lambda: gradcheck.check(lambda w: w * 1j, at={"w": 1.0}), "complex"),
    (lambda: gradcheck.check("w**2", claimed={"w": lambda w: 2 * w + 1j}), "complex"),
    (lambda: gradcheck.check("w**2", claimed={"w": lambda w: "2*w"}), "must be numbers"),
    (lambda: gradcheck.check(lambda W: np.sum(W**2), at={"W": np.ones(3)},
                             claimed={"W": lambda W: np.ones(4)}), "has shape (4,)"),
    (lambda: gradcheck.check("w**2", claimed=["2*w"]), "claimed must map"),
    (lambda: gradcheck.check("w**2", at=[1]), "at must be a mapping"),
    (lambda: gradcheck.check("w*x", data=[1, 2]), "data must be a mapping"),
    (lambda: gradcheck.check("w**2", seed=-1), "seed must be"),
    (lambda: gradcheck.check("w**2", seed="a"), "seed must be"),
    (lambda: gradcheck.check("w**2", seed=1.5), "seed must be"),
    (lambda: gradcheck.check("w**2", wrt=[1]), "wrt must list"),
    (lambda: gradcheck.check("abs(w)*sign"), "'sign' is a function"),
])
def test_bad_input_is_one_specific_error(call, message):
    with pytest.raises(GradcheckError) as error:
        call()
    assert message in str(error.value) and "\n" not in str(error.value)


# ------------------------------------------------------------------ honest verdicts at edges
@pytest.mark.parametrize("text, at, expected", [
    ("3*max(1/2, x)", {"x": 0.3}, "ok"),           # true derivative exactly 0
    ("x*w", {"x": 5e-324, "w": 1.0}, "ok"),        # a subnormal gradient
    ("sqrt(x)", {"x": 1e-320}, "ok"),
    ("sqrt(x)", {"x": 1e-300}, "ok"),
    ("abs(sin(x))", {"x": math.pi}, "nondifferentiable"),  # sin(float pi) is 1.2e-16
    ("x**x", {"x": 0.0}, "undefined"),             # the derivative is -inf
    ("sigmoid(w)", {"w": -800.0}, "ok"),           # finite, though exp(800) overflows
    ("softplus(w)", {"w": 800.0}, "ok"),
    ("(-1)**x", {"x": 1.5}, "undefined"),
])
def test_edge_points_are_judged_honestly(text, at, expected):
    report = gradcheck.check(text, at=at, claimed=None)
    found = statuses(report)
    assert set(found.values()) <= {expected, "ok"} and expected in found.values(), report


def test_a_right_claim_where_the_derivative_is_zero_passes():
    report = gradcheck.check("3*max(1/2, x)", at={"x": 0.3}, claimed={"x": "3*Heaviside(x - 1/2)"})
    assert report.ok, report


def test_a_complex_intermediate_warns_nothing(recwarn):
    report = gradcheck.check("(-2)**w", at={"w": 1.3})
    assert statuses(report) == {"w": "undefined"}
    assert not [w for w in recwarn if "Complex" in str(w.category.__name__)]


# ------------------------------------------------------------------ names that deceive
@pytest.mark.parametrize("text, message", [
    ("w\u3164 + w", "invisible character U+3164"),
    ("x*\u0445", "looks like the Latin 'x'"),
    ("x*1e-400", "would silently be 0"),
    pytest.param("+".join(["x"] * 3500), "group them in parentheses", id="a chain of 3,500 terms"),
    ("np.sin(x)", "write sin(...)"),
    ("x(w+1)", "write x*(w+1)"),
    ("log10(x)", "write log(x)/log(10)"),
])
def test_deceptive_text_is_refused_with_a_fix(text, message):
    import sys
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # CPython's default, on which the chain limit depends
    try:
        with pytest.raises(ExpressionError) as error:
            parse(text)
    finally:
        sys.setrecursionlimit(limit)
    assert message in str(error.value)


def test_greek_letters_that_look_like_themselves_stay_names():
    assert gradcheck.check("α*x + θ", at={"x": 1.0, "α": 2.0, "θ": 0.5}).ok


def test_gradcheck_parse_stays_callable_after_its_module_is_imported():
    import gradcheck.parse  # noqa: F401  (binds the package attribute to the module)
    assert str(gradcheck.parse("w*x^2")) == "w*x**2"


def test_a_capital_name_suggests_the_small_one():
    with pytest.raises(InputError, match="did you mean 'x'"):
        gradcheck.check("w*x", at={"X": 2.0})


# ------------------------------------------------------------------ bounded work
@pytest.mark.parametrize("text", [
    "max(" * 60 + "x" + ", y, z, a, b, c, d, e1, f, g)" * 60,
    "*".join(f"a{i}" for i in range(400)),
])
def test_a_check_answers_within_its_budget_without_the_slow_source(text):
    report = gradcheck.check(text, timeout=1.0)
    assert report.points and "symbolic" not in report.sources
    assert "time budget" in report.skipped["symbolic"] or "too large" in report.skipped["symbolic"]


def test_products_differentiate_by_the_product_rule_over_the_factors_that_hold_the_name():
    report = gradcheck.check("*".join(f"a{i}" for i in range(100)))
    assert report.ok and report.sources == ["symbolic", "tape", "numeric"]


@pytest.mark.parametrize("timeout", [0, -1, "a", float("nan"), True])
def test_a_bad_timeout_is_an_input_error(timeout):
    with pytest.raises(InputError, match="timeout must be"):
        gradcheck.check("w*x", timeout=timeout)


def test_the_abandoned_step_does_not_outlive_the_check():
    import threading
    before = set(threading.enumerate())
    gradcheck.check("max(" * 60 + "x" + ", y, z, a, b, c, d, e1, f, g)" * 60, timeout=0.5)
    left = [t for t in set(threading.enumerate()) - before if t.name.startswith("gradcheck ")]
    for thread in left:  # interrupted at its next bytecode; a C call in progress ends first
        thread.join(10)
    assert not [t for t in left if t.is_alive()]


def test_a_right_claim_that_cancels_to_a_tiny_residue_where_the_truth_is_zero_passes():
    # the claim's terms cancel to -2.7e-51 in float64; its rounding allowance is the size
    # of its own terms, not of the symbolic value 0 (a fuzz find)
    claim = ("Heaviside(x)/(x*sqrt(1 + Max(0, x)**2/x**2)) + (-Heaviside(x)*Max(0, x)/x**2 + "
             "Max(0, x)**2/x**3)*Max(0, x)/(x*(1 + Max(0, x)**2/x**2)**(3/2)) - "
             "Max(0, x)/(x**2*sqrt(1 + Max(0, x)**2/x**2))")
    report = gradcheck.check("sin(atan((relu(x) / x)))", claimed={"x": claim}, at={"x": 0.3798})
    assert report.ok, report
    wrong = gradcheck.check("sin(atan(x/2))", claimed={"x": "1.000001*(1/(2*(1 + x**2/4)**(3/2)))"},
                            at={"x": 0.3798})
    assert statuses(wrong) == {"x": "mismatch"}


# ------------------------------------------------------------------ files and options
def _cli(*args: str):
    from click.testing import CliRunner

    from gradcheck.cli import cli
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_data_file_that_never_ends_is_refused_without_reading_it_whole(monkeypatch, tmp_path):
    import gradcheck.cli_inputs as inputs
    monkeypatch.setattr(inputs, "MAX_LINE", 1 << 16)
    result = _cli("expr", "w*x", "--data-file", "/dev/zero")
    assert result.exit_code == 2 and "a line longer than" in result.output
    monkeypatch.setattr(inputs, "MAX_DATA_BYTES", 1 << 16)
    many = tmp_path / "many.csv"
    many.write_text("x\n" + "1\n" * 50_000)
    result = _cli("expr", "w*x", "--data-file", str(many))
    assert result.exit_code == 2 and "larger than" in result.output


def test_a_json_number_of_5000_digits_is_refused(tmp_path):
    path = tmp_path / "big.json"
    path.write_text('{"x": [' + "9" * 5000 + "]}")
    result = _cli("expr", "w*x", "--data-file", str(path))
    assert result.exit_code == 2 and "5,000 digits" in result.output


def test_a_wide_csv_header_is_read_in_linear_time(tmp_path):
    path = tmp_path / "wide.csv"
    names = [f"c{i}" for i in range(40_000)]
    path.write_text(",".join(names + ["c7"]) + "\n" + ",".join(["1"] * 40_001) + "\n")
    result = _cli("expr", "w*c0", "--data-file", str(path))
    assert result.exit_code == 2 and "'c7' appears twice" in result.output


def test_a_spec_file_nested_50000_deep_is_a_spec_error(tmp_path):
    from gradcheck.spec import SpecError, load_spec
    path = tmp_path / "test_deep.grad.toml"
    path.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(SpecError, match="nested too deeply"):
        load_spec(path)


def test_the_cli_takes_a_time_budget():
    text = "*".join(f"a{i}" for i in range(400))
    result = _cli("expr", text, "--timeout", "1", "--json")
    import json
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["settings"]["timeout"] == 1.0
    assert "symbolic" in report["skipped"]
    assert _cli("expr", "w*x", "--timeout", "0").exit_code == 2


# ------------------------------------------------------------------ a review's finds
def test_complex_step_through_terms_that_cancel_is_no_false_alarm():
    assert gradcheck.check("(1+x)**2 - x**2 - 2*x", at={"x": 1e8}).ok


def test_a_kink_site_with_equal_one_sided_slopes_is_differentiable():
    assert statuses(gradcheck.check("x*abs(x)", at={"x": 0.0})) == {"x": "ok"}
    assert statuses(gradcheck.check("abs(x)", at={"x": 0.0})) == {"x": "nondifferentiable"}
    # a jump that float64 noise hides from finite differences is still a kink: the
    # one-sided values come from SymPy's derivative, not from the differences
    assert statuses(gradcheck.check("1e8 + abs(w)", at={"w": 0.0})) == {"w": "nondifferentiable"}
    wrong = gradcheck.check("x*abs(x)", at={"x": 0.0}, claimed={"x": "1"})
    assert statuses(wrong) == {"x": "mismatch"}


def test_a_function_returning_a_list_of_losses_is_summed_on_the_tape_too():
    report = gradcheck.check(lambda w: [w, w * w], at={"w": 1.5})
    assert report.ok and report.points[0].params[0].tape == pytest.approx(4.0)


@pytest.mark.parametrize("call, message", [
    (lambda: gradcheck.check(lambda w: None, at={"w": 1.0}), "returned NoneType"),
    (lambda: gradcheck.check(lambda w: "abc", at={"w": 1.0}), "returned str"),
    (lambda: gradcheck.check_grad(lambda w: w * w, lambda w: None, at={"w": 1.0}), "is None"),
    (lambda: gradcheck.check("w*x", at={"w": "1"}), "must be a number, got '1'"),
    (lambda: gradcheck.check("w*x", per_element="yes"), "per_element must be"),
    (lambda: gradcheck.check(sympy.Symbol("x") * sympy.Symbol("x", positive=True)), "both named 'x'"),
    (lambda: gradcheck.check("\uff58*x"), "would be read as 'x'"),
    (lambda: gradcheck.check("\u00b5*\u03bc"), "would be read as"),
])
def test_what_was_silently_accepted_is_refused(call, message):
    with pytest.raises(GradcheckError, match=message):
        call()


def test_a_function_with_data_takes_a_per_row_claim_like_an_expression():
    data = {"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]}
    for reduce in ("sum", "mean"):
        for claim in ("2*x*(w*x - y)", lambda w, x, y: 2 * x * (w * x - y)):
            report = gradcheck.check(lambda w, x, y: (w * x - y) ** 2, wrt=["w"], at={"w": 1.0},
                                     data=data, reduce=reduce, claimed={"w": claim})
            assert report.ok, report


def test_a_negative_base_to_a_fractional_power_says_why_it_is_undefined():
    message = gradcheck.check("(-2)**w", at={"w": 1.3}).points[0].params[0].message
    assert "a negative number to a non-integer power is not real" in message
