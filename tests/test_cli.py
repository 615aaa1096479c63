"""The ``gradcheck`` command: driven in-process through click's CliRunner and as a real
subprocess (``python -m gradcheck.cli`` and, when installed, the console script).

Contract under test: exit 0 when every source agrees, 1 on a mismatch, 2 on bad input
with a one-line ``error:`` message on stderr and never a traceback; ``--json`` prints
exactly ``Report.to_dict()``; ``--trace`` and ``--graph`` explain the backward pass.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import gradcheck
from gradcheck import cli as cli_module
from gradcheck.api import DEFAULT_RTOL, check
from gradcheck.cli import cli
from gradcheck.trace import format_value

# The directory holding the imported gradcheck package: subprocesses import the same code.
PACKAGE_ROOT = str(Path(gradcheck.__file__).resolve().parents[1])


def runner() -> CliRunner:
    try:
        return CliRunner(mix_stderr=False)  # click 8.1: keep stderr apart
    except TypeError:
        return CliRunner()  # click >= 8.2: result.stdout and result.stderr are separate


def run(*args: str, env: dict | None = None):
    result = runner().invoke(cli, list(args), env=env, catch_exceptions=True)
    # CliRunner turns an escaped exception into result.exception; only SystemExit is allowed.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def subprocess_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GRADCHECK_DEBUG")}
    env["PYTHONPATH"] = os.pathsep.join([PACKAGE_ROOT] + [p for p in [env.get("PYTHONPATH")] if p])
    env.update(extra)
    return env


def run_process(*args: str, command=None, **extra_env: str) -> subprocess.CompletedProcess:
    command = command or [sys.executable, "-m", "gradcheck.cli"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120,
                          env=subprocess_env(**extra_env), encoding="utf-8")


def assert_input_error(result_stdout: str, result_stderr: str, code: int) -> None:
    """Exit 2, an ``error:`` line on stderr, nothing on stdout, no traceback."""
    assert code == 2, (result_stdout, result_stderr)
    assert result_stderr.startswith("error: "), result_stderr
    assert "Traceback" not in result_stderr + result_stdout
    assert "internal error" not in result_stderr
    assert result_stdout == ""
    lines = result_stderr.rstrip("\n").splitlines()
    assert len(lines) <= 3  # the message, plus at most the two caret lines of ExpressionError
    assert all(len(line) <= 500 for line in lines)


# --------------------------------------------------------------------------- first run

def test_bare_expression_checks_every_variable_and_shows_the_seed():
    result = run("expr", "(w*x - y)**2")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("gradcheck: (w*x - y)**2\n")
    header = next(line for line in out.splitlines() if "parameter" in line)
    for column in ("derivative", "symbolic", "tape", "numeric ± error", "status"):
        assert column in header
    rows = {line.split()[0]: line for line in out.splitlines()[3:6]}
    assert set(rows) == {"w", "x", "y"}
    assert "2*x*(w*x - y)" in rows["w"] and rows["w"].rstrip().endswith("ok")
    assert out.rstrip().splitlines()[-1].startswith("OK: symbolic, tape, numeric agree")
    assert out.rstrip().endswith("(seed 0)")
    assert result.stderr == ""


def test_table_is_the_library_report_rendered():
    from gradcheck.render import render_table

    result = run("expr", "w1*x**2 + w2*x + b", "--wrt", "w1,w2,b", "--at", "x=2", "--seed", "7")
    report = check("w1*x**2 + w2*x + b", ["w1", "w2", "b"], {"x": 2.0}, seed=7)
    assert result.exit_code == 0
    assert result.stdout == render_table(report) + "\n"
    assert "(seed 7)" in result.stdout


def test_claimed_column_and_mismatch_exit_code():
    ok = run("expr", "(w*x - y)**2", "--wrt", "w", "--data", "x=1,2,3", "--data", "y=2,4,6",
             "--claim", "w=2*x*(w*x - y)")
    assert ok.exit_code == 0, ok.output
    assert "claimed" in ok.stdout
    bad = run("expr", "(w*x - y)**2", "--wrt", "w", "--data", "x=1,2,3", "--data", "y=2,4,6",
              "--claim", "w=x*(w*x - y)")
    assert bad.exit_code == 1
    row = next(line for line in bad.stdout.splitlines() if line.strip().startswith("w "))
    assert "mismatch (claimed)" in row
    assert "FAILED" in bad.stdout and "(seed 0)" in bad.stdout
    assert bad.stderr == ""


def test_kinks_fail_unless_allowed():
    strict = run("expr", "abs(w)", "--at", "w=0")
    assert strict.exit_code == 1
    assert "nondifferentiable" in strict.stdout
    allowed = run("expr", "abs(w)", "--at", "w=0", "--allow-kinks")
    assert allowed.exit_code == 0
    assert "OK with kinks allowed" in allowed.stdout


def test_undefined_point_fails():
    result = run("expr", "log(w)", "--at", "w=-1", "--allow-kinks")
    assert result.exit_code == 1
    assert "undefined" in result.stdout


def test_expression_starting_with_minus_is_not_an_option():
    result = run("expr", "-x**2", "--at", "x=1.5")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("gradcheck: -x**2")
    both = run("expr", "--at", "x=1.5", "-log(x)", "--atol", "0")
    assert both.exit_code == 0, both.output


# --------------------------------------------------------------------------- --json

def test_json_is_exactly_the_report_dict():
    args = dict(wrt=["w"], at={"w": 0.5}, data={"x": [1.0, 2.0], "y": [2.0, 5.0]}, seed=3)
    result = run("expr", "(w*x - y)**2", "--wrt", "w", "--at", "w=0.5", "--data", "x=1,2",
                 "--data", "y=2,5", "--seed", "3", "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    expected = check("(w*x - y)**2", **args).to_dict()
    assert json.loads(result.stdout) == json.loads(json.dumps(expected))


def test_json_mismatch_keeps_exit_code_1_and_names_culprit():
    result = run("expr", "sin(w)", "--claim", "w=-cos(w)", "--points", "3", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["settings"]["points"] == 3
    assert {p["params"][0]["culprit"] for p in report["points"]} == {"claimed"}


def test_at_forms_are_equivalent():
    repeated = run("expr", "w1*x + w2", "--at", "x=2", "--at", "w1=1", "--at", "w2=-3", "--json")
    comma = run("expr", "w1*x + w2", "--at", "x=2,w1=1, w2=-3", "--json")
    assert repeated.exit_code == comma.exit_code == 0
    assert json.loads(repeated.stdout) == json.loads(comma.stdout)
    assert json.loads(comma.stdout)["points"][0]["at"] == {"w1": 1.0, "w2": -3.0, "x": 2.0}


def test_inputs_are_held_fixed():
    result = run("expr", "w*x", "--inputs", "x", "--json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["wrt"] == ["w"] and report["settings"]["inputs"] == ["x"]


def test_options_reach_the_library():
    result = run("expr", "sin(w)*x", "--points", "4", "--seed", "11", "--rtol", "1e-6",
                 "--atol", "1e-12", "--method", "central", "--reduce", "mean", "--json")
    assert result.exit_code == 0, result.output
    settings = json.loads(result.stdout)["settings"]
    assert settings["points"] == 4 and settings["seed"] == 11
    assert settings["rtol"] == 1e-6 and settings["atol"] == 1e-12 and settings["method"] == "central"


# --------------------------------------------------------------------------- data files

def test_data_file_csv_and_json_equal_data_options(tmp_path):
    csv_file = tmp_path / "rows.csv"
    csv_file.write_text("x, y\n1,2\n\n2,4.5\n3,6\n", encoding="utf-8")
    json_file = tmp_path / "rows.json"
    json_file.write_text('{"x": [1, 2, 3], "y": [2, 4.5, 6]}', encoding="utf-8")
    common = ["expr", "(w*x - y)**2", "--at", "w=1.5", "--reduce", "mean", "--json"]
    inline = run(*common, "--data", "x=1,2,3", "--data", "y=2,4.5,6")
    from_csv = run(*common, "--data-file", str(csv_file))
    from_json = run(*common, "--data-file", str(json_file))
    assert inline.exit_code == from_csv.exit_code == from_json.exit_code == 0
    assert json.loads(inline.stdout) == json.loads(from_csv.stdout) == json.loads(from_json.stdout)
    assert json.loads(from_csv.stdout)["settings"]["data_rows"] == 3


def test_data_file_semicolon_separated(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("x;y\n1;2\n2;4\n", encoding="utf-8")
    result = run("expr", "(w*x - y)**2", "--data-file", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["settings"]["data_rows"] == 2


@pytest.mark.parametrize("name, content, expected", [
    ("ragged.csv", "x,y\n1,2\n3\n", "ragged.csv:3: 1 value(s), but the header has 2 column(s)"),
    ("word.csv", "x,y\n1,2\n3,abc\n", "word.csv:3: column 'y': 'abc' is not a number"),
    ("nan.csv", "x,y\n1,nan\n", "nan.csv:2: column 'y': 'nan' is not a finite number"),
    ("empty.csv", "", "empty.csv: empty file"),
    ("header.csv", "x,y\n", "header.csv: no data rows"),
    ("dup.csv", "x,x\n1,2\n", "dup.csv:1: column 'x' appears twice"),
    ("badname.csv", "x,y z\n1,2\n", "badname.csv:1: header: 'y z' is not a variable name"),
    ("unequal.json", '{"x": [1, 2, 3], "y": [1, 2]}', "unequal lengths"),
    ("broken.json", '{"x": [1, 2,\n', "broken.json:2: invalid JSON"),
    ("list.json", "[1, 2, 3]", "list.json: expected a JSON object of columns"),
    ("strings.json", '{"x": ["1"], "y": [2]}', "strings.json: column 'x', item 1: '1' is not a number"),
    ("bools.json", '{"x": [true], "y": [2]}', "is not a number"),
    ("unknown.csv", "x,z\n1,2\n", "data column 'z' is not a variable of the expression"),
])
def test_bad_data_files_name_file_and_line(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run("expr", "(w*x - y)**2", "--data-file", str(path))
    assert_input_error(result.stdout, result.stderr, result.exit_code)
    assert expected in result.stderr


def test_unreadable_data_files(tmp_path):
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00\x00")
    for path, expected in [(tmp_path / "missing.csv", "no such data file"),
                           (tmp_path, "is a directory"),
                           (binary, "not a UTF-8 text file")]:
        result = run("expr", "(w*x - y)**2", "--data-file", str(path))
        assert_input_error(result.stdout, result.stderr, result.exit_code)
        assert expected in result.stderr


# --------------------------------------------------------------------------- --trace

def test_trace_shows_the_graph_the_user_wrote_with_inputs_as_nodes():
    result = run("expr", "(x*w - y)**2", "--at", "x=1,y=2,w=1", "--wrt", "w", "--trace")
    assert result.exit_code == 0, result.output
    trace = result.stdout[result.stdout.index("trace:"):]
    for step in ("v0  mul(x, w)", "v1  sub(v0, y)", "v2  pow(v1, 2)"):
        assert step in trace, trace
    assert "dv2/dv1 = 2*v1 = -2" in trace and "y         (input: no gradient)" in trace


def test_graph_keeps_powers_and_inputs_of_the_expression(tmp_path):
    path = tmp_path / "g.dot"
    result = run("expr", "(x*w - y)**2", "--at", "x=1,y=2,w=1", "--wrt", "w", "--graph", str(path))
    assert result.exit_code == 0, result.output
    dot = path.read_text()
    assert '"x" -> "v0"' in dot and '"y" -> "v1"' in dot and "pow  value=1" in dot
    assert 'label="-2"' not in dot  # y is a node, not folded into a constant -2
    path2 = tmp_path / "q.dot"
    run("expr", "w1*x**2 + w2*x + b", "--at", "x=2", "--inputs", "x", "--graph", str(path2))
    dot2 = path2.read_text()
    assert '"x" -> "v0"' in dot2 and "pow  value=4" in dot2


def test_trace_of_x_times_w_shows_the_chain_rule():
    result = run("expr", "x*w", "--at", "x=2", "--at", "w=3", "--trace")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "dL/dw = 2" in out and "dL/dx = 3" in out
    trace = out[out.index("trace:"):]
    assert "at w=3, x=2" in trace
    # The node with its forward value, incoming gradient, local gradients and products.
    # node = op(inputs) as the user wrote it, forward value 6, incoming gradient 1, then
    # the first input
    assert re.search(r"v0 = mul\(x, w\)\s+6\s+1\s+x\s", trace), trace
    assert "dv0/dw = x = 2" in trace and "2 × 1 = 2" in trace
    assert "dv0/dx = w = 3" in trace and "3 × 1 = 3" in trace


def test_trace_with_data_sums_the_rows_to_the_tape_gradient():
    args = ["(w*x - y)**2 + 2*b", "--wrt", "w,b", "--at", "w=0.5,b=1", "--data", "x=1,2,3",
            "--data", "y=2,4,7"]
    result = run("expr", *args, "--trace")
    assert result.exit_code == 0, result.output
    report = check("(w*x - y)**2 + 2*b", ["w", "b"], {"w": 0.5, "b": 1.0},
                   data={"x": [1, 2, 3], "y": [2, 4, 7]})
    tape = {p.name: p.tape for p in report.points[0].params}
    assert f"dL/dw = {format_value(tape['w'])}" in result.stdout
    assert "dL/db = 6" in result.stdout
    assert "held fixed: x (data), y (data)" in result.stdout
    assert "sum over rows of [1, 2, 3] ×" in result.stdout  # d(w*x)/dw row by row
    assert "sum(" in result.stdout  # the reduction over the rows is a node of the graph


def test_trace_names_held_fixed_inputs():
    result = run("expr", "w*x + 3", "--inputs", "x", "--at", "x=2,w=5", "--trace")
    assert result.exit_code == 0
    assert "mul(w, x)" in result.stdout
    assert "(input: no gradient)" in result.stdout
    assert "dL/dw = 2" in result.stdout and "dL/dx" not in result.stdout


def test_trace_when_the_loss_is_a_parameter():
    result = run("expr", "w", "--at", "w=2", "--trace")
    assert result.exit_code == 0
    assert "dL/dw = 1" in result.stdout


# --------------------------------------------------------------------------- --graph

def test_graph_dot_labels_like_the_tutorial(tmp_path):
    path = tmp_path / "g.dot"
    result = run("expr", "x*w", "--at", "x=2,w=3", "--graph", str(path))
    assert result.exit_code == 0, result.output
    dot = path.read_text(encoding="utf-8")
    assert dot.startswith("digraph gradcheck {") and dot.rstrip().endswith("}")
    assert 'label="mul  value=6  grad=1"' in dot
    assert 'label="w  value=3  grad=2"' in dot and 'label="x  value=2  grad=3"' in dot
    assert '"w" -> "v0";' in dot and '"x" -> "v0";' in dot
    assert f"graph written to {path}" in result.stderr
    assert "digraph" not in result.stdout


def test_graph_highlights_the_mismatching_parameter(tmp_path):
    path = tmp_path / "g.dot"
    result = run("expr", "w1*x + w2", "--at", "x=2", "--claim", "w1=3", "--graph", str(path))
    assert result.exit_code == 1
    lines = path.read_text(encoding="utf-8").splitlines()
    w1 = next(line for line in lines if line.strip().startswith('"w1" ['))
    w2 = next(line for line in lines if line.strip().startswith('"w2" ['))
    assert 'fillcolor="#f4cccc"' in w1 and "mismatch" in w1
    assert "#f4cccc" not in w2


def test_graph_svg_without_graphviz_names_the_package(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    target = tmp_path / "g.svg"
    result = run("expr", "x*w", "--at", "x=2,w=3", "--graph", str(target))
    assert result.exit_code == 2
    assert "Graphviz 'dot' not found" in result.stderr and "graphviz" in result.stderr
    assert "Traceback" not in result.output
    assert not target.exists()
    assert (tmp_path / "g.dot").read_text(encoding="utf-8").startswith("digraph")
    assert "OK:" in result.stdout  # the check itself still ran and printed


@pytest.mark.skipif(sys.platform == "win32", reason="a POSIX shell script stands in for dot")
def test_graph_svg_and_png_call_dot(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "dot"
    fake.write_text(textwrap.dedent("""\
        #!/bin/sh
        # a stand-in for Graphviz: records its arguments, writes the DOT text to -o FILE
        echo "$@" > "$(dirname "$0")/args"
        out=""
        while [ $# -gt 0 ]; do
          if [ "$1" = "-o" ]; then out="$2"; fi
          shift
        done
        cat > "$out"
        """))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir) + os.pathsep + os.environ.get("PATH", ""))
    for suffix in ("svg", "png", "pdf"):
        target = tmp_path / f"g.{suffix}"
        result = run("expr", "x*w", "--at", "x=2,w=3", "--graph", str(target))
        assert result.exit_code == 0, result.output
        assert (bin_dir / "args").read_text().startswith(f"-T{suffix} -o ")
        assert target.read_text().startswith("digraph gradcheck")


def test_graph_into_missing_directory_is_an_input_error(tmp_path):
    result = run("expr", "x*w", "--graph", str(tmp_path / "no" / "such" / "dir" / "g.dot"))
    assert result.exit_code == 2
    assert "error: --graph" in result.stderr and "cannot write" in result.stderr
    assert result.stdout == ""  # refused before the check ran


@pytest.mark.parametrize("option", ["--graph", "--html"])
def test_unwritable_outputs_fail_before_the_check(tmp_path, monkeypatch, option):
    monkeypatch.setattr(cli_module, "_Progress", None)  # the check would need it: never reached
    suffix = ".svg" if option == "--graph" else ".html"
    for bad in (tmp_path / "missing" / f"out{suffix}", tmp_path):
        result = run("expr", "x*w", option, str(bad))
        assert result.exit_code == 2 and result.stdout == "", result.output
        assert f"error: {option}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing left behind


def test_without_dot_an_existing_dot_file_is_kept(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    (tmp_path / "g.dot").write_text("my own graph", encoding="utf-8")
    result = run("expr", "x*w", "--at", "x=2,w=3", "--graph", str(tmp_path / "g.svg"))
    assert result.exit_code == 2
    assert (tmp_path / "g.dot").read_text(encoding="utf-8") == "my own graph"
    assert "exists, so the DOT text was not written either" in result.stderr
    assert "apt-get install graphviz" in result.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graph_pdf_with_real_dot(tmp_path):
    target = tmp_path / "g.pdf"
    result = run("expr", "x*w", "--at", "x=2,w=3", "--graph", str(target))
    assert result.exit_code == 0 and target.read_bytes().startswith(b"%PDF")


def test_html_report_is_written(tmp_path):
    target = tmp_path / "r.html"
    result = run("expr", "x*w", "--at", "x=2,w=3", "--html", str(target))
    assert result.exit_code == 0 and f"HTML report written to {target}" in result.stderr
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "backward pass" in page


def test_an_error_inside_a_claim_names_the_claim():
    result = run("expr", "(w*x - y)**2", "--data", "x=1,2", "--data", "y=2,4", "--claim", "w=2*x*(w*x - y")
    assert result.exit_code == 2
    first = result.stderr.splitlines()[0]
    assert first.startswith("error: --claim w=2*x*(w*x - y: ") and "never closed" in first
    assert "^" in result.stderr  # the caret still points into the claim


def test_help_examples_are_right_and_say_claims_are_per_row():
    text = run("expr", "--help").stdout
    assert 'w1="2*x*w1"' not in text and '--claim w1="x**2"' in text
    assert "per data row" in text and "reduces it over the rows like the loss" in " ".join(text.split())
    check_line = next(line for line in text.splitlines() if "--claim w1=" in line)
    assert run(*__import__("shlex").split(check_line.strip())[1:]).exit_code == 0  # the example passes


# --------------------------------------------------------------------------- colour

def test_colour_only_when_asked_or_on_a_terminal(monkeypatch):
    args = ["expr", "w1*x + w2", "--at", "x=2", "--claim", "w1=3"]
    plain = run(*args)
    assert "\x1b[" not in plain.stdout  # CliRunner's stdout is not a terminal
    forced = run(*args, "--color")
    assert "\x1b[31m" in forced.stdout and "\x1b[32m" in forced.stdout  # red mismatch, green ok
    assert "\x1b[" not in run(*args, "--no-color").stdout
    assert "\x1b[" not in run(*args, "--color", env={"NO_COLOR": "1"}).stdout


def test_use_color_follows_the_terminal(monkeypatch):
    monkeypatch.setattr(cli_module, "_is_terminal", lambda name: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cli_module._use_color(None) is True
    assert cli_module._use_color(False) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli_module._use_color(None) is False
    assert cli_module._use_color(True) is False


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
def test_colour_on_a_real_terminal_and_never_with_no_color():
    import pty

    def on_terminal(**env: str) -> str:
        leader, follower = pty.openpty()
        try:
            proc = subprocess.run([sys.executable, "-m", "gradcheck.cli", "expr", "x*w", "--at", "x=2,w=3"],
                                  stdout=follower, stderr=subprocess.PIPE, timeout=120,
                                  env=subprocess_env(**env))
            os.close(follower)
            follower = -1
            chunks = []
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO once the terminal has no writer left
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            assert proc.returncode == 0, proc.stderr
            return b"".join(chunks).decode()
        finally:
            os.close(leader)
            if follower != -1:
                os.close(follower)

    assert "\x1b[32m" in on_terminal()
    assert "\x1b[" not in on_terminal(NO_COLOR="1")


# --------------------------------------------------------------------------- progress

def test_slow_check_shows_progress_on_stderr_only(monkeypatch):
    import gradcheck.api

    real = gradcheck.api.check

    def slow(*args, **kwargs):
        time.sleep(0.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(gradcheck.api, "check", slow)
    monkeypatch.setattr(cli_module, "PROGRESS_AFTER", 0.05)
    result = run("expr", "x*w", "--points", "3", "--json")
    assert result.exit_code == 0
    assert "checking 3 points" in result.stderr and "done in" in result.stderr
    assert json.loads(result.stdout)["settings"]["points"] == 3


def test_fast_block_prints_no_progress(capsys):
    with cli_module._Progress("checking", after=30):
        pass
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- bad input

HOSTILE_EXPRESSIONS = [
    "__import__('os').system('echo pwned')",
    "().__class__.__bases__[0].__subclasses__()",
    "exec('import os')",
    "eval('1')",
    "open('/etc/passwd').read()",
    "lambda: 0",
    "x; import os",
    "x if w else 1",
    "[x, w]",
    "x.real",
    "x[0]",
    "'x'",
    "x = 1",
    "(x*w",
    "x*w)",
    "((x)",
    ")(",
    "",
    "   ",
    "x**",
    "1 +",
    "2",
    "x × w",
    "x ≤ 1",
    "\x1b[2J\x1b[31mx",
    "x\x00w",
    "x*" * 5000,             # 10,000 characters, ends with an operator
    "(" * 5000 + "x",        # unbalanced, 5,001 characters
    "sin(" * 2500 + "x",     # 10,001 characters
    "unknownfunc(x)",
]


@pytest.mark.parametrize("expression", HOSTILE_EXPRESSIONS,
                         ids=[repr(e[:30]) + f"+{len(e)}" for e in HOSTILE_EXPRESSIONS])
def test_hostile_expressions_are_input_errors(expression):
    result = run("expr", "--", expression)
    assert_input_error(result.stdout, result.stderr, result.exit_code)
    assert "\x1b" not in result.stderr  # the user's control characters are escaped


def test_long_but_valid_expressions_never_crash():
    for expression in ["+".join(["x*w"] * 2500), "x" * 10_000, "+".join(f"w{i}" for i in range(1200))]:
        result = run("expr", expression, "--json")
        assert result.exit_code in (0, 2), result.output
        assert "Traceback" not in result.output and "internal error" not in result.stderr
        if result.exit_code == 0:
            assert json.loads(result.stdout)["ok"] is True
        else:
            assert result.stderr.startswith("error: ")


HOSTILE_OPTIONS = [
    (["--at", "x=abc"], "'abc' is not a number"),
    (["--at", "x"], "expected name=value"),
    (["--at", "=2"], "missing the variable name"),
    (["--at", "x=1", "--at", "x=2"], "'x' is given twice"),
    (["--at", "x=1,x=2"], "'x' is given twice"),
    (["--at", "z=1"], "'z' is not a variable of the expression"),
    (["--at", "x=nan"], "not a finite number"),
    (["--at", "x=1e999"], "not a finite number"),
    (["--at", "x=1,2"], "expected name=value"),
    (["--at", "__import__('os')=1"], "is not a variable name"),
    (["--data", "x=1,2,3", "--data", "y=1,2"], "unequal lengths"),
    (["--data", "x=1,,3", "--data", "y=1,2,3"], "value 2 of 'x'"),
    (["--data", "x="], "has no values"),
    (["--data", "x=a,b"], "'a' is not a number"),
    (["--data", "x=1", "--data", "x=2"], "column 'x' is given twice"),
    (["--data", "z=1,2"], "data column 'z' is not a variable"),
    (["--data", "x1,2"], "expected name=v1,v2"),
    (["--at", "x=1", "--data", "x=1,2"], "'x' is given both with --at and as a data column"),
    (["--data", "x=1", "--data-file", "rows.csv"], "not both"),
    (["--wrt", "z"], "parameter 'z' is not a variable"),
    (["--wrt", "w,w"], "listed twice"),
    (["--wrt", ","], "--wrt is empty"),
    (["--wrt", "x", "--data", "x=1,2", "--data", "y=1,2"], "is a data column"),
    (["--inputs", "q"], "input 'q' is not a variable"),
    (["--inputs", "x,y,w"], "nothing to differentiate"),
    (["--claim", "w"], "expected parameter=expression"),
    (["--claim", "w="], "is empty"),
    (["--claim", "z=1"], "'z', which is not a parameter"),
    (["--claim", "w=__import__('os')"], ""),
    (["--claim", "w=(x"], ""),
    (["--claim", "w=q*x"], "uses q"),
    (["--claim", "w=x", "--claim", "w=y"], "'w' is given twice"),
    (["--points", "0"], "points must be a whole number"),
    (["--points", "abc"], "'abc' is not a valid integer"),
    (["--points", "-5"], "points must be a whole number"),
    (["--points", "10000000"], "points must be a whole number"),
    (["--seed", "-1"], "--seed"),
    (["--seed", "x"], "--seed"),
    (["--rtol", "-1"], "rtol must be a finite number"),
    (["--rtol", "nan"], "rtol must be a finite number"),
    (["--atol", "inf"], "atol must be a finite number"),
    (["--atol", "abc"], "'abc' is not a valid float"),
    (["--method", "magic"], "'magic' is not one of"),
    (["--reduce", "max"], "'max' is not one of"),
    (["--graph", "graph.jpg"], "use a .dot, .svg, .png or .pdf file"),
    (["--graph", "graph"], "use a .dot, .svg, .png or .pdf file"),
    (["--json", "--trace"], "cannot be combined"),
    (["--tol", "1"], "No such option '--tol'"),
    (["--at"], "requires an argument"),
]


@pytest.mark.parametrize("options, expected", HOSTILE_OPTIONS, ids=[" ".join(o) for o, _ in HOSTILE_OPTIONS])
def test_bad_options_are_input_errors(options, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("expr", "(w*x - y)**2", *options)
    assert_input_error(result.stdout, result.stderr, result.exit_code)
    assert expected in result.stderr


@pytest.mark.parametrize("args, expected", [
    (["expr"], "missing the expression to check"),
    (["(w*x - y)**2"], "gradcheck expr '(w*x - y)**2'"),
    (["exp", "x"], "did you mean 'expr'?"),
    (["expr", "w*x", "-", "y"], "put the whole expression in quotes"),
    (["--verbose"], "No such option"),
])
def test_usage_errors_guide_a_newcomer(args, expected):
    result = run(*args)
    assert_input_error(result.stdout, result.stderr, result.exit_code)
    assert expected in result.stderr


def test_expression_error_points_at_the_column():
    result = run("expr", "x*(w + 1")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ")
    if len(lines) == 3:  # ExpressionError.caret: the text, then ^ under the bad spot
        assert lines[1].strip() == "x*(w + 1"
        assert lines[2].strip() == "^"


def test_internal_errors_are_one_line_and_exit_3(monkeypatch):
    import gradcheck.api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(gradcheck.api, "check", broken)
    monkeypatch.delenv("GRADCHECK_DEBUG", raising=False)
    result = run("expr", "x*w")
    assert result.exit_code == 3
    assert result.stderr.startswith("internal error: ZeroDivisionError: a bug")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- help, version

def test_help_and_version():
    top = run("--help")
    assert top.exit_code == 0
    assert "expr" in top.stdout and 'gradcheck expr "(w*x - y)**2"' in top.stdout
    assert run().stdout == top.stdout  # no arguments: the same help
    assert run("help").stdout == top.stdout
    version = run("--version")
    assert version.exit_code == 0 and version.stdout == f"gradcheck {gradcheck.__version__}\n"
    sub = run("expr", "-h")
    assert sub.exit_code == 0
    for option in ("--wrt", "--at", "--data", "--data-file", "--reduce", "--claim", "--points",
                   "--seed", "--rtol", "--atol", "--method", "--json", "--trace", "--graph",
                   "--no-color", "--inputs", "--allow-kinks"):
        assert option in sub.stdout
    assert f"{DEFAULT_RTOL:g}" in sub.stdout  # the documented default is the library's


# --------------------------------------------------------------------------- real processes

def test_module_subprocess_exit_codes_and_streams(tmp_path):
    ok = run_process("expr", "(w*x - y)**2", "--json")
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == ""
    assert json.loads(ok.stdout) == json.loads(json.dumps(check("(w*x - y)**2").to_dict()))

    mismatch = run_process("expr", "x*w", "--claim", "w=2*x")
    assert mismatch.returncode == 1
    assert "mismatch (claimed)" in mismatch.stdout and mismatch.stderr == ""

    for args in (["expr", "x*w", "--at", "x=abc"], ["expr", "(x*w"], ["expr", ""],
                 ["expr", "x*" * 5000], ["expr", "__import__('os').system('echo pwned')"],
                 ["expr", "x*w", "--data", "x=1,2", "--data", "w=1,2,3"],
                 ["expr", "x*w", "--data-file", str(tmp_path / "missing.csv")],
                 ["expr", "x × w"], ["nonsense"]):
        bad = run_process(*args)
        assert_input_error(bad.stdout, bad.stderr, bad.returncode)
        assert "pwned" not in bad.stdout


def test_trace_in_a_subprocess():
    result = run_process("expr", "x*w", "--at", "x=2", "--at", "w=3", "--trace")
    assert result.returncode == 0, result.stderr
    assert "dL/dw = 2" in result.stdout and "dL/dx = 3" in result.stdout


@pytest.mark.skipif(shutil.which("gradcheck") is None, reason="the console script is not installed")
def test_installed_console_script():
    script = [shutil.which("gradcheck")]
    version = run_process("--version", command=script)
    assert version.returncode == 0 and version.stdout.startswith("gradcheck ")
    ok = run_process("expr", "(w*x - y)**2", "--json", command=script)
    assert ok.returncode == 0 and json.loads(ok.stdout)["ok"] is True and ok.stderr == ""
    bad = run_process("expr", "x*w", "--at", "x=abc", command=script)
    assert_input_error(bad.stdout, bad.stderr, bad.returncode)
    mismatch = run_process("expr", "x*w", "--claim", "w=2*x", command=script)
    assert mismatch.returncode == 1


def test_cli_module_imports_no_heavy_modules():
    code = ("import sys, gradcheck; before = set(sys.modules); import gradcheck.cli; "
            "new = set(sys.modules) - before; "
            "print(sorted(m for m in new if m.split('.')[0] in ('sympy', 'numpy', 'mpmath') "
            "or m in ('gradcheck.api', 'gradcheck.trace', 'gradcheck.tape')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=subprocess_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_and_early_input_errors_do_not_import_sympy():
    """Cold start stays fast: SymPy/NumPy load only when a check actually runs."""
    for args in (["--help"], ["expr", "--help"], ["--version"], ["expr", "x", "--at", "x=abc"]):
        code = ("import sys\nfrom gradcheck.cli import main\n"
                f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
                "print('heavy:', sorted(m for m in ('sympy', 'numpy') if m in sys.modules), file=sys.stderr)")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                env=subprocess_env(), timeout=120)
        assert result.stderr.strip().splitlines()[-1] == "heavy: []", (args, result.stderr)


def test_readme_says_claims_are_per_data_row():
    readme = (Path(PACKAGE_ROOT) / "README.md").read_text(encoding="utf-8")
    assert "**for one data row**" in readme and "reduces it over the rows exactly like" in readme
