"""StandIn: a NumPy-like array of SymPy expressions that user functions run on unchanged."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sympy

from ..errors import UnsupportedOperation
from . import arrays
from .arrays import matmul
from .base import Budget, StandInBase, budget_of, charge, operand, raw
from .rules import COMPARISONS, UFUNCS, as_sympy, is_constant

__all__ = ["StandIn", "symbols", "as_expression", "element_names", "raw", "OPERATION_LIMIT"]

# Element operations one trace may create before it is stopped: a function whose
# expression grows past this would make SymPy crawl rather than answer.
OPERATION_LIMIT = 2_000_000

_FUNCTIONS: dict[Callable, Callable] = {}


def functions() -> dict[Callable, Callable]:
    """NumPy functions with a stand-in meaning; layout and linear algebra load on first use
    (an expression's symbols never meet them)."""
    if not _FUNCTIONS:
        from . import layout, linalg
        _FUNCTIONS.update({**arrays.FUNCTIONS, **layout.FUNCTIONS, **linalg.FUNCTIONS})
    return _FUNCTIONS


def _qualified(func: Callable) -> str:
    linalg_function = getattr(func, "__module__", None) == "numpy.linalg"
    return f"numpy.{'linalg.' if linalg_function else ''}{func.__name__}"


def _index(index: Any) -> Any:
    """An index as NumPy takes it: a stand-in of constants as integers or booleans; one that
    depends on a parameter is refused (its elements would have to be decided)."""
    if isinstance(index, tuple):
        return tuple(_index(i) for i in index)
    if not isinstance(index, StandIn):
        return raw(index)
    values = index.array
    if any(not is_constant(e) for e in values.flat):
        raise UnsupportedOperation("indexing by a symbolic value (a mask or index that depends "
                                   "on a parameter) cannot be traced; np.where can express it")
    if all(isinstance(e, (bool, np.bool_, sympy.logic.boolalg.BooleanAtom)) for e in values.flat):
        return values.astype(bool)
    if all(isinstance(e, (int, np.integer, sympy.Integer)) for e in values.flat):
        return values.astype(np.intp)
    raise IndexError("arrays used as indices must be of integer (or boolean) type")


def _ufunc_at(ufunc: np.ufunc, target: Any, index: Any, *values: Any) -> None:
    """ufunc.at in place into a stand-in or an object array, as NumPy does on numbers."""
    array = target.array if isinstance(target, StandIn) else target
    name = f"numpy.{ufunc.__name__}.at"
    if not isinstance(array, np.ndarray) or array.dtype != object:
        raise UnsupportedOperation(
            f"{name} into an array of numbers cannot hold symbolic values; accumulate into a "
            "stand-in such as np.zeros_like(w)")
    if not array.flags.writeable:
        raise UnsupportedOperation(f"{name} into a read-only array (an argument of the function "
                                   "or a view of one) would change the parameter itself")
    charge((target,) + values, max(sum(int(np.size(raw(v))) for v in values), 1))
    UFUNCS[ufunc].at(array, _index(index), *(operand(v) for v in values))


class StandIn(StandInBase):
    """A NumPy-like array of SymPy expressions that user functions can run on unchanged."""

    __array_priority__ = 1000  # ndarray operators defer to ours

    def __init__(self, array: Any, budget: Budget | None = None):
        self.array = np.asarray(array, dtype=object)
        self.budget = budget or Budget(OPERATION_LIMIT)
        self.budget.spend(max(self.array.size, 1))

    # ------------------------------------------------------------ NumPy protocol
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "at" and ufunc in UFUNCS and not kwargs:
            return _ufunc_at(ufunc, *inputs)
        how = "" if method == "__call__" else f".{method}"
        if method != "__call__" or kwargs or (ufunc not in UFUNCS and ufunc is not np.matmul):
            raise UnsupportedOperation(
                f"numpy.{ufunc.__name__}{how} is not supported by the symbolic stand-in"
                + (f" (with {', '.join(sorted(kwargs))})" if kwargs else ""))
        operands = [operand(x) for x in inputs]
        if ufunc is np.matmul:
            out = matmul(*operands)
        else:
            out = UFUNCS[ufunc](*operands)
        out = np.asarray(out, dtype=object)
        if ufunc in COMPARISONS and all(is_constant(e) for e in out.flat):
            return out.astype(bool)  # decided without symbols: plain booleans for control flow
        return StandIn(out, budget_of(inputs))

    def __array_function__(self, func: Callable, types: Any, args: tuple, kwargs: dict) -> Any:
        special = functions().get(func)
        try:
            if special is not None:
                out = special(*args, **kwargs)
            else:  # structural functions (concatenate, cumsum, ...) run on the object array
                out = func(*raw(args), **{k: raw(v) for k, v in kwargs.items()})
        except UnsupportedOperation:
            raise
        except Exception as error:
            raise UnsupportedOperation(
                f"{_qualified(func)} cannot run on symbolic values "
                f"({type(error).__name__}: {error})") from None
        return self._wrap(out, (args, kwargs))

    def _wrap(self, out: Any, sources: Any = ()) -> Any:
        if isinstance(out, StandIn):
            return out
        if isinstance(out, (tuple, list)):  # slogdet's (sign, logabsdet), np.split's parts
            parts = [self._wrap(part) for part in out]
            return type(out)(*parts) if hasattr(out, "_fields") else type(out)(parts)
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
        return StandIn(self.array[_index(index)], self.budget)

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

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> "StandIn":
        return np.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> "StandIn":
        return np.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

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


def symbols(name: str, shape: tuple[int, ...] = (), budget: Budget | None = None) -> StandIn:
    """A StandIn of real symbols named by :func:`element_names`; read-only, so an in-place
    operation (np.add.at) cannot turn a parameter's symbols into expressions."""
    elements = [sympy.Symbol(n, real=True) for n in element_names(name, tuple(shape))]
    array = np.array(elements, dtype=object).reshape(shape)
    array.flags.writeable = False
    return StandIn(array, budget)


def as_expression(value: Any, reduce: str = "sum") -> sympy.Expr:
    """The scalar SymPy expression of a function's output, summed (or averaged) if an array."""
    array = np.asarray(raw(value), dtype=object)
    total = sympy.Add(*(as_sympy(e) for e in array.flat))
    expr = total / array.size if reduce == "mean" and array.size > 1 else total
    if not isinstance(expr, sympy.Expr) or expr.has(sympy.zoo, sympy.nan):
        raise UnsupportedOperation(f"the function's symbolic value is not a number: {expr}")
    return expr
