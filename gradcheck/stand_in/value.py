"""StandIn: a NumPy-like array of SymPy expressions that user functions run on unchanged."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation
from .arrays import FUNCTIONS, matmul
from .base import StandInBase, raw
from .rules import COMPARISONS, UFUNCS, as_sympy, is_constant

__all__ = ["StandIn", "symbols", "as_expression", "element_names", "raw", "OPERATION_LIMIT"]

# Element operations one trace may create before it is stopped: a function whose
# expression grows past this would make SymPy crawl rather than answer.
OPERATION_LIMIT = 2_000_000


class _Budget:
    """Element operations left for one trace, shared by every StandIn it creates."""

    def __init__(self, limit: int):
        self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise UnsupportedOperation(
                f"the symbolic expression grew past {OPERATION_LIMIT:,} element operations; "
                "too large for SymPy")


def _whole(v: Any) -> Any:
    return int(v) if isinstance(v, float) and v.is_integer() and abs(v) < 2 ** 53 else v


_WHOLE = np.frompyfunc(_whole, 1, 1)


def _operand(x: Any) -> Any:
    """A constant operand with whole floats as ints: 2*w, not 2.0*w; the same number exactly."""
    if isinstance(x, StandIn):
        return x.array
    if isinstance(x, (float, np.floating)):
        return _whole(float(x))
    x = raw(x)
    if isinstance(x, (list, tuple)):
        x = np.asarray(x, dtype=object if any(isinstance(e, sympy.Basic) for e in np.ravel(x)) else None)
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":
        return _WHOLE(x.astype(object))
    return x


def _budget_of(values: Any) -> _Budget | None:
    for x in values:
        if isinstance(x, StandIn):
            return x.budget
        if isinstance(x, (list, tuple)):
            found = _budget_of(x)
            if found is not None:
                return found
    return None


class StandIn(StandInBase):
    """A NumPy-like array of SymPy expressions that user functions can run on unchanged."""

    __array_priority__ = 1000  # ndarray operators defer to ours

    def __init__(self, array: Any, budget: _Budget | None = None):
        self.array = np.asarray(array, dtype=object)
        self.budget = budget or _Budget(OPERATION_LIMIT)
        self.budget.spend(max(self.array.size, 1))

    # ------------------------------------------------------------ NumPy protocol
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        how = "" if method == "__call__" else f".{method}"
        if method != "__call__" or kwargs or (ufunc not in UFUNCS and ufunc is not np.matmul):
            raise UnsupportedOperation(
                f"numpy.{ufunc.__name__}{how} is not supported by the symbolic stand-in"
                + (f" (with {', '.join(sorted(kwargs))})" if kwargs else ""))
        arrays = [_operand(x) for x in inputs]
        if ufunc is np.matmul:
            out = matmul(*arrays)
        else:
            out = UFUNCS[ufunc](*arrays)
        out = np.asarray(out, dtype=object)
        if ufunc in COMPARISONS and all(is_constant(e) for e in out.flat):
            return out.astype(bool)  # decided without symbols: plain booleans for control flow
        return StandIn(out, _budget_of(inputs))

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        special = FUNCTIONS.get(func)
        try:
            if special is not None:
                out = special(*args, **kwargs)
            else:  # structural functions (concatenate, cumsum, ...) run on the object array
                out = func(*raw(args), **{k: raw(v) for k, v in kwargs.items()})
        except UnsupportedOperation:
            raise
        except Exception as error:
            raise UnsupportedOperation(
                f"numpy.{func.__name__} cannot run on symbolic values "
                f"({type(error).__name__}: {error})") from None
        return self._wrap(out, (args, kwargs))

    def _wrap(self, out: Any, sources: Any = ()) -> Any:
        if isinstance(out, StandIn):
            return out
        if isinstance(out, np.ndarray) and out.dtype == object or isinstance(out, sympy.Basic):
            return StandIn(out, self.budget)
        return out

    # ------------------------------------------------------------ conversions: refused when symbolic
    def _constant(self, how: str) -> Any:
        if any(not is_constant(e) for e in self.array.flat):
            raise UnsupportedOperation(
                f"{how} of a symbolic value: Python control flow or conversions that depend "
                "on a parameter cannot be traced symbolically (np.where can express a branch)")
        return self.array

    def __bool__(self) -> bool:
        return bool(self._constant("bool() (an if, while, and, or)"))

    def __float__(self) -> float:
        return float(self._constant("float()"))

    def item(self) -> Any:
        return self._constant(".item()").item()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self._constant("np.asarray()/np.array()"), dtype=dtype)

    # ------------------------------------------------------------ shape
    shape = property(lambda self: self.array.shape)
    ndim = property(lambda self: self.array.ndim)
    size = property(lambda self: self.array.size)
    T = property(lambda self: StandIn(self.array.T, self.budget))

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: Any) -> "StandIn":
        return StandIn(self.array[raw(index)], self.budget)

    def __repr__(self) -> str:
        return f"StandIn({self.array!r})"

    __hash__ = object.__hash__

    def reshape(self, *shape: Any) -> "StandIn":
        return StandIn(self.array.reshape(*shape), self.budget)

    def transpose(self, *axes: Any) -> "StandIn":
        return StandIn(self.array.transpose(*axes), self.budget)

    def ravel(self) -> "StandIn":
        return StandIn(self.array.ravel(), self.budget)

    flatten = ravel

    def sum(self, axis: Any = None, keepdims: bool = False) -> "StandIn":
        return np.sum(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "StandIn":
        return np.mean(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Any = None, keepdims: bool = False) -> "StandIn":
        return np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "StandIn":
        return np.min(self, axis=axis, keepdims=keepdims)

    def dot(self, other: Any) -> "StandIn":
        return np.dot(self, other)

    # ------------------------------------------------------------ the Tensor's activations too
    def exp(self) -> "StandIn":
        return np.exp(self)

    def log(self) -> "StandIn":
        return np.log(self)

    def tanh(self) -> "StandIn":
        return np.tanh(self)

    def relu(self) -> "StandIn":
        return np.maximum(self, 0)

    def sigmoid(self) -> "StandIn":
        return 1 / (1 + np.exp(-self))


def _binary(ufunc: np.ufunc) -> tuple[Callable, Callable]:
    return (lambda self, other: ufunc(self, other)), (lambda self, other: ufunc(other, self))


for _name, _ufunc in (("add", np.add), ("sub", np.subtract), ("mul", np.multiply),
                      ("truediv", np.true_divide), ("pow", np.power), ("matmul", np.matmul)):
    _op, _reflected = _binary(_ufunc)
    setattr(StandIn, f"__{_name}__", _op)
    setattr(StandIn, f"__r{_name}__", _reflected)
for _name, _ufunc in (("lt", np.less), ("le", np.less_equal), ("gt", np.greater),
                      ("ge", np.greater_equal), ("eq", np.equal), ("ne", np.not_equal)):
    setattr(StandIn, f"__{_name}__", _binary(_ufunc)[0])
StandIn.__neg__ = lambda self: np.negative(self)
StandIn.__pos__ = lambda self: self
StandIn.__abs__ = lambda self: np.absolute(self)


def element_names(name: str, shape: tuple[int, ...]) -> list[str]:
    """``w`` for a scalar, ``W[0, 1]``-style names for the elements of an array (C order)."""
    if shape == ():
        return [name]
    return [f"{name}_{'_'.join(map(str, i))}" for i in np.ndindex(*shape)]


def symbols(name: str, shape: tuple[int, ...] = (), budget: _Budget | None = None) -> StandIn:
    """A StandIn of real symbols named by :func:`element_names`."""
    elements = [sympy.Symbol(n, real=True) for n in element_names(name, tuple(shape))]
    return StandIn(np.array(elements, dtype=object).reshape(shape), budget)


def as_expression(value: Any, reduce: str = "sum") -> sympy.Expr:
    """The scalar SymPy expression of a function's output, summed (or averaged) if an array."""
    array = np.asarray(raw(value), dtype=object)
    total = sympy.Add(*(as_sympy(e) for e in array.flat))
    expr = total / array.size if reduce == "mean" and array.size > 1 else total
    if not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan):
        raise UnsupportedOperation(f"the function's symbolic value is not a number: {expr}")
    return expr
