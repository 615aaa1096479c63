"""Scalar: the tape's hot path for plain Python floats, the float twin of Tensor.

Each operation computes its value and, while recording, its local partial derivatives as
floats, and stores them with its parents: ``(a, da)`` or ``(a, da, b, db)``. Recorded
nodes are appended to one list in creation order (a Wengert list: creation order is a
topological order); backward walks it newest-first from the output, skips nodes no
gradient reached, and does ``parent._g += local * g``: no recursion, no search, no sort,
no closures, no NumPy. Each thread records on its own list, and backward only ever
removes the calling thread's nodes, so threads build and differentiate graphs
concurrently. A graph is differentiated in the thread that recorded it: leaves may be
shared between threads (not their concurrent accumulation into ``.grad``), operations
recorded in another thread are refused with an error rather than silently skipped.

The derivative rules are the table :data:`RULES` (the float twin of
:mod:`gradcheck.tape.primitives`, same conventions at kinks); the operators and methods
are generated from it (:mod:`gradcheck.tape.scalar_rules`), so a rule and the code that
uses it cannot drift apart.
Domain errors in a forward value raise as in :mod:`math` (``log(0)``, ``1 / 0``,
``exp(1000)``); a local derivative never raises where its forward value exists.

>>> w = Scalar(3.0, requires_grad=True)
>>> loss = (w * 2.0 - 1.0) ** 2
>>> loss.backward()
>>> w.grad
20.0
"""

from __future__ import annotations

import gc
from sys import getrefcount
from typing import Any, Optional

from gradcheck.errors import GradcheckError, UnsupportedOperation
from gradcheck.tape.engine import _tape_var, recorder as _recorder, scalar_tape as _scalar_tape
from gradcheck.tape.scalar_rules import RULES, _pow, install_operators  # noqa: F401 (_pow: tests)

__all__ = ["Scalar", "RULES", "exp", "log", "tanh", "relu", "sigmoid", "sin", "cos"]


_FREED = (None,)  # a node's parents after backward freed them


class _NoGradient(float):
    """The ``_g`` of a leaf no backward has reached (``.grad`` None): -0.0, which adds as
    an exact identity (-0.0 + x is x, signed zeros included), so backward's first touch of
    a leaf is a plain addition, like every later one (operations start at their tape's
    mark instead: see the tape section)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no gradient>"


_NO_GRAD = _NoGradient(-0.0)


class Scalar:
    """A Python float with an optional gradient: Tensor's user surface, for scalars.

    ``.grad`` (a float, or None) accumulates across ``backward()`` calls on leaves;
    intermediates keep none. ``no_grad()`` from :mod:`gradcheck.tape` is honoured.

    >>> x = Scalar(0.5, requires_grad=True)
    >>> y = x.tanh() * 2 + x ** 2
    >>> y.backward()
    >>> round(x.grad, 6)
    2.572895
    """

    # _p: None (no grad), () (a leaf), (a, da[, b, db]) (an operation), or _FREED.
    # _g: a leaf's .grad (_NO_GRAD: None); an operation's gradient during backward (its
    # tape's mark: not reached; None: not recorded, _DEAD: freed).
    __slots__ = ("data", "_p", "_g")

    def __init__(self, data: Any, requires_grad: bool = False):
        self.data = float(data.data if isinstance(data, Scalar) else data)
        self._p: Optional[tuple] = () if requires_grad else None
        self._g: Optional[float] = _NO_GRAD

    # ------------------------------------------------------------ gradients
    @property
    def grad(self) -> Optional[float]:
        """d(output)/d(self) summed over backward() calls, or None (intermediates: always None)."""
        g = self._g
        return None if self._p or g is _NO_GRAD else g

    @grad.setter
    def grad(self, value: Optional[float]) -> None:
        if self._p:
            raise GradcheckError("only leaves keep a .grad: set it on the Scalars you made")
        self._g = _NO_GRAD if value is None else float(value)

    @property
    def requires_grad(self) -> bool:
        """True for leaves made with requires_grad=True and for operations recorded on them."""
        return self._p is not None

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self._p:
            raise GradcheckError("requires_grad can only be set on a leaf: use detach() for a copy")
        self._p = () if flag else None
        self._g = _NO_GRAD

    is_leaf = property(lambda self: not self._p, doc="True unless recorded by an operation.")

    def backward(self, gradient: float = 1.0, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``, then free the graph.

        First order only: ``create_graph=True`` is refused (use Tensor to differentiate twice).
        """
        if create_graph:
            raise UnsupportedOperation(
                "Scalar is the first-order float fast path: backward(create_graph=True) needs "
                "Tensor (gradcheck.tape.Tensor), whose backward can be recorded on the tape")
        if self._p is None:
            raise GradcheckError(
                "backward() on a Scalar that does not require grad: no input had requires_grad=True, "
                "or it was computed under no_grad()")
        _backward(self, float(gradient), retain_graph)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (``.grad = None``, like PyTorch's set_to_none)."""
        if not self._p:
            self._g = _NO_GRAD

    def detach(self) -> "Scalar":
        """A Scalar with the same value, cut off from the graph."""
        return Scalar(self.data)

    # ------------------------------------------------------------ conversions and comparisons
    def item(self) -> float:
        """The value as a Python float."""
        return self.data

    def __float__(self) -> float:
        return self.data

    def __bool__(self) -> bool:
        return self.data != 0.0

    def __repr__(self) -> str:
        tag = ", requires_grad=True" if self._p == () else "" if not self._p else ", op"
        return f"Scalar({self.data!r}{tag})"

    def __lt__(self, other: Any) -> bool:
        return self.data < _raw(other)

    def __le__(self, other: Any) -> bool:
        return self.data <= _raw(other)

    def __gt__(self, other: Any) -> bool:
        return self.data > _raw(other)

    def __ge__(self, other: Any) -> bool:
        return self.data >= _raw(other)

    def __eq__(self, other: Any) -> bool:  # type: ignore[override]
        return self.data == _raw(other)

    def __ne__(self, other: Any) -> bool:  # type: ignore[override]
        return self.data != _raw(other)

    __hash__ = object.__hash__  # identity, as __eq__ compares values

    def __pos__(self) -> "Scalar":
        return self

    # ------------------------------------------------------------ in place: recorded, or on .data under no_grad
    def _inplace(self, op: str, other: Any) -> "Scalar":
        if _recorder() is not None and (self._p is not None or getattr(other, "_p", None) is not None):
            if self._p == ():
                raise GradcheckError("in-place update of a leaf Scalar that requires grad: "
                                     "do it under `with no_grad():` or on `.data`")
            return getattr(self, op)(other)  # a recorded op; Python rebinds the name
        self.data = getattr(self, op)(other).data
        return self

    def __iadd__(self, other: Any) -> "Scalar":
        return self._inplace("__add__", other)

    def __isub__(self, other: Any) -> "Scalar":
        return self._inplace("__sub__", other)

    def __imul__(self, other: Any) -> "Scalar":
        return self._inplace("__mul__", other)

    def __itruediv__(self, other: Any) -> "Scalar":
        return self._inplace("__truediv__", other)


def _raw(x: Any) -> Any:
    return x.data if isinstance(x, Scalar) else x


# ---------------------------------------------------------------- the tape and backward
# Recorded operations in creation order (a topological order), one list per thread:
# ``engine.scalar_tape()``, appended to through its ``record`` (``engine.recorder()``),
# which is also each operation's initial ``_g``: the mark of "this list's, not reached".
# backward walks the list newest first from the output, skipping nodes no gradient
# reached, then drops what it freed; _compact (run by the garbage collector when the tape
# has grown) drops graphs nobody holds. Both touch only the calling thread's list.
_CROSS_THREAD = ("backward() through a Scalar graph with operations that are not on this thread's "
                 "tape (recorded in another thread?): differentiate a graph in the thread that "
                 "built it (leaves may be shared between threads, intermediate results may not)")


def __getattr__(name: str) -> Any:
    """``_tape``: the calling thread's recorded operations (tests and debugging read it)."""
    if name == "_tape":
        return _scalar_tape()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _FreedGradient:
    """The ``_g`` of a freed node: reaching it again is an error, checked at no cost."""

    def __add__(self, other: Any) -> float:
        raise GradcheckError(
            "backward through a graph already freed by an earlier backward(); "
            "call the first one as backward(retain_graph=True) to go through it twice")


_DEAD = _FreedGradient()


def _backward(root: Scalar, seed: float, retain_graph: bool) -> None:
    p = root._p
    if not p:  # a leaf
        root._g = seed if root._g is None else root._g + seed  # _NO_GRAD + seed is seed
        return
    if p is _FREED:
        _DEAD + seed
    tape = _scalar_tape()  # this thread's, bound once
    end = len(tape) - 1
    while end >= 0 and tape[end] is not root:
        end -= 1
    if end < 0:
        raise GradcheckError(_CROSS_THREAD)
    segment = tape[:end + 1]
    mark = tape.record
    tape.busy = True
    try:
        root._g = seed
        skipped = _sweep(segment, retain_graph, mark)
        if not retain_graph:
            if skipped:
                tape[:end + 1] = [node for node in segment if node._p is not _FREED]
            else:
                del tape[:end + 1]
    except BaseException as error:
        for node in segment:
            if node._p is not _FREED:
                node._g = mark
        tape[:end + 1] = [node for node in segment if node._p is not _FREED]
        if isinstance(error, TypeError):  # ``ga + da * g`` met another list's mark
            raise GradcheckError(_CROSS_THREAD) from None
        raise
    finally:
        tape.busy = False


def _sweep(segment: list, retain_graph: bool, mark: Any) -> int:
    """The one reverse loop: ``parent._g += local * g``. Returns how many nodes it skipped.

    ``mark`` is the ``_g`` of this list's operations no gradient has reached. An operation
    recorded on another thread's list carries that list's mark, which has no ``+``: the
    sweep raises TypeError on it (made an error naming the cause by _backward) rather
    than leaving a gradient partial. Two copies of the loop, so neither tests
    ``retain_graph`` per node.
    """
    skipped = 0
    if retain_graph:
        for node in reversed(segment):
            g = node._g
            if g is mark:  # not reached from the output
                skipped += 1
                continue
            p = node._p
            if len(p) == 4:
                a, da, b, db = p
                ga = a._g
                a._g = da * g if ga is mark else ga + da * g
                gb = b._g
                b._g = db * g if gb is mark else gb + db * g
            else:
                a, da = p
                ga = a._g
                a._g = da * g if ga is mark else ga + da * g
            node._g = mark
        return skipped
    freed, dead = _FREED, _DEAD
    for node in reversed(segment):
        g = node._g
        if g is mark:
            skipped += 1
            continue
        p = node._p
        if len(p) == 4:
            a, da, b, db = p
            ga = a._g
            a._g = da * g if ga is mark else ga + da * g
            gb = b._g
            b._g = db * g if gb is mark else gb + db * g
        else:
            a, da = p
            ga = a._g
            a._g = da * g if ga is mark else ga + da * g
        node._g = dead
        node._p = freed
    return skipped


def _compact() -> None:
    """Drop from this thread's tape the operations nothing else refers to, newest
    (children) first."""
    tape = _scalar_tape()
    kept = []
    n = len(tape)
    for i in range(n - 1, -1, -1):
        node = tape[i]
        if getrefcount(node) > 3:  # more than the tape, ``node`` and the argument
            kept.append(node)
        else:
            node._p = _FREED  # releases its parents, which may then go too
    node = None
    kept.reverse()
    tape[:n] = kept  # in place (the recorder is this list's append), and nothing appended since is lost
    tape.limit = max(100_000, 2 * len(kept))


def _on_gc(phase: str, info: dict) -> None:
    # Runs in the thread whose allocation started the collection: compacts that thread's tape.
    # Reads the list without making one: a collection never sets a context variable.
    if phase == "stop":
        tape = _tape_var.get(None)
        if tape is not None and len(tape) > tape.limit and not tape.busy:
            _compact()


gc.callbacks.append(_on_gc)


# ---------------------------------------------------------------- operators generated from RULES
install_operators(Scalar)


def _function(name: str) -> Any:
    def function(x: Any) -> Scalar:
        return getattr(x if isinstance(x, Scalar) else Scalar(x), name)()
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"{name}(x) of a Scalar (or a number, made a constant Scalar): ``x.{name}()``."
    return function


exp, log, tanh, relu, sigmoid, sin, cos = map(_function, ("exp", "log", "tanh", "relu", "sigmoid", "sin", "cos"))
