"""Text rendering of a Report: the table the CLI prints and pytest shows on failure."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:  # only annotations: report imports this module to give Report its __str__
    from .report import ParamResult, PointResult, Report

__all__ = ["render_table", "verdict_line", "format_number", "format_point", "natural_key",
           "plural"]

LINE_WIDTH = 88  # the `at` line wraps beyond this
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


def plural(n: int, word: str) -> str:
    """``1 parameter``, ``2 parameters``: the counts in verdicts read as English."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def natural_key(name: str) -> tuple:
    """Sort key that puts ``w2`` before ``w10`` (digit runs compare as numbers)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", name) if part)


def _given_number(x: float) -> str:
    """A value the user typed, with every digit of it: the shortest repr that round-trips."""
    if isinstance(x, float) and math.isfinite(x):
        text = repr(x)
        return text[:-2] if text.endswith(".0") else text
    return format_number(x, 17)


def format_point(at: dict[str, float], given: Sequence[str] = (), width: int | None = None,
                 indent: str = "   ", first: int = 3) -> str:
    """``w1=0.5, w2=1, ..., w10=2``: names in natural order; values the user gave (``given``)
    in full precision, seeded ones to 6 digits. With ``width``, wrapped onto indented lines (the first
    line leaves ``first`` characters for a prefix such as ``at ``)."""
    items = [f"{k}={_given_number(at[k]) if k in given else format_number(at[k], 6)}"
             for k in sorted(at, key=natural_key)]
    if width is None:
        return ", ".join(items)
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) + 2 + (first if not lines else 0) > width:
            lines.append(line + ",")
            line = indent + item
        else:
            line = f"{line}, {item}" if line else item
    return "\n".join(lines + [line])


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
        cells.append(format_point(point.at, report.settings.get("given", ())))
    return cells


def _layout(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]


def _row_order(wrt: Sequence[str]) -> list[str]:
    """Parameters in natural order (w2 before w10) unless the user chose an order."""
    names = list(wrt)
    return sorted(names, key=natural_key) if names == sorted(names) else names


def verdict_line(report: Report, allow_kinks: bool = False) -> str:
    counts = report.counts()
    n_points = len(report.points)
    where = plural(n_points, "point")
    sources = ", ".join(report.sources)
    seed = report.settings.get("seed")
    tail = f" (seed {seed})" if seed is not None else ""
    if report.ok:
        n = len(report.wrt)
        noun = "Hessian block" if report.settings.get("order") == 2 else "parameter"
        which = f"all {plural(n, noun)}" if n != 1 else f"the 1 {noun}"
        return f"OK: {sources} agree on {which} at {where}{tail}"
    bad = ", ".join(f"{n} {s}" if s != "mismatch" else plural(n, "mismatch").replace("mismatchs", "mismatches")
                    for s, n in counts.items() if n and s != "ok")
    if report.exit_code(allow_kinks) == 0:
        return f"OK with kinks allowed: {bad} of {plural(sum(counts.values()), 'check')} at {where}{tail}"
    return f"FAILED: {bad} of {plural(sum(counts.values()), 'check')} at {where}{tail}"


def _element_line(name: str, entry: dict) -> str:
    values = "  ".join(f"{k}={format_number(v)}" for k, v in entry.items() if k != "index")
    return f"    {name}[{', '.join(map(str, entry['index']))}]: {values}"


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
    names = _row_order(report.wrt)
    rows = [_row(report, *worst[name], many) for name in names if name in worst]
    lines = [f"gradcheck: {report.expression}"]
    if report.settings.get("data_rows"):
        lines.append(f"loss = {report.settings['reduce']} over {report.settings['data_rows']} "
                     "data rows of the expression")
    if not many and report.points:
        p = report.points[0]
        value = f"(value {format_number(p.value)})"
        if p.at:
            where = "at " + format_point(p.at, report.settings.get("given", ()), width=LINE_WIDTH)
            last = where.rsplit("\n", 1)[-1]
            where += ("  " if len(last) + len(value) + 2 <= LINE_WIDTH else "\n   ") + value
        lines.append(where if p.at else value)
    elif many:
        lines.append(f"checked at {len(report.points)} points; each row shows the worst")
    body = _layout([header] + rows)
    lines.append(body[0])
    statuses = [worst[name][1].status for name in names if name in worst]
    lines += [style(line, status) for line, status in zip(body[1:], statuses)]
    for name in names:
        if name in worst and worst[name][1].message:
            lines.append(f"  {name}: {worst[name][1].message}")
        if name in worst and worst[name][1].first_mismatches:
            lines += [_element_line(name, e) for e in worst[name][1].first_mismatches]
    for source, why in report.skipped.items():
        lines.append(f"  note: {source} skipped: {why}")
    lines += [f"  note: {n}" for n in report.notes]
    passed = report.exit_code(allow_kinks) == 0
    lines.append(style(verdict_line(report, allow_kinks), "ok" if passed else "mismatch"))
    return "\n".join(lines)
