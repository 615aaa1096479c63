"""A Python function as a model: its arguments by role, parameter shapes, and points.

Arguments are taken by name (``inspect.signature``). Parameters (``wrt``) are float64
arrays of any shape, scalars included; inputs and data columns are passed unchanged.
All parameter elements together form one flat vector, in ``wrt`` order and C order
within each parameter, which is what the sources differentiate.
"""

from __future__ import annotations

import difflib
import inspect
import os
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from ..errors import InputError
from ..problem import REDUCTIONS, candidate_values, resolve_wrt

__all__ = ["FunctionProblem", "make_function_problem", "choose_function_points", "describe",
           "explain_failure"]

# Frames from these are not the user's: gradcheck itself, and the libraries it runs on.
_NOT_USER = tuple(os.path.dirname(os.path.abspath(m.__file__)) for m in (np, sympy)) + (
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),)
_WHO = {"Tensor": "the tape", "StandIn": "the symbolic stand-in"}


@dataclass(frozen=True)
class FunctionProblem:
    """``function`` with its arguments split into parameters (``wrt``), inputs and data.

    ``fixed`` holds the values of inputs and data (passed to every call unchanged);
    ``pinned`` the parameter values given in ``at``; ``free`` the scalar arguments that
    had no value and are seeded per point.
    """

    function: Callable[..., Any]
    text: str
    wrt: tuple[str, ...]
    inputs: tuple[str, ...]
    data: tuple[str, ...]
    fixed: dict[str, Any]
    pinned: dict[str, np.ndarray]
    free: tuple[str, ...]
    reduce: str

    @property
    def scalar_inputs(self) -> tuple[str, ...]:
        """Inputs with one float per point (seeded, or given in ``at``): symbols for SymPy,
        so derivatives read ``x**2`` rather than ``4``; ints stay constants (they may count)."""
        given = [n for n in self.inputs if n in self.fixed and _float_scalar(self.fixed[n])]
        return tuple(n for n in self.free if n not in self.wrt) + tuple(given)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {p: self.pinned[p].shape if p in self.pinned else () for p in self.wrt}

    @property
    def sizes(self) -> dict[str, int]:
        return {p: int(np.prod(s, dtype=int)) for p, s in self.shapes.items()}

    @property
    def size(self) -> int:
        return sum(self.sizes.values())

    def slices(self) -> dict[str, slice]:
        """Where each parameter's elements sit in the flat vector."""
        out, start = {}, 0
        for p, n in self.sizes.items():
            out[p], start = slice(start, start + n), start + n
        return out

    def flatten(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([np.ravel(values[p]) for p in self.wrt])

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        shapes = self.shapes
        return {p: flat[s].reshape(shapes[p]) for p, s in self.slices().items()}

    def call(self, point: Mapping[str, Any], **overrides: Any) -> Any:
        """``function`` with the point's values, the fixed ones, and ``overrides``."""
        return self.function(**{**self.fixed, **point, **overrides})

    def value(self, point: Mapping[str, Any], **overrides: Any) -> Any:
        """The plain-NumPy value, an array output reduced by ``reduce`` (complex stays complex)."""
        out = self.call(point, **overrides)
        out = np.asarray(getattr(out, "data", out))  # a tape Tensor made inside f: its value
        return (out.sum() if self.reduce == "sum" else out.mean()).item()


def _float_scalar(value: Any) -> bool:
    return isinstance(value, float) or (isinstance(value, (np.ndarray, np.floating))
                                        and value.ndim == 0 and value.dtype.kind == "f")


def describe(function: Callable[..., Any]) -> str:
    """``name(a, b, c)`` for reports."""
    name = getattr(function, "__name__", type(function).__name__)
    try:
        return f"{name}({', '.join(inspect.signature(function).parameters)})"
    except (TypeError, ValueError):
        return name


def _user_frame(error: BaseException) -> str | None:
    """The innermost line of the user's own code in the traceback (not ours, not a library's)."""
    for frame in reversed(traceback.extract_tb(error.__traceback__)):
        path = os.path.abspath(frame.filename)
        if not path.startswith(_NOT_USER) and not frame.filename.startswith("<lambdify"):
            return f"{frame.name}, line {frame.lineno}: {frame.line}" if frame.line else frame.name
    return None


def explain_failure(error: BaseException, function: Callable[..., Any]) -> str:
    """Why the function could not run on tape or symbolic values, and the line that tried."""
    owner = type(getattr(error, "obj", None)).__name__
    if isinstance(error, AttributeError) and owner in _WHO and error.name:
        what = f"{owner}.{error.name} is not supported by {_WHO[owner]}"
    elif type(error).__name__ == "UnsupportedOperation":
        what = str(error)
    else:
        what = f"{type(error).__name__}: {error}"
    where = _user_frame(error)
    return f"{what} (in {where})" if where else what


def _signature(function: Callable[..., Any]) -> dict[str, inspect.Parameter]:
    try:
        parameters = dict(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        raise InputError(f"cannot read the arguments of {function!r}; pass a Python function") from None
    starred = [n for n, p in parameters.items() if p.kind in (p.VAR_POSITIONAL, p.POSITIONAL_ONLY)]
    if starred:
        raise InputError(f"the function's arguments {', '.join(starred)} cannot be passed by "
                         "name; gradcheck calls it with keyword arguments")
    return {n: p for n, p in parameters.items() if p.kind != p.VAR_KEYWORD}


def _unknown(name: str, known: Sequence[str], what: str) -> InputError:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else f"; it takes {', '.join(known) or 'none'}"
    return InputError(f"{what} {name!r} is not an argument of the function{hint}")


def _parameter_value(name: str, value: Any) -> np.ndarray:
    try:
        array = np.array(getattr(value, "data", value), dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"value of parameter {name!r} must be a number or an array of numbers, "
                         f"got {type(value).__name__}") from None
    if array.size == 0:
        raise InputError(f"parameter {name!r} is an empty array")
    return array


def _roles(names, wrt, data, inputs, at, defaults):
    held = tuple(inputs or ())
    for what, given in (("input", held), ("data column", data), ("value in at", at)):
        for name in given:
            if name not in names:
                raise _unknown(name, names, what)
    # by default every argument with a value to differentiate, or none at all
    default = [n for n in names if n not in data and n not in held and (n in at or n not in defaults)]
    wrt = resolve_wrt(wrt, names, data, default, _unknown)
    return wrt, tuple(n for n in names if n not in wrt and n not in data)


def make_function_problem(function: Callable[..., Any], wrt: Sequence[str] | str | None,
                          at: Mapping[str, Any] | None, data: Mapping[str, Any] | None,
                          reduce: str, inputs: Sequence[str] | None) -> FunctionProblem:
    """Check every name against the function's signature and split the arguments by role."""
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    signature = _signature(function)
    names = list(signature)
    at, data = dict(at or {}), dict(data or {})
    defaults = {n for n, p in signature.items() if p.default is not inspect.Parameter.empty}
    wrt, others = _roles(names, wrt, data, inputs, at, defaults)
    overlap = set(at) & set(data)
    if overlap:
        raise InputError(f"{', '.join(sorted(overlap))} given both in at and in data")
    given = {p: at[p] if p in at else signature[p].default
             for p in wrt if p in at or p in defaults}
    pinned = {p: _parameter_value(p, v) for p, v in given.items()}
    fixed = {n: np.asarray(v) if isinstance(v, (list, tuple)) else v for n, v in data.items()}
    fixed.update({n: np.asarray(at[n]) if isinstance(at[n], (list, tuple)) else at[n]
                  for n in others if n in at})
    free = tuple(n for n in names if n not in pinned and n not in fixed and n not in defaults)
    return FunctionProblem(function, describe(function), wrt,
                           tuple(n for n in others if n not in data), tuple(data), fixed,
                           pinned, free, reduce)


def choose_function_points(problem: FunctionProblem, count: int, seed: int
                           ) -> tuple[list[dict[str, np.ndarray]], list[str]]:
    """``count`` points: pinned values as given, free scalars seeded where ``f`` is finite."""
    base = {p: v for p, v in problem.pinned.items()}
    if not problem.free:
        notes = ([f"every argument has a value in 'at', so 1 point was checked, not {count}"]
                 if count > 1 else [])
        return [base], notes
    rng = np.random.default_rng(seed)
    budget = max(64, 4 * count)
    drawn = {n: candidate_values(rng, budget) for n in problem.free}
    chosen, spare = [], []
    for i in range(budget):
        point = {**base, **{n: np.array(drawn[n][i]) for n in problem.free}}
        try:
            with np.errstate(all="ignore"):
                finite = np.isfinite(problem.value(point))
        except Exception:  # the user's function refused this point: try another
            finite = False
        (chosen if finite else spare).append(point)
        if len(chosen) == count:
            return chosen, []
    notes = [f"only {len(chosen)} of {budget} seeded points gave a finite value; "
             "the others are reported as they are"]
    return (chosen + spare)[:count], notes
