"""A leaf's ``.grad``: a NumPy array that also answers what the tutorial writes after
``l.backward()``: ``w.grad.item()``, ``w.grad.zero_()`` and ``w.grad.data.zero_()``.

>>> g = np.array([1.0, 2.0]).view(Gradient)
>>> g.data.zero_()
array([0., 0.])
"""

from __future__ import annotations

import numpy as np

__all__ = ["Gradient", "GradFn", "as_gradient"]


class Gradient(np.ndarray):
    """An ndarray with PyTorch's in-place zeroing; it prints as a plain array."""

    def zero_(self) -> "Gradient":
        """Set every element to 0 in place, and return the array (as PyTorch does)."""
        self[...] = 0
        return self

    @property
    def data(self) -> "Gradient":  # type: ignore[override]
        """The array itself: ``w.grad.data.zero_()`` reads as in the tutorial."""
        return self

    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        return str(self.view(np.ndarray))


def as_gradient(array: np.ndarray) -> Gradient:
    return np.asarray(array).view(Gradient)


class GradFn:
    """What ``tensor.grad_fn`` shows for a recorded result: the operation that made it."""

    __slots__ = ("node",)

    def __init__(self, node: object):
        self.node = node

    @property
    def name(self) -> str:
        return f"{self.node.prim.name.capitalize()}Backward"

    def __repr__(self) -> str:
        return f"<{self.name}>"
