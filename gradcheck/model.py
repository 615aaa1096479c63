"""The two front ends as one kind of model: a text Expression, or a Python function.

Both are called by name on plain arrays, tape tensors or symbolic stand-ins; what a
source needs beyond that (a SymPy expression, whether complex step is valid, which
subexpression stopped being finite) the model answers. Text and SymPy objects become
an :class:`~gradcheck.expression.Expression` (a SymPy object converted node by node,
against the parser's whitelist, never through text); callables a :class:`FunctionModel`.
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
import sympy

from .errors import InputError
from .expression import Expression

__all__ = ["FunctionModel", "as_model", "describe", "explain_failure"]

# Frames from these are not the user's: gradcheck itself, and the libraries it runs on.
_NOT_USER = tuple(os.path.dirname(os.path.abspath(m.__file__)) for m in (np, sympy)) + (
    os.path.dirname(os.path.abspath(__file__)),)
_WHO = {"Tensor": "the tape", "StandIn": "the symbolic stand-in"}


@dataclass(frozen=True)
class FunctionModel:
    """A Python function taking its arguments by name."""

    function: Callable[..., Any]
    parameters: dict[str, inspect.Parameter]

    batched = False  # called once per point: user code is not batch-aware
    analytic = False  # NumPy code may not be analytic in complex arguments

    @property
    def text(self) -> str:
        return describe(self.function)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.parameters)

    @property
    def defaults(self) -> dict[str, Any]:
        return {n: p.default for n, p in self.parameters.items() if p.default is not p.empty}

    def __call__(self, **values: Any) -> Any:
        return self.function(**values)

    def first_undefined(self, values: Any) -> str | None:
        return None


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


def as_model(model: Any, variables: Iterable[str] = ()) -> Expression | FunctionModel:
    """Text (parsed safely), a SymPy expression (its printed text, parsed safely) or a
    callable. ``variables``: names to read as variables even where they are constants
    (``e``, ``pi``): the names the user gave values or listed in ``wrt``."""
    if isinstance(model, str):
        return Expression.parse(model, variables)
    if isinstance(model, sympy.Basic):
        return Expression.from_sympy(model)
    if callable(model):
        return FunctionModel(model, _signature(model))
    raise InputError(f"expression must be text, a SymPy expression or a Python function, "
                     f"got {type(model).__name__}")


def describe(function: Callable[..., Any]) -> str:
    """``name(a, b, c)`` for reports."""
    name = getattr(function, "__name__", type(function).__name__)
    try:
        return f"{name}({', '.join(inspect.signature(function).parameters)})"
    except (TypeError, ValueError):
        return name


def _user_frame(error: BaseException) -> str | None:
    """The innermost line of the user's own code in the traceback (not ours, not a library's)."""
    import traceback  # error messages only: start-up time

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
