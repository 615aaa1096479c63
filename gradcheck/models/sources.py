"""The tape and claimed sources for a function model, as flat gradient vectors."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import GradcheckError, InputError, UnsupportedOperation
from ..sources import call_by_name
from .problem import FunctionProblem, explain_failure

_MISSING = "the gradient function asks for {names}, which the function does not take"

__all__ = ["tape_gradient", "claimed_gradient"]


def tape_gradient(problem: FunctionProblem, point: Mapping[str, Any]) -> np.ndarray:
    """Run the function on tape tensors (float64) and one backward sweep.

    Anything the tape cannot follow, a value leaving it included (``math.exp(w)``,
    ``float(w)``), raises UnsupportedOperation naming the operation and the line.
    """
    from ..tape import Tensor, enable_grad, strict

    leaves = {p: Tensor(point[p], requires_grad=True, name=p) for p in problem.wrt}
    try:
        with enable_grad(), strict(), np.errstate(all="ignore"):
            out = problem.call(point, **leaves)
            if isinstance(out, Tensor) and out.requires_grad:
                (out.sum() if problem.reduce == "sum" else out.mean()).backward()
    except Exception as error:  # the user's code met a tape value it cannot handle
        raise UnsupportedOperation(explain_failure(error, problem.function)) from None
    return problem.flatten({p: t.grad if t.grad is not None else np.zeros(t.shape)
                            for p, t in leaves.items()})


def _as_mapping(raw: Any, wrt: tuple[str, ...]) -> dict[str, Any]:
    """A gradient function's answer as {parameter: value}: a dict, a tuple in wrt order,
    or (for one parameter) a single array."""
    if isinstance(raw, Mapping):
        unknown = [k for k in raw if k not in wrt]
        if unknown:
            raise InputError(f"the gradient function returned {', '.join(map(str, unknown))}, "
                             f"which are not parameters (parameters: {', '.join(wrt)})")
        return dict(raw)
    if isinstance(raw, (tuple, list)) and len(wrt) > 1:
        if len(raw) != len(wrt):
            raise InputError(f"the gradient function returned {len(raw)} values; expected one "
                             f"per parameter in wrt order ({', '.join(wrt)})")
        return dict(zip(wrt, raw))
    if len(wrt) == 1:
        return {wrt[0]: raw}
    raise InputError(f"the gradient function must return a dict or a tuple in wrt order "
                     f"({', '.join(wrt)}), not {type(raw).__name__}")


def _array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    try:
        array = np.asarray(getattr(value, "data", value), dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"claimed gradient for {name!r} must be numbers, "
                         f"got {type(value).__name__}") from None
    if array.shape != shape and array.size == int(np.prod(shape, dtype=int)) == 1:
        array = array.reshape(shape)
    if array.shape != shape:
        raise InputError(f"claimed gradient for {name!r} has shape {array.shape}; "
                         f"the parameter has shape {shape}")
    return array


def claimed_gradient(claimed: Any, problem: FunctionProblem, point: Mapping[str, Any]
                     ) -> dict[str, np.ndarray]:
    """The user's gradient at ``point``: from one gradient function (``check_grad``) or a
    mapping of parameter -> function or value."""
    arguments = {**problem.fixed, **point}
    try:
        if callable(claimed):
            raw = _as_mapping(call_by_name(claimed, arguments, _MISSING), problem.wrt)
        else:
            raw = {}
            for name, claim in claimed.items():
                if name not in problem.wrt:
                    raise InputError(f"claimed gradient for {name!r}, which is not a parameter "
                                     f"(parameters: {', '.join(problem.wrt)})")
                raw[name] = call_by_name(claim, arguments, _MISSING) if callable(claim) else claim
    except GradcheckError:
        raise
    except Exception as error:  # the user's code: report, don't crash
        raise InputError(f"the claimed gradient raised {type(error).__name__}: {error}") from None
    shapes = problem.shapes
    return {p: _array(p, v, shapes[p]) for p, v in raw.items()}
