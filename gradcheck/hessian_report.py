"""A Hessian check's Report: rows per parameter pair (``check_hessian``) or per parameter
(``check_hvp``), and the ``hessian`` section of ``to_dict()``: the worst (i, j) entry, the
claim's symmetry residual and, for small Hessians, every entry."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from .report import SEVERITY, PointResult, Report, _number

if TYPE_CHECKING:
    from .hessian_run import Run

__all__ = ["Entry", "entry_labels", "pair_name", "build_report", "element_name", "ENTRY_LIMIT"]

# Hessians of at most this many elements list every entry in the JSON.
ENTRY_LIMIT = 12
_SOURCES = ("symbolic", "tape", "numeric", "claimed")


@dataclass
class Entry:
    """One judged cell: point number, row name, check c (a Hessian row, or a vector) and
    flat component i, and the summary's per-element record."""

    point: int
    block: str
    c: int
    i: int
    row: dict[str, Any]

    def key(self) -> tuple[int, float]:
        rel = self.row.get("rel_error")
        rel = -1.0 if rel is None or (isinstance(rel, float) and math.isnan(rel)) else float(rel)
        return SEVERITY[self.row["status"]], rel


def entry_labels(shape: tuple[int, ...], where: slice) -> Iterator[tuple[tuple[int, ...], int]]:
    """(index within the parameter, flat index) for every element of one parameter."""
    for a, flat in enumerate(range(where.start, where.stop)):
        yield tuple(int(k) for k in np.unravel_index(a, shape)) if shape else (), flat


def pair_name(p: str, q: str, shapes: dict[str, tuple[int, ...]]) -> str:
    """``"w1,w2"``; a tensor's own block is just ``"W"``."""
    return p if p == q and shapes[p] != () else f"{p},{q}"


def element_name(problem: Any, flat: int) -> str:
    """``w`` or ``W[0, 1]``: the parameter element at a flat index."""
    for p, where in problem.slices().items():
        if where.start <= flat < where.stop:
            shape = problem.shapes[p]
            if shape == ():
                return p
            index = np.unravel_index(flat - where.start, shape)
            return f"{p}[{', '.join(str(int(k)) for k in index)}]"
    raise IndexError(flat)


def _entry_dict(problem: Any, entry: Entry, kind: str) -> dict[str, Any]:
    row = entry.row
    out: dict[str, Any] = {"point": entry.point, "block": entry.block}
    if kind == "hessian":
        out.update({"row": element_name(problem, entry.c), "column": element_name(problem, entry.i),
                    "i": entry.c, "j": entry.i})
    else:
        out.update({"vector": entry.c, "row": element_name(problem, entry.i), "i": entry.i})
    out.update({"status": row["status"], "culprit": row.get("culprit"),
                "rel_error": _number(row.get("rel_error")),
                **{s: _number(row.get(s)) for s in _SOURCES},
                "numeric_error": _number(row.get("numeric_error"))})
    return out


def _matrices(problem: Any, entries: list[Entry], points: int, shape: tuple[int, int]) -> list:
    """Per point, every source's matrix (None where a source did not run) and the statuses."""
    out = []
    for k in range(points):
        grids: dict[str, Any] = {s: [[None] * shape[1] for _ in range(shape[0])]
                                 for s in _SOURCES + ("numeric_error",)}
        status = [[None] * shape[1] for _ in range(shape[0])]
        for e in entries:
            if e.point == k:
                status[e.c][e.i] = e.row["status"]
                for s in grids:
                    grids[s][e.c][e.i] = _number(e.row.get(s))
        out.append({"status": status, **grids})
    return out


def _worst(entries: list[Entry]) -> Entry | None:
    return max(entries, key=Entry.key) if entries else None


def _derivatives(run: Run, kind: str, vectors: np.ndarray | None) -> dict[str, str]:
    problem, out = run.problem, {}
    shapes, slices = problem.shapes, problem.slices()
    if kind == "hvp":
        return {p: f"H v along {len(vectors)} random unit vectors" for p in problem.wrt}
    for p in problem.wrt:
        for q in problem.wrt:
            name = pair_name(p, q, shapes)
            if shapes[p] != () or shapes[q] != ():
                out[name] = f"elementwise, shape {shapes[p] + shapes[q]}"
            elif run.symbolic is not None:
                i, j = sorted((slices[p].start, slices[q].start))
                out[name] = str(run.symbolic.exprs[run.symbolic.upper.index((i, j))])
            else:
                out[name] = ""
    return out


def _notes(run: Run, kind: str, seed: int, vectors: np.ndarray | None) -> list[str]:
    base = "the symbolic gradient" if run.gradient_model is not None else "the tape's gradient"
    method = run.numeric_method or "not run"
    notes = ([] if "numeric" in run.skipped else
             [f"numeric: finite differences ({method}) of {base}, each with its own error bound"])
    if kind == "hessian":
        notes.append("rows are parameter pairs (row, column) of the Hessian over the flat "
                     "parameter vector; a tensor block's index is (row element..., column element...)")
    else:
        notes.append(f"Hessian-vector products along {len(vectors)} random unit vectors (seed "
                     f"{seed}); an index reads (vector, element...)")
    return notes


def build_report(run: Run, results: list[PointResult], entries: list[Entry],
                 residuals: list[float | None], notes: list[str], count: int, seed: int,
                 claimed: bool, per_element: bool, kind: str, vectors: np.ndarray | None) -> Report:
    problem = run.problem
    sources = ["symbolic"] * (run.symbolic is not None) + ["tape"] * ("tape" not in run.skipped)
    sources += ["numeric"] * ("numeric" not in run.skipped) + ["claimed"] * claimed
    settings = {"order": 2, "kind": kind, "rtol": run.rtol, "atol": run.atol,
                "method": run.requested, "seed": seed, "points": count, "reduce": problem.reduce,
                "data_rows": problem.rows, "inputs": list(problem.inputs), "data": list(problem.data),
                "model": "expression" if problem.is_expression else "function",
                "numeric_method": run.numeric_method, "per_element": per_element,
                "given": list(problem.given), "timeout": run.budget.timeout,
                "parameters": list(problem.wrt)}
    if vectors is not None:
        settings["vectors"] = len(vectors)
    names = [r.name for r in results[0].params] if results else []
    worst = _worst(entries)
    finite = [(k, r) for k, r in enumerate(residuals) if r is not None]
    symmetry = None
    if claimed and finite:
        k, r = max(finite, key=lambda x: x[1])
        symmetry = {"residual": _number(r), "point": k,
                    "measure": ("max |C - C^T| / max |C| of the claimed Hessian C" if kind == "hessian"
                                else "max |u.Cv - v.Cu| / max |u.Cv| over pairs of the vectors")}
    n = problem.size
    section: dict[str, Any] = {
        "kind": kind, "parameters": list(problem.wrt), "size": n,
        "elements": [element_name(problem, e) for e in range(n)] if n <= 1000 else None,
        "worst": _entry_dict(problem, worst, kind) if worst else None,
        "symmetry": symmetry, "vectors": None if vectors is None else len(vectors),
        "entries": None}
    if n <= ENTRY_LIMIT and (vectors is None or len(vectors) <= ENTRY_LIMIT):
        shape = (n, n) if vectors is None else (len(vectors), n)
        section["entries"] = _matrices(problem, entries, len(results), shape)
    if not per_element:
        for point in results:
            for r in point.params:
                r.per_element = None
    values = {name: v for name, v in {**problem.fixed, **problem.pinned}.items() if np.ndim(v) > 0}
    report = Report(problem.text, names, _derivatives(run, kind, vectors), results, sources,
                    dict(run.skipped), settings, notes + _notes(run, kind, seed, vectors), values)
    report.hessian = section
    return report
