"""The one pipeline, for text expressions and Python functions alike.

Per point: the model's value, the tape's gradient (one backward sweep), the SymPy
gradient (built and compiled once, evaluated per point), finite differences per element
(or along random directions for big parameters) and the user's claim; compare.classify
per element; summary.summarise per parameter; one Report. A source that cannot run the
model is skipped with the reason in ``report.skipped``.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np

from . import finite
from .budget import SYMBOLIC_SHARE, Budget
from .compare import ROUNDING_ULPS, Estimate
from .errors import GradcheckError, InputError
from .numeric import NumericDerivative
from .points import KINK_MARGIN, choose_points
from .precision import dtype_shift, explainer, resolves_slip, rounding_bound
from .problem import Problem
from .report import Derivatives, ParamResult, PointResult, Report
from .sources import Claims, claimed_gradient, refine_claim, tape_gradient
from .summary import Check, summarise
from .symbolic import SymbolicModel, build_symbolic

__all__ = ["run_check", "PROJECTION_THRESHOLD", "DEFAULT_DIRECTIONS"]

EPS = np.finfo(float).eps
# A parameter with more elements than this is checked along random directions by default.
PROJECTION_THRESHOLD = 2_000
DEFAULT_DIRECTIONS = 8


@dataclass
class _Run:
    """What every point of one check shares."""

    problem: Problem
    symbolic: SymbolicModel | None
    claims: Claims
    directions: dict[str, np.ndarray]
    method: str
    rtol: float
    atol: float
    per_element: bool
    skipped: dict[str, str] = field(default_factory=dict)
    dtype: np.dtype = np.dtype(np.float64)  # of the user's code: the tape, callable claims


def _plan(problem: Problem, projections: int | None, rng: np.random.Generator
          ) -> dict[str, np.ndarray]:
    """Random unit directions for the parameters checked by projection."""
    if projections is not None and (isinstance(projections, bool) or
                                    not isinstance(projections, int) or projections < 0):
        raise InputError(f"projections must be a whole number >= 0 or None, got {projections!r}")
    out = {}
    for p, n in problem.sizes.items():
        k = DEFAULT_DIRECTIONS if projections is None and n > PROJECTION_THRESHOLD else projections
        if k and problem.shapes[p] != ():
            out[p] = finite.random_directions(n, k, rng)
    return out


def _value(problem: Problem, point: Mapping[str, Any]) -> float:
    try:
        with np.errstate(all="ignore"):
            value = problem.value(point)
        if isinstance(value, complex) and value.imag != 0 and np.isfinite(value.imag):
            raise InputError(f"{problem.text} returned a complex value ({value}); gradcheck "
                             "checks real functions (complex inputs are not supported)")
        return float(np.real(value))
    except GradcheckError:
        raise
    except Exception as error:
        seeded = [n for n in problem.free if np.ndim(point.get(n, 0)) == 0]
        hint = (f" ({', '.join(seeded)} had no value in 'at' and got seeded scalars; give "
                "array arguments their values)") if seeded and not problem.is_expression else ""
        raise InputError(f"{problem.text} raised {type(error).__name__} on plain NumPy values: "
                         f"{error}{hint}") from None


def _tape(run: _Run, point: Mapping[str, Any]) -> np.ndarray | None:
    if "tape" in run.skipped:
        return None
    try:
        return tape_gradient(run.problem, point, run.dtype)
    except GradcheckError as error:
        run.skipped["tape"] = str(error)
        return None


def _numeric(run: _Run, point: Mapping[str, Any], noise: float | None, defined: bool = True
             ) -> dict[str, NumericDerivative]:
    """Per parameter: every element in one call of numeric.py, or its random directions."""
    problem, slices = run.problem, run.problem.slices()
    flat = [p for p in problem.wrt if p not in run.directions]
    out = {}
    if flat:
        elements = np.concatenate([np.arange(slices[p].start, slices[p].stop) for p in flat])
        d = _with_fallback(lambda m: finite.elementwise(problem, point, elements, m, noise),
                           run.method, fallback=defined)
        start = 0
        for p in flat:
            part = slice(start, start + problem.sizes[p])
            out[p] = NumericDerivative(d.value[part], d.error[part], d.kink[part], d.method)
            start = part.stop
    for p, u in run.directions.items():
        out[p] = finite.directional(problem, point, slices[p], u, run.method, noise)
    return out


def _with_fallback(differentiate: Callable[[str], NumericDerivative], method: str,
                   fallback: bool = True) -> NumericDerivative:
    """Where complex arithmetic misbehaves (not finite), Richardson instead, per element;
    not where f itself is not finite (``fallback`` False), which no step can mend."""
    d = differentiate(method)
    bad = ~np.isfinite(d.value)
    if method != "complex" or not bad.any() or not fallback:
        return d
    f = differentiate("richardson")
    return NumericDerivative(np.where(bad, f.value, d.value), np.where(bad, f.error, d.error),
                             f.kink, "complex")


@dataclass
class _Exact:
    """One point's exact sources over the flat parameter vector (None: did not run)."""

    symbolic: np.ndarray | None = None
    magnitude: np.ndarray | None = None
    tape: np.ndarray | None = None
    claimed: dict[str, np.ndarray] = field(default_factory=dict)
    kinks: dict[int, str] = field(default_factory=dict)
    refined: Callable[[], np.ndarray] | None = None
    point: dict[str, Any] | None = None
    # code in a low-precision dtype: the operations on the tape's path, the size of the
    # terms its backward adds, and how far rounding the inputs to the dtype moves the truth
    operations: float = 0.0
    tape_sizes: np.ndarray | None = None
    input_shift: np.ndarray | None = None
    # text claims: their high-precision value, and the size of the terms they add up
    claim_refiners: dict[str, Callable[[], float]] = field(default_factory=dict)
    claim_magnitudes: dict[str, float] = field(default_factory=dict)

    def of(self, p: str, where: slice, u: np.ndarray | None) -> list[np.ndarray | None]:
        """Symbolic, magnitude, tape and claimed values of p's checks: its elements, or
        its elements projected on the directions ``u`` (magnitudes add up in absolute value)."""
        claim = self.claimed[p].ravel() if p in self.claimed else None
        values = [None if v is None else v[where] for v in (self.symbolic, self.magnitude, self.tape)]
        values.append(claim)
        if u is None:
            return values
        return [None if v is None else (np.abs(u) if i == 1 else u) @ v for i, v in enumerate(values)]


def _estimates(i: int, sym, mag, tape, claim, num: NumericDerivative, refine, refine_claim,
               claim_magnitude: float = 0.0, low: tuple | None = None
               ) -> tuple[dict[str, Estimate], float]:
    """Every source's estimate of one element, and the size of its terms. ``low``: the
    dtype the user's code ran in, the operations on its path, whether the claim is theirs
    (a callable or values, not text), the size of the tape's terms and the shift of the
    truth by rounding the inputs, for rounding bounds in that dtype."""
    exact = [abs(v[i]) for v in (sym, tape) if v is not None]
    sizes = ([abs(mag[i])] if mag is not None else []) + (exact or [abs(num.value[i])])
    scale = max((x for x in sizes if np.isfinite(x)), default=0.0)  # a NaN must not poison it
    rounding = ROUNDING_ULPS * EPS * scale
    out = {}
    if sym is not None:
        out["symbolic"] = Estimate(float(sym[i]), rounding, refine)
    if tape is not None:
        out["tape"] = Estimate(float(tape[i]), rounding)
    out["numeric"] = Estimate(float(num.value[i]), float(num.error[i]) + rounding)
    if claim is not None:  # a claim that cancels is trusted to the size of its own terms
        size = max(scale, claim_magnitude) if math.isfinite(claim_magnitude) else scale
        out["claimed"] = Estimate(float(claim[i]), ROUNDING_ULPS * EPS * size, refine_claim,
                                  magnitude=size)
    if low is not None:
        dt, operations, claim_is_theirs, sizes, shift = low
        bound = rounding_bound(operations, max(scale, sizes), dt) + shift
        for source in ("tape",) + (("claimed",) if claim_is_theirs else ()):
            if source in out:
                out[source].uncertainty = max(out[source].uncertainty, bound)
    return out, scale


def _of(values: np.ndarray | None, where: slice, u: np.ndarray | None, i: int) -> float:
    """Element i of a parameter's nonnegative per-element values (or of their projection
    on direction i, in absolute value); 0 where there are none."""
    if values is None:
        return 0.0
    part = values[where]
    out = part[i] if u is None else np.abs(u[i]) @ part
    return float(out) if np.isfinite(out) else 0.0


def _kink(run: _Run, exact: _Exact, elements: range, num: NumericDerivative, i: int) -> str | None:
    """SymPy's kink sites when it ran (any element of a projected parameter), else the
    one-sided slopes of the finite differences."""
    if run.symbolic is None:
        return "finite differences see a kink here (one-sided slopes differ)" if num.kink[i] else None
    return next((exact.kinks[e] for e in elements if e in exact.kinks), None)


def _smooth_site(run: _Run, exact: _Exact, kink: str | None, element: int, projected: bool) -> bool:
    """A kink site across which the derivative is continuous (x*abs(x) at 0) is no kink;
    but f'' jumps there, so the finite differences' bound is void: they do not vote."""
    return (kink is not None and not projected and exact.point is not None
            and run.symbolic.continuous(run.problem, exact.point, element))


def _param(run: _Run, p: str, exact: _Exact, num: NumericDerivative, undefined: str | None
           ) -> ParamResult:
    """Every check of one parameter (its elements, or its random directions), summarised."""
    where, shape, u = run.problem.slices()[p], run.problem.shapes[p], run.directions.get(p)
    if u is not None and undefined is None and run.dtype == np.float64:  # every element first
        from .elements import exact_elements
        sym, mag, tape, claim = exact.of(p, where, None)
        found = exact_elements(p, shape, {"symbolic": sym, "tape": tape, "claimed": claim},
                               mag, run.rtol, run.atol)
        if found is not None:
            return found
    sym, mag, tape, claim = exact.of(p, where, u)
    checks = []
    for i in range(len(num.value)):
        if u is None:
            element = where.start + i
            label = tuple(int(k) for k in np.unravel_index(i, shape))
            refine = (lambda e=element: float(exact.refined()[e])) if exact.refined else None
            elements = range(element, element + 1)
        else:
            label, refine, elements = i, None, range(where.start, where.stop)
        low = None
        if run.dtype != np.float64:
            sizes, shift = (_of(v, where, u, i) for v in (exact.tape_sizes, exact.input_shift))
            low = (run.dtype, exact.operations or 1.0, p not in run.claims.texts, sizes, shift)
        estimates, scale = _estimates(i, sym, mag, tape, claim, num, refine,
                                      exact.claim_refiners.get(p) if u is None else None,
                                      exact.claim_magnitudes.get(p, 0.0), low)
        explain = None
        if low is not None:
            lows = ("tape",) + (("claimed",) if low[2] else ())
            explain = explainer(estimates, run.dtype, lows, scale)
        kink = _kink(run, exact, elements, num, i)
        if run.symbolic is not None and _smooth_site(run, exact, kink, elements.start, u is not None):
            kink, estimates["numeric"].uncertainty = None, math.inf
        checks.append(Check(label, estimates, float(num.error[i]), kink, explain))
    return summarise(p, shape, checks, run.rtol, run.atol, undefined, run.per_element,
                     None if u is None else len(u))


def _exact(run: _Run, point: dict[str, Any]) -> tuple[_Exact, float | None]:
    """The exact sources at one point, and the rounding noise of one evaluation of f."""
    problem = run.problem
    exact, noise = _Exact(point=point), None
    taped = _tape(run, point)
    if taped is not None:
        exact.tape, exact.operations, exact.tape_sizes = taped
    if run.claims:
        exact.claimed = claimed_gradient(run.claims, problem, point, run.dtype)
        exact.claim_refiners = {p: (lambda p=p: refine_claim(run.claims, p, problem, point))
                                for p in run.claims.texts}
        exact.claim_magnitudes = {p: _claim_magnitude(run.claims.texts[p], problem, point)
                                  for p in run.claims.texts}
    if run.symbolic is not None:
        arguments = run.symbolic.arguments(problem, point)
        exact.symbolic, exact.magnitude, magnitude = run.symbolic.evaluate(arguments)
        exact.kinks = run.symbolic.kinks(arguments)
        exact.refined = lambda: run.symbolic.refined(arguments)
        noise = 16 * EPS * magnitude
        if run.dtype != np.float64:
            exact.input_shift = dtype_shift(run.symbolic, arguments, run.dtype, exact.symbolic)
    return exact, noise


def _claim_magnitude(claim: Any, problem: Problem, point: Mapping[str, Any]) -> float:
    with np.errstate(all="ignore"):
        size = np.asarray(claim.magnitude({**problem.fixed, **point}), dtype=float)
    return float(np.sum(size) if problem.reduce == "sum" else np.mean(size))


def _undefined(problem: Problem, point: Mapping[str, Any], value: float) -> str | None:
    if math.isfinite(value):
        return None
    with np.errstate(all="ignore"):
        where = problem.model.first_undefined({**problem.fixed, **point})
    return (f"the function is not finite here (value {value}): {where}" if where
            else f"the function is not finite here (value {value})")


def _check_point(run: _Run, point: dict[str, Any]) -> PointResult:
    problem = run.problem
    value = _value(problem, point)
    exact, noise = _exact(run, point)
    with np.errstate(all="ignore"):
        num = _numeric(run, point, noise, math.isfinite(value))
    undefined = _undefined(problem, point, value)
    params = [_param(run, p, exact, num[p], undefined) for p in problem.wrt]
    at = {k: float(v) for k, v in {**problem.fixed, **point}.items()
          if np.ndim(v) == 0 and isinstance(np.asarray(v).item(), (int, float))}
    return PointResult(at, value, params)


def _derivatives(run: _Run) -> Derivatives:
    out: dict[str, Any] = {}
    slices = run.problem.slices()
    for p, shape in run.problem.shapes.items():
        if p in run.directions:
            out[p] = f"random projection, {len(run.directions[p])} directions"
        elif shape != ():
            out[p] = f"elementwise, shape {shape}"
        elif run.symbolic is not None:
            out[p] = partial(operator.getitem, run.symbolic.exprs, slices[p].start)
        else:
            out[p] = ""
    return Derivatives(out)


def _notes(run: _Run, seed: int, requested: str) -> list[str]:
    notes = [f"{p}: {run.problem.sizes[p]:,} elements: the exact sources compared element by "
             f"element, the finite differences along {len(u)} random unit directions (random "
             f"projection, seed {seed})" for p, u in run.directions.items()]
    if requested == "auto" and run.method == "central":
        notes.append(f"finite differences: central differences (Richardson would need more "
                     f"than {finite.CALL_BUDGET:,} function calls, or "
                     f"{finite.NUMBERS_PER_POINT:,} numbers passed, per point)")
    return notes


def _symbolic(problem: Problem, limit: int, skipped: dict[str, str], budget: Budget
              ) -> SymbolicModel | None:
    share = budget.share(SYMBOLIC_SHARE)
    try:
        return share.run("the symbolic source", lambda: build_symbolic(problem, limit, share, shapes=True))
    except GradcheckError as error:
        skipped["symbolic"] = str(error)
    except RecursionError:  # SymPy's printer and Python's compiler recurse per level
        skipped["symbolic"] = "the expression is nested too deeply for SymPy to compile"
    return None


def run_check(problem: Problem, claims: Claims, count: int, seed: int, rtol: float, atol: float,
              method: str, per_element: bool, projections: int | None, symbolic_limit: int,
              budget: Budget, dt: np.dtype = np.dtype(np.float64)) -> Report:
    """Every source at ``count`` points, compared and summarised in one Report; points
    left when the budget runs out are not checked, and the report says so."""
    if method == "complex" and problem.is_expression and not problem.model.analytic:
        raise InputError("method='complex' needs an analytic expression; this one has "
                         "Abs/max/min/relu: use 'richardson'")
    directions = _plan(problem, projections, np.random.default_rng(seed))
    checks = sum(len(directions[p]) if p in directions else n for p, n in problem.sizes.items())
    skipped: dict[str, str] = {}
    symbolic = _symbolic(problem, symbolic_limit, skipped, budget)
    run = _Run(problem, symbolic, claims, directions, method, rtol, atol, per_element, skipped,
               np.dtype(dt))
    usable = None
    if symbolic is not None:
        usable = lambda point: _usable(run, symbolic.arguments(problem, point))  # noqa: E731
    chosen, notes = choose_points(problem, count, seed, usable, budget)
    run.method = finite.choose_method(method, checks, problem, chosen[0] if chosen else None)
    results = [_check_point(run, point) for _, point in budget.within(chosen, notes)]
    notes += [f"the gradient function returned no gradient for {p}: a mismatch (claimed)"
              for p in problem.wrt if p in claims.missing]
    return _report(run, results, list(problem.notes) + notes, count, seed, method, budget)


def _usable(run: _Run, arguments: dict[str, Any]) -> bool:
    """A seeded point tests something: finite gradient, away from kinks, and (for code in
    a low-precision dtype) where that dtype's rounding could not hide a SLIP."""
    if not run.symbolic.usable(arguments, KINK_MARGIN):
        return False
    if run.dtype == np.float64:
        return True
    operations = run.problem.model.size if run.problem.is_expression else 16
    return resolves_slip(run.symbolic, arguments, run.dtype, operations)


def _report(run: _Run, results: list[PointResult], notes: list[str], count: int, seed: int,
            method: str, budget: Budget) -> Report:
    problem = run.problem
    sources = ["symbolic"] * (run.symbolic is not None) + ["tape"] * ("tape" not in run.skipped)
    sources += ["numeric"] + ["claimed"] * bool(run.claims)
    settings = {"rtol": run.rtol, "atol": run.atol, "method": method, "seed": seed,
                "points": count, "reduce": problem.reduce, "data_rows": problem.rows,
                "inputs": list(problem.inputs), "data": list(problem.data),
                "model": "expression" if problem.is_expression else "function",
                "numeric_method": run.method, "per_element": run.per_element,
                "given": list(problem.given), "timeout": budget.timeout,
                "dtype": str(run.dtype)}
    # arrays the points do not hold: data columns and array values given in at
    values = {n: v for n, v in {**problem.fixed, **problem.pinned}.items() if np.ndim(v) > 0}
    return Report(problem.text, list(problem.wrt), _derivatives(run), results, sources,
                  dict(run.skipped), settings, notes + _notes(run, seed, method), values)
