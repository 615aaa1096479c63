"""The numeric source for a function model: finite differences of the plain function,
by every parameter element or along random directions.

numeric.py does the work (steps, Richardson extrapolation, error bounds, kink test);
here each element (or direction) is one of its "points", and the objective it calls
evaluates the user's function once per perturbation: user functions are not
batch-aware, so the loop is inside the objective and the scheme sets the cost.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from ..numeric import NumericDerivative, _offsets, differentiate_numerically
from .problem import FunctionProblem

__all__ = ["choose_method", "calls_per_check", "elementwise", "directional",
           "random_directions", "CALL_BUDGET"]

# Function calls per point that the automatic choice lets Richardson spend (327 per
# element); above it, central differences (11 per element).
CALL_BUDGET = 20_000


def calls_per_check(method: str) -> int:
    """Evaluations of the function for one element or direction (the centre included)."""
    return _offsets(np.zeros(1), method).shape[1] + 1


def choose_method(method: str, checks: int) -> str:
    """``auto``: Richardson while it fits the call budget, else central differences.
    Complex step is never chosen for a function: NumPy code may not be analytic in it."""
    if method != "auto":
        return method
    return "richardson" if checks * calls_per_check("richardson") <= CALL_BUDGET else "central"


def _evaluator(problem: FunctionProblem, point: Mapping[str, Any]
               ) -> Callable[[np.ndarray], Any]:
    """theta (flat parameters) -> the function's value; nan where it raises."""
    def value(theta: np.ndarray) -> Any:
        try:
            return problem.value({**point, **problem.unflatten(theta)})
        except Exception:  # a perturbed point outside what the user's code accepts
            return np.nan
    return value


def _noise(level: float | None) -> Callable[..., np.ndarray] | None:
    if level is None:
        return None
    return lambda **at: np.full(len(next(iter(at.values()))), level)


def elementwise(problem: FunctionProblem, point: Mapping[str, Any], elements: np.ndarray,
                method: str, noise: float | None = None) -> NumericDerivative:
    """d f / d theta[i] for each flat index in ``elements``, with error bounds."""
    base = problem.flatten(point).astype(float)
    value = _evaluator(problem, point)

    def objective(v: np.ndarray, i: np.ndarray) -> np.ndarray:
        out = np.empty(len(v), dtype=v.dtype)
        for k in range(len(v)):
            theta = base.astype(v.dtype)
            theta[int(i[k].real)] = v[k]
            out[k] = value(theta)
        return out

    at = {"v": base[elements], "i": elements.astype(float)}
    return differentiate_numerically(objective, at, ["v"], method, _noise(noise))["v"]


def random_directions(size: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` unit vectors (rows) drawn uniformly from the sphere in ``size`` dimensions."""
    u = rng.normal(size=(count, size))
    return u / np.linalg.norm(u, axis=1, keepdims=True)


def directional(problem: FunctionProblem, point: Mapping[str, Any], where: slice,
                directions: np.ndarray, method: str, noise: float | None = None
                ) -> NumericDerivative:
    """d/dt f(theta + t u) at t = 0 for each row u of ``directions`` (within ``where``).

    t is centred on s, a power of two near the parameter's typical size, so the steps
    numeric.py chooses for |t| = s suit the parameter's scale, and s + h - s is exact.
    """
    base = problem.flatten(point).astype(float)
    rms = float(np.sqrt(np.mean(base[where] ** 2)))
    s = float(np.exp2(np.round(np.log2(rms)))) if rms > 0 else 1.0
    value = _evaluator(problem, point)

    def objective(t: np.ndarray, j: np.ndarray) -> np.ndarray:
        out = np.empty(len(t), dtype=t.dtype)
        for k in range(len(t)):
            theta = base.astype(t.dtype)
            theta[where] += (t[k] - s) * directions[int(j[k].real)]
            out[k] = value(theta)
        return out

    at = {"t": np.full(len(directions), s), "j": np.arange(len(directions), dtype=float)}
    return differentiate_numerically(objective, at, ["t"], method, _noise(noise))["t"]
