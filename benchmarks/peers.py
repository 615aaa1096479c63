"""The peers gradcheck is measured against, imported only if installed (``pip install -e '.[bench]'``).

A benchmark asks :func:`load` for a peer and gets the module or None; :func:`skipped`
gives the uniform reason ("skipped: torch not installed") that goes into the results.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from types import ModuleType

__all__ = ["PEERS", "load", "skipped", "versions"]

# peer name -> (module to import, distribution whose version is reported)
PEERS = {
    "torch": ("torch", "torch"),
    "jax": ("jax", "jax"),
    "autograd": ("autograd", "autograd"),
    "numdifftools": ("numdifftools", "numdifftools"),
    "micrograd": ("micrograd.engine", "micrograd"),
    "scipy": ("scipy.optimize", "scipy"),
    "matplotlib": ("matplotlib", "matplotlib"),
}
# Libraries whose versions are recorded with every run, besides the peers.
CORE = ("gradcheck", "numpy", "sympy", "mpmath", "click", "jaxlib")

_cache: dict[str, ModuleType | None] = {}
_errors: dict[str, str] = {}


def load(name: str) -> ModuleType | None:
    """The peer's module, or None when it is not installed (or fails to import)."""
    if name not in _cache:
        module_name = PEERS[name][0]
        try:
            _cache[name] = importlib.import_module(module_name)
            if name == "torch":
                _cache[name].set_num_threads(1)  # the issue compares on one thread
        except Exception as error:  # ImportError, or a broken install: skip, never crash
            _cache[name] = None
            _errors[name] = f"{type(error).__name__}: {error}"
    return _cache[name]


def skipped(name: str) -> str:
    detail = _errors.get(name, "")
    if detail and not detail.startswith("ModuleNotFoundError"):
        return f"skipped: {name} failed to import ({detail})"
    return f"skipped: {name} not installed"


def version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    """Installed versions of gradcheck, its dependencies and every peer (None: absent)."""
    names = list(CORE) + [dist for _, dist in PEERS.values()]
    return {name: version(name) for name in dict.fromkeys(names)}
