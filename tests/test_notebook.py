"""Notebooks: the example notebook executed with nbclient, and the Trace and Graph
objects that report.trace() and report.graph() return."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gradcheck.api import check
from gradcheck.errors import GradcheckError
from gradcheck.explain import Graph, GraphvizMissing, Trace
from gradcheck.trace import render_trace

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "notebook.ipynb"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")


def wrong():
    return check("(w*x - y)**2", at={"x": 2.0, "y": 4.0, "w": 1.0}, inputs=["x", "y"],
                 claimed={"w": "2*(w*x - y)"})


def test_the_example_notebook_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
    nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")
    pytest.importorskip("ipykernel", reason="the test extra installs ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [c.outputs for c in nb.cells if c.cell_type == "code"]
    passing, failing, trace, graph = (o[0]["data"] for o in outputs[:4])
    assert "OK: symbolic, tape, numeric, claimed agree" in passing["text/html"]
    assert "mismatch (claimed)" in failing["text/html"] and "class='culprit'" in failing["text/html"]
    assert "backward pass" in trace["text/html"] and "trace: L =" in trace["text/plain"]
    if shutil.which("dot"):
        assert graph["image/svg+xml"].lstrip().startswith(("<?xml", "<svg"))
    else:
        assert "apt-get install graphviz" in graph["text/plain"]
    assert outputs[4][0]["text"].startswith("digraph gradcheck")


def test_trace_prints_the_cli_text():
    report = wrong()
    trace = report.trace()
    assert isinstance(trace, Trace) and str(trace) == render_trace(trace.recording)
    assert "dL/dw = -8" in str(trace)


def test_trace_of_a_data_loss_takes_its_columns():
    data = {"x": [1.0, 2.0], "y": [2.0, 4.0]}
    report = check("(w*x - y)**2", data=data)
    text = str(report.trace(data=data))
    assert "sum over 2 data rows" in text and "sum over rows of" in text
    report.values.clear()
    with pytest.raises(GradcheckError, match=r"needs the data column\(s\) x, y"):
        report.trace()


def test_graph_source_and_colours():
    graph = wrong().graph()
    assert isinstance(graph, Graph) and graph.source.startswith("digraph gradcheck")
    assert 'fillcolor="#f4cccc"' in graph.source  # w, whose claim is wrong, is red


@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"),
                                           (".dot", b"digraph")])
def test_graph_renders_every_format(tmp_path, suffix, magic):
    path = wrong().graph().render(tmp_path / f"g{suffix}")
    assert path.read_bytes().startswith(magic)


def test_graph_without_dot_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither the graphviz package nor we find dot
    graph = wrong().graph()
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        graph.svg()
    bundle = graph._repr_mimebundle_()
    assert "image/svg+xml" not in bundle and "digraph" in bundle["text/plain"]
    assert graph.render(tmp_path / "g.dot").exists()  # DOT text needs no Graphviz


def test_function_models_say_trace_needs_text():
    report = check(lambda w: np.sum(w ** 2), at={"w": np.ones(2)})
    with pytest.raises(GradcheckError, match="needs a text expression.*trace_backward"):
        report.trace()
    with pytest.raises(GradcheckError, match=r"report.graph\(\) needs a text expression"):
        report.graph()


def test_point_out_of_range_is_a_clear_error():
    with pytest.raises(GradcheckError, match=r"has 1 point\(s\), numbered from 0"):
        wrong().trace(3)
