"""The user's rule as a source: ``vjp(g, **arguments)`` and ``jvp(tangents, **arguments)``
called on copies, their results read into flat vectors, and what they did wrong on the way
(a missing gradient, a wrong shape or dtype, an argument written into) kept as problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .errors import InputError
from .rule_sources import Rule

__all__ = ["Claimed", "Problem", "written_into"]


@dataclass(frozen=True)
class Problem:
    """A property of the rule that does not hold: which property, for what name, and why."""

    prop: str
    name: str
    message: str


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    except (TypeError, ValueError):  # not arrays of numbers: not compared
        return True


@dataclass
class Claimed:
    """The user's vjp and jvp, called on copies; ``problems`` collects what they got wrong."""

    rule: Rule
    vjp: Callable[..., Any] | None
    jvp: Callable[..., Any] | None
    problems: list[Problem] = field(default_factory=list)
    eps: dict[str, float] = field(default_factory=dict)  # per parameter: its result's dtype eps

    def _note(self, prop: str, name: str, message: str) -> None:
        if not any(p.prop == prop and p.name == name for p in self.problems):
            self.problems.append(Problem(prop, name, message))

    def _call(self, what: str, fn: Callable[..., Any], first: Any, original: Any) -> Any:
        arguments = self.rule.copies()
        if isinstance(first, dict):
            given: Any = {k: np.array(v, copy=True) for k, v in first.items()}
        elif isinstance(first, tuple):  # parts of different shapes: copied one by one
            given = tuple(np.array(v, copy=True) for v in first)
        else:
            given = np.array(first, copy=True)
        try:
            with np.errstate(all="ignore"):
                result = fn(given, **arguments)
        except Exception as error:
            raise InputError(f"{what} raised {type(error).__name__}: {error}") from None
        for name in written_into(arguments, self.rule.arguments):
            self._note("no mutation", name, f"{what} wrote into its argument {name}")
        if not _same_structure(given, original):
            label = "g" if what == "vjp" else "tangents"
            self._note("no mutation", label, f"{what} wrote into its argument {label}")
        return result

    def vjp_at(self, g: np.ndarray) -> dict[str, np.ndarray | None]:
        """Per parameter, the claimed gradient raveled (None where it is missing or its
        size is wrong); the problems found are noted."""
        cotangent = self.rule.structure(g)
        result = self._call("vjp", self.vjp, cotangent, cotangent)
        return self._per_name(result)

    def _per_name(self, result: Any) -> dict[str, np.ndarray | None]:
        wrt = self.rule.wrt
        if isinstance(result, Mapping):
            extra = [k for k in result if k not in wrt]
            if extra:
                self._note("one gradient per parameter", ", ".join(map(str, extra)),
                           f"vjp returned gradients for {', '.join(map(str, extra))}, "
                           f"which are not parameters (wrt: {', '.join(wrt)})")
            named = {p: result.get(p) for p in wrt}
        elif isinstance(result, (tuple, list)):
            if len(result) != len(wrt):
                self._note("one gradient per parameter", ", ".join(wrt),
                           f"vjp returned {len(result)} gradients for {len(wrt)} parameters "
                           f"({', '.join(wrt)}); return a dict to be explicit")
            named = {p: (result[i] if i < len(result) else None) for i, p in enumerate(wrt)}
        elif len(wrt) == 1:
            named = {wrt[0]: result}
        else:
            raise InputError(f"vjp returned {type(result).__name__}; return a dict of "
                             f"gradients for {', '.join(wrt)} (or a tuple in that order)")
        return {p: self._read(p, v) for p, v in named.items()}

    def _read(self, p: str, value: Any) -> np.ndarray | None:
        if value is None:
            self._note("one gradient per parameter", p, f"vjp returned no gradient for {p}")
            return None
        try:
            array = np.asarray(value)
        except (TypeError, ValueError):  # a ragged list
            array = np.asarray(None)
        expected = self.rule.shapes[p]
        if array.dtype.kind not in "fiu":
            self._note("dtype", p, f"the gradient for {p} holds {array.dtype} values")
            return None
        if array.shape != expected:
            self._note("shape", p, f"the gradient for {p} has shape {array.shape}, "
                                   f"{p} has shape {expected}")
            if array.size != int(np.prod(expected)):
                return None
        given = self.rule.dtypes.get(p, np.dtype(np.float64))
        if array.dtype.kind != "f" or np.finfo(array.dtype).eps > np.finfo(given).eps:
            self._note("dtype", p, f"the gradient for {p} is {array.dtype}, {p} was given as "
                                   f"{given}")
        if array.dtype.kind == "f":  # its rounding: judged to that dtype's precision
            self.eps[p] = max(self.eps.get(p, 0.0), float(np.finfo(array.dtype).eps))
        return array.astype(float).ravel()

    def jvp_at(self, v: np.ndarray) -> np.ndarray | None:
        """The claimed output tangent, flat (None if its layout is not the output's)."""
        tangents = self.rule.unflatten(v)
        result = self._call("jvp", self.jvp, tangents, tangents)
        parts = self.rule.outputs(result) if self.rule.is_tuple else [result]
        if len(parts) != len(self.rule.out_shapes):
            self._note("shape", "jvp", f"jvp returned {len(parts)} tangents for "
                                       f"{len(self.rule.out_shapes)} outputs")
            return None
        flat = []
        for i, (part, shape) in enumerate(zip(parts, self.rule.out_shapes)):
            try:
                array = np.asarray(part, dtype=float) if part is not None else None
            except (TypeError, ValueError):
                array = None
            if array is None or array.size != int(np.prod(shape)):
                got = "nothing" if array is None else f"shape {array.shape}"
                self._note("shape", "jvp", f"jvp returned {got} for output {i} of shape {shape}")
                return None
            if array.shape != shape:
                self._note("shape", "jvp", f"jvp returned shape {array.shape} for output {i} "
                                           f"of shape {shape}")
            flat.append(array.ravel())
        return np.concatenate(flat)


def written_into(given: Mapping[str, Any], original: Mapping[str, Any]) -> list[str]:
    """The array arguments a call changed in place (it was given copies of ``original``);
    other objects are copies too but cannot be compared by value."""
    return [n for n, v in given.items()
            if isinstance(original[n], np.ndarray) and not _same(v, original[n])]


def _same_structure(given: Any, original: Any) -> bool:
    if isinstance(given, dict):
        return all(_same(given[k], original[k]) for k in original)
    if isinstance(given, tuple):
        return all(_same(a, b) for a, b in zip(given, original))
    return _same(given, original)
