"""Problem: a model with its arguments split by role, for either front end.

Parameters (``wrt``) are float64 arrays of any shape (scalars for an expression);
inputs and data columns are held fixed. All parameter elements together form one flat
vector, in ``wrt`` order and C order within each parameter: what the sources
differentiate. An expression's data columns are rows: the expression is evaluated per
row and summed or averaged; a function gets its data as given and its output is
summed or averaged.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import InputError
from .expression import Expression
from .model import FunctionModel, as_model
from .term_sums import TermSum
from .values import unwrap

__all__ = ["Problem", "make_problem", "resolve_wrt", "REDUCTIONS", "CONSTANT_NAMES"]

REDUCTIONS = ("sum", "mean")
# Names the parser reads as constants unless the user makes them variables.
CONSTANT_NAMES = ("e", "E", "pi", "π")


@dataclass(frozen=True)
class Problem:
    """``model`` with its arguments by role.

    ``fixed`` holds the values of inputs and data (copies, passed to every call);
    ``pinned`` the parameter values given in ``at`` (or as defaults); ``free`` the
    scalar arguments without a value, seeded per point.
    """

    model: Expression | FunctionModel
    wrt: tuple[str, ...]
    inputs: tuple[str, ...]
    data: tuple[str, ...]
    fixed: dict[str, Any]
    pinned: dict[str, np.ndarray]
    free: tuple[str, ...]
    reduce: str
    notes: tuple[str, ...] = ()
    given: tuple[str, ...] = ()  # names the user gave values in ``at``

    @property
    def text(self) -> str:
        return self.model.text

    @property
    def is_expression(self) -> bool:
        return isinstance(self.model, Expression)

    @property
    def rows(self) -> int:
        """Data rows of an expression (0 without data, and for functions)."""
        return len(self.fixed[self.data[0]]) if self.data and self.is_expression else 0

    @property
    def scalar_inputs(self) -> tuple[str, ...]:
        """Inputs with one float per point (seeded, or given in ``at``): symbols for SymPy,
        so derivatives read ``x**2`` rather than ``4``; ints stay constants (they may count)."""
        given = tuple(n for n in self.inputs if n in self.fixed and _float_scalar(self.fixed[n]))
        return tuple(n for n in self.free if n not in self.wrt) + given

    # The layout is computed once: sources ask for it per parameter and per point.
    @cached_property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {p: self.pinned[p].shape if p in self.pinned else () for p in self.wrt}

    @cached_property
    def sizes(self) -> dict[str, int]:
        return {p: math.prod(s) for p, s in self.shapes.items()}

    @cached_property
    def size(self) -> int:
        return sum(self.sizes.values())

    @cached_property
    def _slices(self) -> dict[str, slice]:
        out, start = {}, 0
        for p, n in self.sizes.items():
            out[p], start = slice(start, start + n), start + n
        return out

    def slices(self) -> dict[str, slice]:
        """Where each parameter's elements sit in the flat vector."""
        return self._slices

    @cached_property
    def term_sum(self) -> TermSum | None:
        """An expression that is a big sum, by the shapes of its terms (term_sums.py)."""
        return TermSum.of(self)

    def flatten(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([np.ravel(values[p]) for p in self.wrt])

    def unflatten(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        shapes = self.shapes
        return {p: flat[s].reshape(shapes[p]) for p, s in self.slices().items()}

    def call(self, point: Mapping[str, Any], **overrides: Any) -> Any:
        """The model with the point's values, the fixed ones and ``overrides``; a
        function gets copies, since user code may change its arguments in place."""
        if self.is_expression:
            return self.model(**{**self.fixed, **point, **overrides})
        arguments = {n: copy.copy(v) for n, v in {**self.fixed, **point}.items()}
        return self.model(**{**arguments, **overrides})

    def reduced(self, out: Any) -> Any:
        """An output reduced to the loss by ``reduce`` (complex stays complex)."""
        if isinstance(out, (list, tuple)):
            out = [unwrap(o) for o in out]
        out = np.asarray(unwrap(out))  # a tape Tensor made inside f: its value
        if out.dtype.kind not in "biufc" or out.size == 0:
            raise InputError(f"{self.text} returned {_shown(out)}; return a number or an "
                             "array of numbers")
        return (out.sum() if self.reduce == "sum" else out.mean()).item()

    def value(self, point: Mapping[str, Any], **overrides: Any) -> Any:
        return self.reduced(self.call(point, **overrides))

    def values(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """The loss at K points at once: ``columns`` maps every point variable to (K,)
        values. Expressions broadcast over the points (and data rows); functions are
        called once per point."""
        k = len(next(iter(columns.values())))
        if self.is_expression:
            rows = self.rows
            args = {n: (v[:, None] if rows else v) for n, v in columns.items()}
            out = np.asarray(self.model(**{**self.fixed, **args}))
            out = np.broadcast_to(out, (k, rows) if rows else (k,))
            if not rows:
                return out
            return out.sum(axis=-1) if self.reduce == "sum" else out.mean(axis=-1)
        out = np.empty(k, dtype=np.result_type(*columns.values()))
        for i in range(k):
            try:
                out[i] = self.value({n: v[i] for n, v in columns.items()})
            except Exception:  # a point outside what the user's code accepts
                out[i] = np.nan
        return out


def _float_scalar(value: Any) -> bool:
    return isinstance(value, float) or (isinstance(value, (np.ndarray, np.floating))
                                        and value.ndim == 0 and value.dtype.kind == "f")


def _unknown_for(model: Expression | FunctionModel) -> Callable[[str, Sequence[str], str], InputError]:
    expression = isinstance(model, Expression)

    def unknown(name: str, known: Sequence[str], what: str) -> InputError:
        import difflib  # error messages only: start-up time

        same_letters = [k for k in known if k.lower() == name.lower()]  # X for x
        close = same_letters or difflib.get_close_matches(name, list(known), n=1,
                                                          cutoff=0.6 if expression else 0.5)
        if close:
            hint = f"; did you mean {close[0]!r}?"
        else:
            hint = f"; {'the expression has' if expression else 'it takes'} {', '.join(known) or 'none'}"
        kind = "a variable of the expression" if expression else "an argument of the function"
        return InputError(f"{what} {name!r} is not {kind}{hint}")

    return unknown


def resolve_wrt(wrt: Sequence[str] | str | None, names: Sequence[str], columns: Any,
                default: Sequence[str], unknown: Callable[..., InputError]) -> tuple[str, ...]:
    """The parameters: ``wrt`` as given (a list, or "a,b" text) or else ``default``, checked
    against the variables' ``names`` and the data ``columns``."""
    if isinstance(wrt, str):
        wrt = [w.strip() for w in wrt.split(",") if w.strip()]
    wrt = list(default) if wrt is None else list(wrt)
    known = set(names)
    for name in wrt:
        if not isinstance(name, str):
            raise InputError(f"wrt must list parameter names, got {name!r}")
        if name not in known:
            raise unknown(name, names, "parameter")
        if name in columns:
            raise InputError(f"{name!r} is a data column and cannot also be a parameter")
    if not wrt:
        raise InputError("nothing to differentiate: every variable is an input or a data column")
    if len(set(wrt)) != len(wrt):
        raise InputError(f"parameter listed twice in wrt: {', '.join(wrt)}")
    return tuple(wrt)


def _shown(out: np.ndarray) -> str:
    if out.size == 0:
        return "an empty array"
    if out.ndim == 0:
        return f"{type(out.item()).__name__} {str(out.item())[:30]!r}"
    return f"an array of {out.dtype} values"


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (str, bytes)):  # "1" is text, not a number: say so
        raise InputError(f"value of {name!r} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"value of {name!r} must be a number, got {value!r}") from None


def _parameter_value(name: str, value: Any) -> np.ndarray:
    try:
        array = np.array(unwrap(value), dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"value of parameter {name!r} must be a number or an array of numbers, "
                         f"got {type(value).__name__}") from None
    if array.size == 0:
        raise InputError(f"parameter {name!r} is an empty array")
    return array


def _data_columns(data: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """An expression's data set: 1-D numeric columns of one length."""
    columns = {}
    for name, column in data.items():
        try:
            array = np.array(column, dtype=float)
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


def _mapping(what: str, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{what} must be a mapping from names to values, got {type(value).__name__}")
    return dict(value)


def _wrt_names(wrt: Any) -> list:
    if wrt is None:
        return []
    return [w.strip() for w in wrt.split(",")] if isinstance(wrt, str) else list(wrt)


def _constant_notes(model: Expression, given: set) -> tuple[str, ...]:
    notes = [f"{c!r} is read as a constant ({'e = 2.71828...' if c in ('e', 'E') else 'pi = 3.14159...'}); "
             f"give it a value or list it in wrt to make it a variable"
             for c in model.constants if c in ("e", "π")]
    notes += [f"{c!r} is read as a variable, since it was given a value or listed in wrt "
              f"(without that it is the constant {'e' if c in ('e', 'E') else 'pi'})"
              for c in model.names if c in CONSTANT_NAMES]
    return tuple(notes)


def _index_like(value: Any) -> bool:
    kind = getattr(value, "dtype", None)
    return kind is not None and np.ndim(value) > 0 and np.dtype(kind).kind in "iub"


def make_problem(model: Any, wrt: Sequence[str] | str | None = None,
                 at: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None,
                 reduce: str = "sum", inputs: Sequence[str] | None = None) -> Problem:
    """Check every name given against the model and split its arguments by role."""
    if reduce not in REDUCTIONS:
        raise InputError(f"reduce must be one of {', '.join(REDUCTIONS)}, got {reduce!r}")
    at, data = _mapping("at", at), _mapping("data", data)
    held = tuple(_wrt_names(inputs))
    given = set(at) | set(data) | set(held) | set(_wrt_names(wrt))
    model = as_model(model, [n for n in CONSTANT_NAMES if n in given])
    names = list(model.names)
    if not names:
        raise InputError(f"expression {model.text!r} has no variables to differentiate")
    unknown = _unknown_for(model)
    expression = isinstance(model, Expression)
    known = set(names)  # sets throughout: a sum of 10,000 terms has 20,000 names
    for what, group in (("data column", data), ("input", held),
                        ("point variable" if expression else "value in at", at)):
        for name in group:
            if name not in known:
                raise unknown(name, names, what)
    overlap = set(at) & set(data)
    if overlap:
        name = sorted(overlap)[0]
        raise InputError(f"{name!r} is a data column; give its values in data, not at"
                         if expression else f"{', '.join(sorted(overlap))} given both in at and in data")
    columns = _data_columns(data) if expression else {}
    defaults = model.defaults
    # integer and boolean arrays (labels, indices, masks) cannot be parameters
    indices = [] if expression else [n for n, v in at.items() if n not in held and _index_like(v)]
    excluded = set(held) | set(indices)
    default = [n for n in names if n not in data and n not in excluded
               and (n in at or n not in defaults)]
    wrt = resolve_wrt(wrt, names, data, default, unknown)
    differentiated = set(wrt)
    for n in indices:
        if n in differentiated:
            raise InputError(f"{n} holds {np.asarray(at[n]).dtype} values: an integer or boolean "
                             "array cannot be differentiated (leave it out of wrt)")
    fixed: dict[str, Any]
    if expression:
        fixed = dict(columns)
        fixed.update({n: _as_float(n, v) for n, v in at.items() if n not in differentiated})
        pinned = {p: np.array(_as_float(p, at[p])) for p in wrt if p in at}
    else:
        values = {p: at[p] if p in at else defaults[p] for p in wrt if p in at or p in defaults}
        pinned = {p: _parameter_value(p, v) for p, v in values.items()}
        # copies, taken before any user code runs
        fixed = {n: np.array(v) if isinstance(v, (list, tuple)) else copy.copy(v) for n, v in data.items()}
        fixed.update({n: np.array(v) if isinstance(v, (list, tuple)) else copy.copy(v)
                      for n, v in at.items() if n not in differentiated})
    free = tuple(n for n in names if n not in pinned and n not in fixed and n not in defaults)
    others = tuple(n for n in names if n not in differentiated and n not in data)
    notes = _constant_notes(model, given) if expression else ()
    if indices:
        notes += (f"{', '.join(indices)}: integer or boolean arrays, so inputs (not differentiated)",)
    return Problem(model, wrt, others, tuple(data), fixed, pinned, free, reduce, notes, tuple(at))
