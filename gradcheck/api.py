"""The public entry points: ``check`` and ``assert_gradients``."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import sympy

from .compare import ROUNDING_ULPS, Estimate, classify
from .defaults import DEFAULT_ATOL, DEFAULT_POINTS, DEFAULT_RTOL, DEFAULT_SEED
from .errors import GradcheckError, InputError
from .evaluate import Batch, choose_points, kinks
from .numeric import METHODS
from .problem import check_points, make_problem
from .report import ParamResult, PointResult, Report
from .sources import (claimed_source, numeric_source, prepare_claims, refiner,
                      symbolic_source, tape_source)
from .symbolic import Derivatives, differentiate, first_undefined

__all__ = ["check", "assert_gradients", "GradientMismatch", "DEFAULT_RTOL", "DEFAULT_ATOL"]

EPS = np.finfo(float).eps


class GradientMismatch(AssertionError):
    """Raised by assert_gradients; ``report`` holds the full Report."""

    def __init__(self, report: Report):
        super().__init__(str(report))
        self.report = report


def _check_options(rtol: float, atol: float, method: str) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {value!r}")
    if method not in METHODS + ("auto",):
        raise InputError(f"method must be one of auto, {', '.join(METHODS)}; got {method!r}")


def _undefined_reason(derivs: Derivatives, batch: Batch, index: int, value: float) -> str | None:
    if math.isfinite(value):
        return None
    where = first_undefined(derivs.expr, batch.rows(index))
    return (f"the function is not finite here (value {value}): {where}" if where
            else f"the function is not finite here (value {value})")


def _kink_reason(site: str | None) -> str | None:
    if site is None:
        return None
    return f"kink: {site} = 0 here, so the derivative does not exist (one-sided slopes differ)"


def _run_tape(problem, batch, skipped) -> dict[str, np.ndarray] | None:
    try:
        return tape_source(problem, batch)
    except GradcheckError as error:
        skipped["tape"] = str(error)
        return None


def check(expression: str | sympy.Expr, wrt: Sequence[str] | str | None = None,
          at: Mapping[str, Any] | None = None, *, data: Mapping[str, Any] | None = None,
          reduce: str = "sum", claimed: Mapping[str, Any] | None = None,
          points: int = DEFAULT_POINTS, seed: int = DEFAULT_SEED, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
          method: str = "auto", inputs: Sequence[str] | None = None, **options: Any) -> Report:
    """Compute every partial derivative symbolically, on the tape and numerically; compare.

    Args:
        expression: text such as ``"w1*x**2 + w2*x + b"`` (parsed safely), a SymPy
            expression, or a Python function taking its arguments by name (see
            gradcheck.models.check_function, whose ``options`` pass through).
        wrt: parameters to differentiate; default every variable that is not an input
            or a data column.
        at: values for some or all variables; the rest get seeded values in the domain.
        data: columns of a data set; the loss is the expression summed (``reduce="sum"``)
            or averaged (``"mean"``) over its rows.
        claimed: the user's own gradients, per parameter: text or a callable taking
            variables by name (vectorised over data rows).
        points, seed: how many seeded points, and the seed that makes them reproducible.
        rtol, atol: tolerances added to each source's own error bound.
        method: finite-difference scheme: ``auto`` (complex step where the expression is
            analytic, else Richardson), ``central``, ``richardson`` or ``complex``.
        inputs: variables held fixed (not differentiated).

    Raises:
        ExpressionError: the text was refused by the parser.
        InputError: a name, value, data column, claim or option is malformed.

    >>> r = check("w1*x**2 + w2*x + b", wrt=["w1", "w2", "b"],
    ...           at={"x": 2.0, "w1": 1.0, "w2": 1.0, "b": 1.0})
    >>> r.ok, r.derivatives["w1"]
    (True, 'x**2')
    """
    if callable(expression) or options:  # a Python function model (gradcheck/models)
        from .models import check_function  # imported on demand: 20 ms of every CLI start
        return check_function(expression, wrt, at, data=data, reduce=reduce, claimed=claimed,
                              points=points, seed=seed, rtol=rtol, atol=atol, method=method,
                              inputs=inputs, **options)
    _check_options(rtol, atol, method)
    problem = make_problem(expression, wrt, at, data, reduce, inputs)
    count = check_points(points)
    if method == "complex" and any(
            isinstance(n, (sympy.Abs, sympy.Max, sympy.Min)) for n in sympy.preorder_traversal(problem.expr)):
        raise InputError("method='complex' needs an analytic expression; this one has "
                         "Abs/max/min/relu: use 'richardson'")
    derivs = differentiate(problem.expr, problem.wrt)
    claims = prepare_claims(claimed, problem)
    batch, notes = choose_points(problem, derivs, count, seed)
    skipped: dict[str, str] = {}
    with np.errstate(all="ignore"):
        value = batch.reduced(derivs.value)
        symbolic, magnitude = symbolic_source(derivs, batch)
        tape = _run_tape(problem, batch, skipped)
        numeric = numeric_source(derivs, batch, method)
        claimed_values = claimed_source(claims, batch)
        kinked = kinks(derivs, batch)
    sources = ["symbolic"] + (["tape"] if tape is not None else []) + ["numeric"]
    sources += ["claimed"] if claims else []
    point_results = []
    for i in range(batch.size):
        undefined = _undefined_reason(derivs, batch, i, float(value[i]))
        params = []
        for p in problem.wrt:
            rounding = ROUNDING_ULPS * EPS * _finite_max(magnitude[p][i], symbolic[p][i])
            estimates = {"symbolic": Estimate(float(symbolic[p][i]), rounding,
                                              refiner(derivs.exprs[p], batch, i))}
            if tape is not None:
                estimates["tape"] = Estimate(float(tape[p][i]), rounding)
            n = numeric[p]
            estimates["numeric"] = Estimate(float(n.value[i]), float(n.error[i]) + rounding)
            if p in claims:
                claim = claims[p]
                estimates["claimed"] = Estimate(
                    float(claimed_values[p][i]), rounding,
                    refiner(claim.expr, batch, i) if claim.expr is not None else None)
            verdict = classify(estimates, rtol, atol, undefined=undefined,
                               kink=_kink_reason(kinked[p][i]))
            params.append(_param_result(p, verdict, estimates, n.error[i]))
        point_results.append(PointResult({k: float(v[i]) for k, v in batch.values.items()},
                                         float(value[i]), params))
    settings = {"rtol": rtol, "atol": atol, "method": method, "seed": seed, "points": count,
                "reduce": problem.reduce, "data_rows": problem.rows, "inputs": list(problem.inputs)}
    return Report(problem.text, list(problem.wrt), {p: str(e) for p, e in derivs.exprs.items()},
                  point_results, sources, skipped, settings, notes)


def _finite_max(*values: float) -> float:
    """The largest finite |value| (0 if none): a NaN must not poison a tolerance."""
    return max((abs(float(v)) for v in values if math.isfinite(v)), default=0.0)


def _param_result(name, verdict, estimates, numeric_error) -> ParamResult:
    value = {s: (verdict.values or {}).get(s, e.value) for s, e in estimates.items()}
    return ParamResult(
        name=name, status=verdict.status, symbolic=value.get("symbolic"), tape=value.get("tape"),
        numeric=value.get("numeric"), numeric_error=float(numeric_error),
        claimed=value.get("claimed"), culprit=verdict.culprit, rel_error=verdict.rel_error,
        message=verdict.message, high_precision=verdict.refined)


def assert_gradients(expression: str | sympy.Expr, *args: Any, allow_kinks: bool = False,
                     **kwargs: Any) -> Report:
    """``check`` that raises GradientMismatch (an AssertionError) with the report's table.

    >>> assert_gradients("(w*x - y)**2", data={"x": [1, 2], "y": [2, 4]}, claimed={"w": "2*x*(w*x - y)"}).ok
    True
    """
    report = check(expression, *args, **kwargs)
    if report.exit_code(allow_kinks) != 0:
        raise GradientMismatch(report)
    return report
