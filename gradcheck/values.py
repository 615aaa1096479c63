"""Values as the sources see them, whatever the user's code returned."""

from __future__ import annotations

from typing import Any

__all__ = ["unwrap"]


def unwrap(value: Any) -> Any:
    """A tape Tensor's array; anything else as it is (a NumPy scalar's ``.data`` is a
    buffer, not a value, so ``getattr(x, "data", x)`` would be wrong for it)."""
    return value.data if hasattr(value, "requires_grad") and hasattr(value, "data") else value
