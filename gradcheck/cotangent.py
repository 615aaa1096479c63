"""A function with an array output, checked without a claim: its output weighted by a
seeded random cotangent g and summed, so the check covers sum(g * f), not the plain sum
(the all-ones cotangent, blind to a backward that mixes up output elements)."""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

__all__ = ["weighted", "note"]


def weighted(function: Callable[..., Any], seed: int, weigh: bool = True
             ) -> tuple[Callable[..., Any], dict]:
    """``function`` returning sum(g * out) for one seeded g per output shape (or, with
    ``weigh`` False, its output as it is), and the record of the array shapes it met."""
    seen: dict[tuple[int, ...], np.ndarray] = {}

    @functools.wraps(function)  # keeps the signature: arguments are still found by name
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        out = function(*args, **kwargs)
        shape = tuple(getattr(out, "shape", np.shape(out))) if not isinstance(out, (list, tuple)) else ()
        if shape == () or int(np.prod(shape)) == 1:
            return out
        if shape not in seen:
            seen[shape] = np.random.default_rng(seed).standard_normal(shape) if weigh else None
        if not weigh:
            return out
        g = seen[shape]
        kind = getattr(getattr(out, "dtype", None), "kind", None)
        if kind == "f":  # keep the user's precision (dtype= checks)
            g = g.astype(out.dtype)
        return (out * g).sum()

    return wrapped, seen


def note(seen: dict, seed: int, weighed: bool = True) -> str | None:
    if not seen:
        return None
    shapes = ", ".join(str(s) for s in seen)
    if not weighed:  # a claim is the gradient of the reduced output
        return (f"the function returns an array of shape {shapes}: checked the gradient of its "
                "sum (the all-ones cotangent), which is what the claim is the gradient of; it "
                "cannot tell a backward that ignores or mixes up its upstream gradient: check "
                "such a rule with gradcheck.check_rule")
    return (f"the function returns an array of shape {shapes}: checked sum(g * output) for a "
            f"seeded random g (seed {seed}), not the plain sum; give reduce='sum' for the "
            "plain sum, or check a backward rule with gradcheck.check_rule")
