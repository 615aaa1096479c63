"""The tape: Tensor, the derivative table and tracing. It knows nothing of SymPy.

Tensors differentiate any number of times in reverse mode (``backward(create_graph=True)``,
``grad``: higher.py) and once in forward mode (``jvp``: forward.py); Scalar, the float
fast path, is first order.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gradcheck.tape.arrays import scatter_add
    from gradcheck.tape.engine import enable_grad, is_grad_enabled, no_grad, strict
    from gradcheck.tape.forward import jvp
    from gradcheck.tape.functions import (
        abs, acos, add, amax, amin, asin, atan, broadcast_to, clip, cos, cosh, dirac_delta, div,
        dot, exp, expm1, heaviside, log, log1p, matmul, maximum, mean, minimum, mul, neg, power,
        relu, reshape, sigmoid, sign, sin, sinh, softplus, sqrt, sub, sum, tan, tanh, transpose,
        where,
    )
    from gradcheck.tape.higher import grad
    from gradcheck.tape.primitives import PRIMITIVES, Primitive, get_primitive, unbroadcast
    from gradcheck.tape.scalar import Scalar
    from gradcheck.tape.tensor import Tensor, apply
    from gradcheck.tape.trace import Graph, GraphNode, TraceStep, graph, trace_backward

__all__ = [
    "Tensor", "Scalar", "apply", "no_grad", "enable_grad", "is_grad_enabled", "strict", "grad", "jvp",
    "PRIMITIVES", "Primitive", "get_primitive", "unbroadcast",
    "add", "sub", "mul", "div", "neg", "power",
    "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "abs", "sign", "heaviside", "dirac_delta", "relu", "sigmoid", "softplus", "maximum", "minimum",
    "matmul", "dot", "sum", "mean", "amax", "amin", "clip", "reshape", "transpose", "broadcast_to", "where",
    "scatter_add", "trace_backward", "graph", "TraceStep", "Graph", "GraphNode",
]

# Names load on first use, so that checking an expression loads only the engine, the
# table and Tensor (start-up time). functions.py comes first whatever is asked for: it
# completes the table (linear algebra, einsum, ...) and installs Tensor's NumPy dispatch.
_HOME = {
    **dict.fromkeys(["no_grad", "enable_grad", "is_grad_enabled", "strict"], "engine"),
    **dict.fromkeys(["Tensor", "apply"], "tensor"),
    **dict.fromkeys(["PRIMITIVES", "Primitive", "get_primitive", "unbroadcast"], "primitives"),
    **dict.fromkeys(["trace_backward", "graph", "TraceStep", "Graph", "GraphNode"], "trace"),
    "Scalar": "scalar", "grad": "higher", "jvp": "forward", "scatter_add": "arrays",
}

if not TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        if name not in __all__:
            raise AttributeError(f"module 'gradcheck.tape' has no attribute {name!r}")
        import_module("gradcheck.tape.functions")
        value = getattr(import_module(f"gradcheck.tape.{_HOME.get(name, 'functions')}"), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return __all__
