"""Differentiating twice: a backward pass recorded on the tape (``create_graph=True``), and ``grad``.

With ``create_graph=True`` the reverse loop is engine.py's (nodes by decreasing id, an
explicit stack, no recursion), but each node's VJP is called with Tensors: the incoming
gradient, the node's inputs as the original parent tensors and ``out`` as a tensor whose
node is the node itself (so it stays connected to the inputs, at no cost). The VJPs of
primitives.py are NumPy code, and Tensors implement NumPy's protocols, so the same code
records tape operations: the gradients it returns are tensors that can be differentiated
again (Hessian-vector products, Hessians row by row, third derivatives). The first-order
values are the same floats as ``create_graph=False`` (the same NumPy calls, in the same order).

A primitive's VJPs are run on tensors only if :data:`TAPE_VJPS` lists them: checked to
run on tensors as they are, or given a tape-level form here (``getitem``'s ``np.add.at``
scatter is a primitive of its own, ``maximum``/``minimum``'s tie weights are constants,
``pow``'s exponent rule avoids ``np.asarray``). A primitive without an entry is refused
with an UnsupportedOperation naming it, and the VJPs run in strict mode, so one that would
take a value off the tape raises rather than silently treating it as a constant.

>>> x = Tensor(2.0, requires_grad=True)
>>> (g,) = grad(x ** 3, x, create_graph=True)
>>> g
Tensor(12.0, op=mul)
>>> grad(g, x)
(array(12.),)
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Optional, Sequence

import numpy as np

from gradcheck.errors import GradcheckError, UnsupportedOperation
from gradcheck.tape.engine import Node, _strict_var, accumulate, enable_grad, reachable_nodes
from gradcheck.tape.primitives import PRIMITIVES, Primitive, _pow_vjp_base, _tie_weight, _ub
from gradcheck.tape.tensor import Tensor, apply, install_create_graph

__all__ = ["TAPE_VJPS", "SCATTER", "grad", "backward_create_graph", "run_backward"]


# ---------------------------------------------------------------- tape-level VJPs
def _value(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _scatter(g: np.ndarray, shape: tuple, index: Any) -> np.ndarray:
    result = np.zeros(shape, dtype=g.dtype)
    np.add.at(result, index, g)  # add.at, not =: repeated indices must accumulate
    return result


# getitem's VJP as a primitive: zeros of ``shape`` with ``g`` added at ``index``. Its own
# VJP is indexing, which runs on tensors: so x[i] can be differentiated any number of times.
SCATTER = Primitive("getitem_vjp", _scatter, (lambda g, out, g0, shape, index: g[index],),
                    (lambda t, out, g0, shape, index: _scatter(t, shape, index),))  # linear in g0


def _getitem_vjp(g, out, a, index):
    return apply(SCATTER, g, shape=np.shape(a), index=index)


def _pow_vjp_exponent(g, out, a, b):
    # primitives._pow_vjp_exponent without np.asarray (which would take ``out`` off the tape)
    log_a = np.where(a < 0, np.nan, np.log(np.where(a > 0, a, 1)))
    if not isinstance(log_a, Tensor):  # a constant base: keep out's dtype, as the NumPy rule
        log_a = np.asarray(log_a).astype(out.dtype, copy=False)
    return _ub(g * (out * log_a), b)


def _max_a(g, out, a, b):
    return _ub(g * _tie_weight(_value(a), _value(b), g.dtype), a)


def _max_b(g, out, a, b):
    return _ub(g * _tie_weight(_value(b), _value(a), g.dtype), b)


def _min_a(g, out, a, b):
    return _ub(g * _tie_weight(_value(b), _value(a), g.dtype), a)


def _min_b(g, out, a, b):
    return _ub(g * _tie_weight(_value(a), _value(b), g.dtype), b)


# Primitives whose NumPy VJPs run on tensors as they are: each was read for operations the
# tape records (NumPy ufuncs and functions it dispatches, operators, indexing) and is
# checked against SymPy's second derivatives in tests/test_tape_second_order.py.
_AS_THEY_ARE = (
    "add", "sub", "mul", "div", "neg", "exp", "log", "sqrt", "log1p", "expm1",
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
    "abs", "sign", "heaviside", "dirac_delta", "relu", "sigmoid", "softplus",
    "matmul", "sum", "mean", "reshape", "transpose", "broadcast_to", "where",
)

# primitive name -> (the primitive, its VJPs for create_graph=True). linalg.py, contract.py
# and arrays.py add their primitives' entries (checked in tests/test_tape_linalg.py).
TAPE_VJPS: dict[str, tuple[Primitive, tuple]] = {
    name: (PRIMITIVES[name], PRIMITIVES[name].vjps) for name in _AS_THEY_ARE}
TAPE_VJPS.update({
    "pow": (PRIMITIVES["pow"], (_pow_vjp_base, _pow_vjp_exponent)),
    "maximum": (PRIMITIVES["maximum"], (_max_a, _max_b)),
    "minimum": (PRIMITIVES["minimum"], (_min_a, _min_b)),
    "getitem": (PRIMITIVES["getitem"], (_getitem_vjp,)),
    SCATTER.name: (SCATTER, SCATTER.vjps),
})


def _tape_vjps(prim: Primitive) -> tuple:
    entry = TAPE_VJPS.get(prim.name)
    if entry is None or entry[0] is not prim:
        raise UnsupportedOperation(
            f"create_graph=True through primitive {prim.name!r}: the tape has no second-order "
            "rule for it (add one to gradcheck.tape.higher.TAPE_VJPS)")
    return entry[1]


# ---------------------------------------------------------------- the reverse loop
def _output(node: Node) -> Tensor:
    """``node``'s output as a tensor recorded by ``node``: connected to its inputs."""
    out = Tensor.__new__(Tensor)
    out.data, out.grad, out.requires_grad, out._node, out.name = node.out, None, True, node, None
    return out


def _tape_inputs(node: Node) -> list:
    inputs = []
    for parent, arg in zip(node.parents, node.args):
        if parent is None:
            inputs.append(arg)
            continue
        if parent.data is not arg:
            raise GradcheckError(
                "create_graph=True through a tensor whose data was replaced after it was used "
                f"(by {node.prim.name!r}; an in-place update under no_grad() or .data = ...): "
                "its second derivatives would be computed at the new value")
        inputs.append(parent)
    return inputs


def _as_tensor(g: Any, like: Tensor) -> Tensor:
    """A gradient for ``like`` as a Tensor (a constant one if no tape operation made it)."""
    if isinstance(g, Tensor):
        return g if g.shape == like.shape else apply(PRIMITIVES["broadcast_to"], g, shape=like.shape)
    return Tensor(np.broadcast_to(g, like.shape), dtype=like.dtype)


def _first_order(g: Any, like: Tensor) -> np.ndarray:
    return np.array(np.broadcast_to(g, like.data.shape), dtype=like.data.dtype)  # a copy, as accumulate


def run_backward(roots: Sequence[Tensor], seeds: Sequence[Any], retain_graph: bool,
                 create_graph: bool, inputs: Optional[Sequence[Tensor]] = None) -> Optional[list]:
    """One reverse loop from ``roots`` (seeded with ``seeds``).

    Without ``inputs``: accumulate into leaves' ``.grad`` (and retained intermediates'),
    like ``backward()``. With ``inputs``: return their gradients (None where none
    arrived) and touch no ``.grad``. With ``create_graph`` the VJPs run on tensors and the
    gradients are Tensors recorded on the tape; else they are ndarrays, as backward's.
    """
    leaf_slots: dict[int, list[int]] = {}
    node_slots: dict[int, list[int]] = {}
    found: list[Any] = []
    if inputs is not None:
        found = [None] * len(inputs)
        for i, t in enumerate(inputs):
            slots = leaf_slots if t._node is None else node_slots
            slots.setdefault(id(t) if t._node is None else t._node.id, []).append(i)

    def deliver(tensor: Tensor, g: Any) -> None:
        if inputs is None:
            if create_graph:
                g = _as_tensor(g, tensor)
                tensor.grad = g if tensor.grad is None else tensor.grad + g
            else:
                accumulate(tensor, g)
            return
        for i in leaf_slots.get(id(tensor), ()):
            found[i] = g if found[i] is None else found[i] + g

    nodes = reachable_nodes(*(r._node for r in roots if r._node is not None))
    for root, seed in zip(roots, seeds):
        if root._node is None:
            deliver(root, seed)
        else:
            root._node.grad = seed if root._node.grad is None else root._node.grad + seed
    strict = _strict_var.set(True) if create_graph else None
    try:
        with enable_grad() if create_graph else contextlib.nullcontext():
            for node in nodes:
                g, node.grad = node.grad, None
                if g is not None:
                    if inputs is None and node.retain is not None:
                        deliver(node.retain, g)
                    for i in node_slots.get(node.id, ()):
                        found[i] = g
                    _propagate(node, g, create_graph, deliver)
                if not retain_graph:
                    node.free()
    finally:
        for node in nodes:  # a VJP that raised leaves no gradient behind on the graph
            node.grad = None
        if strict is not None:
            _strict_var.reset(strict)
    if inputs is None:
        return None
    wrap = _as_tensor if create_graph else _first_order
    return [None if g is None else wrap(g, t) for g, t in zip(found, inputs)]


def _propagate(node: Node, g: Any, create_graph: bool, deliver: Callable) -> None:
    if create_graph:
        vjps, args, out = _tape_vjps(node.prim), _tape_inputs(node), _output(node)
    else:
        vjps, args, out = node.prim.vjps, node.args, node.out
    for parent, vjp in zip(node.parents, vjps):
        if parent is None or vjp is None:
            continue
        if create_graph:
            try:
                pg = vjp(g, out, *args, **node.params)
            except UnsupportedOperation as error:
                raise UnsupportedOperation(
                    f"create_graph=True through primitive {node.prim.name!r}: its VJP does not "
                    f"run on the tape ({error})") from error
        else:
            pg = vjp(g, out, *args, **node.params)
        pnode = parent._node
        if pnode is None:
            deliver(parent, pg)
        else:
            pnode.grad = pg if pnode.grad is None else pnode.grad + pg


# ---------------------------------------------------------------- the public faces
def _seed(root: Tensor, gradient: Any, create_graph: bool) -> Any:
    if not isinstance(root, Tensor):
        raise _not_a_tensor(root)
    if not root.requires_grad:
        raise GradcheckError(
            "differentiating a tensor that does not require grad: no input had requires_grad=True, "
            "it was computed under no_grad(), or (a gradient) nothing it depends on requires grad")
    if gradient is None:
        if root.size != 1:
            raise GradcheckError(
                f"an output of shape {root.shape} needs an explicit gradient of that shape "
                "(grad_outputs, or backward(gradient)), or a .sum() first")
        return np.ones_like(root.data)
    if isinstance(gradient, Tensor) and create_graph:
        seed = gradient
    else:
        seed = np.asarray(_value(gradient), dtype=root.dtype)
    if seed.shape != root.shape:
        raise GradcheckError(f"gradient of shape {seed.shape} given for an output of shape {root.shape}")
    return seed


def _not_a_tensor(x: Any) -> Exception:
    if type(x).__name__ == "Scalar":
        return UnsupportedOperation(
            "Scalar is the first-order float fast path: create_graph and grad() need Tensor "
            "(gradcheck.tape.Tensor), whose backward can be recorded on the tape")
    return GradcheckError(f"expected a Tensor, got {type(x).__name__}")


def backward_create_graph(root: Tensor, gradient: Any, retain_graph: Optional[bool]) -> None:
    """``root.backward(gradient, retain_graph, create_graph=True)`` (Tensor.backward's)."""
    seed = _seed(root, gradient, True)
    run_backward([root], [seed], True if retain_graph is None else retain_graph, True)


def _as_list(x: Any) -> tuple[list, bool]:
    if isinstance(x, (list, tuple)):
        return list(x), True
    return [x], False


def grad(outputs: Any, *args: Any, grad_outputs: Any = None, create_graph: bool = False,
         retain_graph: Optional[bool] = None, allow_unused: Optional[bool] = None,
         materialize_grads: bool = False) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, PyTorch's ``torch.autograd.grad``.

    ``grad(outputs, inputs, grad_outputs=None, *, create_graph=False, retain_graph=None,
    allow_unused=None, materialize_grads=False)``: ``outputs`` and ``inputs`` are Tensors
    or sequences of them; returns one gradient per input, always a tuple, without touching
    any ``.grad``. ``grad_outputs`` seeds each output (None: 1, for size-1 outputs).
    ``create_graph=True`` records the backward pass, so the gradients are Tensors that can
    be differentiated again; ``retain_graph`` defaults to ``create_graph`` (else the graph
    is freed). An input the outputs do not depend on is an error unless ``allow_unused``
    (then None) or ``materialize_grads`` (then zeros). Without ``create_graph`` the
    gradients are ndarrays, as ``.grad``.

    The older form ``grad(f, *args)``: the gradient of scalar ``f`` at ``args``, one ndarray
    per argument (zeros for one it does not use).

    >>> grad(lambda x, y: x * y, 3.0, 4.0)
    (array(4.), array(3.))
    >>> x = Tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = grad((x ** 3).sum(), x, create_graph=True)
    >>> grad(g, x, grad_outputs=np.array([1.0, 0.0]))  # a Hessian-vector product: 6x * v
    (array([6., 0.]),)
    """
    if callable(outputs) and not isinstance(outputs, Tensor):
        return _grad_of_function(outputs, args)
    if not args or len(args) > 2:
        raise TypeError("grad(outputs, inputs, grad_outputs=None, *, create_graph=False, ...): "
                        "create_graph and retain_graph are keyword-only")
    if len(args) == 2:
        if grad_outputs is not None:
            raise TypeError("grad() got grad_outputs twice")
        grad_outputs = args[1]
    outs, _ = _as_list(outputs)
    ins, _ = _as_list(args[0])
    if grad_outputs is None:
        seeds_in = [None] * len(outs)
    else:
        seeds_in, _ = _as_list(grad_outputs)
        if len(seeds_in) != len(outs):
            raise GradcheckError(f"{len(seeds_in)} grad_outputs for {len(outs)} outputs")
    for t in ins:
        if not isinstance(t, Tensor):
            raise _not_a_tensor(t)
        if not t.requires_grad:
            raise GradcheckError("grad() with respect to a tensor that does not require grad")
    seeds = [_seed(o, s, create_graph) for o, s in zip(outs, seeds_in)]
    retain = create_graph if retain_graph is None else retain_graph
    result = run_backward(outs, seeds, retain, create_graph, inputs=ins)
    for i, (g, t) in enumerate(zip(result, ins)):
        if g is None:
            if materialize_grads:
                result[i] = Tensor(np.zeros_like(t.data)) if create_graph else np.zeros_like(t.data)
            elif not allow_unused:
                raise GradcheckError(
                    f"input {i} of grad() is not used by the outputs (or no gradient reached it): "
                    "pass allow_unused=True for None, or materialize_grads=True for zeros")
    return tuple(result)


def _grad_of_function(f: Callable[..., Any], args: tuple) -> tuple[np.ndarray, ...]:
    inputs = [Tensor(a, requires_grad=True) for a in args]
    with enable_grad():
        out = f(*inputs)
    if isinstance(out, Tensor) and out.requires_grad:
        out.backward()
    return tuple(t.grad if t.grad is not None else np.zeros_like(t.data) for t in inputs)


install_create_graph(backward_create_graph)
