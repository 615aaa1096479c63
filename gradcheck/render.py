"""Text rendering of a Report: the table the CLI prints and pytest shows on failure."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # only annotations: report imports this module to give Report its __str__
    from .report import ParamResult, PointResult, Report

__all__ = ["render_table", "verdict_line", "format_number", "format_point"]

Style = Callable[[str, str], str]  # (text, status) -> text, e.g. colour by status


def _plain(text: str, status: str) -> str:
    return text


def format_number(x: float | None, digits: int = 10) -> str:
    if x is None:
        return "-"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.{digits}g}"


def format_point(at: dict[str, float]) -> str:
    return ", ".join(f"{k}={format_number(v, 6)}" for k, v in at.items())


def _numeric_cell(r: ParamResult) -> str:
    if r.numeric is None:
        return "-"
    if r.numeric_error is None or not math.isfinite(r.numeric_error):
        return format_number(r.numeric)
    return f"{format_number(r.numeric)} ± {r.numeric_error:.1g}"


def _name_cell(r: ParamResult) -> str:
    """A tensor parameter's row is its worst element (or direction, with projection)."""
    if r.projection is not None:
        return f"{r.name} (direction {r.worst_index} of {r.projection})"
    if r.is_tensor and isinstance(r.worst_index, tuple):
        return f"{r.name}[{', '.join(map(str, r.worst_index))}]"
    return r.name


def _row(report: Report, point: PointResult, r: ParamResult, many: bool) -> list[str]:
    cells = [_name_cell(r), report.derivatives.get(r.name, "")]
    if len(cells[1]) > 40:
        cells[1] = cells[1][:37] + "..."
    cells += [format_number(r.symbolic), format_number(r.tape), _numeric_cell(r)]
    if "claimed" in report.sources:
        cells.append(format_number(r.claimed))
    status = r.status + (f" ({r.culprit})" if r.culprit else "")
    cells.append(status)
    if many:
        cells.append(format_point(point.at))
    return cells


def _layout(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def verdict_line(report: Report, allow_kinks: bool = False) -> str:
    counts = report.counts()
    n_points = len(report.points)
    where = f"{n_points} point{'s' if n_points != 1 else ''}"
    sources = ", ".join(report.sources)
    seed = report.settings.get("seed")
    tail = f" (seed {seed})" if seed is not None else ""
    if report.ok:
        return f"OK: {sources} agree on all {len(report.wrt)} parameter(s) at {where}{tail}"
    bad = ", ".join(f"{n} {s}" for s, n in counts.items() if n and s != "ok")
    if report.exit_code(allow_kinks) == 0:
        return f"OK with kinks allowed: {bad} of {sum(counts.values())} checks at {where}{tail}"
    return f"FAILED: {bad} of {sum(counts.values())} checks at {where}{tail}"


def render_table(report: Report, style: Style = _plain, allow_kinks: bool = False) -> str:
    """The report as text: header, one row per parameter (its worst point), verdict."""
    many = len(report.points) > 1
    header = ["parameter", "derivative", "symbolic", "tape", "numeric ± error"]
    if "claimed" in report.sources:
        header.append("claimed")
    header.append("status")
    if many:
        header.append("worst point")
    worst = report.worst()
    rows = [_row(report, *worst[name], many) for name in report.wrt if name in worst]
    lines = [f"gradcheck: {report.expression}"]
    if report.settings.get("data_rows"):
        lines.append(f"loss = {report.settings['reduce']} over {report.settings['data_rows']} "
                     "data rows of the expression")
    if not many and report.points:
        p = report.points[0]
        where = f"at {format_point(p.at)}  " if p.at else ""
        lines.append(f"{where}(value {format_number(p.value)})")
    elif many:
        lines.append(f"checked at {len(report.points)} points; each row shows the worst")
    body = _layout([header] + rows)
    lines.append(body[0])
    statuses = [worst[name][1].status for name in report.wrt if name in worst]
    lines += [style(line, status) for line, status in zip(body[1:], statuses)]
    for name in report.wrt:
        if name in worst and worst[name][1].message:
            lines.append(f"  {name}: {worst[name][1].message}")
    for source, why in report.skipped.items():
        lines.append(f"  note: {source} skipped: {why}")
    lines += [f"  note: {n}" for n in report.notes]
    passed = report.exit_code(allow_kinks) == 0
    lines.append(style(verdict_line(report, allow_kinks), "ok" if passed else "mismatch"))
    return "\n".join(lines)
