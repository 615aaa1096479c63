"""The Wengert list: recorded nodes, the grad-mode switch, and the one reverse loop of backward.

Every recorded operation becomes a :class:`Node` with an increasing integer ``id``.
Creation order is a topological order, so backward collects the nodes reachable
from the output with an explicit stack and walks them by decreasing ``id``: no
recursion, so a graph 100,000 nodes deep is fine.

The engine only needs tensors' ``data``, ``grad``, ``requires_grad`` and ``_node``
attributes; :mod:`gradcheck.tape.tensor` builds the nodes.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any, Callable, Iterator, Optional

import numpy as np

from gradcheck.errors import GradcheckError
from gradcheck.tape.primitives import Primitive

__all__ = ["Node", "no_grad", "enable_grad", "is_grad_enabled", "strict", "backward",
           "reachable_nodes"]

Hook = Callable[["Node", np.ndarray, list], None]

_ids = itertools.count()
_enabled = True  # read by tensor.apply on every operation
_strict = False  # read by Tensor's conversions (float(), np.asarray, ...): see strict()


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
    global _enabled
    previous, _enabled = _enabled, on
    try:
        yield
    finally:
        _enabled = previous


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """Inside the block, turning a tensor that requires grad into a float or a plain array
    raises UnsupportedOperation: its value would leave the tape (``math.exp(w)``,
    ``float(w)``, ``np.asarray(w)``) and the gradient through it would be silently lost.
    Checks trace user functions in this mode.
    """
    global _strict
    previous, _strict = _strict, True
    try:
        yield
    finally:
        _strict = previous


def is_grad_enabled() -> bool:
    """True unless inside ``no_grad()``."""
    return _enabled


def reachable_nodes(root: Node) -> list[Node]:
    """The nodes ``root`` depends on (itself included), in decreasing id: backward order."""
    seen = {root.id}
    stack, nodes = [root], []
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
    if tensor.grad is None:
        tensor.grad = np.array(np.broadcast_to(g, data.shape), dtype=data.dtype)  # a copy: never alias
    else:
        tensor.grad = (tensor.grad + g).astype(data.dtype, copy=False)


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
