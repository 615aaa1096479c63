"""Problem: what is differentiated, the roles of its variables, and the points to check."""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import sympy

from .errors import InputError
from .parse import parse

__all__ = ["Problem", "make_problem", "REDUCTIONS"]

REDUCTIONS = ("sum", "mean")
MAX_POINTS = 100_000


@dataclass(frozen=True)
class Problem:
    """An expression with its variables split by role.

    ``wrt`` are differentiated, ``inputs`` held fixed, ``data`` columns (1-D arrays of
    one length) are summed or averaged over by ``reduce``; ``pinned`` are the values the
    user fixed with ``at``.
    """

    text: str
    expr: sympy.Expr
    wrt: tuple[str, ...]
    inputs: tuple[str, ...]
    data: dict[str, np.ndarray]
    reduce: str
    pinned: dict[str, float]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(s.name for s in self.expr.free_symbols))

    @property
    def point_names(self) -> tuple[str, ...]:
        """Variables that take one value per point (everything but data columns)."""
        return tuple(n for n in self.names if n not in self.data)

    @property
    def rows(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0


def _unknown(name: str, known: Sequence[str], what: str) -> InputError:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; the expression has {', '.join(known) or 'none'}"
    return InputError(f"{what} {name!r} is not a variable of the expression{hint}")


def resolve_wrt(wrt: Sequence[str] | str | None, names: Sequence[str], columns: Any,
                default: Sequence[str], unknown: Callable[..., InputError] | None = None
                ) -> tuple[str, ...]:
    """The parameters: ``wrt`` as given (a list, or "a,b" text) or else ``default``, checked
    against the variables' ``names`` and the data ``columns``; ``unknown`` words the error
    for a name that is not a variable."""
    unknown = unknown or _unknown
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()]
    wrt = list(default) if wrt is None else list(wrt)
    for name in wrt:
        if name not in names:
            raise unknown(name, names, "parameter")
        if name in columns:
            raise InputError(f"{name!r} is a data column and cannot also be a parameter")
    if not wrt:
        raise InputError("nothing to differentiate: every variable is an input or a data column")
    if len(set(wrt)) != len(wrt):
        raise InputError(f"parameter listed twice in wrt: {', '.join(wrt)}")
    return tuple(wrt)


def _as_float(name: str, value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"value of {name!r} must be a number, got {value!r}") from None


def _data_columns(data: Mapping[str, Any] | None, names: Sequence[str]) -> dict[str, np.ndarray]:
    columns = {}
    for name, column in (data or {}).items():
        if name not in names:
            raise _unknown(name, names, "data column")
        try:
            array = np.asarray(column, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"data column {name!r} must hold numbers") from None
        if array.ndim != 1 or array.size == 0:
            raise InputError(f"data column {name!r} must be a non-empty 1-D list of numbers")
        columns[name] = array
    lengths = {len(c) for c in columns.values()}
    if len(lengths) > 1:
        sizes = ", ".join(f"{k}: {len(v)}" for k, v in columns.items())
        raise InputError(f"data columns have unequal lengths ({sizes}); give every column one value per row")
    return columns


def make_problem(expression: str | sympy.Expr, wrt: Sequence[str] | str | None = None,
                 at: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None,
                 reduce: str = "sum", inputs: Sequence[str] | None = None) -> Problem:
    """Parse the expression (text) and check every name given against it."""
    if isinstance(expression, str):
        expr, text = parse(expression), expression
    elif isinstance(expression, sympy.Expr):
        expr, text = expression, str(expression)
    else:
        raise InputError(f"expression must be text or a SymPy expression, got "
                         f"{type(expression).__name__}")
    names = sorted(s.name for s in expr.free_symbols)
    if not names:
        raise InputError(f"expression {text!r} has no variables to differentiate")
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    columns = _data_columns(data, names)
    held = tuple(inputs or ())
    for name in held:
        if name not in names:
            raise _unknown(name, names, "input")
    wrt = resolve_wrt(wrt, names, columns, [n for n in names if n not in columns and n not in held])
    pinned = {}
    for name, value in (at or {}).items():
        if name not in names:
            raise _unknown(name, names, "point variable")
        if name in columns:
            raise InputError(f"{name!r} is a data column; give its values in data, not at")
        pinned[name] = _as_float(name, value)
    return Problem(text, expr, tuple(wrt), tuple(n for n in names if n not in wrt and n not in columns),
                   columns, reduce, pinned)


def candidate_values(rng: np.random.Generator, count: int) -> np.ndarray:
    """Seeded values that do not hide bugs: never 0 or 1, mixed signs and magnitudes.

    A third are in (0.05, 0.95) so inverse trigonometric functions find their domain.
    Four significant digits keep the points readable and exactly replayable.
    """
    magnitude = np.exp(rng.uniform(math.log(0.2), math.log(3.0), count))
    unit = rng.uniform(0.05, 0.95, count)
    kind = rng.integers(0, 3, count)
    sign = np.where(rng.random(count) < 0.5, -1.0, 1.0)
    values = np.select([kind == 0, kind == 1], [magnitude, sign * magnitude], sign * unit)
    values = np.array([float(f"{v:.4g}") for v in values])
    return np.where(np.abs(np.abs(values) - 1) < 0.02, values * 1.37, values)


def check_points(points: int) -> int:
    if isinstance(points, bool) or not isinstance(points, (int, np.integer)) or not 1 <= points <= MAX_POINTS:
        raise InputError(f"points must be a whole number from 1 to {MAX_POINTS}, got {points!r}")
    return int(points)
