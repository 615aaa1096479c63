"""Forward mode: every primitive's JVP against its VJP, and ``jvp`` against SymPy.

(a) For every entry of PRIMITIVES (and the scatter primitive of higher.py) the dot test
``<u, J v> == <J^T u, v>`` between its JVP and its VJP, at seeded random inputs of a
suitable domain and shape, ties at the kinks included; a primitive without a row below
fails test_every_primitive_has_a_dot_test_row. (b) ``jvp`` of composite functions against
SymPy's directional derivatives at 50 digits, or reverse mode per output element.
(c) zeros for outputs independent of the tangents. (d) refusals. (e) a 10,000-op chain.
"""

import doctest
import math

import numpy as np
import pytest
import sympy

from gradcheck.errors import InputError, UnsupportedOperation
from gradcheck.tape import PRIMITIVES, Primitive, Tensor, apply, forward, grad, higher, jvp, primitives

DIGITS = 50
X, C = "x", "c"  # a differentiable argument, a constant one


def _ties(rng, shape):
    a = rng.normal(size=shape)
    b = a.copy()
    b.flat[::2] = rng.normal(size=b.flat[::2].shape)  # every other element a tie
    return a, b


def _with_zeros(rng, shape):
    a = rng.normal(size=shape)
    a.flat[::3] = 0.0
    return a


def _matrix(rng, shape):
    return rng.normal(size=shape) + 3 * np.eye(shape[-1])


_MASK = np.array([[True, False, True], [False, False, True]])
_UNARY_DOMAINS = {"log": (0.2, 3.0), "sqrt": (0.2, 3.0), "log1p": (-0.5, 2.0), "asin": (-0.9, 0.9),
                  "acos": (-0.9, 0.9), "tan": (-1.2, 1.2)}
_AT_ZERO = {"abs", "sign", "heaviside", "relu"}  # kinks at 0: checked there too


def unary_cases(name):
    def make(rng):
        if name in _AT_ZERO:
            return [_with_zeros(rng, (3, 4))]
        low, high = _UNARY_DOMAINS.get(name, (-2.0, 2.0))
        return [rng.uniform(low, high, size=(3, 4))]
    return [(make, (X,), {})]


def binary_cases(name):
    positive = name == "pow"

    def pair(shape_a, shape_b):
        def make(rng):
            if name in ("maximum", "minimum") and shape_a == shape_b:
                return list(_ties(rng, shape_a))
            a = rng.uniform(0.5, 2.0, size=shape_a) if positive else rng.normal(size=shape_a)
            return [a, rng.normal(size=shape_b) if not positive else rng.uniform(-1.5, 2.5, size=shape_b)]
        return (make, (X, X), {})

    cases = [pair((3, 4), (3, 4)), pair((3, 1), (1, 4)), pair((2, 3), ())]
    for constant in (2, 0.5, 0) if positive else (2, 0.5):  # a Python number on the right (pow's fast paths)
        cases.append((lambda rng, c=constant: [rng.uniform(0.5, 2.0, size=(3,)), c], (X, C), {}))
    return cases


def shaped(*shapes, params=None, kinds=None, draw=None):
    def make(rng):
        return [draw(rng, s) if draw else rng.normal(size=s) for s in shapes]
    return (make, kinds or (X,) * len(shapes), params or {})


STRUCTURAL = {
    "matmul": [shaped((3, 4), (4, 2)), shaped((4,), (4, 2)), shaped((3, 4), (4,)), shaped((4,), (4,)),
               shaped((2, 3, 4), (4, 2)), shaped((4,), (2, 4, 3))],
    "sum": [shaped((3, 4)), shaped((3, 4), params={"axis": 1}),
            shaped((2, 3, 4), params={"axis": (0, -1), "keepdims": True})],
    "mean": [shaped((3, 4)), shaped((3, 4), params={"axis": -1, "keepdims": True}),
             shaped((2, 3, 4), params={"axis": (0, 2)})],
    "reshape": [shaped((3, 4), params={"shape": (2, 6)}), shaped((6,), params={"shape": (3, -1, 2)})],
    "transpose": [shaped((3, 4)), shaped((2, 3, 4), params={"axes": (2, 0, 1)})],
    "getitem": [shaped((4, 3), params={"index": (slice(1, 3), 0)}),
                shaped((4, 3), params={"index": np.array([0, 2, 0])}),
                shaped((2, 3), params={"index": _MASK}),
                shaped((3, 4), params={"index": (np.arange(3), np.array([1, 3, 1]))}),
                shaped((3,), params={"index": (Ellipsis, None)})],
    "broadcast_to": [shaped((3, 1), params={"shape": (2, 3, 4)})],
    "where": [(lambda rng: [_MASK, rng.normal(size=(2, 3)), rng.normal(size=(3,))], (C, X, X), {})],
    "getitem_vjp": [shaped((3,), params={"shape": (4,), "index": np.array([0, 2, 0])}),
                    shaped((2, 2), params={"shape": (3, 2), "index": (slice(None, 2),)})],
    "det": [shaped((3, 3), draw=_matrix), shaped((2, 3, 3), draw=_matrix)],
    "logabsdet": [shaped((3, 3), draw=_matrix), shaped((2, 3, 3), draw=_matrix)],
    "inv": [shaped((3, 3), draw=_matrix), shaped((2, 3, 3), draw=_matrix)],
    "solve": [(lambda rng: [_matrix(rng, (3, 3)), rng.normal(size=s)], (X, X), {})
              for s in ((3,), (3, 2))]
             + [(lambda rng: [_matrix(rng, (2, 3, 3)), rng.normal(size=(3,))], (X, X), {}),
                (lambda rng: [_matrix(rng, (2, 3, 3)), rng.normal(size=(1, 3, 2))], (X, X), {}),
                (lambda rng: [_matrix(rng, (3, 3)), rng.normal(size=(2, 3, 2))], (X, X), {})],
    "pad": [shaped((2, 3), params={"pad_width": ((1, 0), (2, 1))})],
    "concatenate": [shaped((2, 1), (2, 3), (2, 2), params={"axis": 1}),
                    (lambda rng: [rng.normal(size=(1, 2)), np.ones((2, 2)), rng.normal(size=(3, 2))],
                     (X, C, X), {"axis": 0})],
    "einsum": [shaped((2, 3), (3, 2), (2, 4), params={"subscripts": "ij,jk,kl->il", "optimize": False}),
               shaped((3, 3), params={"subscripts": "ii->i", "optimize": False}),
               shaped((2, 2, 3), params={"subscripts": "iij->", "optimize": False}),
               shaped((1, 3), (4, 3), params={"subscripts": "ai,ai->a", "optimize": False}),
               shaped((2, 3), (3,), params={"subscripts": "ij,j->i", "optimize": "greedy"})],
}

CASES = {**{n: unary_cases(n) for n in ("neg", "exp", "log", "sqrt", "log1p", "expm1", "sin", "cos",
                                          "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "abs",
                                          "sign", "heaviside", "dirac_delta", "relu", "sigmoid", "softplus")},
         **{n: binary_cases(n) for n in ("add", "sub", "mul", "div", "pow", "maximum", "minimum")},
         **STRUCTURAL}


def all_primitives():
    """PRIMITIVES and the primitives only higher.py's create_graph records (the scatter)."""
    return {**{p.name: p for p, _ in higher.TAPE_VJPS.values()}, **PRIMITIVES}


def test_every_primitive_has_a_dot_test_row():
    assert set(CASES) == set(all_primitives())


def test_every_primitive_has_a_jvp_wherever_it_has_a_vjp():
    for prim in all_primitives().values():
        assert len(prim.jvps) == len(prim.vjps), prim.name
        assert [j is None for j in prim.jvps] == [v is None for v in prim.vjps], prim.name


def _dot_cases():
    for name, cases in sorted(CASES.items()):
        for i, case in enumerate(cases):
            yield pytest.param(name, case, id=f"{name}-{i}")


@pytest.mark.parametrize("name,case", list(_dot_cases()))
def test_dot_test_between_jvp_and_vjp(name, case):
    make, kinds, params = case
    prim = all_primitives()[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    args = [a if isinstance(a, (int, float)) else np.asarray(a) for a in make(rng)]
    with np.errstate(all="ignore"):
        out = np.asarray(prim.forward(*args, **params))
        for k, kind in enumerate(kinds):
            if kind != X:
                continue
            v, u = rng.normal(size=np.shape(args[k])), rng.normal(size=out.shape)
            jv = np.asarray(prim.jvps[k](v, out, *args, **params))
            jtu = np.asarray(prim.vjps[k](u, out, *args, **params))
            assert jv.shape == out.shape and jtu.shape == np.shape(args[k]), (name, k)
            left, right = np.sum(u * jv), np.sum(jtu * v)
            scale = np.sum(np.abs(u * jv)) + np.sum(np.abs(jtu * v))
            assert abs(left - right) <= 1e-12 * scale, (name, k, left, right)


def test_forward_mode_keeps_the_tie_conventions():
    _, (dmax, drelu, dabs, dmin) = jvp(
        lambda x, y: (np.maximum(x, y), x.relu(), abs(x), np.minimum(x, y)),
        {"x": np.array([0.0, 1.0]), "y": np.array([0.0, 2.0])},
        {"x": np.array([1.0, 1.0]), "y": np.array([0.0, 0.0])})
    assert dmax.tolist() == [0.5, 0.0] and dmin.tolist() == [0.5, 1.0]
    assert drelu.tolist() == [0.5, 1.0] and dabs.tolist() == [0.0, 1.0]


# ---------------------------------------------------------------- (b) composites against SymPy
def symbol_array(prefix, shape):
    n = int(np.prod(shape, dtype=int))
    return np.array([sympy.Symbol(f"{prefix}{i}", real=True) for i in range(n)], dtype=object).reshape(shape)


def sympy_directional(exprs, symbols, point, tangents):
    """d/de exprs(point + e * tangents) at e = 0, at 50 digits: SymPy's Jacobian-vector product."""
    e = sympy.Symbol("e")
    along = {s: sympy.Float(v, DIGITS) + e * sympy.Float(t, DIGITS) for name, syms in symbols.items()
             for s, v, t in zip(syms.flat, np.ravel(point[name]), np.ravel(tangents.get(name, np.zeros(syms.shape))))}
    return np.array([float(sympy.diff(sympy.sympify(x).xreplace(along), e).subs(e, 0).evalf(DIGITS))
                     for x in np.ravel(exprs)]).reshape(np.shape(exprs))


_tanh, _exp, _sqrt = (np.vectorize(f, otypes=[object]) for f in (sympy.tanh, sympy.exp, sympy.sqrt))


def _matrix_of(a):
    return sympy.Matrix(a.tolist())


def _mlp(W, x, b):
    return np.tanh(W @ x + b)


def _softmax(x):
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _layernorm(x, gamma, beta):
    return (x - x.mean(axis=-1, keepdims=True)) / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5) * gamma + beta


def _sym_layernorm(x, gamma, beta):
    d = x - x.sum(axis=-1, keepdims=True) / 4
    return d / _sqrt((d * d).sum(axis=-1, keepdims=True) / 4 + sympy.Float(1e-5, DIGITS)) * gamma + beta


def _linalg(A, B):
    return np.linalg.inv(A) @ B * np.linalg.det(A) + np.linalg.slogdet(A)[1] + np.trace(np.linalg.solve(A, A @ A))


def _sym_linalg(A, B):
    a = _matrix_of(A)
    det, inv = a.det(), a.adjugate() / a.det()
    return (np.array((inv * _matrix_of(B)).tolist(), dtype=object) * det
            + sympy.log(det ** 2) / 2 + (a.adjugate() * a * a / det).trace())


COMPOSITES = {
    "mlp layer": (_mlp, lambda W, x, b: _tanh(W @ x + b), {"W": (3, 4), "x": (4,), "b": (3,)}),
    "softmax": (_softmax, lambda x: _exp(x) / _exp(x).sum(axis=1, keepdims=True), {"x": (2, 3)}),
    "layernorm": (_layernorm, _sym_layernorm, {"x": (2, 4), "gamma": (4,), "beta": (4,)}),
    "det inv solve": (_linalg, _sym_linalg, {"A": (3, 3), "B": (3, 2)}),
    "einsum and pad": (lambda a, b: np.einsum("ij,jk->ik", np.pad(a, ((0, 1), (0, 0))), b) ** 2,
                       lambda a, b: np.einsum("ij,jk->ik", np.pad(a, ((0, 1), (0, 0))), b) ** 2,
                       {"a": (2, 3), "b": (3, 2)}),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES))
def test_jvp_of_composites_against_sympy(name):
    fn, symbolic, shapes = COMPOSITES[name]
    rng = np.random.default_rng(11)
    point = {n: rng.normal(size=s) + (3 * np.eye(s[0]) if n == "A" else 0) for n, s in shapes.items()}
    tangents = {n: rng.normal(size=s) for n, s in shapes.items()}
    out, tangent = jvp(fn, point, tangents)
    np.testing.assert_allclose(out, fn(**point), rtol=1e-14)
    symbols = {n: symbol_array(n, s) for n, s in shapes.items()}
    want = sympy_directional(symbolic(**symbols), symbols, point, tangents)
    assert tangent.dtype == np.float64 and tangent.shape == want.shape
    np.testing.assert_allclose(tangent, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_jvp_of_a_tuple_output_against_reverse_mode_per_element():
    rng = np.random.default_rng(12)
    point = {"A": rng.normal(size=(3, 3)) + 3 * np.eye(3), "x": rng.normal(size=3), "n": 2, "flag": True}
    tangents = {"A": rng.normal(size=(3, 3)), "x": rng.normal(size=3)}

    def f(A, x, n, flag):
        assert n == 2 and flag is True  # non-float arguments arrive as they are
        return [np.sum(x) ** n, np.linalg.solve(A, np.concatenate([x[:2], np.exp(x[2:])]))]

    outs, derivatives = jvp(f, point, tangents)
    assert isinstance(outs, tuple) and isinstance(derivatives, tuple) and len(derivatives) == 2
    leaves = {n: Tensor(point[n], requires_grad=True) for n in tangents}
    results = f(**{**point, **leaves})
    for out, derivative in zip(results, derivatives):
        for i in np.ndindex(out.shape):
            seed = np.zeros(out.shape)
            seed[i] = 1.0
            grads = grad(out, list(leaves.values()), grad_outputs=seed, retain_graph=True,
                         materialize_grads=True)
            want = sum(np.sum(g * tangents[n]) for g, n in zip(grads, leaves))
            assert math.isclose(derivative[i], want, rel_tol=1e-13, abs_tol=1e-15)


# ---------------------------------------------------------------- (c) outputs independent of the tangents
def test_outputs_not_depending_on_the_tangents_get_zeros():
    point = {"x": np.array([1.0, 2.0]), "y": np.array([[3.0], [4.0]]), "k": 3}
    outs, tangents = jvp(lambda x, y, k: (x * k, y + 1, 2.5, np.ones(3), x.detach() * 2, x),
                         point, {"x": np.array([1.0, -1.0])})
    assert [t.tolist() for t in tangents] == [[3.0, -3.0], [[0.0], [0.0]], 0.0, [0.0] * 3, [0.0, 0.0],
                                              [1.0, -1.0]]
    assert all(o.dtype == np.float64 and t.shape == o.shape for o, t in zip(outs, tangents))
    out, tangent = jvp(lambda x: np.sin(x), {"x": np.array(0.0)}, {})
    assert out == 0.0 and tangent == 0.0


# ---------------------------------------------------------------- (d) refusals
@pytest.mark.parametrize("function,message", [
    (lambda x: float(x.sum()) * x, "float\\(\\) of a traced tensor.*leaves the tape"),
    (lambda x: np.add.at(np.zeros(3), [0, 0], x), "numpy.add.at .*scatter_add"),
    (lambda x: np.cumsum(x), "no rule for numpy.cumsum"),
    (lambda x: np.linalg.eig(x.reshape(1, 2) * x.reshape(2, 1)), "no rule for numpy.linalg.eig"),
    (lambda x: apply(Primitive("cube", lambda a: a ** 3, (lambda g, out, a: 3 * g * a * a,)), x),
     "forward mode through primitive 'cube': it has no JVP"),
])
def test_refusals_name_the_operation(function, message):
    with pytest.raises(UnsupportedOperation, match=message):
        jvp(function, {"x": np.array([1.0, 2.0])}, {"x": np.array([1.0, 0.0])})


def test_malformed_tangents_are_input_errors():
    with pytest.raises(InputError, match="shape"):
        jvp(lambda x: x, {"x": np.ones(2)}, {"x": np.ones(3)})
    with pytest.raises(InputError, match="'z'"):
        jvp(lambda x: x, {"x": np.ones(2)}, {"z": np.ones(2)})


# ---------------------------------------------------------------- (e) deep graphs
def test_a_chain_of_10000_operations_does_not_recurse():
    def chain(x):
        for _ in range(5000):
            x = np.sin(x) * 1.0001
        return x

    out, tangent = jvp(chain, {"x": np.array(0.5)}, {"x": np.array(2.0)})
    value, derivative = 0.5, 2.0
    for _ in range(5000):  # the chain rule by hand, in floats
        value, derivative = math.sin(value) * 1.0001, math.cos(value) * 1.0001 * derivative
    assert math.isclose(out, value, rel_tol=1e-15) and math.isclose(tangent, derivative, rel_tol=1e-12)


@pytest.mark.parametrize("module", [forward, primitives])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0
