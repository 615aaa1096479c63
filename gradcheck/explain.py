"""A Report's point explained: the backward pass (:class:`Trace`) and the computational
graph (:class:`Graph`), objects that print as text and display richly in a notebook.

Both record the expression on the tape at one checked point (:func:`gradcheck.trace.record`),
so they need a text expression; a function model is refused with the way round it. The
graph is drawn by Graphviz's ``dot`` program, through the ``graphviz`` Python package when
it is installed (``pip install 'gradcheck[notebook]'``), else by running ``dot`` directly.

Nothing heavy is imported at load: the CLI uses :func:`run_dot` and :func:`dot_missing`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from .errors import GradcheckError
from .trace import Recording, render_dot, render_trace

if TYPE_CHECKING:
    from .report import Report

__all__ = ["Trace", "Graph", "GraphvizMissing", "trace_report", "graph_report", "run_dot",
           "dot_missing", "dot_install", "GRAPH_FORMATS"]

# File suffix -> Graphviz output format (None: the DOT text itself).
GRAPH_FORMATS: dict[str, str | None] = {".dot": None, ".gv": None, ".svg": "svg", ".png": "png",
                                        ".pdf": "pdf"}
DOT_TIMEOUT = 60  # seconds; a graph of a few hundred nodes takes well under one


class GraphvizMissing(GradcheckError):
    """Graphviz's ``dot`` program is not installed; the message says how to install it."""


def dot_install() -> str:
    """The command that installs ``dot`` on this platform."""
    if sys.platform == "darwin":
        return "brew install graphviz"
    if sys.platform.startswith("win"):
        return "winget install graphviz"
    return "apt-get install graphviz (Debian/Ubuntu; dnf on Fedora)"


def dot_missing() -> str:
    """Why a drawing failed and how to get ``dot``, in one line."""
    return (f"Graphviz's 'dot' program is not installed: {dot_install()}, or conda install "
            "graphviz; the DOT text (.source, or a .dot file) needs no Graphviz")


def run_dot(source: str, fmt: str) -> bytes:
    """The DOT text drawn as ``fmt`` (svg, png, pdf) by Graphviz's ``dot``.

    Raises:
        GraphvizMissing: ``dot`` is not installed.
        GradcheckError: ``dot`` failed or took longer than a minute.
    """
    try:
        import graphviz  # the optional extra: finds dot the way its users expect
    except ImportError:
        graphviz = None
    if graphviz is not None:
        try:
            return graphviz.Source(source).pipe(format=fmt)
        except graphviz.ExecutableNotFound:
            raise GraphvizMissing(dot_missing()) from None
        except graphviz.CalledProcessError as error:
            raise GradcheckError(f"Graphviz 'dot' failed: {_first_line(error.stderr)}") from None
        except subprocess.TimeoutExpired:
            raise GradcheckError(f"Graphviz 'dot' took longer than {DOT_TIMEOUT} s") from None
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(dot_missing())
    try:
        result = subprocess.run([program, f"-T{fmt}"], input=source.encode(), capture_output=True,
                                timeout=DOT_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise GradcheckError(f"Graphviz 'dot' took longer than {DOT_TIMEOUT} s") from None
    if result.returncode != 0:
        raise GradcheckError(f"Graphviz 'dot' failed: {_first_line(result.stderr) or result.returncode}")
    return result.stdout


def _first_line(stderr: Any) -> str:
    text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else str(stderr or "")
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


@dataclass(frozen=True)
class Trace:
    """The backward pass of one point, tutorial style: per node its value, the incoming
    gradient, each input's local gradient and the chain-rule product.

    ``str(trace)`` is the text ``gradcheck expr ... --trace`` prints; in a notebook it
    displays as HTML tables. ``recording`` holds the numbers.
    """

    recording: Recording

    def __str__(self) -> str:
        return render_trace(self.recording)

    def _repr_html_(self) -> str:
        from .html import trace_html
        return trace_html(self.recording)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


@dataclass(frozen=True)
class Graph:
    """The computational graph of one point: values and gradients on the nodes, the
    parameters coloured by status (red: mismatch).

    ``source`` is the DOT text; ``svg()`` and ``render(path)`` call Graphviz's ``dot``.
    A notebook shows the SVG (or, without ``dot``, the DOT text and how to install it).
    """

    recording: Recording
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return render_dot(self.recording, self.statuses)

    def svg(self) -> str:
        """The graph as SVG text. Raises GraphvizMissing without Graphviz's ``dot``."""
        return run_dot(self.source, "svg").decode("utf-8")

    def render(self, path: str | Path) -> Path:
        """Write the graph to ``path``: ``.dot``/``.gv`` (the DOT text), ``.svg``, ``.png``
        or ``.pdf`` (drawn by ``dot``). Returns the path written."""
        target = Path(path)
        fmt = GRAPH_FORMATS.get(target.suffix.lower(), "?")
        if fmt == "?":
            raise GradcheckError(f"{target}: unknown graph format {target.suffix or '(none)'!r}; "
                                 "use a .dot, .svg, .png or .pdf file")
        try:
            if fmt is None:
                target.write_text(self.source, encoding="utf-8")
            else:
                target.write_bytes(run_dot(self.source, fmt))
        except OSError as error:
            raise GradcheckError(f"{target}: cannot write: {error.strerror or error}") from None
        return target

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        try:
            return {"image/svg+xml": self.svg(), "text/plain": "<gradcheck graph>"}
        except GradcheckError as error:  # a notebook shows why, and the text that needs no dot
            return {"text/plain": f"{error}\n\n{self.source}"}

    def __str__(self) -> str:
        return self.source


def _recording(report: Report, point: int, data: Mapping[str, Any] | None, what: str) -> Recording:
    from .trace import record

    if report.settings.get("model") == "function":
        raise GradcheckError(
            f"report.{what}() needs a text expression, and this Report checked the function "
            f"{report.expression}: check the formula as text (gradcheck.check(\"(w*x - y)**2\", ...)), "
            "or run your function on gradcheck.tape tensors and call gradcheck.tape.trace_backward")
    if "tape" in report.skipped:
        raise GradcheckError(f"report.{what}(): the tape cannot run this expression: "
                             f"{report.skipped['tape']}")
    if not -len(report.points) <= point < len(report.points):
        raise GradcheckError(f"report.{what}({point}): the report has {len(report.points)} "
                             f"point(s), numbered from 0")
    columns = list(report.settings.get("data", ()))
    given = dict(data) if data is not None else {n: report.values[n] for n in columns
                                                 if n in report.values}
    missing = [n for n in columns if n not in given]
    if missing:
        raise GradcheckError(f"report.{what}() needs the data column(s) {', '.join(missing)}, "
                             f"which this Report does not hold: pass them, e.g. "
                             f"report.{what}(data={{{missing[0]!r}: [...]}})")
    return record(report.expression, report.wrt, report.points[point].at, given or None,
                  report.settings.get("reduce", "sum"))


def trace_report(report: Report, point: int = 0, data: Mapping[str, Any] | None = None) -> Trace:
    """:meth:`Report.trace`."""
    return Trace(_recording(report, point, data, "trace"))


def graph_report(report: Report, point: int = 0, data: Mapping[str, Any] | None = None) -> Graph:
    """:meth:`Report.graph`."""
    recording = _recording(report, point, data, "graph")
    statuses = {r.name: r.status for r in report.points[point].params}
    return Graph(recording, statuses)
