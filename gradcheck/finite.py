"""The numeric source for a Problem: finite differences of the model as the user wrote it
(never of a derivative, never of SymPy's form), by every parameter element or along
random directions.

numeric.py does the work (steps, Richardson extrapolation, error bounds, kink test);
here each element (or direction) is one of its "points". An expression evaluates all
perturbations in a few broadcast calls; a function is called once per perturbation.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from .numeric import NumericDerivative, _offsets, differentiate_numerically
from .problem import Problem

__all__ = ["choose_method", "calls_per_check", "elementwise", "directional",
           "random_directions", "CALL_BUDGET"]

# Function calls per point that the automatic choice lets Richardson spend (327 per
# element); above it, central differences (11 per element).
CALL_BUDGET = 20_000
# Numbers a function's Richardson differences may pass it per point before central ones do.
NUMBERS_PER_POINT = 50_000_000
# Numbers (perturbations times point variables) in one broadcast call of an expression.
_BATCH_NUMBERS = 4_000_000


def calls_per_check(method: str) -> int:
    """Evaluations of the function for one element or direction (the centre included)."""
    return _offsets(np.zeros(1), method).shape[1] + 1


def choose_method(method: str, checks: int, problem: Problem,
                  point: Mapping[str, Any] | None = None) -> str:
    """``auto``: complex step where the model is analytic (an expression without kinks),
    else Richardson; for a function only while it fits the call budget and, given the
    point, while a point's calls pass it at most NUMBERS_PER_POINT numbers in all (a
    deterministic stand-in for its cost, so a check always picks the same scheme); else
    central differences. Complex step is never chosen for a function: NumPy code may not
    be analytic in it."""
    if method != "auto":
        return method
    if problem.model.analytic:
        return "complex"
    if problem.model.batched:
        return "richardson"
    calls = checks * calls_per_check("richardson")
    numbers = sum(int(np.size(v)) for v in {**problem.fixed, **point}.values()) if point else 0
    return "richardson" if calls <= CALL_BUDGET and calls * numbers <= NUMBERS_PER_POINT else "central"


def _noise(level: float | None) -> Callable[..., np.ndarray] | None:
    if level is None:
        return None
    return lambda **at: np.full(len(next(iter(at.values()))), level)


def _losses(problem: Problem, point: Mapping[str, Any], count: int, dtype: Any,
            block: Callable[[int, int], np.ndarray]) -> np.ndarray:
    """The loss at ``count`` flat parameter vectors; ``block(a, b)`` gives vectors a..b-1
    as rows. An expression takes a block per broadcast call, a function one call each."""
    names = [n for n in point if n not in problem.wrt]
    out = np.empty(count, dtype=dtype)
    if problem.is_expression:  # every parameter is a scalar: one column each
        chunk = max(1, _BATCH_NUMBERS // max(problem.size + len(names), problem.rows or 1))
        for a in range(0, count, chunk):
            b = min(count, a + chunk)
            theta = block(a, b)
            columns = {p: theta[:, j] for j, p in enumerate(problem.wrt)}
            columns.update({n: np.full(b - a, point[n], dtype=dtype) for n in names})
            out[a:b] = problem.values(columns)
        return out
    for k in range(count):
        try:
            out[k] = problem.value({**point, **problem.unflatten(block(k, k + 1)[0])})
        except Exception:  # a perturbed point outside what the user's code accepts
            out[k] = np.nan
    return out


def elementwise(problem: Problem, point: Mapping[str, Any], elements: np.ndarray,
                method: str, noise: float | None = None) -> NumericDerivative:
    """d f / d theta[i] for each flat index in ``elements``, with error bounds."""
    base = problem.flatten(point).astype(float)
    terms = problem.term_sum
    given = {**problem.fixed, **point}

    def objective(v: np.ndarray, i: np.ndarray) -> np.ndarray:
        index = i.real.astype(int)
        by_terms = terms.losses(given, base, v, index) if terms is not None else None
        if by_terms is not None:
            return by_terms

        def block(a: int, b: int) -> np.ndarray:
            theta = np.tile(base.astype(v.dtype), (b - a, 1))
            theta[np.arange(b - a), index[a:b]] = v[a:b]
            return theta
        return _losses(problem, point, len(v), v.dtype, block)

    at = {"v": base[elements], "i": elements.astype(float)}
    return differentiate_numerically(objective, at, ["v"], method, _noise(noise))["v"]


def random_directions(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit vectors (rows) drawn uniformly from the sphere in ``size`` dimensions."""
    u = rng.normal(size=(count, size))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def directional(problem: Problem, point: Mapping[str, Any], where: slice,
                directions: np.ndarray, method: str, noise: float | None = None
                ) -> NumericDerivative:
    """d/dt f(theta + t u) at t = 0 for each row u of ``directions`` (within ``where``).

    t is centred on s, a power of two near the parameter's typical size, so the steps
    numeric.py chooses for |t| = s suit the parameter's scale, and s + h - s is exact.
    """
    base = problem.flatten(point).astype(float)
    rms = float(np.sqrt(np.mean(base[where] ** 2)))
    s = float(np.exp2(np.round(np.log2(rms)))) if rms > 0 else 1.0

    def objective(t: np.ndarray, j: np.ndarray) -> np.ndarray:
        index = j.real.astype(int)

        def block(a: int, b: int) -> np.ndarray:
            theta = np.tile(base.astype(t.dtype), (b - a, 1))
            theta[:, where] += (t[a:b] - s)[:, None] * directions[index[a:b]]
            return theta
        return _losses(problem, point, len(t), t.dtype, block)

    at = {"t": np.full(len(directions), s), "j": np.arange(len(directions), dtype=float)}
    return differentiate_numerically(objective, at, ["t"], method, _noise(noise))["t"]
