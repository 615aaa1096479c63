"""Second derivatives checked like gradients: ``check_hessian`` (every entry of the
Hessian) and ``check_hvp`` (Hessian-vector products along seeded random vectors).

Every second partial derivative comes from up to four independent sources
(hessian_sources.py): SymPy (the exact Hessian, refined at 50 digits when float64 cannot
decide), the tape run twice (reverse over reverse), finite differences of the exact
gradient with their own error bound, and the user's claim (hessian_claims.py). Each
entry is judged by compare.classify (consensus, blame, the mpmath tie-break) and the
entries of one parameter pair are summarised by summary.summarise into one row, so a
Hessian report reads like a gradient report. The pieces of the one pipeline are
reused: problem.make_problem, points.choose_points, budget.Budget.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .budget import DEFAULT_TIMEOUT
from .defaults import DEFAULT_ATOL, DEFAULT_POINTS, DEFAULT_RTOL, DEFAULT_SEED
from .errors import InputError
from .finite import random_directions
from .hessian_claims import claimed_hessian, claimed_hvp, prepare_hessian_claims
from .hessian_report import build_report, entry_labels, pair_name
from .hessian_run import (Run, Sources, choose, exact_sources, numeric_sources, point_at,
                          point_value, prepare, summarise_cells, symmetry, undefined_reason)
from .hessian_sources import HESSIAN_SYMBOLIC_LIMIT
from .numeric import NumericDerivative
from .report import PointResult, Report

__all__ = ["check_hessian", "check_hvp", "check_order", "ORDERS", "MAX_HESSIAN_ELEMENTS",
           "HESSIAN_SYMBOLIC_LIMIT"]

ORDERS = (1, 2)
# check_hessian compares every entry: above this many parameter elements, use check_hvp.
MAX_HESSIAN_ELEMENTS = 300


def check_order(order: Any) -> int:
    """``order`` of a check: 1 (gradients) or 2 (Hessians); anything else is an InputError,
    so a Hessian check can never quietly run the gradient check."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or int(order) not in ORDERS:
        raise InputError(f"order must be 1 (gradients) or 2 (Hessians), got {order!r}")
    return int(order)


def check_hessian(model: Any, hess: Any = None, wrt: Sequence[str] | str | None = None,
                  at: Mapping[str, Any] | None = None, *, data: Mapping[str, Any] | None = None,
                  reduce: str = "sum", points: int = DEFAULT_POINTS, seed: int = DEFAULT_SEED,
                  rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL, method: str = "auto",
                  inputs: Sequence[str] | None = None, per_element: bool = False,
                  symbolic_limit: int = HESSIAN_SYMBOLIC_LIMIT,
                  timeout: float | None = DEFAULT_TIMEOUT) -> Report:
    """Check every second partial derivative d2f / d theta_i d theta_j.

    ``theta`` is the flat parameter vector (``wrt`` order, C order inside a tensor). The
    sources: SymPy's exact Hessian, the tape run twice, finite differences of the exact
    gradient, and ``hess``, the claimed Hessian: text per pair of scalar parameters
    ``{("w1", "w2"): "x**2"}`` (one of a symmetric pair stands for both; a text is per
    data row, like a gradient claim), blocks per pair ``{("W", "b"): array}``, an (n, n)
    matrix, or a callable taking the model's arguments by name and returning one of
    those. Rows of the report are parameter pairs (``"w1,w2"``; a tensor's own block is
    ``"W"``); ``report.to_dict()["hessian"]`` has the worst (i, j) entry, the claimed
    Hessian's symmetry residual and, for small Hessians, every entry. Other arguments
    mean what they mean for ``check``.

    >>> r = check_hessian("w1**2*w2 + sin(w2)", {("w1", "w1"): "2*w2", ("w1", "w2"): "2*w1",
    ...                   ("w2", "w2"): "-sin(w2)"}, at={"w1": 0.5, "w2": 1.5})
    >>> r.ok, r.derivatives["w1,w2"]
    (True, '2*w1')
    >>> bad = check_hessian("w1**2*w2", {("w1", "w1"): "w2", ("w1", "w2"): "2*w1",
    ...                     ("w2", "w2"): "0"}, at={"w1": 0.5, "w2": 1.5})
    >>> bad.ok, bad.hessian["worst"]["row"], bad.hessian["worst"]["culprit"]
    (False, 'w1', 'claimed')
    """
    run, count, seed = prepare(model, wrt, at, data, reduce, inputs, points, seed, rtol, atol,
                                method, symbolic_limit, timeout)
    problem = run.problem
    if problem.size > MAX_HESSIAN_ELEMENTS:
        raise InputError(f"{problem.size:,} parameter elements: a full Hessian has "
                         f"{problem.size ** 2:,} entries (at most {MAX_HESSIAN_ELEMENTS:,} elements); "
                         "check Hessian-vector products with check_hvp instead")
    claims = prepare_hessian_claims(hess, problem)
    chosen, notes = choose(run, count, seed)
    results, entries, residuals = [], [], []
    for k, point in run.budget.within(chosen, notes):
        value = point_value(problem, point)
        s = exact_sources(run, point, None)
        with np.errstate(all="ignore"):
            d = numeric_sources(run, point, None)
        s.numeric = NumericDerivative(d.value.T, d.error.T, d.kink.T, d.method)
        if claims is not None:
            s.claimed, s.claim_sizes, s.claim_refiners = claimed_hessian(claims, problem, point)
            residuals.append(symmetry(s.claimed))
        results.append(_hessian_point(run, point, k, value, s, entries))
    return build_report(run, results, entries, residuals, notes, count, seed, claims is not None,
                        per_element, kind="hessian", vectors=None)


def _hessian_point(run: Run, point: dict, k: int, value: float, s: Sources, entries: list) -> Any:
    problem, slices, shapes = run.problem, run.problem.slices(), run.problem.shapes
    undefined = undefined_reason(problem, point, value)
    params = []
    for p in problem.wrt:
        for q in problem.wrt:
            cells = [(label_p + label_q, i, j)
                     for label_p, i in entry_labels(shapes[p], slices[p])
                     for label_q, j in entry_labels(shapes[q], slices[q])]
            result, found = summarise_cells(run, pair_name(p, q, shapes), shapes[p] + shapes[q], cells, s,
                                       undefined, k, None)
            params.append(result)
            entries += found
    return PointResult(point_at(problem, point), value, params)


def check_hvp(model: Any, hvp: Callable[..., Any] | None = None, wrt: Sequence[str] | str | None = None,
              at: Mapping[str, Any] | None = None, *, vectors: int = 3,
              data: Mapping[str, Any] | None = None, reduce: str = "sum",
              points: int = DEFAULT_POINTS, seed: int = DEFAULT_SEED, rtol: float = DEFAULT_RTOL,
              atol: float = DEFAULT_ATOL, method: str = "auto", inputs: Sequence[str] | None = None,
              per_element: bool = False, symbolic_limit: int = HESSIAN_SYMBOLIC_LIMIT,
              timeout: float | None = DEFAULT_TIMEOUT) -> Report:
    """Check Hessian-vector products H v along ``vectors`` seeded random unit vectors.

    ``hvp(v, **arguments)`` gets v as a flat vector over the parameters (``wrt`` order, C
    order) and the model's arguments by name, and returns H v flat, as a dict per
    parameter, or (one parameter) in its shape. Sources: SymPy's H v (parameters up to
    ``symbolic_limit`` elements), the tape (the gradient of <gradient, v>), finite
    differences of the exact gradient along v, and the claim. Rows are parameters; an
    element index reads (vector, element...). ``hessian["symmetry"]`` is the claim's
    residual max |u.Hv - v.Hu| / max |u.Hv| over pairs of the vectors.

    >>> import numpy as np
    >>> def f(W, x):
    ...     return np.sum(np.tanh(W @ x))
    >>> def hvp(v, W, x):
    ...     a = np.tanh(W @ x)
    ...     return (-2 * a * (1 - a ** 2) * ((v.reshape(W.shape) @ x)))[:, None] * x
    >>> at = {"W": np.full((2, 3), 0.3), "x": np.array([0.5, -1.0, 2.0])}
    >>> check_hvp(f, hvp, wrt=["W"], at=at, inputs=["x"]).ok
    True
    """
    if isinstance(vectors, bool) or not isinstance(vectors, (int, np.integer)) or not 1 <= vectors <= 1000:
        raise InputError(f"vectors must be a whole number from 1 to 1000, got {vectors!r}")
    if hvp is not None and not callable(hvp):
        raise InputError(f"hvp must be a function hvp(v, **arguments), got {type(hvp).__name__}")
    run, count, seed = prepare(model, wrt, at, data, reduce, inputs, points, seed, rtol, atol,
                                method, symbolic_limit, timeout)
    problem = run.problem
    directions = random_directions(problem.size, int(vectors), np.random.default_rng(seed))
    chosen, notes = choose(run, count, seed)
    results, entries, residuals = [], [], []
    for k, point in run.budget.within(chosen, notes):
        value = point_value(problem, point)
        s = exact_sources(run, point, directions)
        with np.errstate(all="ignore"):
            s.numeric = numeric_sources(run, point, directions)
        if hvp is not None:
            s.claimed = np.array([claimed_hvp(hvp, problem, point, v) for v in directions])
            products = directions @ s.claimed.T
            residuals.append(symmetry(products))
        results.append(_hvp_point(run, point, k, value, s, entries, directions))
    return build_report(run, results, entries, residuals, notes, count, seed, hvp is not None,
                        per_element, kind="hvp", vectors=directions)


def _hvp_point(run: Run, point: dict, k: int, value: float, s: Sources, entries: list,
               directions: np.ndarray) -> Any:
    problem, slices, shapes = run.problem, run.problem.slices(), run.problem.shapes
    undefined = undefined_reason(problem, point, value)
    moved = [np.flatnonzero(v) for v in directions]
    params = []
    for p in problem.wrt:
        cells = [((c,) + label, c, i) for c in range(len(directions))
                 for label, i in entry_labels(shapes[p], slices[p])]
        result, found = summarise_cells(run, p, (len(directions),) + shapes[p], cells, s, undefined, k,
                                   moved)
        params.append(result)
        entries += found
    return PointResult(point_at(problem, point), value, params)
