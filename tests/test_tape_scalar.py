"""Scalar, the float hot path: every rule against SymPy truth and the Tensor tape, deep graphs, modes."""

import math
import random

import numpy as np
import pytest
import sympy

from gradcheck.errors import GradcheckError
from gradcheck.tape import PRIMITIVES, Scalar, Tensor, apply, no_grad
from gradcheck.tape import scalar as scalar_module
from gradcheck.tape.scalar import RULES, _pow

x, y = sympy.symbols("x y", real=True)
RTOL = 1e-13

# rule -> (SymPy truth in x[, y], points, the Scalar operation). Points avoid the kinks,
# which test_conventions_at_kinks checks against the primitives' conventions.
TRUTH = {
    "add": (x + y, [(1.5, -0.25), (-3.0, 7.0)], lambda a, b: a + b),
    "sub": (x - y, [(1.5, -0.25), (-3.0, 7.0)], lambda a, b: a - b),
    "mul": (x * y, [(1.5, -0.25), (-3.0, 7.0)], lambda a, b: a * b),
    "div": (x / y, [(1.5, -0.25), (-3.0, 7.0)], lambda a, b: a / b),
    "pow": (x ** y, [(1.5, 2.5), (0.3, -1.2), (4.0, 0.5), (2.0, 3.0)], lambda a, b: a ** b),
    "neg": (-x, [-1.5, 0.3, 2.0], lambda a: -a),
    "exp": (sympy.exp(x), [-3.0, 0.5, 4.0], lambda a: a.exp()),
    "log": (sympy.log(x), [0.1, 1.5, 30.0], lambda a: a.log()),
    "sin": (sympy.sin(x), [-2.0, 0.3, 4.0], lambda a: a.sin()),
    "cos": (sympy.cos(x), [-2.0, 0.3, 4.0], lambda a: a.cos()),
    "tanh": (sympy.tanh(x), [-3.0, 0.5, 8.0, 20.0, 400.0], lambda a: a.tanh()),
    "relu": (sympy.Max(0, x), [-1.0, 2.0], lambda a: a.relu()),
    "sigmoid": (1 / (1 + sympy.exp(-x)), [-40.0, -1.5, 0.0, 0.2, 3.0, 40.0], lambda a: a.sigmoid()),
}
NAMESPACE = {"_pow": _pow, "nan": math.nan, "exp": math.exp, "log": math.log, "sin": math.sin,
             "cos": math.cos, "tanh": math.tanh, "cosh": math.cosh}


def truth(expr, point):
    """expr at point (a dict symbol -> float), at 50 significant digits (mpmath), as a float."""
    return float(sympy.N(expr.xreplace({s: sympy.Float(v, 50) for s, v in point.items()}), 50))


def rule(name, *args):
    """The table's forward value and local derivatives at ``args``."""
    env = dict(NAMESPACE, a=args[0], b=args[-1])
    forward, *partials = RULES[name]
    env["out"] = out = eval(forward, env)
    return out, [eval(p, env) for p in partials]


def close(got, want, rtol=RTOL):
    return got == want or abs(got - want) <= rtol * abs(want)


def cases():
    for name, (_, points, _) in TRUTH.items():
        for p in points:
            yield pytest.param(name, p if isinstance(p, tuple) else (p,), id=f"{name}{p}")


def test_every_rule_has_a_truth_row_and_a_primitive():
    assert set(RULES) == set(TRUTH)
    for name, (expr, _, _) in TRUTH.items():
        assert name in PRIMITIVES
        assert len(RULES[name]) - 1 == len(expr.free_symbols) == len(PRIMITIVES[name].vjps)


@pytest.mark.parametrize("name,args", list(cases()))
def test_rule_against_sympy(name, args):
    expr, _, _ = TRUTH[name]
    point = dict(zip((x, y), args))
    out, partials = rule(name, *args)
    assert close(out, truth(expr, point))
    for symbol, local in zip((x, y), partials):
        assert close(local, truth(sympy.diff(expr, symbol), point), rtol=1e-12), (name, symbol)


@pytest.mark.parametrize("name,args", list(cases()))
def test_rule_against_the_tensor_tape(name, args):
    _, partials = rule(name, *args)
    tensors = [Tensor(v, requires_grad=True) for v in args]
    with np.errstate(over="ignore"):  # cosh(400) ** 2 overflows to inf: gradient 0
        apply(PRIMITIVES[name], *tensors).backward()
    for t, local in zip(tensors, partials):
        assert close(local, t.grad.item(), rtol=1e-14), name


@pytest.mark.parametrize("name,args", list(cases()))
def test_scalar_operation_runs_the_rule(name, args):
    """The generated hot path computes exactly the table's numbers, as Scalars and with numbers."""
    _, _, op = TRUTH[name]
    out_want, partials = rule(name, *args)
    scalars = [Scalar(v, requires_grad=True) for v in args]
    out = op(*scalars)
    out.backward(2.0)
    assert out.data == out_want
    assert [s.grad for s in scalars] == [2.0 * p for p in partials]
    for k in range(len(args) if len(args) == 2 else 0):  # one side a plain number, either side
        mixed = [Scalar(v, requires_grad=True) if i == k else v for i, v in enumerate(args)]
        out = op(*mixed)
        out.backward()
        assert out.data == out_want and mixed[k].grad == partials[k]


def test_conventions_at_kinks_match_the_primitives():
    for name, args in (("relu", (0.0,)), ("pow", (0.0, 2.0)), ("pow", (3.0, 0.0)), ("pow", (0.0, 0.5)),
                       ("pow", (-2.0, 2.0)), ("tanh", (800.0,)), ("sigmoid", (-800.0,))):
        out, partials = rule(name, *args)
        tensors = [Tensor(v, requires_grad=True) for v in args]
        with np.errstate(all="ignore"):
            want = apply(PRIMITIVES[name], *tensors)
            want.backward()
        assert out == want.item()
        for t, local in zip(tensors, partials):
            g = t.grad.item()
            assert local == g or (math.isnan(local) and math.isnan(g)), (name, args)


def test_domain_errors_raise_like_math():
    with pytest.raises(ValueError):
        Scalar(0.0, requires_grad=True).log()
    with pytest.raises(ZeroDivisionError):
        Scalar(1.0) / 0.0
    assert math.isinf((Scalar(0.0, requires_grad=True) ** 0.5).data * 0 + _pow(0.0, -0.5))


# ---------------------------------------------------------------- the tape: deep graphs, freeing, memory
def test_a_chain_100000_deep():
    w = Scalar(0.5, requires_grad=True)
    out = w
    for _ in range(100_000):
        out = out * 1.0 + 0.0
    out = out.tanh()
    out.backward()
    assert close(w.grad, 1 / math.cosh(0.5) ** 2)


def test_shared_nodes_get_every_contribution_and_the_graph_is_freed():
    a = Scalar(2.0, requires_grad=True)
    b = a * a + a  # a used three times
    c = b * b
    c.backward()
    assert a.grad == 2 * 6.0 * 5.0
    with pytest.raises(GradcheckError, match="retain_graph"):
        c.backward()
    with pytest.raises(GradcheckError, match="retain_graph"):
        (b * 2.0).backward()


def test_retain_graph_allows_a_second_backward():
    a = Scalar(3.0, requires_grad=True)
    out = (a * a).exp()
    out.backward(retain_graph=True)
    first = a.grad
    out.backward()
    assert a.grad == 2 * first


def test_backward_through_an_older_graph_still_works():
    a = Scalar(1.5, requires_grad=True)
    first = a.sin()
    second = a.cos()  # recorded after first
    second.backward()
    assert a.grad == -math.sin(1.5)
    a.zero_grad()
    first.backward()
    assert a.grad == math.cos(1.5)


def test_graphs_never_backwarded_are_dropped_from_the_tape():
    scalar_module._compact()
    before = list(scalar_module._tape)  # held by other tests' objects
    w = Scalar(1.0, requires_grad=True)
    kept = w * 3.0
    for _ in range(1000):
        (w * 2.0).tanh()
    scalar_module._compact()
    assert scalar_module._tape == before + [kept]
    kept.backward()
    assert w.grad == 3.0 and scalar_module._tape == before


# ---------------------------------------------------------------- gradients: accumulation, modes, numbers
def test_grad_accumulates_and_zeroes_like_pytorch():
    w = Scalar(3.0, requires_grad=True)
    assert w.grad is None
    (w * w).backward()
    (w * w).backward()
    assert w.grad == 12.0
    w.zero_grad()
    assert w.grad is None
    w.grad = 1.0
    (w * 2).backward()
    assert w.grad == 3.0
    h = w * w
    assert h.grad is None and not h.is_leaf and h.requires_grad


def test_no_grad_records_nothing_and_in_place_updates_leaves():
    w = Scalar(1.0, requires_grad=True)
    with no_grad():
        out = (w * 2.0).tanh() + w
        w -= 0.5
    assert not out.requires_grad and w.data == 0.5 and w.requires_grad and w.is_leaf
    with pytest.raises(GradcheckError, match="no_grad"):
        w += 1.0
    with pytest.raises(GradcheckError, match="does not require grad"):
        out.backward()


def test_mixing_with_python_numbers():
    w = Scalar(2.0, requires_grad=True)
    out = 1 + 3 * w - w / 4 + 2 ** w + w ** 2 - (-w) + 10 / w + np.float64(0.5) * w + np.float32(2) - w
    out.backward()
    assert isinstance(out.data, float) and isinstance(w.grad, float)
    assert close(out.item(), 1 + 6 - 0.5 + 4 + 4 + 2 + 5 + 1 + 2 - 2)
    assert close(w.grad, 3 - 0.25 + 4 * math.log(2) + 4 + 1 - 10 / 4 + 0.5 - 1)
    assert (w > 1) and (w == 2.0) and float(w) == 2.0 and w.item() == 2.0
    with pytest.raises(TypeError):
        w + "a"


def test_module_functions_accept_scalars_and_numbers():
    s = scalar_module
    w = Scalar(0.3, requires_grad=True)
    for f, m in ((s.exp, math.exp), (s.log, math.log), (s.tanh, math.tanh), (s.sin, math.sin), (s.cos, math.cos)):
        assert f(w).data == m(0.3) and f(0.3).data == m(0.3) and not f(0.3).requires_grad
    assert s.relu(-1.0).data == 0.0 and s.sigmoid(0.0).data == 0.5


# ---------------------------------------------------------------- micrograd's network, on both tapes
def mlp_loss(leaf, relu, seed=3):
    """micrograd's demo loss (MLP 2-4-4-1, SVM max-margin, L2) on 8 points; returns (loss, params)."""
    rng = random.Random(seed)
    sizes = (2, 4, 4, 1)
    layers = [[([leaf(rng.uniform(-1, 1)) for _ in range(nin)], leaf(rng.uniform(-0.1, 0.1)))
               for _ in range(nout)] for nin, nout in zip(sizes[:-1], sizes[1:])]
    points = [([rng.uniform(-1, 2), rng.uniform(-1, 1)], rng.choice((-1.0, 1.0))) for _ in range(8)]
    losses = []
    for xs, label in points:
        act = xs
        for li, layer in enumerate(layers):
            outs = []
            for ws, b in layer:
                s = b
                for wi, xi in zip(ws, act):
                    s = s + wi * xi
                outs.append(s if li == len(layers) - 1 else relu(s))
            act = outs
        losses.append(relu(1 + (-label) * act[0]))
    data_loss = losses[0]
    for term in losses[1:]:
        data_loss = data_loss + term
    params = [p for layer in layers for ws, b in layer for p in ws + [b]]
    reg = 0
    for p in params:
        reg = reg + p * p
    return data_loss * (1.0 / len(losses)) + 1e-4 * reg, params


def test_mlp_gradients_equal_the_tensor_tapes():
    loss, params = mlp_loss(lambda v: Scalar(v, requires_grad=True), lambda s: s.relu())
    want, tensors = mlp_loss(lambda v: Tensor(v, requires_grad=True), lambda s: s.relu())
    loss.backward()
    want.backward()
    assert close(loss.item(), want.item())
    grads = [t.grad.item() for t in tensors]
    assert any(g != 0 for g in grads)
    scale = max(abs(g) for g in grads)
    assert max(abs(p.grad - g) for p, g in zip(params, grads)) <= 1e-14 * scale


def test_a_training_loop_reads_like_the_tensor_one():
    w, b = Scalar(1.0, requires_grad=True), Scalar(0.0, requires_grad=True)
    for _ in range(200):
        for xv in (0.0, 0.25, 0.5, 0.75, 1.0):
            loss = (w * xv + b - (3 * xv + 0.5)) ** 2
            loss.backward()
            with no_grad():
                w -= 0.2 * w.grad
                b.data -= 0.2 * b.grad
            w.grad = None
            b.zero_grad()
    assert abs(w.item() - 3) < 1e-6 and abs(b.item() - 0.5) < 1e-6
    assert not any(node.data == loss.data for node in scalar_module._tape)  # every graph freed
