"""The four sources of a derivative, each evaluated for a whole Batch of points at once.

Each returns, per parameter, an array of shape (B,): symbolic (SymPy, compiled), tape
(our reverse mode), numeric (finite differences, with error), claimed (the user's).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
import sympy

from .errors import GradcheckError, InputError
from .evaluate import Batch, reduce_rows
from .numeric import NumericDerivative, differentiate_numerically
from .parse import parse
from .problem import Problem
from .symbolic import Derivatives, _compile, high_precision

__all__ = ["Claim", "prepare_claims", "symbolic_source", "tape_source", "numeric_source",
           "claimed_source"]


@dataclass(frozen=True)
class Claim:
    """A user's gradient for one parameter: a parsed expression or a Python callable."""

    expr: sympy.Expr | None
    function: Callable[..., Any] | None
    text: str


def prepare_claims(claimed: Mapping[str, Any] | None, problem: Problem) -> dict[str, Claim]:
    claims = {}
    for name, claim in (claimed or {}).items():
        if name not in problem.wrt:
            raise InputError(f"claimed gradient for {name!r}, which is not a parameter "
                             f"(parameters: {', '.join(problem.wrt)})")
        if callable(claim):
            claims[name] = Claim(None, claim, getattr(claim, "__name__", "callable"))
            continue
        if isinstance(claim, (int, float)):
            claim = repr(float(claim))
        if not isinstance(claim, str):
            raise InputError(f"claimed gradient for {name!r} must be text or a callable, "
                             f"got {type(claim).__name__}")
        expr = parse(claim)
        unknown = {s.name for s in expr.free_symbols} - set(problem.names)
        if unknown:
            raise InputError(f"claimed gradient for {name!r} uses {', '.join(sorted(unknown))}, "
                             f"which the expression does not have")
        claims[name] = Claim(expr, None, claim)
    return claims


def symbolic_source(derivs: Derivatives, batch: Batch) -> tuple[dict, dict]:
    """Values and term magnitudes (for rounding bounds) of every derivative."""
    arguments = batch.arguments()
    values = derivs.gradient(**arguments)
    magnitudes = derivs.magnitude(**arguments)
    problem = batch.problem
    return ({p: reduce_rows(v, problem) for p, v in zip(derivs.wrt, values)},
            {p: np.abs(reduce_rows(m, problem)) for p, m in zip(derivs.wrt, magnitudes)})


def tape_source(problem: Problem, batch: Batch) -> dict[str, np.ndarray]:
    """Run the expression on our tape, all points at once; one backward sweep."""
    from .tape import Tensor
    from .tape.bridge import evaluate

    arguments = batch.arguments()
    leaves = {p: Tensor(np.asarray(arguments[p], dtype=float), requires_grad=True)
              for p in problem.wrt}
    inputs = {k: v for k, v in arguments.items() if k not in leaves}
    with np.errstate(all="ignore"):
        out = evaluate(problem.expr, {**inputs, **leaves})
        if problem.data:
            out = out + np.zeros((batch.size, problem.rows))
            out = out.sum(axis=-1) if problem.reduce == "sum" else out.mean(axis=-1)
        else:
            out = out + np.zeros(batch.size)
        out.sum().backward()
    return {p: (np.zeros(batch.size) if leaves[p].grad is None
                else np.asarray(leaves[p].grad, dtype=float).reshape(batch.size))
            for p in problem.wrt}


def numeric_source(derivs: Derivatives, batch: Batch, method: str) -> dict[str, NumericDerivative]:
    """Finite differences of the compiled forward expression (never its derivative)."""
    problem = batch.problem

    def objective(**values):
        return batch.reduced(derivs.value, values)

    def noise(**values):
        return 16 * np.finfo(float).eps * np.abs(batch.reduced(derivs.value_magnitude, values))

    if method == "auto":
        method = "complex" if derivs.analytic else "richardson"
    size = max(1, problem.rows)
    result = differentiate_numerically(objective, batch.values, problem.wrt, method, noise, size)
    if method == "complex":  # where complex arithmetic misbehaves, fall back per point
        fallback = None
        for p, r in result.items():
            bad = ~np.isfinite(r.value)
            if bad.any():
                fallback = fallback or differentiate_numerically(
                    objective, batch.values, problem.wrt, "richardson", noise, size)
                f = fallback[p]
                result[p] = NumericDerivative(np.where(bad, f.value, r.value),
                                              np.where(bad, f.error, r.error), f.kink, "complex")
    return result


def call_by_name(function: Callable[..., Any], arguments: Mapping[str, Any],
                 missing: str = "claimed gradient function asks for {names}, "
                                "which the expression does not have") -> Any:
    """Call with the arguments ``function`` takes (all of them if it takes ``**kwargs``);
    ``missing`` words the error for required arguments that are not available."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):
        return function(**arguments)
    if any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
        return function(**arguments)
    absent = [n for n, p in parameters.items() if n not in arguments and p.default is p.empty]
    if absent:
        raise InputError(missing.format(names=", ".join(absent)))
    return function(**{n: arguments[n] for n in parameters if n in arguments})


def claimed_source(claims: Mapping[str, Claim], batch: Batch) -> dict[str, np.ndarray]:
    """Float64 values of every claim (a callable gets keyword arrays, vectorised)."""
    problem = batch.problem
    arguments = batch.arguments()
    shape = (batch.size, problem.rows) if problem.data else (batch.size,)
    out = {}
    for p, claim in claims.items():
        with np.errstate(all="ignore"):
            if claim.expr is not None:
                symbols = tuple(sorted(claim.expr.free_symbols, key=lambda s: s.name))
                raw = _compile(symbols, [claim.expr])(**{s.name: arguments[s.name] for s in symbols})[0]
            else:
                try:
                    raw = call_by_name(claim.function, arguments)
                except GradcheckError:
                    raise
                except Exception as error:  # the user's code: report, don't crash
                    raise InputError(f"claimed gradient for {p!r} raised "
                                     f"{type(error).__name__}: {error}") from None
        raw = np.asarray(raw, dtype=float)
        if raw.shape in ((), (1,)) or raw.shape == (batch.size,) and problem.data:
            out[p] = np.broadcast_to(raw, (batch.size,)).astype(float)
        else:
            out[p] = reduce_rows(np.broadcast_to(raw, shape), problem)
    return out


def refiner(expr: sympy.Expr, batch: Batch, index: int) -> Callable[[], float]:
    """A closure that evaluates ``expr`` at point ``index`` with mpmath, on demand."""
    return lambda: high_precision(expr, batch.rows(index), batch.problem.reduce)
