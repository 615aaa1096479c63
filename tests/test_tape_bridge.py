"""The SymPy -> tape bridge: every mapped class against SymPy's own diff at 50 digits."""

import numpy as np
import pytest
import sympy

from gradcheck.errors import GradcheckError, UnsupportedOperation
from gradcheck.tape import SYMPY_PRIMITIVES, PRIMITIVES, Tensor, evaluate, trace_backward

x, y, w = sympy.symbols("x y w", real=True)

# SymPy class -> (expression using it, point). Points avoid kinks except where a tie is
# the point (Max/Min at x == y), where SymPy's Heaviside(0) = 1/2 is the truth.
CASES = {
    sympy.Add: (x + y + 3, {x: 0.7, y: -1.3}),
    sympy.Mul: (x * y * 2 / (x + 4), {x: 0.7, y: -1.3}),
    sympy.Pow: (x ** y + x ** 3 + x ** -1 + sympy.sqrt(x) + x ** sympy.Rational(-1, 2) + x ** 2
                + 2 ** y + x ** sympy.Rational(5, 3), {x: 1.7, y: 0.4}),
    sympy.exp: (sympy.exp(x * y), {x: 0.7, y: -1.3}),
    sympy.log: (sympy.log(x ** 2 + y), {x: 0.7, y: 1.3}),
    sympy.sin: (sympy.sin(x * y), {x: 0.7, y: -1.3}),
    sympy.cos: (sympy.cos(x + y), {x: 0.7, y: -1.3}),
    sympy.tan: (sympy.tan(x * y), {x: 0.7, y: -1.3}),
    sympy.asin: (sympy.asin(x * y), {x: 0.7, y: -1.3}),
    sympy.acos: (sympy.acos(x * y), {x: 0.7, y: -1.3}),
    sympy.atan: (sympy.atan(x / y), {x: 0.7, y: -1.3}),
    sympy.sinh: (sympy.sinh(x * y), {x: 0.7, y: -1.3}),
    sympy.cosh: (sympy.cosh(x * y), {x: 0.7, y: -1.3}),
    sympy.tanh: (sympy.tanh(x * y), {x: 0.7, y: -1.3}),
    sympy.Abs: (sympy.Abs(x * y), {x: 0.7, y: -1.3}),
    sympy.sign: (x * sympy.sign(y), {x: 0.7, y: -1.3}),
    sympy.Heaviside: (x * sympy.Heaviside(y) + y * sympy.Heaviside(x - 2, 1), {x: 0.7, y: 1.3}),
    sympy.DiracDelta: (x * sympy.DiracDelta(y) + y, {x: 0.7, y: 1.3}),
    sympy.Max: (sympy.Max(x, y, 0.1), {x: 0.7, y: 0.7}),
    sympy.Min: (sympy.Min(x, y), {x: 0.7, y: 0.7}),
}


def truth(expr, point):
    subs = {s: sympy.Float(v, 50) for s, v in point.items()}
    return float(sympy.N(expr.xreplace(subs), 50))


def run(expr, point):
    """Value and gradients (by symbol) of expr on the tape at point."""
    leaves = {s.name: Tensor(v, requires_grad=True) for s, v in point.items()}
    out = evaluate(expr, leaves)
    out.backward()
    return out.item(), {s: leaves[s.name].grad for s in point}


def test_every_bridged_class_has_a_case_and_a_primitive():
    assert set(CASES) == set(SYMPY_PRIMITIVES)
    assert set(SYMPY_PRIMITIVES.values()) <= set(PRIMITIVES)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_value_and_gradient_match_sympy(cls):
    expr, point = CASES[cls]
    assert expr.has(cls) or isinstance(expr, cls)
    value, grads = run(expr, point)
    assert value == pytest.approx(truth(expr, point), rel=1e-13, abs=1e-300)
    for s in point:
        assert grads[s] == pytest.approx(truth(sympy.diff(expr, s), point), rel=1e-13, abs=1e-300), s


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_derivative_expressions_run_on_the_tape_too(cls):
    """SymPy's derivatives (sign, Heaviside, ...) evaluate to the tape's own gradient."""
    expr, point = CASES[cls]
    _, grads = run(expr, point)
    for s in point:
        derivative = evaluate(sympy.diff(expr, s), {k.name: v for k, v in point.items()})
        assert derivative.item() == pytest.approx(float(grads[s]), rel=1e-12, abs=1e-300)


def test_broadcast_data_loss_gradient_per_row():
    """(w*x - y)**2 with w of shape (3, 1) and data x, y of shape (4,)."""
    wv = np.array([[0.5], [1.0], [-2.0]])
    xv, yv = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.3, -1.0, 2.0, 0.5])
    wt = Tensor(wv, requires_grad=True)
    loss = evaluate((w * x - y) ** 2, {"w": wt, "x": xv, "y": yv})
    assert loss.shape == (3, 4)
    loss.sum().backward()
    assert wt.grad.shape == (3, 1)
    np.testing.assert_allclose(wt.grad, 2 * np.sum(xv * (wv * xv - yv), axis=1, keepdims=True), rtol=1e-14)


def test_shared_subexpressions_are_computed_once():
    s = sympy.sin(x * y)
    expr = s ** 3 + s * x + sympy.exp(s)
    leaves = {"x": Tensor(0.3, requires_grad=True), "y": Tensor(0.9, requires_grad=True)}
    ops = [step.op for step in trace_backward(evaluate(expr, leaves))]
    assert ops.count("sin") == 1 and ops.count("exp") == 1


def test_deep_expression_needs_no_recursion():
    expr = x
    for _ in range(3000):
        expr = sympy.sin(expr, evaluate=False)  # SymPy's own evaluation would recurse
    t = Tensor(1.0, requires_grad=True)
    out = evaluate(expr, {"x": t})
    out.backward()
    value, derivative = 1.0, 1.0
    for _ in range(3000):
        derivative *= np.cos(value)
        value = np.sin(value)
    assert out.item() == pytest.approx(value, rel=1e-12) and t.grad == pytest.approx(derivative, rel=1e-10)


def test_constants_numbers_and_number_symbols():
    out = evaluate(sympy.pi * x + sympy.E + sympy.sqrt(2) + sympy.Rational(1, 3), {"x": 2.0})
    assert out.item() == pytest.approx(2 * np.pi + np.e + np.sqrt(2) + 1 / 3, rel=1e-15)
    assert isinstance(evaluate(sympy.Integer(3), {}), Tensor)


def test_float32_values_stay_float32():
    t = Tensor(0.5, dtype="float32", requires_grad=True)
    out = evaluate(sympy.pi * sympy.sin(x) ** 2 / 3 + sympy.sqrt(2) * x, {"x": t})
    out.backward()
    assert out.dtype == np.float32 and t.grad.dtype == np.float32


def test_heaviside_at_zero_uses_its_h0():
    assert evaluate(sympy.Heaviside(x), {"x": 0.0}).item() == 0.5
    assert evaluate(sympy.Heaviside(x, 1), {"x": 0.0}).item() == 1.0


def test_values_may_be_keyed_by_symbol():
    assert evaluate(x + 1, {x: 2.0}).item() == 3.0


def test_missing_symbol_is_named():
    with pytest.raises(GradcheckError, match="'y'"):
        evaluate(x + y, {"x": 1.0})


def test_unknown_sympy_node_is_named():
    with pytest.raises(UnsupportedOperation, match="gamma"):
        evaluate(sympy.gamma(x), {"x": 1.0})
    with pytest.raises(UnsupportedOperation, match="floor"):
        evaluate(sympy.floor(x) + 1, {"x": 1.5})
