"""The pytest plugin, exercised through real pytest sessions (pytester)."""

from __future__ import annotations

import importlib
import json
import re
import shutil
from pathlib import Path

import pytest

from gradcheck.api import DEFAULT_ATOL, DEFAULT_RTOL
from gradcheck.spec import SpecError, parse_spec

pytest_plugins = ["pytester"]

# In-process pytester runs forget the modules first imported inside them. Import what
# other installed plugins load lazily once here (hypothesis's plugin imports hypothesis
# at the end of every session), so that each run does not pay for it again.
for _heavy in ("hypothesis",):
    try:
        importlib.import_module(_heavy)
    except ImportError:
        pass

# pytest-benchmark, where installed, warns in inner runs that it is disabled under xdist.
pytestmark = pytest.mark.filterwarnings("ignore:Benchmarks are automatically disabled")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

PASSING = """
def test_quadratic(gradcheck):
    report = gradcheck("w1*x**2 + w2*x + b", wrt=["w1", "w2", "b"],
                       at={"x": 2.0, "w1": 1.0, "w2": 1.0, "b": 1.0})
    assert report.ok
"""

# The claimed gradient of w forgets the factor 2.
WRONG = """
def test_wrong(gradcheck):
    gradcheck("(w*x - y)**2", wrt=["w"], data={"x": [1, 2, 3], "y": [2, 4, 6]},
              claimed={"w": "x*(w*x - y)"})
"""

# Off by a relative 1e-6: fails at the default rtol, passes at rtol=1e-4.
SLIGHTLY_OFF = """
def test_slightly_off(gradcheck):
    gradcheck("w**2", claimed={"w": "2*w*(1 + 1e-6)"})
"""

SPEC = """
[[case]]
name = "linear model, hand-derived"
expression = "(w*x - y)**2"
wrt = ["w"]
data = { x = [1, 2, 3, 4], y = [2, 4, 6, 8] }
claimed = { w = "2*x*(w*x - y)" }

[[case]]
name = "quadratic"
expression = "w1*x**2 + w2*x + b"
at = { x = 2.0, w1 = 1.0, w2 = 1.0, b = 1.0 }
points = 3
rtol = 1e-8

[[case]]
name = "wrong claim, demonstrated"
expression = "(w*x - y)**2"
wrt = ["w"]
data = { x = [1, 2], y = [2, 4] }
claimed = { w = "x*(w*x - y)" }
expect = "mismatch"
"""


def recorder(pytester: pytest.Pytester) -> str:
    """Test-file code: ``record(name, report)`` saves settings and points as JSON."""
    out = pytester.path / "results"
    return f"""
import json, pathlib
OUT = pathlib.Path({str(out)!r})

def record(name, report):
    OUT.mkdir(exist_ok=True)
    (OUT / (name + ".json")).write_text(json.dumps(
        {{"settings": {{k: report.settings[k] for k in ("seed", "points", "rtol", "atol")}},
         "points": [p.at for p in report.points], "ok": report.ok}}, sort_keys=True))
"""


def results(pytester: pytest.Pytester) -> dict[str, dict]:
    out = pytester.path / "results"
    found = {p.stem: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}
    shutil.rmtree(out, ignore_errors=True)
    return found


def header_seed(result: pytest.RunResult) -> int:
    match = re.search(r"^gradcheck: seed=(\d+) ", result.stdout.str(), re.MULTILINE)
    assert match, result.stdout.str()
    return int(match.group(1))


# --- the fixture -----------------------------------------------------------------------

def test_passing_check(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok=PASSING)
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_ok.py::test_quadratic PASSED*"])


def test_failing_check_shows_the_table(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_wrong=WRONG)
    result = pytester.runpytest("-rf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        ">       gradcheck(*",  # the user's line, not the plugin's
        "E       gradcheck.api.GradientMismatch: gradcheck: (w*x - y)**2",
        "E   *parameter*symbolic*tape*numeric*claimed*status*",
        "E   *w*2*x*(w*x - y)*mismatch (claimed)*",
        "E       FAILED: 1 mismatch of 1 check at 1 point (seed 0)",
        "FAILED test_wrong.py::test_wrong - GradientMismatch: w: mismatch (claimed)",
    ])
    text = result.stdout.str()
    for internal in ("pytest_plugin.py", "_pytest", "api.py", "site-packages", "__tracebackhide__"):
        assert internal not in text


def test_failing_check_in_verbose_mode_reads_well(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_wrong=WRONG)
    result = pytester.runpytest("-vv")
    result.stdout.fnmatch_lines([
        "test_wrong.py::test_wrong FAILED*",
        "gradcheck = <gradcheck fixture: seed=0 points=1 rtol=* atol=*>",
        "FAILED test_wrong.py::test_wrong - GradientMismatch: w: mismatch (claimed)",
    ])


def test_bad_arguments_are_a_one_line_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        def test_typo(gradcheck):
            gradcheck("(w*x - y)**2", wrt=["q"])
    """)
    result = pytester.runpytest("-rf", "-vv")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E       gradcheck.errors.InputError: *'q'*",
                                 "FAILED *::test_typo - gradcheck.errors.InputError: *"])
    text = result.stdout.str()
    assert "problem.py" not in text and "pytest_plugin.py" not in text


def test_fixture_returns_the_report_and_plain_assert_gradients_works(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import pytest
        from gradcheck import GradientMismatch, assert_gradients

        def test_fixture(gradcheck):
            report = gradcheck("w**2", claimed={"w": "2*w"})
            assert report.ok and report.derivatives == {"w": "2*w"}

        def test_without_fixture():
            assert assert_gradients("(w*x - y)**2", data={"x": [1, 2], "y": [2, 4]},
                                    claimed={"w": "2*x*(w*x - y)"}).ok
            with pytest.raises(GradientMismatch, match="mismatch"):
                assert_gradients("w**2", claimed={"w": "w"})
    """)
    pytester.runpytest().assert_outcomes(passed=2)


# --- options and ini values ------------------------------------------------------------

def test_header_shows_the_defaults(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok=PASSING)
    result = pytester.runpytest()
    result.stdout.fnmatch_lines([
        f"gradcheck: seed=0 points=1 rtol={DEFAULT_RTOL:g} atol={DEFAULT_ATOL:g} "
        "(replay with --gradcheck-seed=0)"])


def test_options_take_effect(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_options=recorder(pytester) + """
def test_defaults_from_options(gradcheck):
    record("options", gradcheck("w*x**2 + b", wrt=["w", "b"]))

def test_explicit_arguments_win(gradcheck):
    record("explicit", gradcheck("w*x**2 + b", wrt=["w", "b"], points=2, seed=11, rtol=0.5))
""")
    result = pytester.runpytest("--gradcheck-points=4", "--gradcheck-seed=7",
                                "--gradcheck-rtol=1e-6", "--gradcheck-atol=1e-12")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["gradcheck: seed=7 points=4 rtol=1e-06 atol=1e-12 "
                                 "(replay with --gradcheck-seed=7)"])
    found = results(pytester)
    assert found["options"]["settings"] == {"seed": 7, "points": 4, "rtol": 1e-6, "atol": 1e-12}
    assert len(found["options"]["points"]) == 4
    assert found["explicit"]["settings"] == {"seed": 11, "points": 2, "rtol": 0.5, "atol": 1e-12}


def test_tolerance_options_change_the_verdict(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off=SLIGHTLY_OFF)
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.runpytest("--gradcheck-rtol=1e-4").assert_outcomes(passed=1)
    pytester.makepyfile(test_off="""
        def test_absolutely_off(gradcheck):
            gradcheck("w**2", claimed={"w": "2*w + 1e-7"})
    """)
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.runpytest("--gradcheck-atol=1e-5").assert_outcomes(passed=1)


def test_ini_values_take_effect(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off=SLIGHTLY_OFF)
    pytester.makeini("""
        [pytest]
        gradcheck_rtol = 1e-4
        gradcheck_points = 3
        gradcheck_seed = 5
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck: seed=5 points=3 rtol=0.0001 atol=*"])
    # the command line overrides the ini file
    pytester.runpytest("--gradcheck-rtol=1e-9").assert_outcomes(failed=1)


def test_pyproject_values_take_effect(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_off=SLIGHTLY_OFF)
    pytester.makepyprojecttoml("""
        [tool.pytest.ini_options]
        gradcheck_rtol = "1e-4"
        gradcheck_seed = 3
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["gradcheck: seed=3 points=1 rtol=0.0001 *"])


@pytest.mark.parametrize("option, message", [
    ("--gradcheck-points=0", "argument --gradcheck-points: expected a whole number >= 1, got '0'"),
    ("--gradcheck-points=many", "argument --gradcheck-points: expected a whole number >= 1*"),
    ("--gradcheck-seed=-1", "argument --gradcheck-seed: expected a whole number >= 0 or 'random'*"),
    ("--gradcheck-rtol=abc", "argument --gradcheck-rtol: expected a finite number >= 0, got 'abc'"),
    ("--gradcheck-atol=nan", "argument --gradcheck-atol: expected a finite number >= 0*"),
])
def test_bad_option_values_are_usage_errors(pytester: pytest.Pytester, option: str, message: str) -> None:
    pytester.makepyfile(test_ok=PASSING)
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}"])


def test_bad_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ok=PASSING)
    pytester.makeini("""
        [pytest]
        gradcheck_atol = -1
    """)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option gradcheck_atol: expected a finite number >= 0, got '-1'*"])


# --- seed replay -----------------------------------------------------------------------

def test_random_seed_is_shown_and_replays_exactly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_points=recorder(pytester) + """
def test_points(gradcheck):
    record("points", gradcheck("w1*x**2 + w2*x + b", wrt=["w1", "w2", "b"], points=3))
""")
    first = pytester.runpytest("--gradcheck-seed=random")
    first.assert_outcomes(passed=1)
    seed = header_seed(first)
    chosen = results(pytester)["points"]
    assert chosen["settings"]["seed"] == seed

    replay = pytester.runpytest(f"--gradcheck-seed={seed}")
    assert header_seed(replay) == seed
    assert results(pytester)["points"] == chosen

    pytester.runpytest(f"--gradcheck-seed={seed + 1}")
    assert results(pytester)["points"]["points"] != chosen["points"]


def test_failure_message_names_the_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_wrong=WRONG)
    result = pytester.runpytest("--gradcheck-seed=42")
    result.stdout.fnmatch_lines(["*(replay with --gradcheck-seed=42)",
                                 "E       FAILED: * (seed 42)"])


# --- the marker ------------------------------------------------------------------------

def test_marker_selects_gradient_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mixed=PASSING + """
import pytest

def test_plain():
    assert True

@pytest.mark.gradcheck
def test_marked_by_hand():
    assert True
""")
    pytester.makefile(".grad.toml", test_cases=SPEC)
    selected = pytester.runpytest("-m", "gradcheck", "--strict-markers",
                                  "-W", "error::pytest.PytestUnknownMarkWarning")
    selected.assert_outcomes(passed=5, deselected=1)
    unselected = pytester.runpytest("-m", "not gradcheck", "-v")
    unselected.assert_outcomes(passed=1, deselected=5)
    unselected.stdout.fnmatch_lines(["*::test_plain PASSED*"])
    assert "PytestUnknownMarkWarning" not in selected.stdout.str() + unselected.stdout.str()


def test_marker_is_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.gradcheck: *"])


# --- spec files ------------------------------------------------------------------------

def test_spec_file_collects_one_item_per_case(pytester: pytest.Pytester) -> None:
    pytester.makefile(".grad.toml", test_cases=SPEC)
    pytester.makefile(".toml", notes="[[case]]\nexpression = 1")  # not a spec file
    pytester.makefile(".grad.toml", cases_elsewhere=SPEC)  # no test_ prefix: ignored
    collected = pytester.runpytest("--collect-only", "-q")
    collected.stdout.fnmatch_lines([
        "test_cases.grad.toml::linear model, hand-derived",
        "test_cases.grad.toml::quadratic",
        "test_cases.grad.toml::wrong claim, demonstrated",
        "3 tests collected*",
    ])
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["test_cases.grad.toml::linear model, hand-derived PASSED*"])


def test_failing_spec_case_shows_the_table_only(pytester: pytest.Pytester) -> None:
    pytester.makefile(".grad.toml", test_bad="""
        [[case]]
        name = "fine"
        expression = "w**2"
        claimed = { w = "2*w" }

        [[case]]
        name = "forgot the chain rule"
        expression = "(w*x - y)**2"
        wrt = ["w"]
        data = { x = [1, 2], y = [2, 4] }
        claimed = { w = "2*(w*x - y)" }

        [[case]]
        name = "expects a mismatch"
        expression = "w**2"
        claimed = { w = "2*w" }
        expect = "mismatch"
    """)
    result = pytester.runpytest("-rf", "-vv")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*_ forgot the chain rule _*",
        "gradcheck: (w*x - y)**2",
        "*w*mismatch (claimed)*",
        "FAILED: 1 mismatch of 1 check at 1 point (seed 0)",
        "*_ expects a mismatch _*",
        "test_bad.grad.toml:13: expected 'mismatch', but no check had that status",
    ])
    result.stdout.fnmatch_lines([
        "FAILED test_bad.grad.toml::forgot the chain rule - GradientMismatch: w: mismatch (claimed)"])
    text = result.stdout.str()
    assert "Traceback" not in text and "pytest_plugin.py" not in text and "E   " not in text


def test_spec_cases_use_the_options_unless_they_set_their_own(pytester: pytest.Pytester) -> None:
    pytester.makefile(".grad.toml", test_tolerance="""
        [[case]]
        name = "loose"
        expression = "w**2"
        claimed = { w = "2*w*(1 + 1e-6)" }

        [[case]]
        name = "tight"
        expression = "w**2"
        claimed = { w = "2*w*(1 + 1e-6)" }
        rtol = 1e-9
    """)
    result = pytester.runpytest("--gradcheck-rtol=1e-4", "-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*::loose PASSED*", "*::tight FAILED*"])


def test_spec_case_with_bad_arguments_is_a_clear_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".grad.toml", test_names="""
        [[case]]
        name = "typo in wrt"
        expression = "w**2"
        wrt = ["q"]
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["test_names.grad.toml:1: invalid case: *'q'*"])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("content, message", [
    ('[[case]]\nname = "a"\nexpression = "w**2"\n\n[[case]]\nname = "b"\nexpresion = "w**2"\n',
     "test_broken.grad.toml:7: case 2 ('b'): unknown key 'expresion'; did you mean 'expression'?"),
    ('[[case]]\nexpression = "w**2"\npoints = "3"\n',
     "test_broken.grad.toml:3: case 1: key 'points' must be a whole number >= 1, got '3'"),
    ('[[case]]\nname = "c"\nexpression = "w**2"\nat = { w = "one" }\n',
     "test_broken.grad.toml:4: case 1 ('c'): key 'at' value of 'w' must be a number, got a string"),
    ('[[case]]\nexpression = "w**2\nwrt = ["w"]\n',
     "test_broken.grad.toml:2: invalid TOML: * (at line 2, column *)"),
    ('[[case]]\nwrt = ["w"]\n', "test_broken.grad.toml:1: case 1: missing required key 'expression'"),
    ('[case]\nexpression = "w**2"\n', "*'case' must be an array of tables: write [[case]], not [case]"),
    ('[[cases]]\nexpression = "w**2"\n', "*unknown key 'cases'; did you mean 'case'?*"),
])
def test_malformed_spec_file_is_a_collection_error(pytester: pytest.Pytester, content: str,
                                                   message: str) -> None:
    pytester.makefile(".grad.toml", test_broken=content)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR collecting test_broken.grad.toml*"])
    text = result.stdout.str()
    assert re.search("^" + re.escape(message).replace(r"\*", ".*") + "$", text, re.MULTILINE), text
    assert "Traceback" not in text


def test_spec_format_details() -> None:
    cases = parse_spec("""
        [defaults]
        rtol = 1e-6
        points = 2

        [[case]]
        expression = "w**2"

        [[case]]
        name = "own points"
        expression = "w*x"
        wrt = "w"
        points = 5
        allow_kinks = true
        expect = "nondifferentiable"
    """, "t.grad.toml")
    assert [c.name for c in cases] == ["case1", "own points"]
    assert [c.line for c in cases] == [6, 9]
    assert cases[0].arguments == {"expression": "w**2", "rtol": 1e-6, "points": 2}
    assert cases[1].arguments["points"] == 5 and cases[1].arguments["wrt"] == "w"
    assert cases[1].allow_kinks and cases[1].expect == "nondifferentiable"
    for text, message in [
        ('[[case]]\nname="x"\nexpression="w"\n[[case]]\nname="x"\nexpression="w"\n', "duplicate name 'x'"),
        ('[defaults]\nname = "x"\n[[case]]\nexpression="w"\n', "[defaults]: unknown key 'name'"),
        ('[[case]]\nexpression="w"\nexpect="fail"\n', "key 'expect' must be one of"),
        ('[[case]]\nexpression="w*x"\nat={x=1}\ndata={x=[1]}\n', "'x' is in both 'at' and 'data'"),
        ('', "no cases"),
    ]:
        with pytest.raises(SpecError, match=re.escape(message)):
            parse_spec(text, "t.grad.toml")


# --- running modes ---------------------------------------------------------------------

def test_works_without_cacheprovider_and_stops_at_first_failure(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_a=WRONG + PASSING.replace("test_quadratic", "test_after"))
    pytester.makefile(".grad.toml", test_b=SPEC)
    result = pytester.runpytest("-p", "no:cacheprovider", "-x")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stopping after 1 failures*"])
    assert not (pytester.path / ".pytest_cache").exists()
    full = pytester.runpytest("-p", "no:cacheprovider")
    full.assert_outcomes(passed=4, failed=1)


def test_xdist_matches_a_serial_run(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed (pip install gradcheck[test])")
    tests = "\n".join(f"""
def test_case_{i}(gradcheck):
    record("case_{i}", gradcheck("w1*sin(x) + w2*x**{i % 3 + 1} + b", wrt=["w1", "w2", "b"]))
""" for i in range(6))
    pytester.makepyfile(test_many=recorder(pytester) + tests + WRONG)
    pytester.makefile(".grad.toml", test_cases=SPEC)

    def run(*args: str) -> tuple[pytest.RunResult, dict]:
        result = pytester.runpytest("--gradcheck-points=3", "-rA", *args)
        return result, results(pytester)

    def outcomes(result: pytest.RunResult) -> list[str]:
        return sorted(line for line in result.outlines if re.match(r"(PASSED|FAILED) ", line))

    # A random seed is chosen once, by the controller, and every worker uses it ...
    parallel, parallel_found = run("--gradcheck-seed=random", "-n", "2")
    parallel.stdout.fnmatch_lines(["*2 workers*"])
    seed = header_seed(parallel)
    assert {r["settings"]["seed"] for r in parallel_found.values()} == {seed}
    # ... and the results are those of a serial run with that seed.
    serial, serial_found = run(f"--gradcheck-seed={seed}")
    assert serial.parseoutcomes() == parallel.parseoutcomes() == {"passed": 9, "failed": 1}
    assert parallel_found == serial_found and len(serial_found) == 6
    assert outcomes(parallel) == outcomes(serial)


# --- the worked example ----------------------------------------------------------------

def test_examples_pass(pytester: pytest.Pytester) -> None:
    for example in sorted(EXAMPLES.glob("test_*")):
        shutil.copy(example, pytester.path / example.name)
    result = pytester.runpytest("-m", "gradcheck", "-v")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 5 and "failed" not in outcomes and "errors" not in outcomes


# --- the rough edges: seed of direct calls, hidden frames, bad-key lines, the HTML page ---

def test_assert_gradients_honours_the_run_seed(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import gradcheck

        def test_direct():
            report = gradcheck.assert_gradients("sin(w*x)", claimed={"w": "x*cos(w*x)"})
            assert report.settings["seed"] == 5, report.settings
            assert gradcheck.check("w**2").settings["seed"] == 5
            assert gradcheck.check("w**2", seed=2).settings["seed"] == 2  # explicit wins
    """)
    pytester.runpytest("--gradcheck-seed=5").assert_outcomes(passed=1)
    pytester.makepyfile(test_default="""
        import gradcheck

        def test_default():
            assert gradcheck.check("w**2").settings["seed"] == 0
    """)
    pytester.runpytest("test_default.py").assert_outcomes(passed=1)  # restored after the run


def test_assert_gradients_hides_its_frames(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import gradcheck

        def test_direct():
            gradcheck.assert_gradients("w**2", claimed={"w": "w"})
    """)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "api.py" not in text and "gradcheck.assert_gradients(" in text
    assert "FAILED: 1 mismatch of 1 check at 1 point" in text


def test_spec_error_points_at_the_line_of_the_bad_key() -> None:
    text = '[defaults]\nrtol = 1e-8\npionts = 3\n\n[[case]]\nexpression = "w**2"\n'
    with pytest.raises(SpecError, match=r"^f.toml:3: \[defaults\]: unknown key 'pionts'"):
        parse_spec(text, "f.toml")
    text = '[[case]]\nname = "a"\nexpression = "w**2"\nmethod = 3\n'
    with pytest.raises(SpecError, match=r"^f.toml:4: case 1 \('a'\): key 'method'"):
        parse_spec(text, "f.toml")


def test_html_report_of_a_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_mixed=PASSING + WRONG)
    pytester.makefile(".grad.toml", test_spec=SPEC)
    result = pytester.runpytest("--gradcheck-html=out")
    page = (pytester.path / "out" / "gradcheck.html").read_text(encoding="utf-8")
    result.stdout.fnmatch_lines(["gradcheck: HTML report written to out*gradcheck.html"])
    assert "test_mixed.py::test_quadratic" in page and "test_mixed.py::test_wrong" in page
    assert "test_spec.grad.toml::" in page and "mismatch (claimed)" in page
    assert "backward pass (first point)" in page and "<script" not in page
