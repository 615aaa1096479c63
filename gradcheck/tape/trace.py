"""Explain a backward pass: a step per node (for ``--trace``) and a node/edge graph (for DOT).

Nodes are labelled ``v0, v1, ...`` in creation order (the Wengert list); leaves by
their ``name`` or ``x0, x1, ...``; constants by their value.

>>> from gradcheck.tape import Tensor, sin
>>> x = Tensor(2.0, requires_grad=True, name="x")
>>> [(s.node, s.op, s.inputs) for s in trace_backward(x * sin(x))]
[('v1', 'mul', ('x', 'v0')), ('v0', 'sin', ('x',))]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from gradcheck.tape.engine import Node, backward, reachable_nodes
from gradcheck.tape.tensor import Tensor

__all__ = ["TraceStep", "GraphNode", "Graph", "trace_backward", "graph"]


@dataclass(frozen=True)
class TraceStep:
    """One node of a backward pass.

    ``grad`` is the gradient arriving from the node's successors; for each input,
    ``local`` is the VJP of a ones seed (the local derivative d node / d input for
    elementwise ops) and ``product`` the VJP of ``grad``: the chain-rule term sent
    to that input. Both are None for constant inputs.
    """

    node: str
    op: str
    inputs: tuple[str, ...]
    value: np.ndarray
    grad: np.ndarray
    local: tuple[Optional[np.ndarray], ...]
    product: tuple[Optional[np.ndarray], ...]


@dataclass(frozen=True)
class GraphNode:
    """A vertex for a DOT renderer: op is 'leaf' for tensors the user made."""

    id: str
    op: str
    value: np.ndarray
    grad: Optional[np.ndarray]
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Graph:
    """Vertices in creation order (leaves first) and (input id, node id) edges."""

    nodes: list[GraphNode]
    edges: list[tuple[str, str]]


def _const_label(arg: Any) -> str:
    return repr(arg.item()) if np.size(arg) == 1 else f"const{np.shape(arg)}"


def _labels(output: Tensor) -> tuple[dict[int, str], dict[int, tuple[str, Tensor]]]:
    """Labels for nodes (by node id) and leaf tensors (by object id)."""
    if output._node is None:
        return {}, {id(output): (output.name or "x0", output)}
    nodes = reachable_nodes(output._node)[::-1]
    node_labels = {n.id: f"v{i}" for i, n in enumerate(nodes)}
    leaves: dict[int, tuple[str, Tensor]] = {}
    for node in nodes:
        for parent in node.parents:
            if parent is not None and parent._node is None and id(parent) not in leaves:
                leaves[id(parent)] = (parent.name or f"x{len(leaves)}", parent)
    return node_labels, leaves


def _input_labels(node: Node, node_labels: dict, leaves: dict) -> tuple[str, ...]:
    labels = []
    for parent, arg in zip(node.parents, node.args):
        if parent is None:
            labels.append(_const_label(np.asarray(arg)))
        elif parent._node is not None:
            labels.append(node_labels[parent._node.id])
        else:
            labels.append(leaves[id(parent)][0])
    return tuple(labels)


def trace_backward(output: Tensor, gradient: Any = None, retain_graph: bool = False) -> list[TraceStep]:
    """Run ``output.backward(gradient)`` and return its steps in backward order.

    Leaves' ``.grad`` accumulate exactly as with ``backward()``.
    """
    node_labels, leaves = _labels(output)
    steps: list[TraceStep] = []

    def record(node: Node, g: np.ndarray, products: list) -> None:
        local = tuple(
            None if p is None else vjp(np.ones_like(g), node.out, *node.args, **node.params)
            for p, vjp in zip(products, node.prim.vjps))
        steps.append(TraceStep(node_labels[node.id], node.prim.name,
                               _input_labels(node, node_labels, leaves),
                               node.out, g, local, tuple(products)))

    backward(output, gradient, retain_graph, hook=record)
    return steps


def graph(output: Tensor, gradient: Any = None, retain_graph: bool = False) -> Graph:
    """Run a traced backward and return the graph with each vertex's value and gradient.

    A leaf's ``grad`` is its gradient from this pass alone (not the accumulated ``.grad``).

    >>> from gradcheck.tape import Tensor
    >>> x = Tensor(3.0, requires_grad=True, name="x")
    >>> g = graph(x * x)
    >>> [(n.id, n.op, float(n.grad)) for n in g.nodes], g.edges
    ([('x', 'leaf', 6.0), ('v0', 'mul', 1.0)], [('x', 'v0'), ('x', 'v0')])
    """
    node_labels, leaves = _labels(output)
    steps = trace_backward(output, gradient, retain_graph)
    node_ids = set(node_labels.values())
    leaf_grads: dict[str, Any] = {output.name or "x0": output.grad} if not steps else {}
    edges = []
    for step in reversed(steps):
        for label, product in zip(step.inputs, step.product):
            if product is None:  # a constant: not a vertex
                continue
            edges.append((label, step.node))
            if label not in node_ids:
                leaf_grads[label] = product + leaf_grads.get(label, 0)
    nodes = [GraphNode(label, "leaf", t.data, leaf_grads.get(label), ()) for label, t in leaves.values()]
    nodes += [GraphNode(s.node, s.op, s.value, s.grad, s.inputs) for s in reversed(steps)]
    return Graph(nodes, edges)
