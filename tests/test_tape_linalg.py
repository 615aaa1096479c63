"""The tape's NumPy coverage: linear algebra, einsum, pad, concatenation and stacks, max/min
over tuples of axes, var/std, fancy and mask indexing, scatter_add.

Each operation's value is checked against NumPy's own (the same lambda run on plain
arrays), and its gradient, the VJP of a random cotangent ``G``, against SymPy: the
derivatives of ``sum(G * f(symbols))`` evaluated at 50 digits, where ``f(symbols)`` is
a SymPy closed form (``Matrix.det``, the adjugate) or NumPy itself run on arrays of
symbols (einsum, pad, concatenate, indexing). The shape-heavy operations are checked
against central finite differences too, and every new primitive's VJP is differentiated
again (create_graph=True) against central differences of the gradient.
"""

import numpy as np
import pytest
import sympy

from gradcheck.errors import UnsupportedOperation
from gradcheck.tape import Tensor, grad, jvp, scatter_add
from gradcheck.tape import arrays, contract, higher, linalg

DIGITS = 50
RTOL = 1e-12


# ---------------------------------------------------------------- truth
def symbol_array(prefix, shape):
    n = int(np.prod(shape, dtype=int))
    return np.array([sympy.Symbol(f"{prefix}{i}", real=True) for i in range(n)], dtype=object).reshape(shape)


def sympy_vjp(exprs, symbols, values, cotangent):
    """The gradient of sum(cotangent * exprs) with respect to each symbol array, at 50 digits."""
    loss = sympy.Add(*(sympy.Float(g, DIGITS) * sympy.sympify(e) for g, e in
                       zip(np.ravel(cotangent), np.ravel(exprs))))
    at = {s: sympy.Float(v, DIGITS) for syms, vals in zip(symbols, values)
          for s, v in zip(syms.flat, np.ravel(vals))}
    return [np.array([float(sympy.diff(loss, s).xreplace(at).evalf(DIGITS)) for s in syms.flat]
                     ).reshape(syms.shape) for syms in symbols]


def central_vjp(fn, values, cotangent, h=1e-6):
    grads = []
    for k, v in enumerate(values):
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            step = h * max(1.0, abs(v[i]))
            plus, minus = [x.copy() for x in values], [x.copy() for x in values]
            plus[k][i] += step
            minus[k][i] -= step
            g[i] = (np.sum(cotangent * fn(*plus)) - np.sum(cotangent * fn(*minus))) / (2 * step)
        grads.append(g)
    return grads


def assert_close(got, want, rtol=RTOL):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(np.abs(want).max(initial=0), 1e-300))


def draw(rng, shape, domain):
    if domain == "matrix" and len(shape) >= 2 and shape[-1] == shape[-2]:  # well conditioned
        return rng.normal(size=shape) + 3 * np.eye(shape[-1])
    return np.asarray(rng.normal(size=shape))


def check(fn, shapes, truth=None, domain="normal", seed=0, finite=False):
    """Value against NumPy, VJP against SymPy (``truth`` on symbol arrays, else ``fn``
    itself), and optionally against central differences."""
    rng = np.random.default_rng(seed)
    domains = domain if isinstance(domain, tuple) else (domain,) * len(shapes)
    values = [draw(rng, s, d) for s, d in zip(shapes, domains)]
    tensors = [Tensor(v, requires_grad=True) for v in values]
    out = fn(*tensors)
    want = np.asarray(fn(*values))
    assert isinstance(out, Tensor) and out.shape == want.shape
    assert_close(out.data, want, rtol=1e-13)
    cotangent = rng.normal(size=want.shape)
    grads = grad(out, tensors, grad_outputs=cotangent)
    symbols = [symbol_array(f"x{k}_", s) for k, s in enumerate(shapes)]
    for got, expected in zip(grads, sympy_vjp((truth or fn)(*symbols), symbols, values, cotangent)):
        assert_close(got, expected)
    if finite:
        for got, expected in zip(grads, central_vjp(fn, values, cotangent)):
            assert_close(got, expected, rtol=1e-7)


def matrix(a):
    return sympy.Matrix(a.tolist())


def array_of(m, shape):
    return np.array(m.tolist(), dtype=object).reshape(shape)


def sym_solve(a, b):
    a_ = matrix(a)
    return array_of(a_.adjugate() * sympy.Matrix(b.tolist()) / a_.det(), b.shape)


_sabs = np.vectorize(sympy.Abs, otypes=[object])
_ssqrt = np.vectorize(sympy.sqrt, otypes=[object])


def sym_reduce(f, a, axis, keepdims=False):
    """SymPy's ``f`` (Max, Min) of the elements of ``a`` over ``axis`` (an int or a tuple)."""
    axes = tuple(ax % a.ndim for ax in (axis if isinstance(axis, tuple) else (axis,)))
    kept = [i for i in range(a.ndim) if i not in axes]
    moved = np.transpose(a, kept + list(axes)).reshape([a.shape[i] for i in kept] + [-1])
    out = np.empty(moved.shape[:-1], dtype=object)
    for i in np.ndindex(out.shape):
        out[i] = f(*moved[i])
    return out.reshape([1 if i in axes else n for i, n in enumerate(a.shape)]) if keepdims else out


def sym_var(a, axis=None, ddof=0, keepdims=False):
    n = a.size if axis is None else int(np.prod([a.shape[i] for i in np.atleast_1d(axis)]))
    d = a - a.sum(axis=axis, keepdims=True) / n
    return (d * d).sum(axis=axis, keepdims=keepdims) / (n - ddof)


# ---------------------------------------------------------------- linear algebra against SymPy
LINALG = {
    "det": (lambda a: np.linalg.det(a), lambda a: np.array(matrix(a).det()), [(3, 3)]),
    "det batched": (lambda a: np.linalg.det(a), lambda a: np.array([matrix(m).det() for m in a]), [(2, 3, 3)]),
    "slogdet": (lambda a: np.linalg.slogdet(a)[1], lambda a: np.array(sympy.log(matrix(a).det() ** 2) / 2),
                [(3, 3)]),
    "inv": (lambda a: np.linalg.inv(a), lambda a: array_of(matrix(a).adjugate() / matrix(a).det(), a.shape),
            [(3, 3)]),
    "solve vector": (lambda a, b: np.linalg.solve(a, b), sym_solve, [(3, 3), (3,)]),
    "solve matrix": (lambda a, b: np.linalg.solve(a, b), sym_solve, [(3, 3), (3, 2)]),
    "solve batched": (lambda a, b: np.linalg.solve(a, b),
                      lambda a, b: np.array([sym_solve(m, c) for m, c in zip(a, b)]), [(2, 3, 3), (2, 3, 2)]),
    "solve batched vector": (lambda a, b: np.linalg.solve(a, b),
                             lambda a, b: np.array([sym_solve(m, b) for m in a]), [(2, 3, 3), (3,)]),
    "matrix_power 1": (lambda a: np.linalg.matrix_power(a, 1), lambda a: a, [(3, 3)]),
    "matrix_power 3": (lambda a: np.linalg.matrix_power(a, 3), lambda a: array_of(matrix(a) ** 3, a.shape),
                       [(3, 3)]),
    "matrix_power 5": (lambda a: np.linalg.matrix_power(a, 5), lambda a: array_of(matrix(a) ** 5, a.shape),
                       [(2, 2)]),
    "matrix_power -2": (lambda a: np.linalg.matrix_power(a, -2),
                        lambda a: array_of((matrix(a).adjugate() / matrix(a).det()) ** 2, a.shape), [(2, 2)]),
    "trace": (lambda a: np.trace(a), None, [(3, 3)]),
    "trace offset": (lambda a: np.trace(a, 1), None, [(3, 4)]),
    "trace axes": (lambda a: np.trace(a, -1, axis1=1, axis2=2), None, [(2, 4, 3)]),
    "diagonal": (lambda a: np.diagonal(a, 1, 0, 2), None, [(3, 2, 4)]),
}


@pytest.mark.parametrize("name", sorted(LINALG))
def test_linear_algebra_against_sympy(name):
    fn, truth, shapes = LINALG[name]
    check(fn, shapes, truth, domain="matrix" if name.startswith(("det", "slog", "inv", "solve", "matrix"))
          else "normal")


def test_slogdet_sign_is_a_constant_and_matrix_power_0_the_identity():
    a = Tensor(np.array([[0.0, 2.0], [1.0, 0.5]]), requires_grad=True)
    sign, logabsdet = np.linalg.slogdet(a)
    assert type(sign) is type(np.linalg.slogdet(a.data)[0]) and sign == -1.0  # NumPy's, not a Tensor
    assert isinstance(logabsdet, Tensor) and logabsdet.requires_grad
    assert type(np.linalg.slogdet(Tensor(np.ones((2, 3, 3)))).sign) is np.ndarray
    assert logabsdet.item() == np.linalg.slogdet(a.data)[1]
    assert np.linalg.matrix_power(a, 0).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert not np.linalg.matrix_power(a, 0).requires_grad


NORMS = {
    "vector": (lambda x: np.linalg.norm(x), lambda x: np.array(sympy.sqrt((x * x).sum())), [(5,)]),
    "vector 2": (lambda x: np.linalg.norm(x, 2), lambda x: np.array(sympy.sqrt((x * x).sum())), [(5,)]),
    "vector 1": (lambda x: np.linalg.norm(x, 1), lambda x: np.array(_sabs(x).sum()), [(5,)]),
    "vector inf": (lambda x: np.linalg.norm(x, np.inf), lambda x: np.array(sympy.Max(*_sabs(x))), [(5,)]),
    "vector -inf": (lambda x: np.linalg.norm(x, -np.inf), lambda x: np.array(sympy.Min(*_sabs(x))), [(5,)]),
    "vector 3": (lambda x: np.linalg.norm(x, 3),
                 lambda x: np.array(((_sabs(x) ** 3).sum()) ** sympy.Rational(1, 3)), [(5,)]),
    "rows": (lambda x: np.linalg.norm(x, axis=1), lambda x: _ssqrt((x * x).sum(axis=1)), [(3, 4)]),
    "rows keepdims": (lambda x: np.linalg.norm(x, 1, axis=-1, keepdims=True),
                      lambda x: _sabs(x).sum(axis=-1, keepdims=True), [(3, 4)]),
    "columns inf": (lambda x: np.linalg.norm(x, np.inf, axis=0), lambda x: sym_reduce(sympy.Max, _sabs(x), 0),
                    [(3, 4)]),
    "all flattened": (lambda x: np.linalg.norm(x, keepdims=True),
                      lambda x: np.array(sympy.sqrt((x * x).sum())).reshape(1, 1, 1), [(2, 3, 2)]),
    "fro": (lambda x: np.linalg.norm(x, "fro"), lambda x: np.array(sympy.sqrt((x * x).sum())), [(3, 4)]),
    "matrix 1": (lambda x: np.linalg.norm(x, 1), lambda x: np.array(sympy.Max(*_sabs(x).sum(axis=0))), [(3, 4)]),
    "matrix inf": (lambda x: np.linalg.norm(x, np.inf),
                   lambda x: np.array(sympy.Max(*_sabs(x).sum(axis=1))), [(3, 4)]),
    "matrix -1": (lambda x: np.linalg.norm(x, -1), lambda x: np.array(sympy.Min(*_sabs(x).sum(axis=0))), [(3, 4)]),
    "stack fro keepdims": (lambda x: np.linalg.norm(x, axis=(1, 2), keepdims=True),
                           lambda x: _ssqrt((x * x).sum(axis=(1, 2), keepdims=True)), [(2, 3, 4)]),
    "stack 1 axes (2, 0)": (lambda x: np.linalg.norm(x, 1, axis=(2, 0)),
                            lambda x: sym_reduce(sympy.Max, _sabs(x).sum(axis=2), 0), [(2, 3, 4)]),
}


@pytest.mark.parametrize("name", sorted(NORMS))
def test_norm_against_sympy(name):
    fn, truth, shapes = NORMS[name]
    check(fn, shapes, truth, seed=3)


def test_norm_refuses_singular_value_norms():
    with pytest.raises(UnsupportedOperation, match="numpy.linalg.norm"):
        np.linalg.norm(Tensor(np.eye(2), requires_grad=True), 2)


# ---------------------------------------------------------------- shape-heavy: SymPy and central differences
_MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])
_IDX = np.array([0, 2, 0, 0, 1])
SHAPES = {
    "pad 1": (lambda a: np.pad(a, 1), None, [(2, 3)]),
    "pad pairs": (lambda a: np.pad(a, ((1, 0), (2, 1))), None, [(2, 3)]),
    "pad (1, 2)": (lambda a: np.pad(a, (1, 2)), None, [(2, 3, 2)]),
    "pad ((1, 2),)": (lambda a: np.pad(a, ((1, 2),)), None, [(2, 3)]),
    "pad constant": (lambda a: np.pad(a, 2, constant_values=2.5), None, [(3,)]),
    "pad per-axis constants": (lambda a: np.pad(a, 1, constant_values=((1.0, 2.0), (3.0, 4.0))), None, [(2, 2)]),
    "pad tensor constant": (lambda a, c: np.pad(a, (0, 2), constant_values=c),
                            lambda a, c: np.concatenate([a, [c[()], c[()]]]), [(3,), ()]),
    "einsum matmul": (lambda a, b: np.einsum("ij,jk->ik", a, b), None, [(2, 3), (3, 4)]),
    "einsum implicit": (lambda a, b: np.einsum("ij,jk", a, b), None, [(2, 3), (3, 4)]),
    "einsum implicit order": (lambda a, b: np.einsum("bA,Ac", a, b), None, [(2, 3), (3, 4)]),
    "einsum trace": (lambda a: np.einsum("ii", a), None, [(3, 3)]),
    "einsum diagonal": (lambda a: np.einsum("ii->i", a), None, [(3, 3)]),
    "einsum repeated and summed": (lambda a: np.einsum("iij->", a), None, [(2, 2, 3)]),
    "einsum transpose": (lambda a: np.einsum("ijk->kij", a), None, [(2, 3, 2)]),
    "einsum sum": (lambda a: np.einsum("ij->", a), None, [(2, 3)]),
    "einsum outer": (lambda a, b: np.einsum("i,j->ij", a, b), None, [(3,), (2,)]),
    "einsum inner": (lambda a: np.einsum("i,i", a, a), None, [(4,)]),
    "einsum three": (lambda a, b, c: np.einsum("ij,jk,kl->il", a, b, c), None, [(2, 3), (3, 2), (2, 2)]),
    "einsum batched ellipsis": (lambda a, b: np.einsum("...ij,...jk->...ik", a, b), None, [(2, 2, 3), (3, 2)]),
    "einsum broadcast length 1": (lambda a, b: np.einsum("...i,...i->...", a, b), None, [(1, 3), (4, 3)]),
    "einsum implicit ellipsis": (lambda a, b: np.einsum("...j,j", a, b), None, [(2, 3), (3,)]),
    "tensordot": (lambda a, b: np.tensordot(a, b, 1), None, [(2, 3), (3, 2)]),
    "tensordot pairs": (lambda a, b: np.tensordot(a, b, axes=([1, 0], [0, 1])), None, [(2, 3, 2), (3, 2)]),
    "outer": (lambda a, b: np.outer(a, b), None, [(2, 2), (3,)]),
    "concatenate": (lambda a, b: np.concatenate([a, b]), None, [(2, 3), (1, 3)]),
    "concatenate axis 1 with a constant": (lambda a, b: np.concatenate([a, np.ones((2, 1)), b], axis=1), None,
                                           [(2, 3), (2, 2)]),
    "concatenate axis -1": (lambda a, b: np.concatenate((a, b, a), axis=-1), None, [(2, 1, 2), (2, 1, 3)]),
    "concatenate axis None": (lambda a, b: np.concatenate([a, b], axis=None), None, [(2, 2), (3,)]),
    "stack": (lambda a, b: np.stack([a, b]), None, [(2, 3), (2, 3)]),
    "stack axis -1": (lambda a, b: np.stack([a, np.zeros(3), b], axis=-1), None, [(3,), (3,)]),
    "hstack 1-D": (lambda a, b: np.hstack([a, b]), None, [(2,), (3,)]),
    "hstack 2-D": (lambda a, b: np.hstack([a, b]), None, [(2, 1), (2, 3)]),
    "vstack 1-D": (lambda a, b: np.vstack([a, b]), None, [(3,), (3,)]),
    "vstack 2-D": (lambda a, b: np.vstack((a, b)), None, [(1, 3), (2, 3)]),
    "fancy rows repeated": (lambda w: w[_IDX], None, [(3, 4)]),
    "fancy pairs": (lambda x: x[np.arange(3), np.array([1, 3, 1])], None, [(3, 4)]),
    "mask": (lambda x: x[_MASK], None, [(3, 4)]),
    "mask of rows": (lambda x: x[np.array([True, False, True])], None, [(3, 4)]),
    "scatter_add": (lambda t, v: scatter_add(t, np.array([0, 2, 0]), v), None, [(4,), (3,)]),
    "scatter_add rows, broadcast": (lambda t, v: scatter_add(t, (np.array([1, 1]),), v), None, [(3, 2), (2,)]),
    "max over (1, 2)": (lambda x: x.max(axis=(1, 2)), lambda x: sym_reduce(sympy.Max, x, (1, 2)), [(2, 3, 4)]),
    "max over (0, 2) keepdims": (lambda x: np.max(x, axis=(0, 2), keepdims=True),
                                 lambda x: sym_reduce(sympy.Max, x, (0, 2), True), [(2, 3, 4)]),
    "min over (-1, 0)": (lambda x: np.amin(x, axis=(-1, 0)), lambda x: sym_reduce(sympy.Min, x, (2, 0)),
                         [(2, 3, 4)]),
    "max pool": (lambda x: x.reshape(1, 2, 2, 2, 2, 2).max(axis=(3, 5)),
                 lambda x: sym_reduce(sympy.Max, x.reshape(1, 2, 2, 2, 2, 2), (3, 5)), [(1, 2, 4, 4)]),
    "var": (lambda x: np.var(x), lambda x: np.array(sym_var(x)), [(3, 4)]),
    "var axis ddof": (lambda x: np.var(x, axis=0, ddof=1), lambda x: sym_var(x, 0, 1), [(3, 4)]),
    "var tuple keepdims": (lambda x: np.var(x, axis=(0, 2), keepdims=True),
                           lambda x: sym_var(x, (0, 2), 0, True), [(2, 3, 2)]),
    "var method": (lambda x: x.var(axis=1, ddof=1), lambda x: sym_var(x, 1, 1), [(3, 4)]),
    "std": (lambda x: np.std(x, axis=-1), lambda x: _ssqrt(sym_var(x, 1)), [(3, 4)]),
    "std method": (lambda x: x.std(ddof=1), lambda x: np.array(sympy.sqrt(sym_var(x, None, 1))), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_shape_operations_against_sympy_and_finite_differences(name):
    fn, truth, shapes = SHAPES[name]
    if name.startswith("scatter_add"):
        index = np.array([0, 2, 0]) if name == "scatter_add" else (np.array([1, 1]),)

        def fn(t, v, index=index):  # NumPy's counterpart: np.add.at on a copy
            if isinstance(t, Tensor) or isinstance(v, Tensor):
                return scatter_add(t, index, v)
            out = t.copy()
            np.add.at(out, index, v)
            return out
    check(fn, shapes, truth, seed=5, finite=True)


def test_values_leaving_numpy_in_place_are_refused():
    target, values = np.zeros(3), Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(UnsupportedOperation, match=r"numpy.add.at .*scatter_add\(target, index, values\)"):
        np.add.at(target, [0, 0], values)
    with pytest.raises(UnsupportedOperation, match="mode 'constant'"):
        np.pad(values, 1, mode="edge")
    with pytest.raises(UnsupportedOperation, match="sublist"):
        np.einsum(values, [0], [])


def test_softmax_loss_and_convolution_patterns():
    """What a NumPy CNN does: max-pool, a stable softmax, x[arange(N), y], np.maximum(0, x)."""
    rng = np.random.default_rng(2)
    x0, w0, y = rng.normal(size=(2, 1, 4, 4)), rng.normal(size=(4, 3)), np.array([2, 0])

    def loss(x, w):
        h = np.maximum(0, x).reshape(2, 1, 2, 2, 2, 2).max(axis=(3, 5))
        z = h.reshape(2, -1) @ w
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
        return -np.sum(logp[np.arange(2), y]) / 2 + 0.1 * np.sum(w.T * w.T)

    tx, tw = Tensor(x0, requires_grad=True), Tensor(w0, requires_grad=True)
    out = loss(tx, tw)
    assert_close(out.data, loss(x0, w0), rtol=1e-14)
    got = grad(out, [tx, tw])
    for g, want in zip(got, central_vjp(loss, [x0, w0], np.array(1.0))):
        assert_close(g, want, rtol=1e-7)


# ---------------------------------------------------------------- second order through the new primitives
SECOND = {
    "det": lambda a, b: np.linalg.det(a) ** 2,
    "logabsdet": lambda a, b: np.linalg.slogdet(a)[1] * np.sum(a),
    "inv": lambda a, b: np.sum(np.linalg.inv(a) ** 2),
    "solve": lambda a, b: np.sum(np.linalg.solve(a, b) ** 2),
    "einsum": lambda a, b: np.einsum("ij,jk,ki->", a, b, a) + np.einsum("ii", a * a),
    "pad": lambda a, b: np.sum(np.pad(a * b, 1) ** 3),
    "concatenate": lambda a, b: np.sum(np.concatenate([a, b], axis=1) ** 3),
}


@pytest.mark.parametrize("name", sorted(SECOND))
def test_second_order_through_the_new_primitives(name):
    assert name in higher.TAPE_VJPS
    rng = np.random.default_rng(4)
    a0, b0, v = rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    f = SECOND[name]

    def gradient(a):
        ta = Tensor(a, requires_grad=True)
        return grad(f(ta, b0), ta)[0]

    ta = Tensor(a0, requires_grad=True)
    (g,) = grad(f(ta, b0), ta, create_graph=True)
    (hv,) = grad(g, ta, grad_outputs=v)
    h = 1e-5
    assert_close(hv, (gradient(a0 + h * v) - gradient(a0 - h * v)) / (2 * h), rtol=1e-7)


def test_forward_mode_through_the_new_operations_matches_reverse_mode():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(3, 3)) + 3 * np.eye(3), rng.normal(size=(3, 2))
    ta, tb = rng.normal(size=(3, 3)), rng.normal(size=(3, 2))

    def f(a, b):
        return (np.linalg.slogdet(a)[1] + np.trace(np.linalg.inv(a)) + np.linalg.norm(np.linalg.solve(a, b))
                + np.einsum("ij,jk->", a, b) + np.var(np.pad(b, 1), axis=0).sum()
                + np.stack([a[:, :2], b]).max(axis=(0, 2)).sum())

    _, tangent = jvp(f, {"a": a, "b": b}, {"a": ta, "b": tb})
    tensors = [Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)]
    ga, gb = grad(f(*tensors), tensors)
    assert_close(tangent, np.sum(ga * ta) + np.sum(gb * tb), rtol=1e-13)


@pytest.mark.parametrize("module", [arrays, contract, linalg])
def test_docstring_examples(module):
    import doctest
    assert doctest.testmod(module).failed == 0
