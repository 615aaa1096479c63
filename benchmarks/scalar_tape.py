"""1. Scalar tape: gradcheck's tape against micrograd and PyTorch 0-d tensors, op for op.

Two workloads, each run forward and backward by every engine from the same seeded
description, so all three build the same graph:

- ``random graph``: 10,000 scalar nodes (+, *, tanh, exp) over 100 leaves, operands drawn
  from recent nodes (so the graph is deep), magnitudes kept bounded while generating;
  the sinks are summed into one output.
- ``micrograd demo``: micrograd's README/demo network, MLP 2-16-16-1 with ReLU on 100
  two-moons points, SVM max-margin loss plus 1e-4 L2 (about 65,000 nodes).

micrograd 0.1.0 has no tanh or exp: the benchmark adds them in micrograd's own style
(a closure per node, as in the lecture version of micrograd). Its backward recurses,
so the recursion limit is raised. Gradients must agree to 1e-12 (normwise, relative).

Timed with the garbage collector off (as timeit does) and on (as a user's program pays it:
micrograd's closures make a reference cycle per node), beside a do-nothing "floor" engine
that only allocates and records, which shows how close to pure CPython's limit the tape is.

Bars: our tape at least 4x faster than micrograd with the collector on and 3x with it off,
10x faster than PyTorch, on both workloads.
"""

from __future__ import annotations

import math
import random
import sys
from pathlib import Path
from typing import Any, Callable

from . import peers, report
from .timing import clock, fmt_ratio, fmt_seconds, interleaved, ratio

NAME = "scalar_tape"
TITLE = "1. Scalar tape"
AGREE = 1e-12


# ---------------------------------------------------------------------------- workloads
def random_graph(nodes: int = 10_000, leaves: int = 100, seed: int = 0, window: int = 64) -> dict:
    """A seeded program: leaf values and ops (kind, i, j) over earlier node indices."""
    rng = random.Random(seed)
    values = [rng.uniform(-1.0, 1.0) for _ in range(leaves)]
    ops: list[tuple[str, int, int]] = []
    used = [False] * leaves
    while len(ops) < nodes - 1:
        n = len(values)
        i = n - 1 - min(int(rng.expovariate(1 / 8)), window, n - 1)
        j = rng.randrange(max(0, n - window), n) if rng.random() < 0.8 else rng.randrange(n)
        kind = rng.choice(("+", "*", "tanh", "exp"))
        a, b = values[i], values[j]
        value = {"+": lambda: a + b, "*": lambda: a * b, "tanh": lambda: math.tanh(a),
                 "exp": lambda: math.exp(a) if a < 1.5 else math.inf}[kind]()
        if not abs(value) < 4.0:  # keep every value (and so every local derivative) bounded
            kind, value = "tanh", math.tanh(a)
        ops.append((kind, i, j))
        values.append(value)
        used[i] = True
        if kind in ("+", "*"):
            used[j] = True
        used.append(False)
    sinks = [k for k in range(leaves, len(values)) if not used[k]]
    return {"leaves": values[:leaves], "ops": ops, "sinks": sinks}


def moons(n: int = 100, noise: float = 0.1, seed: int = 1) -> tuple[list[list[float]], list[float]]:
    """Two interleaving half circles, labels -1/+1 (as sklearn's make_moons, seeded)."""
    rng = random.Random(seed)
    half = n // 2
    xs, ys = [], []
    for k in range(half):
        t = math.pi * k / (half - 1)
        xs.append([math.cos(t) + rng.gauss(0, noise), math.sin(t) + rng.gauss(0, noise)])
        ys.append(-1.0)
    for k in range(n - half):
        t = math.pi * k / (n - half - 1)
        xs.append([1 - math.cos(t) + rng.gauss(0, noise), 1 - math.sin(t) - 0.5 + rng.gauss(0, noise)])
        ys.append(1.0)
    return xs, ys


def mlp_parameters(sizes=(2, 16, 16, 1), seed: int = 1337) -> list[list[tuple[list[float], float]]]:
    """Weights uniform(-1, 1) and zero biases, in micrograd's order."""
    rng = random.Random(seed)
    return [[([rng.uniform(-1, 1) for _ in range(nin)], 0.0) for _ in range(nout)]
            for nin, nout in zip(sizes[:-1], sizes[1:])]


# ---------------------------------------------------------------------------- engines
class Engine:
    """How one library makes a leaf, runs an op, and reads a gradient."""

    name: str

    def leaf(self, value: float) -> Any: ...
    def ops(self) -> dict[str, Callable]: ...
    def relu(self, a: Any) -> Any: ...
    def backward(self, out: Any, keep: bool = False) -> None: ...
    def grad(self, leaf: Any) -> float: ...
    def value(self, out: Any) -> float: ...


class Ours(Engine):
    """Our tape through Tensor: 0-d NumPy arrays."""

    name = "gradcheck Tensor (0-d)"

    def __init__(self):
        from gradcheck.tape import Tensor
        self.Tensor = Tensor

    def leaf(self, value):
        return self.Tensor(value, requires_grad=True)

    def ops(self):
        return {"+": lambda a, b: a + b, "*": lambda a, b: a * b,
                "tanh": lambda a, b: a.tanh(), "exp": lambda a, b: a.exp()}

    def relu(self, a):
        return a.relu()

    def backward(self, out, keep=False):
        out.backward(retain_graph=keep)

    def grad(self, leaf):
        return 0.0 if leaf.grad is None else float(leaf.grad)

    def value(self, out):
        return float(out.data)


class OursScalar(Ours):
    """Our tape's float path, ``gradcheck.tape.Scalar``, where this version has it."""

    name = "gradcheck Scalar"

    def __init__(self, Scalar):
        self.Tensor = Scalar

    def value(self, out):
        return float(out)


def scalar_engine() -> tuple[Engine | None, str | None]:
    """OursScalar if gradcheck.tape.Scalar exists and differentiates a smoke test right."""
    try:
        from gradcheck.tape import Scalar
    except Exception as error:
        return None, f"gradcheck.tape.Scalar not available ({type(error).__name__})"
    try:
        x = Scalar(0.5, requires_grad=True)
        y = ((x * x + x).tanh() * x).exp().relu()
        y.backward()
        t = math.tanh(0.75)
        expected = math.exp(t * 0.5) * (t + 0.5 * (1 - t * t) * 2.0)
        if not abs(float(x.grad) - expected) <= 1e-12 * abs(expected):
            return None, f"gradcheck.tape.Scalar gave {x.grad}, expected {expected}"
    except Exception as error:
        return None, f"gradcheck.tape.Scalar failed a smoke test ({type(error).__name__}: {error})"
    return OursScalar(Scalar), None


def _micrograd_extras(Value) -> None:
    """tanh and exp in micrograd's style (the lecture version has both; 0.1.0 has neither)."""
    if not hasattr(Value, "tanh"):
        def tanh(self):
            t = math.tanh(self.data)
            out = Value(t, (self,), "tanh")

            def _backward():
                self.grad += (1 - t * t) * out.grad
            out._backward = _backward
            return out
        Value.tanh = tanh
    if not hasattr(Value, "exp"):
        def exp(self):
            out = Value(math.exp(self.data), (self,), "exp")

            def _backward():
                self.grad += out.data * out.grad
            out._backward = _backward
            return out
        Value.exp = exp


class Micrograd(Engine):
    name = "micrograd"

    def __init__(self, module):
        self.Value = module.Value
        _micrograd_extras(self.Value)
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 1_000_000))  # its topo sort recurses

    def leaf(self, value):
        return self.Value(value)

    def ops(self):
        return {"+": lambda a, b: a + b, "*": lambda a, b: a * b,
                "tanh": lambda a, b: a.tanh(), "exp": lambda a, b: a.exp()}

    def relu(self, a):
        return a.relu()

    def backward(self, out, keep=False):
        out.backward()

    def grad(self, leaf):
        return float(leaf.grad)

    def value(self, out):
        return float(out.data)


class Torch(Engine):
    name = "PyTorch 0-d"

    def __init__(self, torch):
        self.torch = torch

    def leaf(self, value):
        return self.torch.tensor(value, dtype=self.torch.float64, requires_grad=True)

    def ops(self):
        t = self.torch
        return {"+": lambda a, b: a + b, "*": lambda a, b: a * b,
                "tanh": lambda a, b: t.tanh(a), "exp": lambda a, b: t.exp(a)}

    def relu(self, a):
        return self.torch.relu(a)

    def backward(self, out, keep=False):
        out.backward()

    def grad(self, leaf):
        return 0.0 if leaf.grad is None else float(leaf.grad)

    def value(self, out):
        return float(out.detach())


_FLOOR_TAPE: list = []  # the floor engine's tape (benchmarks run in one thread)
_new = object.__new__


class _Record:
    """The least a recorded scalar can be: its value and its parents, made without an
    __init__ call (object.__new__ and two slot stores), appended to the tape."""

    __slots__ = ("data", "parents")

    def __add__(self, other):
        r = _new(_Record)
        if isinstance(other, _Record):
            r.data, r.parents = self.data + other.data, (self, other)
        else:
            r.data, r.parents = self.data + other, (self,)
        _FLOOR_TAPE.append(r)
        return r

    def __mul__(self, other):
        r = _new(_Record)
        if isinstance(other, _Record):
            r.data, r.parents = self.data * other.data, (self, other)
        else:
            r.data, r.parents = self.data * other, (self,)
        _FLOOR_TAPE.append(r)
        return r

    __radd__, __rmul__ = __add__, __mul__


def _unary(value: float, a: _Record) -> _Record:
    r = _new(_Record)
    r.data, r.parents = value, (a,)
    _FLOOR_TAPE.append(r)
    return r


class Floor(Engine):
    """The pure-CPython floor of a scalar tape: each op computes its float, makes one
    record of its value and parents and appends it to the tape; backward visits every
    record once and computes nothing. An engine that records its graph in Python objects
    and walks it back cannot do less; the gap to it is what the derivatives cost."""

    name = "floor (allocate + record)"

    def leaf(self, value):
        r = _new(_Record)
        r.data, r.parents = value, ()
        return r

    def ops(self):
        return {"+": lambda a, b: a + b, "*": lambda a, b: a * b,
                "tanh": lambda a, b: _unary(math.tanh(a.data), a),
                "exp": lambda a, b: _unary(math.exp(a.data), a)}

    def relu(self, a):
        return _unary(a.data if a.data > 0 else 0.0, a)

    def backward(self, out, keep=False):
        tape = _FLOOR_TAPE[:]
        _FLOOR_TAPE.clear()
        for record in reversed(tape):
            record.parents

    def grad(self, leaf):
        return 0.0

    def value(self, out):
        return out.data


# ---------------------------------------------------------------------------- the two programs
def graph_run(engine: Engine, program: dict) -> Callable[[], dict]:
    ops = engine.ops()
    leaf_values, steps, sinks = program["leaves"], program["ops"], program["sinks"]
    state: dict[str, Any] = {}

    def run() -> dict:
        t0 = clock()
        nodes = [engine.leaf(v) for v in leaf_values]
        append = nodes.append
        for kind, i, j in steps:
            append(ops[kind](nodes[i], nodes[j]))
        out = nodes[sinks[0]]
        for k in sinks[1:]:
            out = out + nodes[k]
        t1 = clock()
        engine.backward(out, state.get("keep", False))
        t2 = clock()
        state["value"] = engine.value(out)
        state["grads"] = [engine.grad(x) for x in nodes[:len(leaf_values)]]
        if state.get("keep"):
            state["out"] = out
        return {"forward": t1 - t0, "backward": t2 - t1}

    run.state = state  # type: ignore[attr-defined]
    return run


def demo_run(engine: Engine, xs, ys, params) -> Callable[[], dict]:
    """micrograd's demo loss, written once for every engine (same ops, same order)."""
    state: dict[str, Any] = {}

    def run() -> dict:
        t0 = clock()
        layers = [[([engine.leaf(w) for w in ws], engine.leaf(b)) for ws, b in layer] for layer in params]
        losses = []
        last = len(layers) - 1
        for x, y in zip(xs, ys):
            act: list = list(x)
            for li, layer in enumerate(layers):
                outs = []
                for ws, b in layer:
                    s = b
                    for wi, xi in zip(ws, act):
                        s = s + wi * xi
                    outs.append(s if li == last else engine.relu(s))
                act = outs
            losses.append(engine.relu(1 + (-y) * act[0]))
        data_loss = losses[0]
        for term in losses[1:]:
            data_loss = data_loss + term
        data_loss = data_loss * (1.0 / len(losses))
        flat = [p for layer in layers for ws, b in layer for p in ws + [b]]
        reg = 0
        for p in flat:
            reg = reg + p * p
        total = data_loss + 1e-4 * reg
        t1 = clock()
        engine.backward(total, state.get("keep", False))
        t2 = clock()
        state["value"] = engine.value(total)
        state["grads"] = [engine.grad(p) for p in flat]
        if state.get("keep"):
            state["out"] = total
        return {"forward": t1 - t0, "backward": t2 - t1}

    run.state = state  # type: ignore[attr-defined]
    return run


def graph_size(out: Any) -> int:
    """Nodes reachable from ``out``: micrograd Values (leaves and wrapped constants
    included), or our tape's recorded operations."""
    node = getattr(out, "_node", None)
    if node is not None:
        from gradcheck.tape.engine import reachable_nodes
        return len(reachable_nodes(node))
    seen, stack = {id(out)}, [out]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def _disagreement(a: list[float], b: list[float]) -> float:
    scale = max(max(abs(v) for v in b), 1e-300)
    return max(abs(x - y) for x, y in zip(a, b)) / scale


def run(quick: bool = False, out: Path | None = None) -> dict:
    result = report.new_result(NAME, TITLE)
    primary, why_not = scalar_engine()
    engines: list[Engine] = [primary, Ours()] if primary is not None else [Ours()]
    if why_not:
        result["notes"].append(f"{why_not}: our tape is measured through Tensor (0-d arrays) only")
    ours_name = engines[0].name
    mg = peers.load("micrograd")
    torch = peers.load("torch")
    if mg is not None:
        engines.append(Micrograd(mg))
    else:
        result["notes"].append(peers.skipped("micrograd"))
    if torch is not None:
        engines.append(Torch(torch))
    else:
        result["notes"].append(peers.skipped("torch"))

    n_nodes, n_points = (2_000, 20) if quick else (10_000, 100)
    repeat, warmup = (3, 1) if quick else (7, 1)
    program = random_graph(n_nodes)
    xs, ys = moons(n_points)
    params = mlp_parameters()
    sizer = next((e for e in engines if e.name == "micrograd"), None) or next(e for e in engines if isinstance(e, Ours) and not isinstance(e, OursScalar))
    sizes = []
    for make in (lambda e: graph_run(e, program), lambda e: demo_run(e, xs, ys, params)):
        counted = make(sizer)
        counted.state["keep"] = True
        counted()
        sizes.append(graph_size(counted.state.pop("out")))
    unit = "micrograd Values" if sizer.name == "micrograd" else "tape operations"
    workloads = {
        f"random graph ({n_nodes:,} ops +, *, tanh, exp; {sizes[0]:,} {unit})": lambda e: graph_run(e, program),
        f"micrograd demo (MLP 2-16-16-1, {n_points} points; {sizes[1]:,} {unit})": lambda e: demo_run(e, xs, ys, params),
    }
    engines.append(Floor())
    rows, agreement_rows, data = [], [], {}
    speedups: dict[tuple[str, bool], list[float]] = {}
    floors: dict[bool, list[float]] = {False: [], True: []}
    for title, make in workloads.items():
        runs = {e.name: make(e) for e in engines}
        for collector in (False, True):
            timings = interleaved(runs, repeat=repeat, warmup=warmup, collector=collector)
            ours = timings[ours_name]
            reference = runs[ours_name].state["grads"]
            label = "on" if collector else "off"
            for e in engines:
                t = timings[e.name]
                speed = {ph: ratio(t[ph]["median"], ours[ph]["median"]) for ph in ("forward", "backward", "total")}
                mine = e.name == ours_name
                rows.append([title, label, e.name, fmt_seconds(t["forward"]["median"]),
                             fmt_seconds(t["backward"]["median"]), fmt_seconds(t["total"]["median"]),
                             "1.00x" if mine else fmt_ratio(speed["total"]),
                             "—" if mine else fmt_ratio(speed["forward"]), "—" if mine else fmt_ratio(speed["backward"])])
                if isinstance(e, Floor):
                    floors[collector].append(1 / speed["total"])
                    continue
                if not mine:
                    speedups.setdefault((e.name, collector), []).append(speed["total"])
                    data.setdefault(title, {})[f"{e.name}, collector {label}"] = {"speedup_total": speed["total"]}
                    if not collector:
                        gap = _disagreement(runs[e.name].state["grads"], reference)
                        agreement_rows.append([title, e.name, f"{gap:.1e}", "yes" if gap <= AGREE else "NO"])
                        data[title][f"{e.name}, collector {label}"]["disagreement"] = gap
            data.setdefault(title, {})[f"timings, collector {label}"] = timings
    report.table(result, f"Forward + backward, median of {repeat} runs after {warmup} warm-up, with the "
                 f"garbage collector off (as timeit) and on (as a user's program pays it); speed-up = that "
                 f"engine's time ÷ {ours_name}'s, same process, interleaved",
                 ["workload", "collector", "engine", "forward", "backward", "total", "our speed-up (total)",
                  "(forward)", "(backward)"], rows)
    report.table(result, f"Gradients of every leaf against {ours_name} (max |diff| / max |grad|; bar {AGREE:g})",
                 ["workload", "engine", "disagreement", f"agree to {AGREE:g}"], agreement_rows)
    for peer, collector, target, module in (("micrograd", True, 4.0, "micrograd"),
                                            ("micrograd", False, 3.0, "micrograd"),
                                            ("PyTorch 0-d", False, 10.0, "torch")):
        label = "on" if collector else "off"
        text = f"our tape ({ours_name}) >= {target:g}x faster than {peer}, collector {label} (both workloads)"
        found = speedups.get((peer, collector))
        if not found:
            report.bar(result, text, None, peers.skipped(module))
            continue
        report.bar(result, text, all(x >= target for x in found),
                   "speed-up " + " / ".join(fmt_ratio(x) for x in found) + " (random graph / demo)")
    if agreement_rows:
        report.bar(result, f"gradients agree to {AGREE:g}", all(r[3] == "yes" for r in agreement_rows),
                   "worst " + max((r[2] for r in agreement_rows), key=float))
    result["notes"].append(
        "the floor is a do-nothing engine in pure CPython (one record of value and parents per op, "
        "made by object.__new__ and appended to a list; a backward that visits each record once and "
        "computes nothing): our tape costs "
        + " / ".join(f"{x:.2f}x" for x in floors[False]) + " of it with the collector off and "
        + " / ".join(f"{x:.2f}x" for x in floors[True]) + " with it on (random graph / demo)")
    result["notes"].append("micrograd's closures make a reference cycle per node: with the collector on, "
                           "its collections are part of what a user pays")
    result["data"] = data
    return result
