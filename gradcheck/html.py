"""A Report and a Trace as HTML (Jupyter's ``_repr_html_``, the ``--html`` page) and as
Markdown (other front ends).

The HTML is a fragment with its own inline styles (``STYLE``), so it reads the same in
a notebook, in the self-contained page and in an e-mail; no script, no network.
"""

from __future__ import annotations

import re
from html import escape
from typing import TYPE_CHECKING, Any

from .render import _numeric_cell, _row_order, format_number, format_point, verdict_line
from .trace import format_value, local_formula

if TYPE_CHECKING:
    from .report import ParamResult, Report
    from .trace import Recording

__all__ = ["report_html", "report_markdown", "trace_html", "readable", "STYLE", "COLORS"]

# Background and text colour per status (the text's colour alone is never the signal:
# the status is written in every row too).
COLORS = {"ok": ("#e6f4ea", "#1e6b34"), "mismatch": ("#fce8e6", "#a50e0e"),
          "undefined": ("#fef7e0", "#7a5a00"), "nondifferentiable": ("#fef7e0", "#7a5a00")}

STYLE = """
.gradcheck { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  font-size: 14px; line-height: 1.4; color: #202124; }
.gradcheck table { border-collapse: collapse; margin: 0.4em 0; }
.gradcheck th, .gradcheck td { border: 1px solid #dadce0; padding: 3px 8px; text-align: right;
  font-variant-numeric: tabular-nums; }
.gradcheck th { background: #f1f3f4; text-align: center; }
.gradcheck td.name, .gradcheck td.text { text-align: left; }
.gradcheck td.culprit { outline: 2px solid #d93025; outline-offset: -2px; font-weight: bold;
  color: #a50e0e; background: #fad2cf; }
.gradcheck .status { font-weight: bold; text-align: left; }
.gradcheck .verdict { font-weight: bold; padding: 4px 8px; display: inline-block;
  border-radius: 4px; }
.gradcheck .muted { color: #5f6368; }
.gradcheck code { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 13px; }
"""


def readable(text: str) -> str:
    """A derivative as readable HTML: ``2*x**2`` reads 2·x<sup>2</sup>, escaped."""
    out = escape(text)
    out = re.sub(r"\*\*(\(?-?[\w.]+\)?)", r"<sup>\1</sup>", out)
    return out.replace("*", "\u00b7")


def _status_style(status: str) -> str:
    background, color = COLORS.get(status, ("#ffffff", "#202124"))
    return f"background:{background};color:{color}"


def _cells(report: Report, r: ParamResult) -> list[tuple[str, str | None]]:
    """(text, source) per value cell, so the culprit's cell can be marked."""
    cells = [(format_number(r.symbolic), "symbolic"), (format_number(r.tape), "tape"),
             (_numeric_cell(r), "numeric")]
    if "claimed" in report.sources:
        cells.append((format_number(r.claimed), "claimed"))
    return cells


def report_html(report: Report, allow_kinks: bool = False) -> str:
    """The Report's table as an HTML fragment (styles inline): one row per parameter at
    its worst point, each row coloured by status, the culprit's value outlined in red."""
    from .render import _name_cell

    worst = report.worst()
    many = len(report.points) > 1
    given = report.settings.get("given", ())
    head = ["parameter", "derivative", "symbolic", "tape", "numeric \u00b1 error"]
    head += ["claimed"] * ("claimed" in report.sources) + ["status"] + ["worst point"] * many
    parts = [f"<div class='gradcheck'><style>{STYLE}</style>",
             f"<div><b>gradcheck:</b> <code>{escape(report.expression)}</code></div>"]
    if report.settings.get("data_rows"):
        parts.append(f"<div class='muted'>loss = {escape(str(report.settings['reduce']))} over "
                     f"{report.settings['data_rows']} data rows of the expression</div>")
    if report.points and not many:
        p = report.points[0]
        where = f"at {escape(format_point(p.at, given))} " if p.at else ""
        parts.append(f"<div class='muted'>{where}(value {format_number(p.value)})</div>")
    elif many:
        parts.append(f"<div class='muted'>checked at {len(report.points)} points; "
                     "each row shows the worst</div>")
    parts.append("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>")
    for name in _row_order(report.wrt):
        if name not in worst:
            continue
        point, r = worst[name]
        derivative = report.derivatives.get(name, "")
        row = [f"<td class='name'><code>{escape(_name_cell(r))}</code></td>",
               f"<td class='text' title='{escape(derivative, quote=True)}'>{readable(derivative)}</td>"]
        for text, source in _cells(report, r):
            mark = " class='culprit' title='the odd one out'" if source == r.culprit else ""
            row.append(f"<td{mark}>{escape(text)}</td>")
        status = r.status + (f" ({r.culprit})" if r.culprit else "")
        row.append(f"<td class='status' style='{_status_style(r.status)}'>{escape(status)}</td>")
        if many:
            row.append(f"<td class='text'>{escape(format_point(point.at, given))}</td>")
        parts.append(f"<tr data-status='{r.status}'>" + "".join(row) + "</tr>")
    parts.append("</tbody></table>")
    for name in _row_order(report.wrt):
        if name in worst and worst[name][1].message:
            parts.append(f"<div><code>{escape(name)}</code>: {escape(worst[name][1].message)}</div>")
    notes = [f"{s} skipped: {why}" for s, why in report.skipped.items()] + list(report.notes)
    parts += [f"<div class='muted'>note: {escape(n)}</div>" for n in notes]
    passed = report.exit_code(allow_kinks) == 0
    parts.append(f"<div class='verdict' style='{_status_style('ok' if passed else 'mismatch')}'>"
                 f"{escape(verdict_line(report, allow_kinks))}</div></div>")
    return "\n".join(parts)


def _latex(report: Report, text: str) -> str:
    """``$x^{2}$`` through the safe parser and SymPy's printer; the text itself on failure."""
    try:
        import sympy

        from .parse import parse

        names = [*report.wrt, *report.settings.get("inputs", ()), *report.settings.get("data", ())]
        return f"${sympy.latex(parse(text, names))}$"
    except Exception:  # a derivative the parser cannot read back is shown as it is
        return f"`{text}`"


def report_markdown(report: Report, allow_kinks: bool = False) -> str:
    """The Report's table as Markdown, derivatives in LaTeX (``$...$``)."""
    from .render import _name_cell

    worst = report.worst()
    head = ["parameter", "derivative", "symbolic", "tape", "numeric ± error"]
    head += ["claimed"] * ("claimed" in report.sources) + ["status"]
    lines = [f"**gradcheck:** `{report.expression}`", ""]
    if report.points and len(report.points) == 1 and report.points[0].at:
        lines += [f"at {format_point(report.points[0].at, report.settings.get('given', ()))}", ""]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in _row_order(report.wrt):
        if name not in worst:
            continue
        r = worst[name][1]
        cells = [f"`{_name_cell(r)}`", _latex(report, report.derivatives.get(name, ""))]
        cells += [f"**{t}**" if s == r.culprit else t for t, s in _cells(report, r)]
        cells.append(f"**{r.status}**" + (f" ({r.culprit})" if r.culprit else "")
                     if r.status != "ok" else "ok")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", f"**{verdict_line(report, allow_kinks)}**"]
    return "\n".join(lines)


def _table(head: list[str], rows: list[list[str]]) -> str:
    body = "".join("<tr>" + "".join(f"<td class='{'text' if i < 2 else ''}'>{c}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    return ("<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _code(value: Any) -> str:
    return f"<code>{escape(str(value))}</code>"


def trace_html(rec: Recording) -> str:
    """The backward pass as two HTML tables: the forward pass, then per node (newest
    first) value, incoming gradient, and per input local gradient and product."""
    loss = (f"{rec.reduce} over {rec.rows} data rows of {rec.expression}" if rec.reduce
            else rec.expression)
    parts = [f"<div class='gradcheck'><style>{STYLE}</style>",
             f"<div><b>trace:</b> L = <code>{escape(loss)}</code></div>",
             f"<div class='muted'>at {escape(format_point(rec.point))} (run on the tape)</div>",
             "<div><b>forward pass</b></div>"]
    rows = [[_code(n), "parameter", escape(format_value(rec.leaf_values[n]))] for n in rec.params]
    rows += [[_code(n), escape(rec.fixed[n]), escape(format_value(rec.leaf_values[n]))] for n in rec.fixed]
    rows += [[_code(s.node), _code(f"{s.op}({', '.join(s.inputs)})"), escape(format_value(s.value))]
             for s in rec.steps]
    if rec.steps:
        rows[-1][1] += " <b>(the loss L)</b>"
    parts.append(_table(["node", "operation", "value"], rows))
    parts.append("<div><b>backward pass</b>, newest node first "
                 "(product = local gradient \u00d7 incoming gradient)</div>")
    rows = []
    for s in reversed(rec.steps):
        for j, (name, loc, prod) in enumerate(zip(s.inputs, s.local, s.product)):
            head = ([_code(f"{s.node} = {s.op}({', '.join(s.inputs)})"), escape(format_value(s.value)),
                     escape(format_value(s.grad))] if j == 0 else ["", "", ""])
            if prod is None:
                tail = [_code(name), f"<span class='muted'>({rec.fixed.get(name, 'constant')}: "
                                     "no gradient)</span>", ""]
            else:
                formula = local_formula(s.op, s.node, s.inputs, j)
                value = format_value(loc)
                local = f"{formula} = {value}" if formula and formula != value else value
                product = f"{value} \u00d7 {format_value(s.grad)} = {format_value(prod)}"
                if s.summed and s.summed[j]:
                    product = f"sum over rows of {product}"
                tail = [_code(name), escape(f"d{s.node}/d{name} = {local}"), escape(product)]
            rows.append(head + tail)
    parts.append(_table(["node", "value", "incoming dL/dnode", "to input", "local gradient",
                         "product"], rows))
    grads = [[_code(f"dL/d{p}"), escape(format_value(rec.grads[p]))] for p in rec.params]
    parts += ["<div><b>gradients</b></div>", _table(["gradient", "value"], grads), "</div>"]
    return "\n".join(parts)
