"""The machinery a second-order check shares (gradcheck.hessian's check_hessian and
check_hvp): options, the symbolic build under the budget, points, and per point the
sources, their Estimates and the summary of one row (summary.summarise)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .budget import SYMBOLIC_SHARE, Budget
from .compare import ROUNDING_ULPS, Estimate
from .errors import GradcheckError, InputError
from .hessian_report import Entry
from .hessian_sources import (SymbolicHessian, build_hessian, choose_method, gradient_differences,
                              symbolic_gradient, tape_gradients, tape_products)
from .numeric import NumericDerivative
from .options import check_options, check_seed
from .points import KINK_MARGIN, check_points, choose_points
from .problem import Problem, make_problem
from .sources import tape_gradient
from .summary import Check, summarise
from .symbolic import SYMBOLIC_LIMIT, SymbolicModel, build_symbolic

__all__ = ["Run", "Sources", "prepare", "choose", "point_value", "undefined_reason", "numeric_sources",
           "exact_sources", "summarise_cells", "point_at", "symmetry"]

EPS = float(np.finfo(float).eps)


@dataclass
class Run:
    """What every point of one check shares."""

    problem: Problem
    gradient_model: SymbolicModel | None
    symbolic: SymbolicHessian | None
    method: str
    requested: str
    rtol: float
    atol: float
    budget: Budget
    skipped: dict[str, str] = field(default_factory=dict)
    numeric_method: str | None = None


def prepare(model: Any, wrt: Any, at: Any, data: Any, reduce: str, inputs: Any, points: Any,
             seed: Any, rtol: Any, atol: Any, method: str, symbolic_limit: int, timeout: Any
             ) -> tuple[Run, int, int]:
    budget = Budget(timeout)
    check_options(rtol, atol, method)
    seed = check_seed(seed)
    problem = make_problem(model, wrt, at, data, reduce, inputs)
    count = check_points(points)
    if method == "complex" and not problem.model.analytic:
        raise InputError("method='complex' needs an analytic expression; use 'richardson'")
    if isinstance(symbolic_limit, bool) or not isinstance(symbolic_limit, int) or symbolic_limit < 0:
        raise InputError(f"symbolic_limit must be a whole number >= 0, got {symbolic_limit!r}")
    run = Run(problem, None, None, method, method, float(rtol), float(atol), budget)
    share = budget.share(SYMBOLIC_SHARE)
    limit = SYMBOLIC_LIMIT if symbolic_limit else 0  # the gradient (for the numeric source) goes further
    try:
        run.gradient_model = share.run("the symbolic source",
                                       lambda: build_symbolic(problem, limit, share))
        run.symbolic = share.run("the symbolic Hessian", lambda: build_hessian(
            run.gradient_model, symbolic_limit, share))
    except GradcheckError as error:
        run.skipped["symbolic"] = str(error)
    except RecursionError:  # SymPy's differentiation and printing recurse per level
        run.skipped["symbolic"] = "the expression is nested too deeply for SymPy"
    return run, count, seed


def choose(run: Run, count: int, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """Seeded points where the Hessian (or, without it, SymPy's gradient) is finite and
    away from kinks."""
    problem = run.problem
    model: Any = run.symbolic if run.symbolic is not None else run.gradient_model
    usable = None
    if model is not None:
        arguments = (model.model if run.symbolic is not None else model).arguments
        usable = lambda point: model.usable(arguments(problem, point), KINK_MARGIN)  # noqa: E731
    return choose_points(problem, count, seed, usable)


def point_value(problem: Problem, point: Mapping[str, Any]) -> float:
    try:
        with np.errstate(all="ignore"):
            return float(np.real(problem.value(point)))
    except GradcheckError:
        raise
    except Exception as error:
        raise InputError(f"{problem.text} raised {type(error).__name__} on plain NumPy values: "
                         f"{error}") from None


def undefined_reason(problem: Problem, point: Mapping[str, Any], value: float) -> str | None:
    if math.isfinite(value):
        return None
    with np.errstate(all="ignore"):
        where = problem.model.first_undefined({**problem.fixed, **point})
    return f"the function is not finite here (value {value})" + (f": {where}" if where else "")


@dataclass
class Sources:
    """One point's sources as (checks, n) arrays: entry [c, i] of check c, component i."""

    symbolic: np.ndarray | None = None
    magnitude: np.ndarray | None = None
    refine: Callable[[int, int], float] | None = None
    tape: np.ndarray | None = None
    numeric: NumericDerivative | None = None
    claimed: np.ndarray | None = None
    claim_sizes: np.ndarray | None = None
    claim_refiners: dict[tuple[int, int], Callable[[], float]] = field(default_factory=dict)
    kinks: dict[int, dict[int, str]] = field(default_factory=dict)


def numeric_sources(run: Run, point: Mapping[str, Any], columns: np.ndarray | None) -> NumericDerivative:
    """Finite differences of the exact gradient: SymPy's where it ran, else the tape's."""
    problem = run.problem
    base = problem.flatten(point).astype(float)
    noise = None
    if run.gradient_model is not None:
        gradients, size = symbolic_gradient(run.gradient_model, problem, point)
        noise = 16 * EPS * size
    else:
        gradients = tape_gradients(problem, point)
        try:
            tape_gradient(problem, point)
        except GradcheckError as error:  # nothing exact to difference: say so, judge without
            run.skipped["numeric"] = (f"no exact gradient to difference (SymPy did not run, and "
                                      f"the tape could not: {error})")
            nan = np.full((len(base) if columns is None else len(columns), len(base)), np.nan)
            return NumericDerivative(nan, nan, np.zeros(nan.shape, dtype=bool), "none")
    if run.numeric_method is None:
        seconds = min(10.0, 0.25 * run.budget.left())
        run.numeric_method = choose_method(run.method, problem.model.analytic,
                                           run.gradient_model is not None,
                                           len(base) if columns is None else len(columns), gradients,
                                           base, seconds)
    return gradient_differences(gradients, base, columns, run.numeric_method, noise)


def exact_sources(run: Run, point: Mapping[str, Any], vectors: np.ndarray | None) -> Sources:
    """Symbolic and tape (the Hessian, or its products with ``vectors``) at one point."""
    out, problem, n = Sources(), run.problem, run.problem.size
    if run.symbolic is not None:
        arguments = run.symbolic.model.arguments(problem, point)
        h, m = run.symbolic.evaluate(arguments)
        refined = lambda: run.symbolic.refined(arguments)  # noqa: E731
        if vectors is None:
            out.symbolic, out.magnitude = h, m
            out.refine = lambda c, i: float(refined()[c, i])
        else:
            out.symbolic, out.magnitude = vectors @ h.T, np.abs(vectors) @ m.T
            out.refine = lambda c, i: float(refined()[i] @ vectors[c])
        out.kinks = run.symbolic.kinks(arguments)
    if "tape" not in run.skipped:
        try:
            out.tape = tape_products(problem, point, np.eye(n) if vectors is None else vectors)
        except GradcheckError as error:
            run.skipped["tape"] = str(error)
    return out


def _estimates(s: Sources, c: int, i: int) -> dict[str, Estimate]:
    sym = None if s.symbolic is None else float(s.symbolic[c, i])
    tape = None if s.tape is None else float(s.tape[c, i])
    num = s.numeric
    exact = [abs(v) for v in (sym, tape) if v is not None]
    sizes = ([float(s.magnitude[c, i])] if s.magnitude is not None else []) + (exact or [abs(num.value[c, i])])
    scale = max((x for x in sizes if math.isfinite(x)), default=0.0)
    rounding = ROUNDING_ULPS * EPS * scale
    out = {}
    if sym is not None:
        out["symbolic"] = Estimate(sym, rounding, (lambda: s.refine(c, i)) if s.refine else None)
    if tape is not None:
        out["tape"] = Estimate(tape, rounding)
    out["numeric"] = Estimate(float(num.value[c, i]), float(num.error[c, i]) + rounding)
    if s.claimed is not None and not np.isnan(s.claimed[c, i]):
        size = max(scale, float(s.claim_sizes[c, i])) if s.claim_sizes is not None else scale
        out["claimed"] = Estimate(float(s.claimed[c, i]), ROUNDING_ULPS * EPS * size,
                                  s.claim_refiners.get((c, i)), magnitude=size)
    return out


def _kink(s: Sources, c: int, i: int, moved: Sequence[int] | None) -> str | None:
    """Why cell (c, i) does not exist: entry (c, i) of the Hessian (``moved`` None), or
    component i of H v_c (``moved``: the elements v_c moves)."""
    if s.symbolic is not None:
        where = s.kinks.get(c if moved is None else i, {})
        return where.get(i) if moved is None else next((where[j] for j in moved if j in where), None)
    if s.numeric is not None and s.numeric.kink[c, i]:
        return "finite differences of the gradient see a kink here (one-sided slopes differ)"
    return None


def summarise_cells(run: Run, name: str, shape: tuple, cells: list, s: Sources, undefined: str | None,
               point: int, moved: list | None) -> tuple[Any, list[Entry]]:
    """One row: every (c, i) cell of a block judged, summarised; and its entries."""
    checks = [Check(label, _estimates(s, c, i), float(s.numeric.error[c, i]),
                    _kink(s, c, i, None if moved is None else moved[c]))
              for label, c, i in cells]
    result = summarise(name, shape, checks, run.rtol, run.atol, undefined, per_element=True)
    if result.per_element is None:  # a scalar pair: the row is its one entry
        rows = [{"index": [], "status": result.status, "culprit": result.culprit,
                 "rel_error": result.rel_error, "numeric_error": result.numeric_error,
                 **{k: getattr(result, k) for k in checks[0].estimates}}]
    else:
        rows = result.per_element
    entries = [Entry(point, name, c, i, row) for (_, c, i), row in zip(cells, rows)]
    return result, entries


def point_at(problem: Problem, point: Mapping[str, Any]) -> dict[str, float]:
    return {n: float(v) for n, v in {**problem.fixed, **point}.items()
            if np.ndim(v) == 0 and isinstance(np.asarray(v).item(), (int, float))}


def symmetry(matrix: np.ndarray) -> float | None:
    """max |C - C^T| / max |C| over the entries claimed both ways (None: none finite)."""
    both = np.isfinite(matrix) & np.isfinite(matrix.T)
    if not both.any():
        return None
    scale = float(np.max(np.abs(matrix[both])))
    spread = float(np.max(np.abs(matrix - matrix.T)[both]))
    return spread / scale if scale > 0 else 0.0
