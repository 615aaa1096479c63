"""The Wengert list: recorded nodes, the grad-mode switch, and the one reverse loop of backward.

Every recorded operation becomes a :class:`Node` with an increasing integer ``id``.
Creation order is a topological order, so backward collects the nodes reachable
from the output with an explicit stack and walks them by decreasing ``id``: no
recursion, so a graph 100,000 nodes deep is fine.

The engine only needs tensors' ``data``, ``grad``, ``requires_grad`` and ``_node``
attributes; :mod:`gradcheck.tape.tensor` builds the nodes.

Tape state is per thread. Grad mode and strict mode are context variables
(:mod:`contextvars`), so ``no_grad()`` in one thread (or asyncio task) never changes what
another records or refuses, and a new thread starts with grad mode on and strict mode
off. Scalar's Wengert list is one list per thread (:func:`scalar_tape`). Node ids come
from one process-wide counter: unique, and increasing in creation order whichever
thread made them, so a Tensor graph built across threads is still ordered by id. A
context carried into another thread on purpose (``contextvars.copy_context().run``,
``asyncio.to_thread``) carries its modes and its Scalar list along: use such copies from
one thread at a time.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
from typing import Any, Callable, Iterator, Optional

import numpy as np

from gradcheck.errors import GradcheckError
from gradcheck.tape.gradient import as_gradient
from gradcheck.tape.primitives import Primitive

__all__ = ["Node", "no_grad", "enable_grad", "is_grad_enabled", "strict", "backward",
           "reachable_nodes"]

Hook = Callable[["Node", np.ndarray, list], None]

_ids = itertools.count()  # next() is atomic: unique, creation-ordered ids across threads


class ScalarTape(list):
    """Scalar's Wengert list for one thread (scalar.py reads and trims it). ``record``: its
    ``append``, made once, so it also marks the list's operations not yet reached by a
    backward; ``busy``: a backward is sweeping it; ``limit``: the length at which the
    collector compacts it."""

    __slots__ = ("record", "busy", "limit")

    def __init__(self) -> None:
        super().__init__()
        self.record = self.append
        self.busy = False
        self.limit = 100_000


_thread = threading.local()  # .scalar_tape: this thread's ScalarTape, made on first use
_tape_var: contextvars.ContextVar[ScalarTape] = contextvars.ContextVar("gradcheck_scalar_tape")


def scalar_tape() -> ScalarTape:
    """The Scalar list this context records on: its thread's, made on first use."""
    tape = _tape_var.get(None)
    if tape is None:
        tape = getattr(_thread, "scalar_tape", None)
        if tape is None:
            tape = _thread.scalar_tape = ScalarTape()
        _tape_var.set(tape)
    return tape


def _first_record(node: Any) -> None:
    """The recorder of a context that has not recorded yet (grad mode on): binds its own
    list's and records ``node`` there, marked as that list's (see ScalarTape)."""
    tape = scalar_tape()
    _record_var.set(tape.record)
    node._g = tape.record
    tape.record(node)


# Grad mode, as the Scalar recorder: this context's list's ``append``, or None under
# no_grad(). Read on every operation (tensor.apply, Scalar's operators) through
# ``recorder()``, one C call: as cheap as the module global it replaced.
_record_var: contextvars.ContextVar[Optional[Callable[[Any], None]]] = contextvars.ContextVar(
    "gradcheck_grad_mode", default=_first_record)
recorder = _record_var.get
# Strict mode: read by Tensor's conversions (float(), np.asarray, ...): see strict().
_strict_var: contextvars.ContextVar[bool] = contextvars.ContextVar("gradcheck_strict", default=False)
is_strict = _strict_var.get


class Node:
    """One entry of the Wengert list: ``out = prim.forward(*args, **params)``.

    ``parents[i]`` is the input tensor that requires grad, or None for a constant.
    ``grad`` accumulates the incoming gradient during backward only.
    """

    __slots__ = ("id", "prim", "parents", "args", "params", "out", "grad", "retain")

    def __init__(self, prim: Primitive, parents: tuple, args: tuple, params: dict, out: np.ndarray):
        self.id = next(_ids)
        self.prim = prim
        self.parents = parents
        self.args = args
        self.params = params
        self.out = out
        self.grad: Optional[np.ndarray] = None
        self.retain = None  # the output tensor, when it asked for retain_grad()

    def free(self) -> None:
        """Drop the references backward needed, so a finished graph costs no memory."""
        self.parents = None
        self.args = self.params = self.out = self.grad = None

    def __repr__(self) -> str:
        name = self.prim.name if self.prim else "?"
        return f"Node(id={self.id}, op={name})"


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """Disable recording inside the block (also usable as a decorator).

    >>> from gradcheck.tape import Tensor
    >>> w = Tensor(1.0, requires_grad=True)
    >>> with no_grad():
    ...     (w * 2).requires_grad
    False
    """
    with _grad_mode(False):
        yield


@contextlib.contextmanager
def enable_grad() -> Iterator[None]:
    """Re-enable recording inside a ``no_grad`` block."""
    with _grad_mode(True):
        yield


@contextlib.contextmanager
def _grad_mode(on: bool) -> Iterator[None]:
    previous = _record_var.get()
    _record_var.set(scalar_tape().record if on else None)
    try:
        yield
    finally:  # this context's previous mode, whatever was raised
        _record_var.set(previous)


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """Inside the block, turning a tensor that requires grad into a float or a plain array
    raises UnsupportedOperation: its value would leave the tape (``math.exp(w)``,
    ``float(w)``, ``np.asarray(w)``) and the gradient through it would be silently lost.
    Checks trace user functions in this mode. Like grad mode, it holds for this thread only.
    """
    previous = _strict_var.get()
    _strict_var.set(True)
    try:
        yield
    finally:
        _strict_var.set(previous)


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()`` (in this thread: grad mode is per thread)."""
    return _record_var.get() is not None


def reachable_nodes(*roots: Node) -> list[Node]:
    """The nodes the roots depend on (themselves included), in decreasing id: backward order."""
    seen = {n.id for n in roots}
    stack, nodes = list({n.id: n for n in roots}.values()), []
    while stack:
        node = stack.pop()
        if node.parents is None:
            raise GradcheckError(
                "backward through a graph already freed by an earlier backward(); "
                "call the first one as backward(retain_graph=True) to go through it twice")
        nodes.append(node)
        for parent in node.parents:
            pnode = parent._node if parent is not None else None
            if pnode is not None and pnode.id not in seen:
                seen.add(pnode.id)
                stack.append(pnode)
    nodes.sort(key=lambda n: n.id, reverse=True)
    return nodes


def backward(root: Any, gradient: Any = None, retain_graph: bool = False,
             hook: Optional[Hook] = None) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` with one reverse loop.

    ``hook(node, g, input_grads)`` (for tracing) sees each node before it is freed.
    """
    seed = _seed(root, gradient)
    if root._node is None:
        accumulate(root, seed)
        return
    nodes = reachable_nodes(root._node)
    root._node.grad = seed
    for node in nodes:
        g, node.grad = node.grad, None
        if g is not None:
            _propagate(node, g, hook)
        if not retain_graph:
            node.free()


def _propagate(node: Node, g: np.ndarray, hook: Optional[Hook]) -> None:
    if node.retain is not None:
        accumulate(node.retain, g)
    input_grads = []
    for parent, vjp in zip(node.parents, node.prim.vjps):
        if parent is None or vjp is None:
            input_grads.append(None)
            continue
        pg = vjp(g, node.out, *node.args, **node.params)
        input_grads.append(pg)
        pnode = parent._node
        if pnode is None:
            accumulate(parent, pg)
        else:
            pnode.grad = pg if pnode.grad is None else pnode.grad + pg
    if hook is not None:
        hook(node, g, input_grads)


def accumulate(tensor: Any, g: np.ndarray) -> None:
    """Add ``g`` to ``tensor.grad`` like PyTorch: a fresh array in the tensor's dtype."""
    data = tensor.data
    if tensor.grad is None:  # a copy: never alias
        tensor.grad = as_gradient(np.array(np.broadcast_to(g, data.shape), dtype=data.dtype))
    else:
        total = tensor.grad + g
        try:
            tensor.grad = as_gradient(total.astype(data.dtype, copy=False))
        except AttributeError:  # a Tensor: .grad made by backward(create_graph=True)
            tensor.grad = total


def _seed(root: Any, gradient: Any) -> np.ndarray:
    if not root.requires_grad:
        raise GradcheckError(
            "backward() on a tensor that does not require grad: no input had requires_grad=True, "
            "or it was computed under no_grad()")
    data = root.data
    if gradient is None:
        if data.size != 1:
            raise GradcheckError(
                f"backward() on a non-scalar output of shape {data.shape} needs an explicit "
                "gradient of that shape (e.g. out.backward(np.ones_like(out.data))) or a .sum() first")
        return np.ones_like(data)
    seed = np.asarray(getattr(gradient, "data", gradient), dtype=data.dtype)
    if seed.shape != data.shape:
        raise GradcheckError(f"gradient of shape {seed.shape} given for an output of shape {data.shape}")
    return seed
