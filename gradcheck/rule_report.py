"""What a rule check found: one row per check (a VJP under one cotangent, a JVP under one
tangent, a dot test, a property), rendered as a table grouped by what was checked, and as
JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .report import SEVERITY, _number

__all__ = ["RuleRow", "RuleReport", "KINDS"]

KINDS = ("vjp", "jvp", "dot", "property")


def _index(name: str, index: tuple[int, ...] | None) -> str:
    return f"{name}[{', '.join(map(str, index))}]" if index else name


@dataclass
class RuleRow:
    """One check: ``kind`` (vjp, jvp, dot, property), ``name`` (a parameter, an output or
    a property), ``label`` (which cotangent or tangent: ``g0``, ``e3`` for row 3 of the
    Jacobian, ``v1``), its status and, for arrays, the mismatching elements."""

    kind: str
    name: str
    label: str
    status: str
    culprit: str | None = None
    message: str | None = None
    elements: int = 1
    mismatches: int = 0
    worst: tuple[int, ...] | None = None
    values: dict[str, float] = field(default_factory=dict)
    rel_error: float | None = None
    first: list[tuple[tuple[int, ...], dict[str, float]]] = field(default_factory=list)
    unit: str = "element"  # "direction": elements were projected on random directions

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "label": self.label,
                "status": self.status, "culprit": self.culprit, "message": self.message,
                "elements": self.elements, "mismatches": self.mismatches,
                "worst_index": list(self.worst) if self.worst is not None else None,
                "values": {k: _number(v) for k, v in self.values.items()},
                "rel_error": _number(self.rel_error), "unit": self.unit,
                "first_mismatches": [{"index": list(i), "values": {k: _number(v) for k, v in vals.items()}}
                                     for i, vals in self.first]}


@dataclass
class RuleReport:
    """The rows of one rule check, the sources that ran and why others did not."""

    function: str
    wrt: list[str]
    inputs: list[str]
    output: list[tuple[int, ...]]
    rows: list[RuleRow]
    sources: list[str]
    skipped: dict[str, str]
    notes: list[str]
    settings: dict[str, Any]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def __bool__(self) -> bool:
        return self.ok

    @property
    def failures(self) -> list[RuleRow]:
        return [r for r in self.rows if not r.ok]

    def blamed(self, kind: str = "vjp") -> set[str]:
        """Names whose rows of ``kind`` mismatch with the claim (the user's rule) blamed."""
        return {r.name for r in self.rows
                if r.kind == kind and r.status == "mismatch" and r.culprit == "claimed"}

    def to_dict(self) -> dict[str, Any]:
        return {"schema": "gradcheck/rule/1", "function": self.function, "ok": self.ok,
                "wrt": self.wrt, "inputs": self.inputs, "output": [list(s) for s in self.output],
                "sources": self.sources, "skipped": self.skipped, "notes": self.notes,
                "settings": self.settings, "rows": [r.to_dict() for r in self.rows]}

    def __str__(self) -> str:
        return render(self)

    def _repr_markdown_(self) -> str:
        return "```\n" + render(self) + "\n```"


def _groups(rows: list[RuleRow]) -> list[list[RuleRow]]:
    """One line per parameter and kind of check; every property its own line."""
    out: dict[tuple[str, str, str], list[RuleRow]] = {}
    for r in rows:
        out.setdefault((r.kind, r.name, r.label if r.kind == "property" else ""), []).append(r)
    return list(out.values())


def _what(rows: list[RuleRow]) -> str:
    kind = rows[0].kind
    if kind == "property":
        return rows[0].label
    random = sum(not r.label.startswith("e") for r in rows)
    basis = len(rows) - random
    unit = {"vjp": "cotangent", "jvp": "tangent", "dot": "pair"}[kind]
    parts = [f"{random} {unit}{'s' * (random != 1)}"] if random else []
    if basis:
        parts.append(f"{basis} Jacobian row{'s' * (basis != 1)}")
    return " + ".join(parts)


def _detail(row: RuleRow) -> str:
    if row.status == "ok":
        if row.message or row.rel_error is None:
            return row.message or ""
        if row.kind == "dot":
            return f"relative difference {row.rel_error:.1e}"
        return f"sources agree to {row.rel_error:.1e} of the largest value"
    where = f"{row.label}: " if row.kind != "property" else ""
    count = (f"{row.mismatches} of {row.elements} {row.unit}s mismatch; "
             if row.elements > 1 and row.mismatches else "")
    return where + count + (row.message or row.status)


def _element_lines(row: RuleRow) -> list[str]:
    lines = []
    for index, values in row.first:
        shown = "  ".join(f"{k}={v:.10g}" for k, v in values.items())
        where = f"direction {index[0]}" if row.unit == "direction" else _index(row.name, index)
        lines.append(f"      {where}: {shown}")
    if row.mismatches > len(row.first):
        lines.append(f"      ... and {row.mismatches - len(row.first)} more")
    return lines


def render(report: RuleReport) -> str:
    """The table: one line per parameter and kind of check (its worst row), the first
    mismatching elements under a failing line, then skipped sources and notes."""
    out = [f"check_rule {report.function}: wrt {', '.join(report.wrt) or '(nothing)'}; "
           f"output {', '.join(str(s) for s in report.output)}",
           f"sources: {', '.join(report.sources)}"]
    if not report.settings.get("vjp", True):
        out.append("no vjp given: the vjp lines compare gradcheck's own sources with each other")
    out.append("")
    header = f"{'check':<9} {'name':<14} {'status':<18} {'checked':<32} detail"
    out += [header, "-" * len(header)]
    for rows in _groups(report.rows):
        worst = max(rows, key=lambda r: (SEVERITY[r.status], r.rel_error or 0.0))
        status = worst.status.upper() if worst.status == "mismatch" else worst.status
        if worst.culprit:
            status += f" ({worst.culprit})"
        out.append(f"{worst.kind:<9} {worst.name:<14} {status:<18} {_what(rows):<32} {_detail(worst)}")
        if worst.status == "mismatch":
            out += _element_lines(worst)
    reasons: dict[str, list[str]] = {}
    for source, why in report.skipped.items():
        reasons.setdefault(why, []).append(source)
    out += [f"{', '.join(sources)}: not run: {why}" for why, sources in reasons.items()]
    out += [f"note: {n}" for n in report.notes]
    failed = sum(any(not r.ok for r in rows) for rows in _groups(report.rows))
    verdict = "all checks agree" if report.ok else \
        f"{failed} of {len(_groups(report.rows))} lines failed ({len(report.failures)} of {len(report.rows)} checks)"
    out.append(f"verdict: {verdict}")
    return "\n".join(out)
