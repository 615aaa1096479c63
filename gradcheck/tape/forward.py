"""Forward mode: Jacobian-vector products pushed through the tape with each primitive's JVP.

The function runs once on Tensors (recording the Wengert list, in strict mode, so a value
leaving the tape raises); then the tangents go forward through the recorded nodes in
creation order, which is a topological order: one loop, no recursion. A node's tangent
is the sum of its primitive's JVPs over the arguments that carry a tangent; each is
dropped once its last consumer has used it.

>>> out, tangent = jvp(lambda x, c: (x * x + c).sum(), {"x": np.array([1.0, 2.0]), "c": 3},
...                    {"x": np.array([1.0, 0.0])})
>>> out, tangent
(array(11.), array(2.))
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Mapping, Optional

import numpy as np

from gradcheck.errors import InputError, UnsupportedOperation
from gradcheck.tape.engine import Node, enable_grad, reachable_nodes, strict
from gradcheck.tape.tensor import Tensor

__all__ = ["jvp"]


def jvp(function: Callable[..., Any], arguments: Mapping[str, Any],
        tangents: Mapping[str, Any]) -> tuple[Any, Any]:
    """``function(**arguments)`` and its derivative along ``tangents``.

    ``arguments`` maps every keyword argument to its value; ``tangents`` maps some of
    them (float inputs) to tangent arrays of their shape: those become tape Tensors.
    Returns ``(outputs, output_tangents)`` as float64 arrays, each a tuple if the
    function returned a tuple or list; an output independent of the tangents gets zeros.
    """
    leaves = {}
    for name, tangent in tangents.items():
        if name not in arguments:
            raise InputError(f"a tangent is given for {name!r}, which is not an argument")
        leaf = Tensor(getattr(arguments[name], "data", arguments[name]), requires_grad=True, name=name)
        tangent = np.asarray(tangent, dtype=np.float64)
        if tangent.shape != leaf.shape:
            raise InputError(f"the tangent of {name!r} has shape {tangent.shape}, "
                             f"the argument {leaf.shape}")
        leaves[name] = (leaf, tangent)
    with enable_grad(), strict(), np.errstate(all="ignore"):
        result = function(**{**arguments, **{n: leaf for n, (leaf, _) in leaves.items()}})
        many = isinstance(result, (tuple, list))
        outs = list(result) if many else [result]
        found = _push({id(leaf): t for leaf, t in leaves.values()}, outs)
    values = tuple(np.array(getattr(o, "data", o), dtype=np.float64) for o in outs)
    derivatives = tuple(_tangent_of(o, v, found) for o, v in zip(outs, values))
    return (values, derivatives) if many else (values[0], derivatives[0])


def _push(leaf_tangents: dict[int, np.ndarray], outs: list) -> "_Tangents":
    """Push the leaves' tangents (by tensor id) through every node the outputs depend on."""
    roots = {o._node.id: o._node for o in outs if isinstance(o, Tensor) and o._node is not None}
    nodes = reachable_nodes(*roots.values())[::-1] if roots else []
    users = Counter(p._node.id for n in nodes for p in n.parents if p is not None and p._node is not None)
    tangents = _Tangents(leaf_tangents)
    for node in nodes:
        total = _node_tangent(node, tangents)
        if total is not None:
            tangents.nodes[node.id] = total
        for parent in node.parents:
            pnode = parent._node if parent is not None else None
            if pnode is not None:
                users[pnode.id] -= 1
                if users[pnode.id] == 0 and pnode.id not in roots:
                    tangents.nodes.pop(pnode.id, None)
    return tangents


class _Tangents:
    """The tangents known so far: of leaves by tensor id, of recorded results by node id."""

    __slots__ = ("leaves", "nodes")

    def __init__(self, leaves: dict[int, np.ndarray]):
        self.leaves, self.nodes = leaves, {}

    def of(self, tensor: Tensor) -> Optional[np.ndarray]:
        if tensor._node is None:
            return self.leaves.get(id(tensor))
        return self.nodes.get(tensor._node.id)


def _node_tangent(node: Node, tangents: _Tangents) -> Optional[np.ndarray]:
    total = None
    jvps = node.prim.jvps
    for k, parent in enumerate(node.parents):
        t = None if parent is None else tangents.of(parent)
        if t is None:
            continue
        rule = jvps[k] if k < len(jvps) else None
        if rule is None:
            if k < len(node.prim.vjps) and node.prim.vjps[k] is None:
                continue  # an argument with no derivative in either mode (a condition)
            raise UnsupportedOperation(
                f"forward mode through primitive {node.prim.name!r}: it has no JVP for argument {k}")
        contribution = np.asarray(rule(t, node.out, *node.args, **node.params))
        total = contribution if total is None else total + contribution
    return total


def _tangent_of(out: Any, value: np.ndarray, found: _Tangents) -> np.ndarray:
    tangent = found.of(out) if isinstance(out, Tensor) else None
    if tangent is None:
        return np.zeros(value.shape)
    return np.array(np.broadcast_to(tangent, value.shape), dtype=np.float64)
