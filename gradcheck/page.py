"""The HTML report: one self-contained page with every check of a run (its table, the
backward trace and the graph of its first point), the artifact a CI job keeps.

Self-contained means no network: styles inline, graphs as inline SVG, no script. Where
Graphviz's ``dot`` is missing the page shows the DOT text and how to install ``dot``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from .errors import GradcheckError
from .html import STYLE, report_html, trace_html

if TYPE_CHECKING:
    from .report import Report

__all__ = ["Entry", "page_html", "write_page"]

PAGE_STYLE = """
body { margin: 1.5em auto; max-width: 72em; padding: 0 1em; background: #fff; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 1.6em; }
section { border-top: 1px solid #dadce0; padding-top: 0.4em; }
nav li.ok::marker { color: #1e6b34; } nav li.failed::marker { color: #a50e0e; }
details { margin: 0.5em 0; } summary { cursor: pointer; font-weight: bold; }
.graph svg { max-width: 100%; height: auto; }
pre { background: #f8f9fa; padding: 0.5em; overflow-x: auto; font-size: 12px; }
"""


@dataclass
class Entry:
    """One check on the page: a title (a test's id, or the command), its Report, and the
    data columns the trace needs when the Report does not hold them."""

    title: str
    report: Report
    data: Mapping[str, Any] | None = None
    allow_kinks: bool = False
    extra: dict[str, str] = field(default_factory=dict)  # label -> text, e.g. the test's error


def _explained(entry: Entry) -> str:
    """The trace and the graph of the first point, or why they cannot be shown."""
    from .explain import GraphvizMissing, graph_report, trace_report

    try:
        trace = trace_report(entry.report, 0, entry.data)
        graph = graph_report(entry.report, 0, entry.data)
    except GradcheckError as error:
        return f"<p class='muted'>no trace or graph: {escape(str(error))}</p>"
    parts = ["<details open><summary>backward pass (first point)</summary>",
             trace_html(trace.recording), "</details>",
             "<details open><summary>computational graph (first point)</summary>"]
    try:
        svg = graph.svg()
        parts.append(f"<div class='graph'>{svg[svg.find('<svg'):]}</div>")
    except GraphvizMissing as error:
        parts.append(f"<p class='muted'>{escape(str(error))}</p><pre>{escape(graph.source)}</pre>")
    except GradcheckError as error:
        parts.append(f"<p class='muted'>{escape(str(error))}</p><pre>{escape(graph.source)}</pre>")
    parts.append("</details>")
    return "\n".join(parts)


def page_html(entries: Sequence[Entry], title: str = "gradcheck report") -> str:
    """The whole page as text."""
    failed = sum(e.report.exit_code(e.allow_kinks) != 0 for e in entries)
    summary = (f"{len(entries)} check{'s' if len(entries) != 1 else ''}, "
               f"{failed} failed" if entries else "no gradient checks ran")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>{escape(title)}</title><style>{PAGE_STYLE}{STYLE}</style></head>",
             "<body class='gradcheck'>", f"<h1>{escape(title)}</h1>",
             f"<p id='summary'>{escape(summary)} <span class='muted'>({stamp})</span></p>"]
    if entries:
        parts.append("<nav><ol>")
        for i, e in enumerate(entries):
            state = "failed" if e.report.exit_code(e.allow_kinks) else "ok"
            parts.append(f"<li class='{state}'><a href='#check-{i}'>{escape(e.title)}</a> "
                         f"({state})</li>")
        parts.append("</ol></nav>")
    for i, e in enumerate(entries):
        state = "failed" if e.report.exit_code(e.allow_kinks) else "ok"
        parts += [f"<section id='check-{i}' data-status='{state}'>", f"<h2>{escape(e.title)}</h2>",
                  report_html(e.report, e.allow_kinks)]
        for label, text in e.extra.items():
            parts.append(f"<details><summary>{escape(label)}</summary><pre>{escape(text)}</pre></details>")
        parts.append(_explained(e))
        data = json.dumps(e.report.to_dict(), indent=1, allow_nan=False)
        parts += ["<details><summary>JSON (Report.to_dict())</summary>",
                  f"<pre>{escape(data)}</pre></details>", "</section>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_page(path: str | Path, entries: Sequence[Entry], title: str = "gradcheck report") -> Path:
    """Write :func:`page_html` to ``path`` (UTF-8); GradcheckError if it cannot be written."""
    target = Path(path)
    try:
        target.write_text(page_html(entries, title), encoding="utf-8")
    except OSError as error:
        raise GradcheckError(f"{target}: cannot write the HTML report: {error.strerror or error}") from None
    return target
