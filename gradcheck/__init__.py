"""gradcheck: is this gradient right? Symbolic, tape and numeric derivatives compared.

Names are re-exported lazily, so that ``gradcheck --help`` does not pay for importing
SymPy and NumPy.
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "check": "api", "assert_gradients": "api", "GradientMismatch": "api", "check_grad": "api",
    "DEFAULT_RTOL": "defaults", "DEFAULT_ATOL": "defaults",
    "parse": "parse",
    "Report": "report", "PointResult": "report", "ParamResult": "report",
    "GradcheckError": "errors", "ExpressionError": "errors", "InputError": "errors",
    "UnsupportedOperation": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
    value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
