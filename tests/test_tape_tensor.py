"""Tensor, recording and backward: PyTorch-like behaviour, deep graphs, tracing."""

import doctest
import importlib
import math

import numpy as np
import pytest

from gradcheck.errors import GradcheckError, InputError, UnsupportedOperation
from gradcheck.tape import (Tensor, enable_grad, grad, graph, is_grad_enabled, maximum, mul,
                            no_grad, sin, trace_backward, where)
from gradcheck.tape import sum as tape_sum


# ---------------------------------------------------------------- the tutorial loop
def test_tutorial_training_loop_fits_a_line():
    xs = np.linspace(0, 1, 20)
    ys = 3 * xs + 0.5
    w, b = Tensor(1.0, requires_grad=True), Tensor(0.0, requires_grad=True)
    for _ in range(300):
        for xv, yv in zip(xs, ys):
            loss = (w * xv + b - yv) ** 2
            loss.backward()
            with no_grad():
                w -= 0.1 * w.grad
                b.data -= 0.1 * b.grad
            w.grad = None
            b.zero_grad()
    assert w.is_leaf and w.requires_grad
    assert abs(w.item() - 3) < 1e-6 and abs(b.item() - 0.5) < 1e-6


def test_float32_training_stays_float32():
    w = Tensor(1.0, requires_grad=True, dtype="float32")
    assert (Tensor(1.0, dtype="float32") * 0.01).dtype == np.float32
    assert (Tensor(1.0, dtype=np.float32) * np.float64(0.01)).dtype == np.float32
    for xv in np.linspace(0, 1, 5):  # float64 NumPy scalars mixed in
        loss = (w * xv - 2 * xv) ** 2
        loss.backward()
        with no_grad():
            w -= 0.01 * w.grad
        assert w.dtype == np.float32 and w.grad.dtype == np.float32
        w.zero_grad()


# ---------------------------------------------------------------- gradients: accumulation, modes, errors
def test_grad_accumulates_across_backward_calls():
    w = Tensor(3.0, requires_grad=True)
    (w * w).backward()
    (w * w).backward()
    assert w.grad == 12.0
    w.zero_grad()
    assert w.grad is None


def test_a_tensor_used_twice_gets_both_contributions():
    x = Tensor(2.0, requires_grad=True)
    y = x * x + x
    y.backward()
    assert x.grad == 5.0


def test_intermediates_keep_no_grad_unless_retained():
    x = Tensor(2.0, requires_grad=True)
    h = x * 3.0
    k = (x * 4.0).retain_grad()
    (h * k).backward()
    assert h.grad is None and k.grad == 6.0 and x.grad == 48.0


def test_no_grad_disables_recording_and_nests():
    w = Tensor(1.0, requires_grad=True)
    with no_grad():
        assert not is_grad_enabled()
        out = w * 2
        with enable_grad():
            inner = w * 2
    assert is_grad_enabled()
    assert not out.requires_grad and out.is_leaf
    assert inner.requires_grad and not inner.is_leaf

    @no_grad()
    def step():
        return w * 2
    assert not step().requires_grad


def test_constants_do_not_require_grad():
    out = Tensor(1.0) + 2.0
    assert not out.requires_grad
    with pytest.raises(GradcheckError, match="does not require grad"):
        out.backward()


def test_backward_on_non_scalar_needs_a_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(GradcheckError, match=r"non-scalar output of shape \(2,\)"):
        (x * 2).backward()
    (x * 2).backward(np.array([1.0, 10.0]))
    assert x.grad.tolist() == [2.0, 20.0]
    with pytest.raises(GradcheckError, match="gradient of shape"):
        (x * 2).backward(np.ones(3))


def test_graph_is_freed_after_backward_unless_retained():
    x = Tensor(2.0, requires_grad=True)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad == 8.0
    with pytest.raises(GradcheckError, match="already freed"):
        y.backward()


def test_leaf_backward_seeds_itself():
    x = Tensor(2.0, requires_grad=True)
    x.backward()
    assert x.grad == 1.0


def test_in_place_update_of_a_leaf_requiring_grad_is_refused_outside_no_grad():
    w = Tensor(1.0, requires_grad=True)
    with pytest.raises(GradcheckError, match="no_grad"):
        w += 1.0
    data_before = w.data
    with no_grad():
        w *= 3.0
    assert w.item() == 3.0 and data_before.item() == 1.0  # rebound, not mutated
    h = w * 1.0
    h += 1.0  # a non-leaf: recorded out of place
    h.backward()
    assert w.grad == 1.0


def test_in_place_update_cannot_change_shape():
    with pytest.raises(InputError):
        t = Tensor(1.0)
        t += np.ones(3)


# ---------------------------------------------------------------- the Tensor surface
def test_tensor_surface():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True, name="t")
    assert t.shape == (2, 3) and t.dtype == np.float64 and t.ndim == 2 and t.size == 6
    assert t.T.shape == (3, 2) and t.transpose(1, 0).shape == (3, 2)
    assert t.reshape(3, 2).shape == (3, 2) and t.reshape((6,)).shape == (6,)
    assert t.sum().item() == 21.0 and t.mean(axis=0).tolist() == [2.5, 3.5, 4.5]
    assert t.sum(axis=1, keepdims=True).shape == (2, 1)
    assert t[1, 2].item() == 6.0 and t[:, 1].tolist() == [2.0, 5.0]
    assert isinstance(t > 2, np.ndarray) and (t > 2).tolist() == [[False, False, True], [True] * 3]
    assert (t == t.data).all() and (t <= 1).sum() == 1
    assert t.numpy() is t.data and not t.detach().requires_grad and t.detach().data is t.data
    assert repr(Tensor(2.0)) == "Tensor(2.0)"
    assert "requires_grad=True" in repr(t) and "op=mul" in repr(t * 2)
    assert "float32" in repr(Tensor(1.0, dtype="float32"))
    assert Tensor([1, 2]).dtype == np.float64 and Tensor(np.float32(1)).dtype == np.float32
    assert float(Tensor(2.5)) == 2.5 and len(t) == 2 and hash(t) == hash(t)
    with pytest.raises(InputError):
        Tensor(1, dtype=int)


def test_reflected_operators_and_unary():
    x = Tensor(2.0, requires_grad=True)
    y = 1 - x + 3 / x - 2 ** x + 4 * x + (-x) + abs(x) + x.exp() + x.log() + x.tanh() + x.relu() + x.sigmoid()
    y.backward()
    s = 1 / (1 + math.exp(-2))
    want = -1 - 3 / 4 - 4 * math.log(2) + 4 - 1 + 1 + math.exp(2) + 0.5 + 1 / math.cosh(2) ** 2 + 1 + s * (1 - s)
    assert math.isclose(x.grad, want, rel_tol=1e-13)


def test_getitem_with_repeated_indices_accumulates():
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    t[np.array([0, 0, 2])].sum().backward()
    assert t.grad.tolist() == [2.0, 0.0, 1.0]


def test_where_and_module_functions():
    x = Tensor([-1.0, 2.0], requires_grad=True)
    tape_sum(where(x > 0, x * x, 3.0 * x)).backward()
    assert x.grad.tolist() == [3.0, 4.0]
    a, b = Tensor(1.0, requires_grad=True), Tensor(1.0, requires_grad=True)
    maximum(a, b).backward()
    assert a.grad == b.grad == 0.5  # ties split like SymPy's Heaviside(0) = 1/2


def test_functional_grad_helper():
    gx, gy = grad(lambda a, b: mul(a, b) + sin(a), 3.0, 4.0)
    assert math.isclose(gx, 4 + math.cos(3.0)) and gy == 3.0
    assert grad(lambda a: 5.0, 1.0)[0] == 0.0


# ---------------------------------------------------------------- NumPy interoperation
def test_numpy_operands_on_the_left_and_ufuncs_stay_on_the_tape():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0]) * x + np.sin(x) + np.float64(2.0) * x
    np.sum(y).backward()
    assert isinstance(y, Tensor)
    assert np.allclose(x.grad, [3 + math.cos(1) + 2, 4 + math.cos(2) + 2])
    assert isinstance(np.greater(x, 1), np.ndarray) and np.shape(x) == (2,)


def test_numpy_function_without_a_rule_is_unsupported():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(UnsupportedOperation, match="cumsum"):
        np.cumsum(x)
    with pytest.raises(UnsupportedOperation, match="arctan2"):
        np.arctan2(x, x)


# ---------------------------------------------------------------- deep graphs
def test_backward_through_a_chain_100000_steps_deep():
    """x -> sin -> mul -> add, 100,000 times (300,000 nodes): no recursion anywhere."""
    n, eps = 100_000, 1e-5
    x = Tensor(0.7, requires_grad=True)
    v = x
    for _ in range(n):
        v = sin(v) * eps + v
    v.backward()
    value, derivative = 0.7, 1.0  # forward mode in Python floats: the closed form
    for _ in range(n):
        derivative *= 1 + eps * math.cos(value)
        value = math.sin(value) * eps + value
    assert math.isclose(v.item(), value, rel_tol=1e-12)
    assert math.isclose(x.grad.item(), derivative, rel_tol=1e-9)


def test_dropping_a_deep_unused_graph_does_not_crash():
    v = Tensor(0.1, requires_grad=True)
    for _ in range(100_000):
        v = v * 1.0
    del v


# ---------------------------------------------------------------- tracing
def test_trace_backward_reports_each_chain_rule_step():
    x, y = Tensor(2.0, requires_grad=True, name="x"), Tensor(3.0, requires_grad=True, name="y")
    out = x * y + sin(x)
    steps = trace_backward(out)
    assert [(s.node, s.op, s.inputs) for s in steps] == [
        ("v2", "add", ("v0", "v1")), ("v1", "sin", ("x",)), ("v0", "mul", ("x", "y"))]
    mul_step = steps[2]
    assert mul_step.grad == 1.0 and mul_step.value == 6.0
    assert [float(v) for v in mul_step.local] == [3.0, 2.0]
    assert [float(v) for v in mul_step.product] == [3.0, 2.0]
    assert math.isclose(steps[1].local[0], math.cos(2.0))
    assert math.isclose(x.grad, 3 + math.cos(2.0)) and y.grad == 2.0


def test_trace_labels_constants_and_skips_their_gradients():
    x = Tensor(2.0, requires_grad=True)
    (step,) = trace_backward(x * 5.0)
    assert step.inputs == ("x0", "5.0") and step.product[1] is None and step.local[1] is None


def test_graph_nodes_and_edges():
    x = Tensor(2.0, requires_grad=True, name="x")
    g = graph(sin(x) * x)
    assert [(n.id, n.op) for n in g.nodes] == [("x", "leaf"), ("v0", "sin"), ("v1", "mul")]
    assert sorted(g.edges) == [("v0", "v1"), ("x", "v0"), ("x", "v1")]
    leaf = g.nodes[0]
    assert math.isclose(leaf.grad, math.cos(2.0) * 2 + math.sin(2.0)) and leaf.value == 2.0
    assert g.nodes[2].grad == 1.0 and g.nodes[2].inputs == ("v0", "x")


# ---------------------------------------------------------------- docstring examples
@pytest.mark.parametrize("module", ["primitives", "engine", "tensor", "functions", "trace", "higher"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(f"gradcheck.tape.{module}"))
    assert result.failed == 0 and result.attempted > 0


def test_grad_reads_as_the_tutorial_expects():
    w = Tensor(2.0, requires_grad=True)
    loss = w * w * 3
    assert repr(loss.grad_fn) == "<MulBackward>" and w.grad_fn is None
    loss.backward()
    assert w.grad.item() == 12.0 and repr(w.grad) == "array(12.)"
    w.grad.data.zero_()
    assert w.grad.item() == 0.0
    (w * w).backward()
    assert w.grad.zero_().item() == 0.0
