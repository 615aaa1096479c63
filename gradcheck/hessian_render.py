"""Text lines of a Hessian report's ``hessian`` section: the worst (i, j) entry and the
claimed Hessian's symmetry residual, placed above the verdict line of the table."""

from __future__ import annotations

from typing import Any, Mapping

from .render import format_number

__all__ = ["hessian_lines", "with_hessian_lines"]


def hessian_lines(section: Mapping[str, Any]) -> list[str]:
    lines = []
    worst = section.get("worst")
    if worst:
        if section.get("kind") == "hvp":
            where = f"(H v_{worst['vector']})[{worst['row']}]"
        else:
            where = f"({worst['row']}, {worst['column']})"
        values = ", ".join(f"{s}={format_number(worst[s])}" for s in
                           ("symbolic", "tape", "numeric", "claimed") if worst.get(s) is not None)
        blame = f" ({worst['culprit']})" if worst.get("culprit") else ""
        rel = worst.get("rel_error")
        tail = f", relative error {rel:.2g}" if rel is not None and worst["status"] == "mismatch" else ""
        lines.append(f"  worst entry {where} at point {worst['point'] + 1}: "
                     f"{worst['status']}{blame}" + (f": {values}" if values else "") + tail)
    symmetry = section.get("symmetry")
    if symmetry and symmetry.get("residual") is not None:
        lines.append(f"  claimed Hessian symmetry residual: {symmetry['residual']:.3g} "
                     f"({symmetry['measure']})")
    return lines


def with_hessian_lines(table: str, section: Mapping[str, Any]) -> str:
    """The table with the section's lines inserted above its last (verdict) line."""
    head, _, verdict = table.rpartition("\n")
    return "\n".join([head, *hessian_lines(section), verdict]) if head else table
