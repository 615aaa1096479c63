"""Reverse over reverse: every tape primitive's second derivatives against SymPy at 40 digits.

Each entry of PRIMITIVES must have a row below (test_every_primitive_has_a_second_order_row).
A loss ``L = sum(w * outer(prim(...)))`` is differentiated with ``create_graph=True``, then its
gradient is differentiated again along a direction ``v``: the Hessian-vector product must equal
SymPy's, evaluated (``evalf``, i.e. mpmath) at 40 digits. ``outer`` is the identity (the
primitive's own second derivatives) or a square/cube (the VJP differentiated with respect to
the incoming gradient as well).
"""

import doctest
import math
import sys

import numpy as np
import pytest
import sympy

from gradcheck.errors import GradcheckError, UnsupportedOperation
from gradcheck.tape import PRIMITIVES, Primitive, Scalar, Tensor, apply, grad, higher, no_grad

x, y = sympy.symbols("x y", real=True)
RTOL = 1e-12
DIGITS = 40

# name -> (SymPy truth in x, points away from kinks)
UNARY = {
    "neg": (-x, [-1.5, 0.3, 2.0]),
    "exp": (sympy.exp(x), [-3.0, 0.5, 4.0]),
    "log": (sympy.log(x), [0.1, 1.5, 30.0]),
    "sqrt": (sympy.sqrt(x), [0.25, 2.0, 9.5]),
    "log1p": (sympy.log(1 + x), [-0.5, 1e-3, 3.0]),
    "expm1": (sympy.exp(x) - 1, [-2.0, 1e-3, 3.0]),
    "sin": (sympy.sin(x), [-2.0, 0.3, 4.0]),
    "cos": (sympy.cos(x), [-2.0, 0.3, 4.0]),
    "tan": (sympy.tan(x), [-1.2, 0.3, 1.4]),
    "asin": (sympy.asin(x), [-0.9, 0.2, 0.99]),
    "acos": (sympy.acos(x), [-0.99, 0.2, 0.75]),
    "atan": (sympy.atan(x), [-3.0, 0.5, 10.0]),
    "sinh": (sympy.sinh(x), [-2.0, 0.5, 3.0]),
    "cosh": (sympy.cosh(x), [-2.0, 0.5, 3.0]),
    "tanh": (sympy.tanh(x), [-3.0, 0.5, 8.0, 20.0]),
    "abs": (sympy.Abs(x), [-2.0, 1.5]),
    "sign": (sympy.sign(x), [-2.0, 1.5]),
    "heaviside": (sympy.Heaviside(x), [-1.0, 2.0]),
    "dirac_delta": (sympy.DiracDelta(x), [-1.0, 2.0]),
    "relu": (sympy.Max(0, x), [-1.0, 2.0]),
    "sigmoid": (1 / (1 + sympy.exp(-x)), [-30.0, -1.5, 0.2, 3.0, 30.0]),
    "softplus": (sympy.log(1 + sympy.exp(x)), [-30.0, -1.0, 0.5, 30.0]),
}

BINARY = {
    "add": (x + y, [(1.5, -0.25), (-3.0, 7.0)]),
    "sub": (x - y, [(1.5, -0.25), (-3.0, 7.0)]),
    "mul": (x * y, [(1.5, -0.25), (-3.0, 7.0)]),
    "div": (x / y, [(1.5, -0.25), (-3.0, 7.0)]),
    "pow": (x ** y, [(1.5, 2.5), (0.3, -1.2), (4.0, 0.5), (2.0, 3.0)]),
    "maximum": (sympy.Max(x, y), [(1.0, 2.0), (3.0, -1.0)]),
    "minimum": (sympy.Min(x, y), [(1.0, 2.0), (3.0, -1.0)]),
}

# name -> list of (input shapes, params, leading non-differentiable arguments)
_MASK = np.array([[True, False, True], [False, False, True]])
STRUCTURAL = {
    "matmul": [(((3, 4), (4, 2)), {}, ()), (((4,), (4, 2)), {}, ()), (((3, 4), (4,)), {}, ()),
               (((4,), (4,)), {}, ()), (((2, 3, 4), (4, 2)), {}, ()), (((4,), (2, 4, 3)), {}, ())],
    "sum": [(((3, 4),), {}, ()), (((3, 4),), {"axis": 1}, ()),
            (((2, 3, 4),), {"axis": (0, -1), "keepdims": True}, ())],
    "mean": [(((3, 4),), {}, ()), (((3, 4),), {"axis": -1, "keepdims": True}, ()),
             (((2, 3, 4),), {"axis": (0, 2)}, ())],
    "reshape": [(((3, 4),), {"shape": (2, 6)}, ()), (((6,),), {"shape": (3, 1, 2)}, ())],
    "transpose": [(((3, 4),), {}, ()), (((2, 3, 4),), {"axes": (2, 0, 1)}, ())],
    "getitem": [(((4, 3),), {"index": (slice(1, 3), 0)}, ()),
                (((4, 3),), {"index": np.array([0, 2, 0])}, ()),  # repeated rows accumulate
                (((2, 3),), {"index": _MASK}, ()),
                (((3,),), {"index": (Ellipsis, None)}, ())],
    "broadcast_to": [(((3, 1),), {"shape": (2, 3, 4)}, ())],
    "where": [(((2, 3), (3,)), {}, (_MASK,))],
}

# elementwise binary primitives broadcasting: (shape of a, shape of b)
BROADCAST = [((3, 1), (4,)), ((), (3,)), ((2, 1, 3), (2, 1))]


def truth(expr, point):
    """expr at point (symbol -> float) at 40 significant digits (SymPy's evalf: mpmath), as a float."""
    subs = {s: sympy.Float(v, DIGITS) for s, v in point.items()}
    return float(sympy.N(expr.xreplace(subs), DIGITS))


def assert_close(got, want, rtol=RTOL, atol=0.0):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=rtol, atol=atol)


def hvp(loss, tensors, vs):
    """(dL/dt, H v) by reverse over reverse: grad with create_graph, then grad of <grad, v>."""
    grads = grad(loss, tensors, create_graph=True)
    assert all(isinstance(g, Tensor) for g in grads)
    directional = sum((g * v).sum() for g, v in zip(grads, vs))
    if not directional.requires_grad:  # no gradient depends on the inputs: H = 0
        return grads, [np.zeros(t.shape) for t in tensors]
    return grads, grad(directional, tensors, materialize_grads=True)


OUTERS = {"identity": (lambda u: u, lambda e: e), "square": (lambda u: u * u, lambda e: e ** 2)}


def test_every_primitive_has_a_second_order_row():
    # linear algebra's second order: tests/test_tape_linalg.py (create_graph)
    rows = [set(UNARY), set(BINARY), set(STRUCTURAL),
            {"det", "logabsdet", "inv", "solve", "pad", "concatenate", "einsum"}]
    assert set(PRIMITIVES) == set.union(*rows)
    assert sum(len(r) for r in rows) == len(PRIMITIVES)
    assert all(name in higher.TAPE_VJPS for name in PRIMITIVES)


@pytest.mark.parametrize("outer", sorted(OUTERS))
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_second_derivative(name, outer):
    expr, points = UNARY[name]
    numeric, symbolic = OUTERS[outer]
    w = np.linspace(0.5, 1.5, len(points))  # a non-trivial seed: the VJP stays linear in g
    v = np.linspace(-1.0, 2.0, len(points))
    t = Tensor(points, requires_grad=True)
    (g1,), (h,) = hvp((w * numeric(apply(PRIMITIVES[name], t))).sum(), [t], [v])
    f = symbolic(expr)
    d1, d2 = sympy.diff(f, x), sympy.diff(f, x, 2)
    assert_close(g1.data, [wi * truth(d1, {x: p}) for wi, p in zip(w, points)])
    assert_close(h, [wi * vi * truth(d2, {x: p}) for wi, vi, p in zip(w, v, points)], atol=1e-300)


@pytest.mark.parametrize("outer", sorted(OUTERS))
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_hessian(name, outer):
    expr, points = BINARY[name]
    numeric, symbolic = OUTERS[outer]
    f = symbolic(expr)
    hessian = [[sympy.diff(f, p, q) for q in (x, y)] for p in (x, y)]
    w = np.linspace(0.5, 1.5, len(points))
    for column in range(2):  # H e_x, H e_y: the whole 2x2 Hessian at every point
        a = Tensor([p[0] for p in points], requires_grad=True)
        b = Tensor([p[1] for p in points], requires_grad=True)
        vs = [np.full(len(points), float(column == 0)), np.full(len(points), float(column == 1))]
        _, (ha, hb) = hvp((w * numeric(apply(PRIMITIVES[name], a, b))).sum(), [a, b], vs)
        for row, got in enumerate((ha, hb)):
            want = [wi * truth(hessian[row][column], {x: p, y: q}) for wi, (p, q) in zip(w, points)]
            assert_close(got, want, atol=1e-300)


def _symbol_array(prefix, shape):
    n = int(np.prod(shape))
    return np.array(sympy.symbols(f"{prefix}0:{n}", real=True) if n > 1 else
                    [sympy.Symbol(f"{prefix}0", real=True)], dtype=object).reshape(shape)


def check_hvp_against_sympy(numeric, symbolic, shapes, positive=False, seed=7):
    """HVP of L = sum(w * numeric(*tensors)) against SymPy's of sum(w * symbolic(*symbol arrays))."""
    rng = np.random.default_rng(seed)
    symbols = [_symbol_array(chr(97 + i), s) for i, s in enumerate(shapes)]
    values = [rng.uniform(0.5, 2.0, size=s) if positive else rng.normal(size=s) for s in shapes]
    vs = [rng.normal(size=s) for s in shapes]
    out = np.asarray(symbolic(*symbols), dtype=object)
    w = rng.normal(size=out.shape)
    loss = sympy.Add(*[wi * e for wi, e in zip(w.flat, out.flat)])
    flat = [s for syms in symbols for s in syms.flat]
    directional = sympy.Add(*[sympy.diff(loss, s) * vi for s, vi in
                              zip(flat, [vi for v in vs for vi in v.flat])])
    point = dict(zip(flat, [vi for v in values for vi in v.flat]))

    tensors = [Tensor(v, requires_grad=True) for v in values]
    result = numeric(*tensors)
    assert result.shape == out.shape
    grads, hs = hvp((w * result).sum(), tensors, vs)
    for syms, g, h in zip(symbols, grads, hs):
        assert g.shape == h.shape == syms.shape
        assert_close(g.data, np.array([truth(sympy.diff(loss, s), point) for s in syms.flat]).reshape(syms.shape))
        want = np.array([truth(sympy.diff(directional, s), point) for s in syms.flat]).reshape(syms.shape)
        assert_close(h, want, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("name,case", [(n, c) for n, cases in STRUCTURAL.items() for c in cases],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_structural_hessian_vector_product(name, case):
    """Structural primitives are linear (matmul bilinear): a cube outside makes H non-trivial,
    so the VJP itself (scatter, broadcast, swapaxes, ...) must be differentiable."""
    shapes, params, leading = case
    prim = PRIMITIVES[name]
    check_hvp_against_sympy(lambda *ts: (lambda u: u * u * u)(apply(prim, *leading, *ts, **params)),
                            lambda *ss: (lambda u: u * u * u)(prim.forward(*leading, *ss, **params)),
                            shapes)


@pytest.mark.parametrize("shapes", BROADCAST, ids=str)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_broadcasting_binary_hessian_vector_product(name, shapes):
    expr = BINARY[name][0]
    elementwise = np.vectorize(lambda p, q: expr.xreplace({x: p, y: q}), otypes=[object])
    prim = PRIMITIVES[name]
    check_hvp_against_sympy(lambda a, b: apply(prim, a, b) * apply(prim, a, b),
                            lambda a, b: elementwise(a, b) ** 2, shapes, positive=name == "pow")


def test_reductions_and_broadcasting_composed():
    """A small model: softplus(X @ w + b) reduced by mean over an axis, then a log-sum-exp."""
    def numeric(X, w, b):
        hidden = np.mean(apply(PRIMITIVES["softplus"], X @ w + b), axis=0, keepdims=True)
        return np.log(np.sum(np.exp(hidden), axis=-1))

    def symbolic(X, w, b):
        hidden = (np.vectorize(lambda z: sympy.log(1 + sympy.exp(z)), otypes=[object])(X @ w + b)
                  .sum(axis=0, keepdims=True) / X.shape[0])
        return np.vectorize(sympy.log, otypes=[object])(
            np.vectorize(sympy.exp, otypes=[object])(hidden).sum(axis=-1))

    check_hvp_against_sympy(numeric, symbolic, [(2, 2), (2, 3), (3,)])


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 0])
def test_constant_exponents(exponent):
    t = Tensor([0.5, 1.5, 3.0], requires_grad=True)
    _, (h,) = hvp((t ** exponent).sum(), [t], [np.ones(3)])
    want = [truth(sympy.diff(x ** sympy.nsimplify(exponent), x, 2), {x: p}) for p in (0.5, 1.5, 3.0)]
    assert_close(h, want)


def test_constant_base():
    t = Tensor([0.5, -1.0], requires_grad=True)
    assert_close(hvp((2.0 ** t).sum(), [t], [np.ones(2)])[1][0], [2.0 ** p * math.log(2.0) ** 2 for p in (0.5, -1.0)])


def test_hessian_row_by_row():
    """log-sum-exp: H = diag(p) - p p^T, one row per grad of a gradient element."""
    values = np.array([0.3, -1.2, 2.0, 0.5])
    t = Tensor(values, requires_grad=True)
    (g,) = grad(np.log(np.sum(np.exp(t))), t, create_graph=True)
    rows = [grad(g[i], t, retain_graph=True)[0] for i in range(4)]
    p = np.exp(values) / np.exp(values).sum()
    assert_close(np.array(rows), np.diag(p) - np.outer(p, p), rtol=1e-13, atol=1e-16)


def test_third_derivatives_by_grad_twice_with_create_graph():
    t = Tensor(2.0, requires_grad=True)
    (g1,) = grad(t ** 5, t, create_graph=True)
    (g2,) = grad(g1, t, create_graph=True)
    (g3,) = grad(g2, t)
    assert (g1.item(), g2.item(), float(g3)) == (80.0, 160.0, 240.0)  # 5x^4, 20x^3, 60x^2 at 2


def test_third_derivatives_through_the_scatter():
    """getitem's VJP is a primitive (higher.SCATTER) whose own VJP is indexing: x[i] three times."""
    values = np.array([0.5, -1.5, 2.0])
    t = Tensor(values, requires_grad=True)
    (g1,) = grad((t[np.array([0, 2, 0])] ** 4).sum(), t, create_graph=True)
    v = np.array([1.0, 2.0, -0.5])
    (g2,) = grad((g1 * v).sum(), t, create_graph=True)
    (g3,) = grad((g2 * v).sum(), t)
    assert_close(g3, np.array([2, 0, 1]) * 24 * values * v * v)


def test_backward_create_graph_leaves_differentiable_grads():
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor(0.5, requires_grad=True)
    (np.sin(a) * b).sum().backward(create_graph=True)
    ga, gb = a.grad, b.grad
    assert isinstance(ga, Tensor) and ga.requires_grad and isinstance(gb, Tensor)
    assert_close(ga.data, 0.5 * np.cos([1.0, 2.0]))
    a.grad = b.grad = None
    (ga.sum() + gb).backward()  # d/da sum(b cos a) + sin a, d/db sum(cos a)
    assert_close(a.grad, -0.5 * np.sin([1.0, 2.0]) + np.cos([1.0, 2.0]))
    assert_close(b.grad, np.cos(1.0) + np.cos(2.0))


def test_create_graph_gives_first_order_values_bit_for_bit():
    for name, (_, points) in UNARY.items():
        grads = []
        for create_graph in (False, True):
            t = Tensor(points, requires_grad=True)
            apply(PRIMITIVES[name], t).backward(np.linspace(0.5, 1.5, len(points)), create_graph=create_graph)
            grads.append(np.asarray(getattr(t.grad, "data", t.grad)))
        assert grads[0].tobytes() == grads[1].tobytes(), name


def test_ten_thousand_deep_chain_twice_without_recursion():
    """Euler steps of x' = sin(x)/2 + x/10: the sensitivity stays O(1) over 10,000 nodes deep."""
    h, x0 = 1e-3, 0.7
    t = Tensor(x0, requires_grad=True)
    u = t
    for _ in range(10_000):
        u = u + (np.sin(u) * 0.5 + u * 0.1) * h
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # an engine that recursed would hit it at once
    try:
        (g,) = grad(u, t, create_graph=True)
        (second,) = grad(g, t)
    finally:
        sys.setrecursionlimit(limit)
    def forward(x):  # forward mode, hyper-dual: value, first and second derivative
        d, s = 1.0, 0.0
        for _ in range(10_000):
            fp, fpp = 0.5 * math.cos(x) + 0.1, -0.5 * math.sin(x)
            x, d, s = x + h * (0.5 * math.sin(x) + 0.1 * x), d * (1 + h * fp), s * (1 + h * fp) + d * d * h * fpp
        return x, d, s

    value, first, exact = forward(x0)
    assert math.isclose(u.item(), value, rel_tol=1e-12) and math.isclose(g.item(), first, rel_tol=1e-10)
    assert math.isclose(float(second), exact, rel_tol=1e-9)
    step = 1e-5  # and a central difference of the forward-mode first derivative
    estimate = (forward(x0 + step)[1] - forward(x0 - step)[1]) / (2 * step)
    assert math.isclose(float(second), estimate, rel_tol=1e-6)


def test_create_graph_false_still_frees_the_graph():
    t = Tensor(0.5, requires_grad=True)
    out = np.sin(t) * t
    out.backward()
    assert not isinstance(t.grad, Tensor) and out._node.parents is None
    with pytest.raises(GradcheckError, match="already freed"):
        out.backward()
    out = np.sin(t) * t
    (g,) = grad(out, t)
    assert not isinstance(g, Tensor) and out._node.parents is None
    out = np.sin(t) * t
    (g,) = grad(out, t, create_graph=True, retain_graph=False)  # the graph it went through is freed
    with pytest.raises(GradcheckError, match="already freed"):
        grad(g, t)


def test_create_graph_keeps_the_graph_by_default():
    t = Tensor(0.5, requires_grad=True)
    out = np.exp(t) * t
    grad(out, t, create_graph=True)
    assert out._node.parents is not None
    out.backward()  # the first-order graph is still there
    assert_close(t.grad, math.exp(0.5) * 1.5)


def test_grad_leaves_grads_alone_and_reports_unused_inputs():
    a, b = Tensor(1.0, requires_grad=True), Tensor(2.0, requires_grad=True)
    assert grad(a * 3.0, a) == (3.0,) and a.grad is None
    with pytest.raises(GradcheckError, match="allow_unused"):
        grad(a * 3.0, [a, b])
    assert grad(a * 3.0, [a, b], allow_unused=True)[1] is None
    assert grad(a * 3.0, [a, b], materialize_grads=True)[1] == 0.0
    ga, gb = grad([a * b, a + b], [a, b], grad_outputs=[np.array(1.0), np.array(2.0)])
    assert (ga, gb) == (2.0 + 2.0, 1.0 + 2.0)
    hidden = a * b
    assert grad(hidden * hidden, hidden) == (4.0,)  # an intermediate as input


def test_a_grad_output_that_requires_grad_is_differentiated_too():
    t, seed = Tensor(0.5, requires_grad=True), Tensor(3.0, requires_grad=True)
    (g,) = grad(np.sin(t), t, grad_outputs=seed, create_graph=True)
    assert grad(g, seed) == (math.cos(0.5),)


def test_a_primitive_without_second_order_rule_is_named():
    cube = Primitive("cube", lambda a: a ** 3, (lambda g, out, a: g * 3 * a * a,))
    t = Tensor(1.5, requires_grad=True)
    with pytest.raises(UnsupportedOperation, match="'cube'.*no second-order rule"):
        apply(cube, t).backward(create_graph=True)
    assert grad(apply(cube, t), t) == (6.75,)  # first order is unaffected


def test_a_vjp_that_leaves_the_tape_is_refused_not_wrong(monkeypatch):
    leaky = Primitive("leaky", np.sin, (lambda g, out, a: g * np.cos(np.asarray(a)),))
    monkeypatch.setitem(higher.TAPE_VJPS, "leaky", (leaky, leaky.vjps))
    t = Tensor(0.5, requires_grad=True)
    with pytest.raises(UnsupportedOperation, match="'leaky'.*does not run on the tape"):
        grad(apply(leaky, t), t, create_graph=True)


def test_data_replaced_after_use_is_refused():
    t = Tensor(0.5, requires_grad=True)
    out = t * t
    with no_grad():
        t -= 0.1  # rebinds t.data: the recorded graph saw the old value
    with pytest.raises(GradcheckError, match="replaced"):
        grad(out, t, create_graph=True)


def test_scalar_is_first_order_and_names_tensor():
    s = Scalar(0.5, requires_grad=True)
    out = s * s
    with pytest.raises(UnsupportedOperation, match="Tensor"):
        out.backward(create_graph=True)
    with pytest.raises(UnsupportedOperation, match="Tensor"):
        grad(out, s, create_graph=True)
    out.backward()
    assert s.grad == 1.0


def test_float32_stays_float32():
    t = Tensor([0.5, 1.5], dtype=np.float32, requires_grad=True)
    (g,) = grad((t ** t).sum(), t, create_graph=True)
    assert g.dtype == np.float32 and (h := grad(g.sum(), t)[0]).dtype == np.float32
    assert_close(h, [p ** p * ((math.log(p) + 1) ** 2 + 1 / p) for p in (0.5, 1.5)], rtol=1e-5)


def test_docstring_examples():
    assert doctest.testmod(higher).failed == 0 and doctest.testmod(higher).attempted > 0
