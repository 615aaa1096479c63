"""gradcheck: is this gradient right? Symbolic, tape and numeric derivatives compared.

Names are re-exported lazily, so that ``gradcheck --help`` does not pay for importing
SymPy and NumPy. Type checkers read the ``TYPE_CHECKING`` imports below instead, so
``mypy --strict`` and pyright see every real signature (and no ``__getattr__`` that would
let ``gradcheck.anything`` pass).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .api import GradientMismatch as GradientMismatch
    from .api import assert_gradients as assert_gradients
    from .api import check as check
    from .api import check_grad as check_grad
    from .defaults import DEFAULT_ATOL as DEFAULT_ATOL
    from .defaults import DEFAULT_RTOL as DEFAULT_RTOL
    from .hessian import check_hessian as check_hessian
    from .hessian import check_hvp as check_hvp
    from .errors import ExpressionError as ExpressionError
    from .errors import GradcheckError as GradcheckError
    from .errors import InputError as InputError
    from .errors import UnsupportedOperation as UnsupportedOperation
    from .explain import Graph as Graph
    from .explain import Trace as Trace
    from .parse import parse as parse
    from .rule import RuleMismatch as RuleMismatch
    from .rule import assert_rule as assert_rule
    from .rule import check_rule as check_rule
    from .rule_report import RuleReport as RuleReport
    from .rule_report import RuleRow as RuleRow
    from .report import ParamResult as ParamResult
    from .report import PointResult as PointResult
    from .report import Report as Report
    from .report import Source as Source
    from .report import Status as Status

_EXPORTS = {
    "check": "api", "assert_gradients": "api", "GradientMismatch": "api", "check_grad": "api",
    "check_hessian": "hessian", "check_hvp": "hessian",
    "DEFAULT_RTOL": "defaults", "DEFAULT_ATOL": "defaults",
    "parse": "parse",
    "check_rule": "rule", "assert_rule": "rule", "RuleMismatch": "rule",
    "RuleReport": "rule_report", "RuleRow": "rule_report",
    "Report": "report", "PointResult": "report", "ParamResult": "report",
    "Status": "report", "Source": "report", "Trace": "explain", "Graph": "explain",
    "GradcheckError": "errors", "ExpressionError": "errors", "InputError": "errors",
    "UnsupportedOperation": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]

if not TYPE_CHECKING:  # hidden from type checkers: an unknown name must be an error there
    def __getattr__(name: str) -> Any:
        if name not in _EXPORTS:
            raise AttributeError(f"module 'gradcheck' has no attribute {name!r}")
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return __all__
