"""Tensor: an ndarray that records, on the Wengert list, the operations applied to it.

>>> w = Tensor(3.0, requires_grad=True)
>>> loss = (w * 2.0 - 1.0) ** 2
>>> loss.backward()
>>> w.grad
array(20.)
"""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from gradcheck.errors import GradcheckError, InputError, UnsupportedOperation
from gradcheck.tape import engine as _engine
from gradcheck.tape.engine import Node
from gradcheck.tape.gradient import GradFn
from gradcheck.tape.engine import is_strict as _is_strict, recorder as _recorder  # this thread's modes
from gradcheck.tape.primitives import PRIMITIVES, Primitive

__all__ = ["Tensor", "apply", "install_numpy_dispatch", "install_create_graph"]

# Python scalars are passed to NumPy as they are: NEP 50 treats them as "weak", so a
# float32 tensor times 0.01 stays float32 (like PyTorch). NumPy scalars are made
# Python scalars for the same reason.
_PY_SCALARS = (int, float, bool)


def apply(prim: Primitive, *inputs: Any, **params: Any) -> "Tensor":
    """Run ``prim`` forward on tensors and constants; record a node if any input requires grad.

    >>> apply(PRIMITIVES["add"], Tensor(1.0), 2.0)
    Tensor(3.0)
    """
    args, parents, record = [], [], False
    for x in inputs:
        if isinstance(x, Tensor):
            args.append(x.data)
            if x.requires_grad:
                record = True
                parents.append(x)
                continue
        elif isinstance(x, np.generic):  # before the scalars: np.float64 subclasses float
            args.append(x.item())
        elif isinstance(x, _PY_SCALARS):
            args.append(x)
        else:
            args.append(np.asarray(x))
        parents.append(None)
    data = prim.forward(*args, **params)
    if type(data) is not np.ndarray:  # NumPy returns scalars for 0-d results
        data = np.asarray(data)
    out = Tensor.__new__(Tensor)
    out.data, out.grad, out.name = data, None, None
    if record and _recorder() is not None:
        out.requires_grad = True
        out._node = Node(prim, tuple(parents), tuple(args), params, data)
    else:
        out.requires_grad = False
        out._node = None
    return out


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _float_array(data: Any, dtype: Any) -> np.ndarray:
    if dtype is None:
        kind = np.asarray(data).dtype
        dtype = kind if kind.kind == "f" else np.float64  # ints, bools, lists: float64
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise InputError(f"Tensor dtype must be a floating type, not {dtype}")
    return np.array(data, dtype=dtype)  # a copy, like torch.tensor


_ADD, _SUB, _MUL, _DIV = (PRIMITIVES[n] for n in ("add", "sub", "mul", "div"))
_NEG, _POW, _ABS, _MATMUL = (PRIMITIVES[n] for n in ("neg", "pow", "abs", "matmul"))
_SUM, _MEAN, _RESHAPE, _TRANSPOSE = (PRIMITIVES[n] for n in ("sum", "mean", "reshape", "transpose"))
_GETITEM = PRIMITIVES["getitem"]


# ---------------------------------------------------------------- NumPy protocol (np.sin(t), np.sum(t))
# Its rules are gradcheck.tape.functions, which is built on Tensor and so is not imported
# here: it installs its two dispatchers when it is imported, which the first Tensor to
# reach NumPy makes happen (an expression's tape never does: it calls primitives).
def _first_use(kind: str, module: str, table: dict) -> Callable[..., Any]:
    def install_then_call(*args: Any) -> Any:
        import importlib
        importlib.import_module(module)
        return table[kind](*args)
    return install_then_call


_numpy_dispatch: dict[str, Callable[..., Any]] = {}
_numpy_dispatch.update({k: _first_use(k, "gradcheck.tape.functions", _numpy_dispatch)
                        for k in ("ufunc", "function")})


def install_numpy_dispatch(array_ufunc: Callable[[Any, str, tuple, dict], Any],
                           array_function: Callable[[Any, tuple, dict], Any]) -> None:
    """Serve ``Tensor.__array_ufunc__`` / ``__array_function__`` with these (called by functions.py)."""
    _numpy_dispatch["ufunc"], _numpy_dispatch["function"] = array_ufunc, array_function


# backward(create_graph=True) is gradcheck.tape.higher's, which is built on Tensor: installed
# the same way, on first use.
_create_graph: dict[str, Callable[..., None]] = {}
_create_graph["backward"] = _first_use("backward", "gradcheck.tape.higher", _create_graph)


def install_create_graph(backward: Callable[[Any, Any, Optional[bool]], None]) -> None:
    """Serve ``Tensor.backward(create_graph=True)`` with ``backward(root, gradient, retain_graph)``."""
    _create_graph["backward"] = backward


def _binary(prim: Primitive) -> tuple[Callable, Callable]:
    """The operator and its reflected twin (``2 * t`` calls ``t.__rmul__(2)``)."""
    def op(self: "Tensor", other: Any) -> "Tensor":
        return apply(prim, self, other)

    def reflected(self: "Tensor", other: Any) -> "Tensor":
        return apply(prim, other, self)

    return op, reflected


def _compare(ufunc: np.ufunc) -> Callable[["Tensor", Any], np.ndarray]:
    def compare(self: "Tensor", other: Any) -> np.ndarray:
        return ufunc(self.data, _raw(other))
    return compare


class Tensor:
    """A float ndarray with an optional gradient, PyTorch-style.

    ``Tensor(x, requires_grad=False, dtype=None, name=None)``: ``dtype`` defaults to
    ``x``'s if floating, else float64. ``.grad`` accumulates across ``backward()``
    calls on leaves (tensors you made); intermediates keep no grad unless
    ``retain_grad()`` was called. Comparisons return plain NumPy bool arrays.

    >>> x = Tensor([1.0, 2.0], requires_grad=True, name="x")
    >>> (x * x).sum().backward()
    >>> x.grad
    array([2., 4.])
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "name")

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None,
                 name: Optional[str] = None):
        self.data: np.ndarray = _float_array(_raw(data), dtype)
        self.grad: Optional[np.ndarray] = None
        self.requires_grad = bool(requires_grad)
        self._node: Optional[Node] = None
        self.name = name

    # ------------------------------------------------------------ properties
    shape = property(lambda self: self.data.shape, doc="The shape of ``data``.")
    dtype = property(lambda self: self.data.dtype, doc="The dtype of ``data``.")
    ndim = property(lambda self: self.data.ndim, doc="The number of dimensions.")
    size = property(lambda self: self.data.size, doc="The number of elements.")
    is_leaf = property(lambda self: self._node is None, doc="True unless recorded by an operation.")
    grad_fn = property(lambda self: None if self._node is None else GradFn(self._node),
                       doc="The operation that recorded this tensor (None for a leaf), as in PyTorch.")
    T = property(lambda self: apply(_TRANSPOSE, self), doc="The transpose (axes reversed).")

    # ------------------------------------------------------------ gradients
    def backward(self, gradient: Any = None, retain_graph: Optional[bool] = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``, then free the graph.

        A scalar (size-1) output is seeded with 1; other shapes need ``gradient``.
        ``retain_graph=True`` keeps the graph for another backward. ``create_graph=True``
        records the backward pass itself (the ``.grad`` are then Tensors that can be
        differentiated again) and keeps the graph unless ``retain_graph=False``.
        """
        if create_graph:
            _create_graph["backward"](self, gradient, retain_graph)
        else:
            _engine.backward(self, gradient, retain_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``, like PyTorch's set_to_none)."""
        self.grad = None

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` on this intermediate during backward (leaves always keep it)."""
        if self._node is not None:
            self._node.retain = self
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing ``data`` that is cut off from the graph."""
        out = Tensor.__new__(Tensor)
        out.data, out.grad, out.requires_grad, out._node, out.name = self.data, None, False, None, self.name
        return out

    def requires_grad_(self, flag: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if self._node is not None and not flag:
            raise GradcheckError("requires_grad_(False) on a non-leaf: use detach()")
        self.requires_grad = bool(flag)
        return self

    # ------------------------------------------------------------ conversions
    def _leave_tape(self, how: str) -> None:
        if self.requires_grad and _is_strict():
            raise UnsupportedOperation(
                f"{how} of a traced tensor: its value leaves the tape and the gradient through "
                "it is lost (use np.exp rather than math.exp, keep values as tensors)")

    def item(self) -> float:
        """The value of a size-1 tensor as a Python float."""
        self._leave_tape(".item()")
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        self._leave_tape(".numpy()")
        return self.data

    def tolist(self) -> Any:
        """``data.tolist()``."""
        self._leave_tape(".tolist()")
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        self._leave_tape("np.asarray()/np.array()")
        return self.data if dtype is None else self.data.astype(dtype)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _numpy_dispatch["ufunc"](ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _numpy_dispatch["function"](func, args, kwargs)

    def __float__(self) -> float:
        self._leave_tape("float()")
        return float(self.data)

    def __int__(self) -> int:
        self._leave_tape("int()")
        return int(self.data)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        data = self.data
        parts = [repr(data.item()) if data.ndim == 0 else np.array2string(data, separator=", ")]
        if self.dtype != np.float64:
            parts.append(f"dtype={self.dtype}")
        if self._node is not None and self._node.prim is not None:
            parts.append(f"op={self._node.prim.name}")
        elif self.requires_grad:
            parts.append("requires_grad=True")
        if self.name:
            parts.append(f"name={self.name!r}")
        return f"Tensor({', '.join(parts)})"

    # ------------------------------------------------------------ arithmetic (constants on either side)
    __add__, __radd__ = _binary(_ADD)
    __sub__, __rsub__ = _binary(_SUB)
    __mul__, __rmul__ = _binary(_MUL)
    __truediv__, __rtruediv__ = _binary(_DIV)
    __pow__, __rpow__ = _binary(_POW)
    __matmul__, __rmatmul__ = _binary(_MATMUL)

    def __neg__(self) -> "Tensor":
        return apply(_NEG, self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return apply(_ABS, self)

    # In-place updates rebind ``data`` rather than mutate it, so arrays a recorded
    # graph still holds stay valid; the leaf keeps its identity and its dtype.
    def _inplace(self, prim: Primitive, other: Any) -> "Tensor":
        if _recorder() is not None and (self.requires_grad or getattr(other, "requires_grad", False)):
            if self.requires_grad and self._node is None:
                raise GradcheckError(
                    "in-place update of a leaf tensor that requires grad: "
                    "do it under `with no_grad():` or on `.data`")
            return apply(prim, self, other)  # a recorded op; Python rebinds the name
        result = np.asarray(prim.forward(self.data, _raw(other)))
        if result.shape != self.data.shape:
            raise InputError(f"in-place update would change shape {self.data.shape} to {result.shape}")
        self.data = result.astype(self.data.dtype, copy=False)
        return self

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace(_ADD, other)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace(_SUB, other)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace(_MUL, other)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace(_DIV, other)

    # ------------------------------------------------------------ comparisons: plain bool arrays, no gradient
    __lt__, __le__ = _compare(np.less), _compare(np.less_equal)
    __gt__, __ge__ = _compare(np.greater), _compare(np.greater_equal)
    __eq__, __ne__ = _compare(np.equal), _compare(np.not_equal)  # type: ignore[assignment]
    __hash__ = object.__hash__  # identity, as __eq__ is elementwise

    # ------------------------------------------------------------ reductions, shape, indexing
    def sum(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Sum over ``axis`` (all by default)."""
        return apply(_SUM, self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Mean over ``axis`` (all by default)."""
        return apply(_MEAN, self, axis=axis, keepdims=keepdims)

    def reshape(self, *shape: Any) -> "Tensor":
        """``t.reshape(2, 3)`` or ``t.reshape((2, 3))``."""
        return apply(_RESHAPE, self, shape=shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: Any) -> "Tensor":
        """Permute axes (reverse them when none are given)."""
        axes = axes[0] if len(axes) == 1 else axes
        return apply(_TRANSPOSE, self, axes=tuple(axes) if axes else None)

    # These run through NumPy's dispatch, whose rules (gradcheck.tape.functions) are built on Tensor.
    def max(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Largest element over ``axis`` (int or tuple); the gradient goes to the first maximum."""
        return np.max(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Any = None, keepdims: bool = False) -> "Tensor":
        """Smallest element over ``axis`` (int or tuple); the gradient goes to the first minimum."""
        return np.min(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> "Tensor":
        """Variance over ``axis``, dividing by ``n - ddof``."""
        return np.var(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def std(self, axis: Any = None, ddof: int = 0, keepdims: bool = False) -> "Tensor":
        """Standard deviation over ``axis``, the square root of ``var``."""
        return np.std(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def ravel(self) -> "Tensor":
        """The elements as a 1-D tensor (``flatten`` too)."""
        return apply(_RESHAPE, self, shape=(-1,))

    flatten = ravel

    def __getitem__(self, index: Any) -> "Tensor":
        if isinstance(index, tuple):
            index = tuple(_raw(i) for i in index)
        return apply(_GETITEM, self, index=_raw(index))

    # ------------------------------------------------------------ micrograd-style activations
    def exp(self) -> "Tensor":
        """Elementwise e**self."""
        return apply(PRIMITIVES["exp"], self)

    def log(self) -> "Tensor":
        """Elementwise natural log."""
        return apply(PRIMITIVES["log"], self)

    def tanh(self) -> "Tensor":
        """Elementwise tanh."""
        return apply(PRIMITIVES["tanh"], self)

    def relu(self) -> "Tensor":
        """Elementwise max(0, self); gradient 0.5 at 0, as SymPy's Heaviside(0)."""
        return apply(PRIMITIVES["relu"], self)

    def sigmoid(self) -> "Tensor":
        """Elementwise 1 / (1 + exp(-self)), computed stably."""
        return apply(PRIMITIVES["sigmoid"], self)
