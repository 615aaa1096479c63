"""Explain one point of a check: the tape's backward pass as text (``--trace``) and as a
Graphviz graph (``--graph``).

:func:`record` runs the expression on the tape at one point (parameters are leaves that
require grad; inputs and data columns are named constants, exactly as the tape source
treats them), reduces over the data rows and runs a traced backward pass.
:func:`render_trace` and :func:`render_dot` turn that recording into text.

>>> rec = record("x*w", ["x", "w"], {"x": 2.0, "w": 3.0})
>>> print(render_trace(rec).splitlines()[-2:])
['  dL/dx = 3', '  dL/dw = 2']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

__all__ = ["Recording", "Step", "record", "render_trace", "render_dot", "format_value"]

# Fill colours of highlighted parameters in the DOT graph, by status.
DOT_COLORS = {"mismatch": ("#f4cccc", "#cc0000"), "undefined": ("#fff2cc", "#b58900"),
              "nondifferentiable": ("#fff2cc", "#b58900"), "ok": ("#d9ead3", "#38761d")}


@dataclass(frozen=True)
class Step:
    """One node of the graph: ``node = op(inputs)``, with its backward quantities.

    ``grad`` is dL/dnode, arriving from the node's successors; per input, ``local`` is
    d node / d input and ``product`` the chain-rule term sent to that input (None for
    constants and held-fixed variables).
    """

    node: str
    op: str
    inputs: tuple[str, ...]
    value: Any
    grad: Any
    local: tuple[Any, ...]
    product: tuple[Any, ...]
    summed: tuple[bool, ...] = ()  # per input: broadcast over data rows, so product = sum


@dataclass
class Recording:
    """What :func:`record` saw: the point, the leaves and the steps in forward order."""

    expression: str
    point: dict[str, float]
    params: tuple[str, ...]
    fixed: dict[str, str]            # name -> "input" or "data"
    leaf_values: dict[str, Any]      # every named variable -> its value
    grads: dict[str, Any]            # parameter -> dL/dparameter from this pass
    steps: list[Step]                # forward (creation) order; the last is the loss
    loss: Any
    reduce: str | None = None        # "sum"/"mean" over data rows, or None
    rows: int = 0
    constants: dict[str, Any] = field(default_factory=dict)  # label -> value of literal numbers


def format_value(value: Any, digits: int = 6) -> str:
    """A scalar as ``6``; an array as ``[1, 2, 3]`` (at most four entries shown)."""
    import numpy as np

    from .render import format_number

    if value is None:
        return "-"
    array = np.asarray(value, dtype=float)
    if array.size == 1:
        return format_number(float(array.reshape(())), digits)
    flat = [format_number(float(v), digits) for v in array.ravel()[:4]]
    more = f", ... ({array.size} values)" if array.size > 4 else ""
    return "[" + ", ".join(flat) + more + "]"


def record(expression: Any, params: Sequence[str], point: Mapping[str, float],
           data: Mapping[str, Any] | None = None, reduce: str = "sum") -> Recording:
    """Run ``expression`` on the tape at ``point`` and trace its backward pass.

    ``point`` gives every variable that is not a data column (parameters and inputs);
    ``data`` the columns, over which the expression is summed or averaged.

    Raises:
        GradcheckError: the expression or a name is invalid, or the tape cannot run it.
    """
    import numpy as np

    from .errors import GradcheckError
    from .problem import make_problem
    from .tape.tensor import Tensor
    from .tape.engine import reachable_nodes
    from .tape.trace import trace_backward

    problem = make_problem(expression, list(params), dict(point), data, reduce,
                           [n for n in point if n not in params])
    if not problem.is_expression:
        raise GradcheckError("record() traces text expressions; for a function, run it on "
                             "gradcheck.tape tensors and use gradcheck.tape.trace_backward")
    missing = [n for n in problem.free if n not in point]
    if missing:
        raise GradcheckError(f"no value for {', '.join(missing)} in the traced point")
    leaves = {p: Tensor(float(point[p]), requires_grad=True, name=p) for p in problem.wrt}
    fixed = {n: "input" for n in problem.inputs}
    fixed.update({n: "data" for n in problem.data})
    # Inputs and data require grad too, so that what is computed from them alone
    # (x**2 with x held fixed) is a node of the graph rather than a baked-in constant;
    # their own gradients are then left out of the steps.
    constants = {n: Tensor(float(point[n]), requires_grad=True, name=n) for n in problem.inputs}
    constants.update({n: Tensor(np.asarray(problem.fixed[n], dtype=float), requires_grad=True, name=n)
                      for n in problem.data})
    with np.errstate(all="ignore"):
        out = problem.model.evaluate({**constants, **leaves})
        if not isinstance(out, Tensor):
            out = Tensor(out)
        if problem.data:
            if out.data.shape != (problem.rows,):
                out = out + np.zeros(problem.rows)
            out = out.sum() if problem.reduce == "sum" else out.mean()
        nodes = reachable_nodes(out._node)[::-1] if out._node is not None else []
        labels = _constant_labels(nodes, constants)
        row_locals = _row_locals(nodes)
        raw_steps = trace_backward(out) if out.requires_grad else []
    if all(t.grad is None for t in leaves.values()):
        raise GradcheckError("the traced expression does not depend on any parameter")
    by_label = {s.node: s for s in raw_steps}
    steps, literal = [], {}
    for i, node_label in enumerate(f"v{k}" for k in range(len(nodes))):
        s = by_label.get(node_label)
        if s is None:  # a node no gradient reached (cannot happen for a connected graph)
            continue
        inputs = tuple(labels.get((i, j), name) for j, name in enumerate(s.inputs))
        for j, name in enumerate(inputs):
            if s.product[j] is None and name not in constants and name not in leaves:
                literal[name] = name
        held = [name in fixed for name in inputs]
        local = tuple(None if held[j] else row_locals.get((i, j), loc) for j, loc in enumerate(s.local))
        product = tuple(None if held[j] else p for j, p in enumerate(s.product))
        summed = tuple((i, j) in row_locals and not held[j] for j in range(len(s.local)))
        steps.append(Step(s.node, s.op, inputs, s.value, s.grad, local, product, summed))
    grads = {p: (leaves[p].grad if leaves[p].grad is not None else np.zeros(()))
             for p in problem.wrt}
    values = {**{n: t.data for n, t in constants.items()}, **{n: t.data for n, t in leaves.items()}}
    return Recording(problem.text, {k: float(v) for k, v in point.items()}, tuple(problem.wrt),
                     fixed, values, grads, steps, out.data,
                     problem.reduce if problem.data else None, problem.rows, literal)


def _constant_labels(nodes: list, constants: Mapping[str, Any]) -> dict[tuple[int, int], str]:
    """(node index, input index) -> label of a constant input: a held-fixed variable's name,
    else its value.

    A held-fixed variable is recognised because the node keeps the very array of the
    named Tensor we passed in; other constants (numbers, or arrays computed from data
    alone, which the tape does not record) are shown by value.
    """
    by_id = {id(t.data): name for name, t in constants.items()}
    out = {}
    for i, node in enumerate(nodes):
        for j, (parent, arg) in enumerate(zip(node.parents, node.args)):
            if parent is None:
                out[(i, j)] = by_id.get(id(arg)) or format_value(arg)
    return out


def _row_locals(nodes: list) -> dict[tuple[int, int], Any]:
    """Per-row local gradients of inputs an elementwise node broadcast over data rows.

    The tape's VJP sums such an input's gradient over the rows; the tutorial shows the
    local gradient row by row and the product as the sum of local x incoming.
    """
    import numpy as np

    out = {}
    for i, node in enumerate(nodes):
        shape = np.shape(node.out)
        try:
            elementwise = np.broadcast_shapes(*(np.shape(a) for a in node.args)) == shape
        except ValueError:
            elementwise = False
        if not elementwise:
            continue
        args = [np.broadcast_to(a, shape) for a in node.args]
        for j, (parent, vjp, arg) in enumerate(zip(node.parents, node.prim.vjps, node.args)):
            if parent is not None and vjp is not None and np.shape(arg) != shape:
                with np.errstate(all="ignore"):
                    out[(i, j)] = vjp(np.ones(shape), node.out, *args, **node.params)
    return out


def _loss_description(rec: Recording) -> str:
    if rec.reduce:
        return f"L = {rec.reduce} over {rec.rows} data rows of {rec.expression}"
    return f"L = {rec.expression}"


def render_trace(rec: Recording) -> str:
    """The backward pass as the tutorial teaches it, one node at a time.

    For every node, newest first: its forward value, the gradient arriving from its
    successors (dL/dnode), and for each input the local gradient and the chain-rule
    product (local x incoming) sent back to that input.
    """
    from .render import format_point

    lines = [f"trace: {_loss_description(rec)}",
             f"at {format_point(rec.point)}  (the first checked point, run on the tape)"]
    fixed = [f"{n} ({role})" for n, role in rec.fixed.items()]
    if fixed:
        lines.append(f"held fixed: {', '.join(fixed)}")
    lines.append("")
    lines.append("forward pass (each node of the graph and its value):")
    rows = [[n, "parameter", format_value(rec.leaf_values[n])] for n in rec.params]
    rows += [[n, rec.fixed[n], format_value(rec.leaf_values[n])] for n in rec.fixed]
    for s in rec.steps:
        rows.append([s.node, f"{s.op}({', '.join(s.inputs)})", format_value(s.value)])
    if rec.steps:
        rows[-1][1] += "  (the loss L)"
    lines += _columns(rows, prefix="  ", sep=["  ", "  = "])
    lines.append("")
    if not rec.steps:
        lines.append("backward pass: L is a parameter itself, so dL/dL = 1")
    else:
        lines.append("backward pass, newest node first "
                     "(chain rule: product = local gradient \u00d7 incoming gradient):")
        rows = [["node", "value", "incoming dL/dnode", "to input", "local gradient", "product"]]
        for s in reversed(rec.steps):
            head = [f"{s.node} = {s.op}({', '.join(s.inputs)})", format_value(s.value),
                    format_value(s.grad)]
            for j, (name, loc, prod) in enumerate(zip(s.inputs, s.local, s.product)):
                if prod is None:
                    role = rec.fixed.get(name, "constant")
                    tail = [name, f"({role}: no gradient)", ""]
                else:
                    product = f"{format_value(loc)} \u00d7 {format_value(s.grad)} = {format_value(prod)}"
                    if s.summed and s.summed[j]:  # broadcast over the rows: the rows add up
                        product = f"sum over rows of {product}"
                    formula = local_formula(s.op, s.node, s.inputs, j)
                    value = format_value(loc)
                    local = f"{formula} = {value}" if formula and formula != value else value
                    tail = [name, f"d{s.node}/d{name} = {local}", product]
                rows.append((head if j == 0 else ["", "", ""]) + tail)
        lines += _columns(rows, prefix="  ")
    lines.append("")
    lines.append("gradients (the chain-rule products summed per parameter):")
    lines += [f"  dL/d{p} = {format_value(rec.grads[p])}" for p in rec.params]
    return "\n".join(lines)


# The local gradient of each primitive, per input, as the tutorial writes it: {0}, {1}
# are the inputs' labels, {n} the node's own.
LOCAL_FORMULAS = {
    "add": ("1", "1"), "sub": ("1", "-1"), "mul": ("{1}", "{0}"), "div": ("1/{1}", "-{n}/{1}"),
    "neg": ("-1",), "pow": (None, "{n}*log({0})"), "exp": ("{n}",), "log": ("1/{0}",),
    "sqrt": ("1/(2*{n})",), "sin": ("cos({0})",), "cos": ("-sin({0})",), "tan": ("1 + {n}**2",),
    "asin": ("1/sqrt(1 - {0}**2)",), "acos": ("-1/sqrt(1 - {0}**2)",), "atan": ("1/(1 + {0}**2)",),
    "sinh": ("cosh({0})",), "cosh": ("sinh({0})",), "tanh": ("1/cosh({0})**2",),
    "sigmoid": ("{n}*(1 - {n})",), "softplus": ("sigmoid({0})",), "abs": ("sign({0})",),
    "relu": ("Heaviside({0})",), "maximum": ("Heaviside({0} - {1})", "Heaviside({1} - {0})"),
    "minimum": ("Heaviside({1} - {0})", "Heaviside({0} - {1})"),
}


def local_formula(op: str, node: str, inputs: tuple[str, ...], j: int) -> str | None:
    """``2*v1`` for input 0 of ``pow(v1, 2)``; None for a primitive without a formula."""
    if op == "pow" and j == 0:
        try:
            exponent = float(inputs[1])
        except ValueError:
            return f"{inputs[1]}*{inputs[0]}**({inputs[1]} - 1)"
        lower = format_value(exponent - 1)
        return f"{inputs[1]}*{inputs[0]}" + ("" if exponent == 2 else f"**{lower}")
    formulas = LOCAL_FORMULAS.get(op)
    if formulas is None or j >= len(formulas) or formulas[j] is None:
        return None
    return formulas[j].format(*inputs, n=node)


def _columns(rows: list[list[str]], prefix: str = "", sep: list[str] | None = None) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    seps = sep or ["  "] * len(widths)
    out = []
    for r in rows:
        text = ""
        for i, (cell, w) in enumerate(zip(r, widths)):
            text += (seps[min(i - 1, len(seps) - 1)] if i else "") + cell.ljust(w)
        out.append(prefix + text.rstrip())
    return out


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(rec: Recording, statuses: Mapping[str, str] | None = None) -> str:
    """The computational graph as Graphviz DOT text.

    Nodes read like the tutorial (``mul  value=6  grad=1``); parameters show their
    gradient and are filled by status (red for a mismatch); held-fixed variables are
    grey; the loss has a double border. Edges point from input to node.
    """
    from .render import format_point

    statuses = statuses or {}
    title = f"{_loss_description(rec)}\nat {format_point(rec.point)}"
    lines = ["digraph gradcheck {",
             f"  graph [rankdir=BT, labelloc=t, fontname=Helvetica, label={_quote(title)}];",
             '  node [shape=box, style="rounded,filled", fillcolor=white, fontname=Helvetica];',
             "  edge [arrowsize=0.7];"]
    for p in rec.params:
        status = statuses.get(p)
        label = f"{p}  value={format_value(rec.leaf_values[p])}  grad={format_value(rec.grads[p])}"
        attrs = [f"label={_quote(label)}", "shape=ellipse"]
        if status in DOT_COLORS:
            fill, border = DOT_COLORS[status]
            attrs += [f'fillcolor="{fill}"', f'color="{border}"']
            if status != "ok":
                attrs += ["penwidth=2", f"tooltip={_quote(f'{p}: {status}')}"]
                attrs[0] = f"label={_quote(label + chr(10) + status)}"
        lines.append(f"  {_quote(p)} [{', '.join(attrs)}];")
    for n, role in rec.fixed.items():
        label = f"{n}  value={format_value(rec.leaf_values[n])}\n({role}, held fixed)"
        lines.append(f'  {_quote(n)} [label={_quote(label)}, shape=ellipse, fillcolor="#eeeeee"];')
    literal_ids = {}
    for s in rec.steps:
        for name in s.inputs:
            if name in rec.constants and name not in literal_ids:
                literal_ids[name] = f"c{len(literal_ids)}"
                lines.append(f"  {literal_ids[name]} [label={_quote(name)}, shape=plaintext, style=solid];")
    last = rec.steps[-1].node if rec.steps else None
    for s in rec.steps:
        label = f"{s.op}  value={format_value(s.value)}  grad={format_value(s.grad)}"
        extra = ", peripheries=2" if s.node == last else ""
        lines.append(f"  {_quote(s.node)} [label={_quote(label)}, tooltip={_quote(s.node)}{extra}];")
    for s in rec.steps:
        for name in s.inputs:
            source = literal_ids.get(name, name)
            lines.append(f"  {_quote(source)} -> {_quote(s.node)};")
    lines.append("}")
    return "\n".join(lines) + "\n"
