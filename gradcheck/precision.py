"""Checking code that runs in float32, float16 or bfloat16: the user's code (the tape, a
claim computed by their code) runs in that dtype, the reference stays exact (SymPy in
float64, mpmath where needed), and the allowed difference is a rounding bound in the
dtype's epsilon: the operations on the path times the size of the terms they add up.

>>> rounding_bound(10, 2.0, dtype("float32")) / 2.0 < 1e-5
True
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["dtype", "cast", "rounding_bound", "tape_operations", "term_magnitudes", "explainer",
           "LOW_ULPS", "SLIP"]

DTYPES = ("float64", "float32", "float16", "bfloat16")
# Each operation of a low-precision evaluation is trusted to this many ulps of the size
# of its terms (NumPy's float32 kernels round once per operation, pairwise sums log n).
LOW_ULPS = 4
# A bound above this relative size could not tell a slip of this size from rounding:
# the report calls it vacuous.
SLIP = 1e-3


def dtype(name: Any) -> np.dtype:
    """The NumPy dtype of ``name``; bfloat16 through the ml_dtypes package (an extra)."""
    if name in (None, "float64", np.float64):
        return np.dtype(np.float64)
    if name in ("float32", np.float32):
        return np.dtype(np.float32)
    if name in ("float16", np.float16):
        return np.dtype(np.float16)
    if name == "bfloat16":
        try:
            import ml_dtypes
        except ImportError:
            raise InputError("dtype='bfloat16' needs the ml_dtypes package: "
                             "pip install 'gradcheck[bfloat16]'") from None
        return np.dtype(ml_dtypes.bfloat16)
    raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {name!r}")


def epsilon(dt: np.dtype) -> float:
    return float(np.finfo(dt).eps) if dt.kind == "f" else float(2.0 ** -7)  # bfloat16: 8 bits


def cast(value: Any, dt: np.dtype) -> Any:
    """A float (or float array) in ``dt``; integers, booleans and anything else unchanged."""
    if isinstance(value, float) or (isinstance(value, (np.ndarray, np.floating))
                                    and np.asarray(value).dtype.kind == "f"):
        return np.asarray(value, dtype=dt)
    return value


def rounding_bound(operations: float, magnitude: float, dt: np.dtype) -> float:
    """What rounding in ``dt`` may change a result computed by ``operations`` operations
    on terms of size ``magnitude``."""
    return LOW_ULPS * max(operations, 1.0) * epsilon(dt) * magnitude


def ulps(difference: float, magnitude: float, dt: np.dtype) -> float:
    scale = epsilon(dt) * magnitude
    return abs(difference) / scale if scale > 0 else (0.0 if difference == 0 else math.inf)


def tape_operations(nodes: list) -> float:
    """Operations on the recorded path: one per node, plus log2 of what a reduction or a
    matrix product adds up per output element (pairwise summation)."""
    total = 0.0
    for node in nodes:
        total += 1.0
        name, args = node.prim.name, node.args
        if name in ("sum", "mean"):
            count = max(1, np.size(args[0]) // max(1, np.size(node.out)))
            total += math.log2(count)
        elif name == "matmul" and np.ndim(args[0]) >= 1:
            total += math.log2(max(1, np.shape(args[0])[-1]))
    return total


# Linear in their operands: the size of the terms a product or matrix product adds up is
# their absolute values multiplied (a sum of signed products would cancel away).
_BY_MAGNITUDE = frozenset({"mul", "div", "matmul", "pow"})


def term_magnitudes(root: Any, leaves: dict[int, Any]) -> dict[int, np.ndarray]:
    """The size of the terms the tape's backward adds up, per leaf (by ``id``): the same
    reverse sweep with every chain-rule product taken in absolute value, so the terms of
    2*(1 + w) - 2 count 4 where their sum is 2*w. Run before backward frees the graph."""
    from .tape.engine import reachable_nodes

    incoming: dict[int, Any] = {root.id: np.ones_like(np.asarray(root.out, dtype=float))}
    found: dict[int, np.ndarray] = {}
    with np.errstate(all="ignore"):
        for node in reachable_nodes(root):
            g = incoming.pop(node.id, None)
            if g is None:
                continue
            linear = node.prim.name in _BY_MAGNITUDE
            out = np.abs(node.out) if linear else node.out
            args = [np.abs(a) if linear and not isinstance(a, bool) else a for a in node.args]
            for parent, vjp in zip(node.parents, node.prim.vjps):
                if parent is None or vjp is None:
                    continue
                term = np.abs(np.asarray(vjp(g, out, *args, **node.params), dtype=float))
                if parent._node is not None:
                    key = parent._node.id
                    incoming[key] = term if key not in incoming else incoming[key] + term
                elif id(parent) in leaves:
                    found[id(parent)] = term if id(parent) not in found else found[id(parent)] + term
    return found


def dtype_shift(symbolic: Any, arguments: dict, dt: np.dtype, reference: np.ndarray) -> np.ndarray:
    """How far the dtype moves the exact derivative: its inputs rounded to ``dt`` (the
    truth there, in float64), and SymPy's own formula evaluated in ``dt``, twice that.
    Cancellation in the forward pass (1/(w**2 - 4) near 2) shows up here, where a count
    of operations would not see it."""
    rounded = {k: np.asarray(v, dtype=dt) for k, v in arguments.items()}
    widened = {k: np.asarray(v, dtype=float) for k, v in rounded.items()}
    with np.errstate(all="ignore"):
        at_rounded, _, _ = symbolic.evaluate(widened)
        in_dtype, _, _ = symbolic.evaluate(rounded)
    shift = np.abs(at_rounded - reference) + 2 * np.abs(in_dtype - reference)
    return np.where(np.isfinite(shift), shift, 0.0)


def resolves_slip(symbolic: Any, arguments: dict, dt: np.dtype, operations: float) -> bool:
    """Whether rounding in ``dt`` leaves a SLIP-sized slip visible at this point."""
    grad, magnitude, _ = symbolic.evaluate(arguments)
    bound = rounding_bound(operations, magnitude, dt) + dtype_shift(symbolic, arguments, dt, grad)
    return bool(np.all(bound <= SLIP / 4 * np.abs(grad)))


def explainer(estimates: dict, dt: np.dtype, low: tuple[str, ...], scale: float) -> Any:
    """A note for the verdict on the ``low``-precision sources: "tape within float32
    rounding (3 ulps)", "claimed wrong: 2.5e+03 times the float32 rounding bound", and
    a bound too loose to catch a SLIP-sized slip called vacuous."""
    name = str(dt)

    def explain(verdict: Any) -> str | None:
        values = verdict.values or {n: e.value for n, e in estimates.items()}
        reference = next((values[n] for n in ("symbolic", "numeric")
                          if n in values and math.isfinite(values[n])), None)
        if reference is None or verdict.status in ("undefined", "nondifferentiable"):
            return None
        parts = []
        for source in low:
            if source not in values or not math.isfinite(values[source]):
                continue
            difference = abs(values[source] - reference)
            bound = estimates[source].uncertainty
            if difference <= bound:
                parts.append(f"{source} within {name} rounding "
                             f"({ulps(difference, scale, dt):.2g} ulps)")
            else:
                parts.append(f"{source} wrong: {difference / bound:.3g} times the {name} "
                             "rounding bound" if bound > 0 else f"{source} wrong")
            if bound > SLIP / 2 * abs(reference) and reference != 0:  # a slip would hide in it
                parts.append(f"the {name} rounding bound here ({bound / abs(reference):.1g} "
                             f"relative) could not catch a {SLIP:g} slip: vacuous")
        return "; ".join(parts) or None

    return explain
