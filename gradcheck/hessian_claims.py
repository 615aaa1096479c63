"""The user's claimed second derivatives: text per pair of scalar parameters, a block or
a whole (n, n) matrix over the flat parameter vector, a callable returning either, or a
Hessian-vector product function (check_hvp)."""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .errors import GradcheckError, InputError
from .expression import Expression
from .lambdify import HighPrecision
from .problem import Problem
from .sources import call_by_name

__all__ = ["HessianClaims", "prepare_hessian_claims", "claimed_hessian", "claimed_hvp"]

_MISSING = "the claimed Hessian asks for {names}, which the model does not have"


@dataclass
class HessianClaims:
    """``matrix``: an (n, n) value; ``function``: a callable by name returning a matrix or
    a dict of pairs; ``pairs``: {(p, q): text (an Expression) or block value}."""

    matrix: np.ndarray | None = None
    function: Callable[..., Any] | None = None
    pairs: dict[tuple[str, str], Any] = field(default_factory=dict)
    _mpmath: dict = field(default_factory=dict)

    def texts(self) -> dict[tuple[str, str], Expression]:
        return {k: v for k, v in self.pairs.items() if isinstance(v, Expression)}


def _pair_key(problem: Problem, key: Any) -> tuple[str, str]:
    if isinstance(key, str):
        key = tuple(k.strip() for k in key.split(","))
    if not (isinstance(key, tuple) and len(key) == 2 and all(isinstance(k, str) for k in key)):
        raise InputError(f"a claimed Hessian pair must be (p, q) or 'p,q', got {key!r}")
    for name in key:
        if name not in problem.wrt:
            raise InputError(f"claimed Hessian for {key!r}: {name!r} is not a parameter "
                             f"(parameters: {', '.join(problem.wrt)})")
    return key  # type: ignore[return-value]


def _pairs(problem: Problem, claimed: Mapping[Any, Any]) -> dict[tuple[str, str], Any]:
    names = set(problem.model.names)
    constants = [n for n in names if n in ("e", "E", "pi", "π")]
    out: dict[tuple[str, str], Any] = {}
    for key, claim in claimed.items():
        p, q = _pair_key(problem, key)
        if isinstance(claim, (int, float)) and not isinstance(claim, bool):
            claim = repr(float(claim)) if problem.is_expression else claim
        if isinstance(claim, str):
            if problem.shapes[p] != () or problem.shapes[q] != ():
                raise InputError(f"claimed Hessian for ({p}, {q}) is text, but an array parameter "
                                 "is in the pair; give a block (array) or a matrix")
            expression = Expression.parse(claim, constants)
            unknown = set(expression.names) - names
            if unknown:
                raise InputError(f"claimed Hessian for ({p}, {q}) uses {', '.join(sorted(unknown))}, "
                                 "which the model does not have")
            claim = expression
        out[(p, q)] = claim
    for (p, q), claim in list(out.items()):  # one of a symmetric pair stands for both
        if (q, p) not in out:
            out[(q, p)] = claim if isinstance(claim, Expression) else _Transposed(claim)
    return out


@dataclass(frozen=True)
class _Transposed:
    """The mirror of a block the user gave for (q, p) only."""

    block: Any


def prepare_hessian_claims(hess: Any, problem: Problem) -> HessianClaims | None:
    if hess is None:
        return None
    if callable(hess) and not isinstance(hess, np.ndarray):
        return HessianClaims(function=hess)
    if isinstance(hess, Mapping):
        return HessianClaims(pairs=_pairs(problem, hess))
    matrix = _matrix(problem, hess, "the claimed Hessian")
    return HessianClaims(matrix=matrix)


def _numbers(value: Any, what: str) -> np.ndarray:
    raw = np.asarray(getattr(value, "data", value))
    if np.iscomplexobj(raw):
        if np.any(raw.imag != 0):
            raise InputError(f"{what} is complex; give real values")
        raw = raw.real
    try:
        return np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} must be numbers, got {type(value).__name__}") from None


def _matrix(problem: Problem, value: Any, what: str) -> np.ndarray:
    array, n = _numbers(value, what), problem.size
    if problem.rows and array.shape == (problem.rows, n, n):  # one matrix per data row
        array = array.sum(axis=0) if problem.reduce == "sum" else array.mean(axis=0)
    if array.size == n * n and array.shape != (n, n) and array.ndim <= 1:
        array = array.reshape(n, n)
    if array.shape != (n, n):
        raise InputError(f"{what} has shape {array.shape}; the {n} parameter elements "
                         f"({', '.join(problem.wrt)}) need ({n}, {n})")
    return array


def _block(problem: Problem, p: str, q: str, value: Any) -> np.ndarray:
    transposed = isinstance(value, _Transposed)
    value = value.block if transposed else value
    what = f"the claimed Hessian block ({q}, {p})" if transposed else f"the claimed Hessian block ({p}, {q})"
    array = _numbers(value, what)
    a, b = problem.sizes[q if transposed else p], problem.sizes[p if transposed else q]
    if problem.rows and array.size == problem.rows * a * b and array.shape[:1] == (problem.rows,):
        array = array.sum(axis=0) if problem.reduce == "sum" else array.mean(axis=0)
    if array.size != a * b:
        raise InputError(f"{what} has shape {array.shape}; it needs {a * b} values ({a} x {b})")
    array = array.reshape(a, b)
    return array.T if transposed else array


def _arguments(problem: Problem, point: Mapping[str, Any]) -> dict[str, Any]:
    return {**{n: copy.copy(v) for n, v in problem.fixed.items()}, **point}


def _reduced_text(problem: Problem, text: Expression, arguments: Mapping[str, Any]) -> tuple[float, float]:
    with np.errstate(all="ignore"):
        value = np.asarray(text.evaluate(arguments), dtype=float)
        size = np.asarray(text.magnitude(arguments), dtype=float)
    if problem.rows:
        value, size = np.broadcast_to(value, (problem.rows,)), np.broadcast_to(size, (problem.rows,))
    pick = np.sum if problem.reduce == "sum" else np.mean
    return float(pick(value)), float(pick(np.abs(size)))


def claimed_hessian(claims: HessianClaims, problem: Problem, point: Mapping[str, Any]
                    ) -> tuple[np.ndarray, np.ndarray, dict[tuple[int, int], Callable[[], float]]]:
    """The claimed (n, n) matrix (NaN where nothing was claimed), the magnitude of each
    text claim's terms, and a 50-digit refiner per entry claimed as text."""
    n, slices = problem.size, problem.slices()
    matrix, sizes = np.full((n, n), np.nan), np.zeros((n, n))
    refiners: dict[tuple[int, int], Callable[[], float]] = {}
    arguments = _arguments(problem, point)
    try:
        with np.errstate(all="ignore"):
            if claims.matrix is not None:
                return claims.matrix.copy(), sizes, refiners
            pairs = claims.pairs
            if claims.function is not None:
                raw = call_by_name(claims.function, arguments, _MISSING)
                if not isinstance(raw, Mapping):
                    return _matrix(problem, raw, "the claimed Hessian function's value"), sizes, refiners
                pairs = _pairs(problem, raw)
            for (p, q), claim in pairs.items():
                rows, cols = slices[p], slices[q]
                if isinstance(claim, Expression):
                    i, j = rows.start, cols.start
                    matrix[i, j], sizes[i, j] = _reduced_text(problem, claim, arguments)
                    refiners[(i, j)] = functools.partial(_refine, claims, claim, problem, point)
                else:
                    matrix[rows, cols] = _block(problem, p, q, claim)
    except GradcheckError:
        raise
    except Exception as error:  # the user's code: report, don't crash
        raise InputError(f"the claimed Hessian raised {type(error).__name__}: {error}") from None
    return matrix, sizes, refiners


def _refine(claims: HessianClaims, text: Expression, problem: Problem, point: Mapping[str, Any]) -> float:
    """A text claim at 50 digits (its SymPy form, compiled for mpmath once)."""
    key = text.text
    if key not in claims._mpmath:
        expr = text.to_sympy()
        symbols = tuple(sorted(expr.free_symbols, key=lambda s: s.name))
        claims._mpmath[key] = (HighPrecision(symbols, [expr]), symbols)
    function, symbols = claims._mpmath[key]
    rows = tuple(problem.data) if problem.rows else ()
    given = {**problem.fixed, **point}
    arguments = {n: given[n] for n in {*(s.name for s in symbols), *rows}}
    return float(function(arguments, rows, problem.reduce)[0])


def claimed_hvp(hvp: Callable[..., Any], problem: Problem, point: Mapping[str, Any],
                vector: np.ndarray) -> np.ndarray:
    """``hvp(v, **arguments)``: H v as a flat vector, a dict per parameter, or (one
    parameter) an array of its shape; flattened in the parameters' order."""
    arguments = _arguments(problem, point)
    try:
        with np.errstate(all="ignore"):
            raw = call_by_name(functools.partial(hvp, vector.copy()), arguments,
                               "the claimed Hessian-vector product asks for {names}, "
                               "which the model does not have")
        if isinstance(raw, Mapping):
            unknown = [k for k in raw if k not in problem.wrt]
            missing = [p for p in problem.wrt if p not in raw]
            if unknown or missing:
                raise InputError(f"the Hessian-vector product returned {', '.join(map(str, raw))}; "
                                 f"expected one value per parameter ({', '.join(problem.wrt)})")
            raw = problem.flatten({p: _numbers(raw[p], f"H v for {p!r}") for p in problem.wrt})
        array = _numbers(raw, "the claimed Hessian-vector product").ravel()
    except GradcheckError:
        raise
    except Exception as error:
        raise InputError(f"the claimed Hessian-vector product raised {type(error).__name__}: "
                         f"{error}") from None
    if array.size != problem.size:
        raise InputError(f"the claimed Hessian-vector product has {array.size} values; the "
                         f"parameters have {problem.size} elements")
    return array
