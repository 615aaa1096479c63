"""The Report: plain data that every face renders (text table, HTML and Markdown for
notebooks, JSON, pytest message), and the door to a point's backward pass
(:meth:`Report.trace`) and computational graph (:meth:`Report.graph`)."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Mapping

from .render import render_table

if TYPE_CHECKING:  # only annotations; explain.py is imported when a trace is asked for
    from .explain import Graph, Trace

__all__ = ["ParamResult", "PointResult", "Report", "SOURCES", "STATUSES", "SEVERITY", "SCHEMA",
           "Status", "Source"]

Status = Literal["ok", "mismatch", "undefined", "nondifferentiable"]
Source = Literal["symbolic", "tape", "numeric", "claimed"]
SOURCES: tuple[Source, ...] = ("symbolic", "tape", "numeric", "claimed")
STATUSES: tuple[Status, ...] = ("ok", "mismatch", "undefined", "nondifferentiable")
# The JSON's "schema" key; gradcheck/schema/report.schema.json describes this version.
SCHEMA = "gradcheck/report/1"
# How bad each status is: the worst is what a summary over elements or points shows.
SEVERITY = {"mismatch": 3, "undefined": 2, "nondifferentiable": 1, "ok": 0}


class Derivatives(Mapping):
    """Parameter -> its derivative as text, printed on first access: SymPy's printer
    sorts every sum, which costs more than a small check itself. A form is text, or a
    function of no arguments that builds the expression to print."""

    def __init__(self, forms: Mapping[str, Any]):
        self._forms = dict(forms)

    def __getitem__(self, name: str) -> str:
        form = self._forms[name]
        if not isinstance(form, str):
            form = self._forms[name] = str(form())
        return form

    def __iter__(self):
        return iter(self._forms)

    def __len__(self) -> int:
        return len(self._forms)

    def __repr__(self) -> str:
        return repr(dict(self))


def _number(x: float | None) -> float | None:
    """JSON has no NaN or infinity: such values become None (the message says why)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


@dataclass
class ParamResult:
    name: str
    status: Status
    symbolic: float | None = None
    tape: float | None = None
    numeric: float | None = None
    numeric_error: float | None = None
    claimed: float | None = None
    culprit: Source | None = None
    rel_error: float | None = None
    message: str | None = None
    high_precision: tuple[str, ...] = ()
    # Tensor parameters of function models: the source values above are the worst
    # element's (or, with random projection, the worst direction's).
    shape: tuple[int, ...] | None = None
    elements: int | None = None
    worst_index: tuple[int, ...] | int | None = None  # a direction's number with projection
    max_abs_error: float | None = None  # largest spread between sources, any element
    max_rel_error: float | None = None
    mismatches: int | None = None  # elements (or directions) whose status is mismatch
    projection: int | None = None  # directions checked instead of elements, if any
    per_element: list[dict[str, Any]] | None = None  # only on request
    first_mismatches: list[dict[str, Any]] | None = None  # index and values, the first few

    @property
    def is_tensor(self) -> bool:
        return bool(self.shape) or self.projection is not None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name, "status": self.status,
            **{s: _number(getattr(self, s)) for s in SOURCES},
            "numeric_error": _number(self.numeric_error),
            "culprit": self.culprit, "rel_error": _number(self.rel_error),
            "message": self.message, "high_precision": list(self.high_precision),
        }
        if self.is_tensor:
            # One JSON type for worst_index: an array of ints (a direction's number in a
            # one-element array with projection), or null.
            worst = self.worst_index
            index = list(worst) if isinstance(worst, tuple) else [worst] if worst is not None else None
            out.update({
                "shape": list(self.shape or ()), "elements": self.elements,
                "worst_index": index,
                "max_abs_error": _number(self.max_abs_error),
                "max_rel_error": _number(self.max_rel_error),
                "mismatches": self.mismatches, "projection": self.projection})
            if self.first_mismatches:
                out["first_mismatches"] = [{k: _number(v) if isinstance(v, float) else v
                                            for k, v in e.items()} for e in self.first_mismatches]
            if self.per_element is not None:
                out["per_element"] = [{k: _number(v) if isinstance(v, float) else v
                                       for k, v in e.items()} for e in self.per_element]
        return out


@dataclass
class PointResult:
    at: dict[str, float]
    value: float
    params: list[ParamResult]

    @property
    def ok(self) -> bool:
        return all(p.status == "ok" for p in self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"at": {k: _number(v) for k, v in self.at.items()},
                "value": _number(self.value),
                "params": [p.to_dict() for p in self.params]}


@dataclass
class Report:
    """What a check found: for every parameter at every point, the sources' values and a status.

    ``ok`` is True only when every status is "ok"; ``exit_code`` is 0 or 1 accordingly
    (``allow_kinks`` lets non-differentiable points pass).
    """

    expression: str
    wrt: list[str]
    derivatives: Mapping[str, str]  # a Derivatives, or any mapping of text
    points: list[PointResult]
    sources: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Values the points do not hold: arrays given in ``at`` and the data columns, by
    # name. trace()/graph() need the data; to_dict() lists the arrays under "values".
    values: dict[str, Any] = field(default_factory=dict)
    # Second-order checks only (gradcheck.hessian): the worst (i, j) entry, the claimed
    # Hessian's symmetry residual and, for small Hessians, every entry. None otherwise.
    hessian: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.points)

    def exit_code(self, allow_kinks: bool = False) -> int:
        allowed = {"ok", "nondifferentiable"} if allow_kinks else {"ok"}
        return 0 if all(r.status in allowed for p in self.points for r in p.params) else 1

    def worst(self) -> dict[str, tuple[PointResult, ParamResult]]:
        """Per parameter, the point where it fared worst (status first, then error)."""
        out: dict[str, tuple[PointResult, ParamResult]] = {}
        for point in self.points:
            for r in point.params:
                key = (SEVERITY[r.status], r.rel_error if r.rel_error is not None else -1.0)
                old = out.get(r.name)
                if old is None or key > (SEVERITY[old[1].status],
                                         old[1].rel_error if old[1].rel_error is not None else -1.0):
                    out[r.name] = (point, r)
        return out

    def counts(self) -> dict[str, int]:
        tally = {s: 0 for s in STATUSES}
        for point in self.points:
            for r in point.params:
                tally[r.status] += 1
        return tally

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; ``"schema"`` names the shape (gradcheck/schema/report.schema.json)."""
        out = {
            "schema": SCHEMA, "ok": self.ok, "expression": self.expression, "wrt": list(self.wrt),
            "derivatives": dict(self.derivatives),
            "points": [p.to_dict() for p in self.points],
            "sources": list(self.sources), "skipped": dict(self.skipped),
            "settings": dict(self.settings), "notes": list(self.notes),
            "counts": self.counts(), "values": _given_arrays(self),
        }
        if self.hessian is not None:
            out["hessian"] = copy.deepcopy(self.hessian)
        return out

    def __str__(self) -> str:
        if self.hessian is not None:  # the worst (i, j) entry and the symmetry residual too
            from .hessian_render import with_hessian_lines
            return with_hessian_lines(render_table(self), self.hessian)
        return render_table(self)

    def _repr_html_(self) -> str:
        """The table as HTML, for Jupyter: status colours, the culprit highlighted."""
        from .html import report_html
        return report_html(self)

    def _repr_markdown_(self) -> str:
        from .html import report_markdown
        return report_markdown(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's plain text
        printer.text(str(self))

    def trace(self, point: int = 0, data: Mapping[str, Any] | None = None) -> Trace:
        """The tape's backward pass at ``point`` (default the first), step by step.

        Prints as text and displays as an HTML table in a notebook. Needs a text
        expression; ``data`` gives the data columns when the Report does not hold them.
        """
        from .explain import trace_report
        return trace_report(self, point, data)

    def graph(self, point: int = 0, data: Mapping[str, Any] | None = None) -> Graph:
        """The computational graph at ``point``: SVG in a notebook, ``.source`` (DOT),
        ``.render(path)``; parameters coloured by their status in this Report."""
        from .explain import graph_report
        return graph_report(self, point, data)


def _given_arrays(report: Report) -> dict[str, Any]:
    """Arrays the user gave in ``at`` as nested lists (scalars are in every point's "at")."""
    out = {}
    for name in report.settings.get("given", ()):
        value = report.values.get(name)
        if value is not None and hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:
            out[name] = _nested(value.tolist())
    return out


def _nested(value: Any) -> Any:
    return [_nested(v) for v in value] if isinstance(value, list) else _number(value)
