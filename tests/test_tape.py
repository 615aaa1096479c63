"""Every tape primitive against independent truth: SymPy derivatives evaluated at 50 digits.

Each entry of PRIMITIVES must have a truth row below (test_every_primitive_has_a_truth_row).
"""

import math
from pathlib import Path

import numpy as np
import pytest
import sympy

from gradcheck.errors import UnsupportedOperation
from gradcheck.tape import PRIMITIVES, Tensor, apply, get_primitive, unbroadcast
from gradcheck.tape.primitives import MAX_OPERANDS

x, y = sympy.symbols("x y", real=True)
RTOL = 1e-13

# name -> (SymPy truth in x, points). Gradients at jumps follow SymPy: Heaviside(0) = 1/2, sign(0) = 0.
UNARY = {
    "neg": (-x, [-1.5, 0.3, 2.0]),
    "exp": (sympy.exp(x), [-3.0, 0.5, 4.0]),
    "log": (sympy.log(x), [0.1, 1.5, 30.0]),
    "sqrt": (sympy.sqrt(x), [0.25, 2.0, 9.5]),
    "log1p": (sympy.log(1 + x), [-0.5, 1e-10, 3.0]),
    "expm1": (sympy.exp(x) - 1, [-2.0, 1e-10, 3.0]),
    "sin": (sympy.sin(x), [-2.0, 0.3, 4.0]),
    "cos": (sympy.cos(x), [-2.0, 0.3, 4.0]),
    "tan": (sympy.tan(x), [-1.2, 0.3, 1.4]),
    "asin": (sympy.asin(x), [-0.9, 0.2, 0.999]),
    "acos": (sympy.acos(x), [-0.999, 0.2, 0.75]),
    "atan": (sympy.atan(x), [-3.0, 0.5, 10.0]),
    "sinh": (sympy.sinh(x), [-2.0, 0.5, 3.0]),
    "cosh": (sympy.cosh(x), [-2.0, 0.5, 3.0]),
    "tanh": (sympy.tanh(x), [-3.0, 0.5, 8.0, 20.0]),
    "abs": (sympy.Abs(x), [-2.0, 0.0, 1.5]),
    "sign": (sympy.sign(x), [-2.0, 1.5]),  # derivative 2*DiracDelta(x): 0 off the jump
    "heaviside": (sympy.Heaviside(x), [-1.0, 2.0]),
    "dirac_delta": (sympy.DiracDelta(x), [-1.0, 2.0]),  # 0 off 0; its derivative DiracDelta(x, 1) too
    "relu": (sympy.Max(0, x), [-1.0, 0.0, 2.0]),
    "sigmoid": (1 / (1 + sympy.exp(-x)), [-40.0, -1.5, 0.0, 0.2, 3.0, 40.0]),
    "softplus": (sympy.log(1 + sympy.exp(x)), [-40.0, -1.0, 0.5, 40.0]),
}

BINARY = {
    "add": (x + y, [(1.5, -0.25), (-3.0, 7.0)]),
    "sub": (x - y, [(1.5, -0.25), (-3.0, 7.0)]),
    "mul": (x * y, [(1.5, -0.25), (-3.0, 7.0)]),
    "div": (x / y, [(1.5, -0.25), (-3.0, 7.0)]),
    "pow": (x ** y, [(1.5, 2.5), (0.3, -1.2), (4.0, 0.5), (2.0, 3.0)]),
    "maximum": (sympy.Max(x, y), [(1.0, 2.0), (3.0, -1.0), (0.5, 0.5)]),  # tie: 1/2 each
    "minimum": (sympy.Min(x, y), [(1.0, 2.0), (3.0, -1.0), (0.5, 0.5)]),
}

# name -> list of (input shapes, params, leading non-differentiable arguments)
_MASK = np.array([[True, False, True], [False, False, True]])
STRUCTURAL = {
    "matmul": [(((3, 4), (4, 2)), {}, ()), (((4,), (4, 2)), {}, ()), (((3, 4), (4,)), {}, ()),
               (((4,), (4,)), {}, ()), (((2, 3, 4), (4, 2)), {}, ()), (((4,), (2, 4, 3)), {}, ())],
    "sum": [(((3, 4),), {}, ()), (((3, 4),), {"axis": 1}, ()),
            (((2, 3, 4),), {"axis": (0, -1), "keepdims": True}, ())],
    "mean": [(((3, 4),), {}, ()), (((3, 4),), {"axis": -1}, ()),
             (((2, 3, 4),), {"axis": (0, 2)}, ())],
    "reshape": [(((3, 4),), {"shape": (2, 6)}, ()), (((6,),), {"shape": (3, 1, 2)}, ())],
    "transpose": [(((3, 4),), {}, ()), (((2, 3, 4),), {"axes": (2, 0, 1)}, ())],
    "getitem": [(((4, 3),), {"index": (slice(1, 3), 0)}, ()),
                (((4, 3),), {"index": np.array([0, 2, 0])}, ()),  # repeated rows accumulate
                (((2, 3),), {"index": _MASK}, ())],
    "broadcast_to": [(((3, 1),), {"shape": (2, 3, 4)}, ())],
    "where": [(((2, 3), (3,)), {}, (_MASK,))],
}


def truth(expr, point):
    """expr at point (a dict symbol -> float), at 50 significant digits, as a float."""
    subs = {s: sympy.Float(v, 50) for s, v in point.items()}
    return float(sympy.N(expr.xreplace(subs), 50))


def assert_close(got, want, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=rtol, atol=0)


# Linear algebra and the many-operand primitives have their truth (SymPy at 50 digits, or
# closed forms) in tests/test_tape_linalg.py.
ELSEWHERE = {"det", "logabsdet", "inv", "solve", "pad", "concatenate", "einsum"}


def test_every_primitive_has_a_truth_row():
    rows = [set(UNARY), set(BINARY), set(STRUCTURAL), ELSEWHERE]
    assert set(PRIMITIVES) == set.union(*rows)
    assert sum(len(r) for r in rows) == len(PRIMITIVES)
    linalg = (Path(__file__).parent / "test_tape_linalg.py").read_text()
    assert all(name in linalg for name in ELSEWHERE)


def test_every_primitive_has_one_vjp_slot_per_argument():
    for prim in PRIMITIVES.values():
        if prim.name in ("concatenate", "einsum"):  # any number of operands
            assert len(prim.vjps) == MAX_OPERANDS, prim.name
            continue
        if prim.name in ELSEWHERE:
            continue
        arity = len(STRUCTURAL[prim.name][0][0]) + len(STRUCTURAL[prim.name][0][2]) \
            if prim.name in STRUCTURAL else (1 if prim.name in UNARY else 2)
        assert len(prim.vjps) == arity, prim.name


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_forward_and_vjp(name):
    expr, points = UNARY[name]
    t = Tensor(points, requires_grad=True)
    out = apply(PRIMITIVES[name], t)
    g = np.linspace(0.5, 1.5, len(points))  # a non-trivial seed checks the VJP is linear in g
    out.backward(g)
    assert_close(out.data, [truth(expr, {x: p}) for p in points])
    derivative = sympy.diff(expr, x)
    assert_close(t.grad, [gi * truth(derivative, {x: p}) for gi, p in zip(g, points)])


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_forward_and_vjps(name):
    expr, points = BINARY[name]
    a = Tensor([p[0] for p in points], requires_grad=True)
    b = Tensor([p[1] for p in points], requires_grad=True)
    out = apply(PRIMITIVES[name], a, b)
    out.sum().backward()
    assert_close(out.data, [truth(expr, {x: p, y: q}) for p, q in points])
    assert_close(a.grad, [truth(sympy.diff(expr, x), {x: p, y: q}) for p, q in points])
    assert_close(b.grad, [truth(sympy.diff(expr, y), {x: p, y: q}) for p, q in points])


def _symbol_array(prefix, shape):
    n = int(np.prod(shape))
    return np.array(sympy.symbols(f"{prefix}0:{n}", real=True) if n > 1 else
                    [sympy.Symbol(f"{prefix}0", real=True)], dtype=object).reshape(shape)


@pytest.mark.parametrize("name,case", [(n, c) for n, cases in STRUCTURAL.items() for c in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_structural_forward_and_vjps(name, case):
    """Forward on arrays of SymPy symbols gives the truth; its gradient is SymPy's diff."""
    shapes, params, leading = case
    prim = PRIMITIVES[name]
    rng = np.random.default_rng(7)
    symbols = [_symbol_array(chr(97 + i), s) for i, s in enumerate(shapes)]
    values = [rng.normal(size=s) for s in shapes]
    symbolic = np.asarray(prim.forward(*leading, *symbols, **params), dtype=object)
    seed = rng.normal(size=symbolic.shape)
    loss = sympy.Add(*[gi * e for gi, e in zip(seed.flat, symbolic.flat)])
    point = {s: v for syms, vals in zip(symbols, values) for s, v in zip(syms.flat, vals.flat)}

    tensors = [Tensor(v, requires_grad=True) for v in values]
    out = apply(prim, *leading, *tensors, **params)
    out.backward(seed)
    assert out.shape == symbolic.shape
    assert_close(out.data, np.array([truth(e, point) for e in symbolic.flat]).reshape(symbolic.shape))
    for syms, t in zip(symbols, tensors):
        want = np.array([truth(sympy.diff(loss, s), point) for s in syms.flat]).reshape(syms.shape)
        assert t.grad.shape == t.shape
        assert_close(t.grad, want, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY) + sorted(BINARY))
def test_float32_in_float32_out(name):
    """float32 inputs give float32 values and gradients, close to the float64 ones."""
    points = UNARY[name][1] if name in UNARY else BINARY[name][1]
    columns = [points] if name in UNARY else [[p[0] for p in points], [p[1] for p in points]]
    results = {}
    for dtype in (np.float32, np.float64):
        ts = [Tensor(np.asarray(c, dtype=np.float32), requires_grad=True, dtype=dtype) for c in columns]
        out = apply(PRIMITIVES[name], *ts)
        (out * 0.5).sum().backward()
        results[dtype] = (out.data, [t.grad for t in ts])
    out32, grads32 = results[np.float32]
    assert out32.dtype == np.float32 and all(g.dtype == np.float32 for g in grads32)
    assert_close(out32, results[np.float64][0], rtol=1e-5)
    for g32, g64 in zip(grads32, results[np.float64][1]):
        assert_close(g32, g64, rtol=1e-5)


def test_values_at_the_jumps():
    """At 0, where the truth rows cannot go: SymPy's sign(0) = 0, Heaviside(0) = 1/2, DiracDelta(0) undefined."""
    at_zero = {n: apply(PRIMITIVES[n], Tensor(0.0)).item() for n in ("sign", "heaviside", "dirac_delta")}
    assert at_zero["sign"] == 0.0 and at_zero["heaviside"] == 0.5 and math.isnan(at_zero["dirac_delta"])


def test_get_primitive_names_the_missing_rule():
    assert get_primitive("sin") is PRIMITIVES["sin"]
    with pytest.raises(UnsupportedOperation, match="'erf'"):
        get_primitive("erf")


# ---------------------------------------------------------------- pow edge cases
def test_pow_constant_exponent_zero_gives_zero_not_nan():
    t = Tensor([0.0, 2.0], requires_grad=True)
    (t ** 0).sum().backward()
    assert t.grad.tolist() == [0.0, 0.0]


def test_pow_negative_base_constant_integer_exponent():
    t = Tensor(-2.0, requires_grad=True)
    (t ** 3).backward()
    assert t.grad == 12.0


def test_pow_exponent_gradient_at_zero_base_is_the_limit_zero():
    b, e = Tensor(0.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    (b ** e).backward()
    assert e.grad == 0.0 and b.grad == 0.0


def test_pow_exponent_gradient_for_negative_base_is_nan():
    b, e = Tensor(-2.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    (b ** e).backward()
    assert b.grad == -4.0 and math.isnan(e.grad)


def test_constant_base_pow_gives_exponent_gradient():
    e = Tensor(3.0, requires_grad=True)
    (2 ** e).backward()
    assert_close(e.grad, 8 * math.log(2))


# ---------------------------------------------------------------- broadcasting
def test_unbroadcast_sums_added_and_stretched_axes():
    assert unbroadcast(np.ones((2, 3, 4)), (3, 1)).tolist() == [[8.0]] * 3
    assert unbroadcast(np.ones((2, 3)), ()).item() == 6.0


@pytest.mark.parametrize("op,sa,sb", [
    (lambda a, b: a + b, (3, 1), (4,)),
    (lambda a, b: a * b, (2, 3), (3,)),
    (lambda a, b: a * b, (), (2, 2)),
    (lambda a, b: a / b, (2, 1, 3), (4, 1)),
    (lambda a, b: a - b, (4,), (3, 1)),
])
def test_broadcast_gradients_match_finite_differences(op, sa, sb):
    rng = np.random.default_rng(1)
    va, vb = rng.uniform(1, 2, size=sa), rng.uniform(1, 2, size=sb)
    seed = rng.normal(size=np.broadcast_shapes(sa, sb))
    a, b = Tensor(va, requires_grad=True), Tensor(vb, requires_grad=True)
    op(a, b).backward(seed)
    for t, v, other in ((a, va, lambda w: np.sum(seed * op(w, vb))), (b, vb, lambda w: np.sum(seed * op(va, w)))):
        assert t.grad.shape == np.shape(v)
        numeric = np.zeros(np.shape(v))
        for i in np.ndindex(np.shape(v)):
            h = np.zeros(np.shape(v))
            h[i] = 1e-6
            numeric[i] = (other(v + h) - other(v - h)) / 2e-6
        assert_close(t.grad, numeric, rtol=1e-7)


def test_closed_form_gradients_of_broadcast_ops():
    a, b = Tensor(np.ones((3, 1)), requires_grad=True), Tensor(np.arange(4.0), requires_grad=True)
    (a + b).sum().backward()
    assert a.grad.tolist() == [[4.0]] * 3 and b.grad.tolist() == [3.0] * 4
    s, m = Tensor(2.0, requires_grad=True), Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    (s * m).sum().backward()
    assert s.grad == 10.0 and m.grad.tolist() == [[2.0, 2.0], [2.0, 2.0]]


def test_matmul_gradient_closed_form():
    """d/dW sum(W @ X) = ones @ X.T, d/dX = W.T @ ones; vector case: ones outer x."""
    rng = np.random.default_rng(3)
    w, xv = Tensor(rng.normal(size=(3, 4)), requires_grad=True), Tensor(rng.normal(size=(4, 2)), requires_grad=True)
    (w @ xv).sum().backward()
    assert_close(w.grad, np.ones((3, 2)) @ xv.data.T)
    assert_close(xv.grad, w.data.T @ np.ones((3, 2)))
    w2, v = Tensor(w.data, requires_grad=True), rng.normal(size=4)
    (w2 @ v).sum().backward()
    assert_close(w2.grad, np.outer(np.ones(3), v))
