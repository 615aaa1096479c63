"""The stand-in's linear algebra, einsum, joins, padding, statistics and indexing: each
against NumPy on seeded random numbers, the SymPy derivatives of det, slogdet, inv,
solve, norm and friends against their closed forms, the refusals named, and one check
per group through gradcheck.check."""

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck.budget import Budget
from gradcheck.errors import UnsupportedOperation
from gradcheck.symbolic import _differentiate
from gradcheck.stand_in import StandIn, as_expression, symbols
from gradcheck.stand_in.linalg import MATRIX_LIMIT

RTOL = 1e-12


def _inputs(shapes, seed=0):
    """Stand-ins and their seeded values (square matrices made well conditioned)."""
    rng = np.random.default_rng(seed)
    stands, values, subs = [], [], {}
    for name, shape in shapes.items():
        value = rng.normal(size=shape)
        if len(shape) >= 2 and shape[-1] == shape[-2]:
            value = value + 2.0 * np.eye(shape[-1])
        stand = symbols(name, shape)
        subs.update(zip(stand.array.flat, value.flat))
        stands.append(stand)
        values.append(value)
    return stands, values, subs


def _numbers(out, subs):
    array = np.asarray(out.array if isinstance(out, StandIn) else out, dtype=object)
    flat = [float(sympy.sympify(e).xreplace(subs)) for e in array.flat]
    return np.array(flat).reshape(array.shape)


def _gradient(out, stand, subs):
    """d sum(out) / d stand at the values in subs: SymPy's diff of the traced expression,
    term by term as the symbolic source takes it."""
    derivatives = _differentiate(as_expression(out), list(stand.array.flat), Budget(None))
    return np.array([float(d.xreplace(subs)) for d in derivatives]).reshape(stand.shape)


def _assert_like_numpy(function, shapes, seed=0):
    stands, values, subs = _inputs(shapes, seed)
    out, want = function(*stands), function(*values)
    got = _numbers(out, subs)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL)


G = np.random.default_rng(7).normal(size=(3, 3))
C = np.arange(1.0, 4.0)
M33, V3 = {"A": (3, 3)}, {"x": (5,)}

LINALG = {
    "det": (lambda A: np.linalg.det(A), M33),
    "det 1x1": (lambda A: np.linalg.det(A), {"A": (1, 1)}),
    "det 4x4": (lambda A: np.linalg.det(A), {"A": (4, 4)}),
    "det stacked": (lambda A: np.linalg.det(A), {"A": (2, 3, 3)}),
    "slogdet sign": (lambda A: np.linalg.slogdet(A)[0], {"A": (2, 3, 3)}),
    "slogdet logabsdet": (lambda A: np.linalg.slogdet(A).logabsdet, M33),
    "slogdet negative det": (lambda A: np.linalg.slogdet(A[::-1])[1], M33),
    "inv": (lambda A: np.linalg.inv(A), M33),
    "inv stacked": (lambda A: np.linalg.inv(A), {"A": (2, 2, 2)}),
    "inv mixed": (lambda A: np.linalg.inv(A * np.array([[1.0, 0, 2], [0, 1, 0], [3, 0, 1]])), M33),
    "solve vector": (lambda A, b: np.linalg.solve(A, b), {"A": (3, 3), "b": (3,)}),
    "solve matrix": (lambda A, b: np.linalg.solve(A, b), {"A": (3, 3), "b": (3, 2)}),
    "solve stacked": (lambda A, b: np.linalg.solve(A, b), {"A": (2, 3, 3), "b": (2, 3, 4)}),
    "solve numeric b": (lambda A: np.linalg.solve(A, C), M33),
    "solve numeric A": (lambda b: np.linalg.solve(G + 3 * np.eye(3), b), {"b": (3,)}),
    "matrix_power 5": (lambda A: np.linalg.matrix_power(A, 5), M33),
    "matrix_power 0": (lambda A: np.linalg.matrix_power(A, 0), M33),
    "matrix_power -2": (lambda A: np.linalg.matrix_power(A, -2), M33),
    "matrix_power stacked": (lambda A: np.linalg.matrix_power(A, 3), {"A": (2, 2, 2)}),
    "trace": (lambda A: np.trace(A), M33),
    "trace axes": (lambda A: np.trace(A, axis1=1, axis2=2), {"A": (2, 3, 3)}),
    "trace offset": (lambda A: np.trace(A, offset=1), {"A": (3, 4)}),
    "norm vector": (lambda x: np.linalg.norm(x), V3),
    "norm 2": (lambda x: np.linalg.norm(x, 2), V3),
    "norm 1": (lambda x: np.linalg.norm(x, 1), V3),
    "norm inf": (lambda x: np.linalg.norm(x, np.inf), V3),
    "norm -inf": (lambda x: np.linalg.norm(x, -np.inf), V3),
    "norm 0": (lambda x: np.linalg.norm(x, 0), V3),
    "norm 3": (lambda x: np.linalg.norm(x, 3), V3),
    "norm 0.5": (lambda x: np.linalg.norm(x, 0.5), V3),
    "norm flat 3-d": (lambda A: np.linalg.norm(A), {"A": (2, 3, 2)}),
    "norm keepdims": (lambda A: np.linalg.norm(A, keepdims=True), {"A": (2, 3)}),
    "norm fro": (lambda A: np.linalg.norm(A, "fro"), {"A": (2, 3)}),
    "norm axis": (lambda A: np.linalg.norm(A, axis=1), {"A": (2, 3)}),
    "norm axis keepdims": (lambda A: np.linalg.norm(A, 1, axis=0, keepdims=True), {"A": (2, 3)}),
    "norm axis tuple": (lambda A: np.linalg.norm(A, axis=(0, 2)), {"A": (2, 3, 4)}),
    "norm matrix 1": (lambda A: np.linalg.norm(A, 1), {"A": (2, 3)}),
    "norm matrix inf": (lambda A: np.linalg.norm(A, np.inf), {"A": (2, 3)}),
    "norm matrix -1 axes": (lambda A: np.linalg.norm(A, -1, axis=(2, 0), keepdims=True),
                            {"A": (2, 3, 4)}),
    "norm matrix -inf": (lambda A: np.linalg.norm(A, -np.inf, axis=(1, 0)), {"A": (2, 3, 4)}),
}


@pytest.mark.parametrize("case", list(LINALG))
def test_linalg_matches_numpy(case):
    function, shapes = LINALG[case]
    _assert_like_numpy(function, shapes)


def test_det_inverse_and_slogdet_derivatives_are_the_closed_forms():
    (A,), (a,), subs = _inputs(M33)
    inverse_t = np.linalg.inv(a).T
    np.testing.assert_allclose(_gradient(np.linalg.det(A), A, subs), np.linalg.det(a) * inverse_t,
                               rtol=RTOL)
    np.testing.assert_allclose(_gradient(np.linalg.slogdet(A)[1], A, subs), inverse_t, rtol=RTOL)
    np.testing.assert_allclose(_gradient(np.linalg.slogdet(-A)[1], A, subs), inverse_t, rtol=RTOL)
    np.testing.assert_allclose(_gradient(G * np.linalg.inv(A), A, subs),
                               -inverse_t @ G @ inverse_t, rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(_gradient(G * np.linalg.matrix_power(A, -1), A, subs),
                               -inverse_t @ G @ inverse_t, rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(_gradient(G * np.linalg.matrix_power(A, 2), A, subs),
                               G @ a.T + a.T @ G, rtol=RTOL)


def test_det_derivative_of_a_6x6_matrix():
    (A,), (a,), subs = _inputs({"A": (MATRIX_LIMIT, MATRIX_LIMIT)}, seed=3)
    np.testing.assert_allclose(_gradient(np.linalg.det(A), A, subs),
                               np.linalg.det(a) * np.linalg.inv(a).T, rtol=1e-10)


def test_solve_derivatives_are_the_closed_forms():
    (A, b), (a, vb), subs = _inputs({"A": (3, 3), "b": (3,)})
    out = C @ np.linalg.solve(A, b)
    x, adjoint = np.linalg.solve(a, vb), np.linalg.solve(a.T, C)
    np.testing.assert_allclose(_gradient(out, b, subs), adjoint, rtol=RTOL)
    np.testing.assert_allclose(_gradient(out, A, subs), -np.outer(adjoint, x), rtol=RTOL)


def test_norm_derivatives_are_the_closed_forms():
    (x, A), (vx, va), subs = _inputs({"x": (5,), "A": (2, 3)})
    np.testing.assert_allclose(_gradient(np.linalg.norm(x), x, subs), vx / np.linalg.norm(vx),
                               rtol=RTOL)
    np.testing.assert_allclose(_gradient(np.linalg.norm(x, 1), x, subs), np.sign(vx), rtol=RTOL)
    top = np.zeros(5)
    top[np.argmax(abs(vx))] = np.sign(vx[np.argmax(abs(vx))])
    np.testing.assert_allclose(_gradient(np.linalg.norm(x, np.inf), x, subs), top, rtol=RTOL)
    np.testing.assert_allclose(_gradient(np.linalg.norm(A, "fro"), A, subs),
                               va / np.linalg.norm(va), rtol=RTOL)
    column = np.zeros((2, 3))
    j = np.argmax(abs(va).sum(axis=0))
    column[:, j] = np.sign(va[:, j])
    np.testing.assert_allclose(_gradient(np.linalg.norm(A, 1), A, subs), column, rtol=RTOL)


def test_trace_einsum_and_var_derivatives():
    (A, B), (a, vb), subs = _inputs({"A": (3, 3), "B": (3, 3)})
    np.testing.assert_allclose(_gradient(np.trace(A @ B), A, subs), vb.T, rtol=RTOL)
    np.testing.assert_allclose(_gradient(G * np.einsum("ij,jk->ik", A, B), A, subs), G @ vb.T,
                               rtol=RTOL)
    (x,), (vx,), subs = _inputs(V3)
    np.testing.assert_allclose(_gradient(np.var(x, ddof=1), x, subs),
                               2 * (vx - vx.mean()) / (vx.size - 1), rtol=RTOL, atol=RTOL)


EINSUM = {
    "matmul": ("ij,jk->ik", (3, 4), (4, 2)), "implicit matmul": ("ij,jk", (3, 4), (4, 2)),
    "trace": ("ii", (3, 3)), "diagonal": ("ii->i", (3, 3)), "transpose": ("ji", (2, 3)),
    "explicit transpose": ("ij->ji", (2, 3)), "sum": ("ijk->", (2, 3, 2)),
    "column sums": ("ij->j", (2, 3)), "dot": ("i,i", (4,), (4,)), "outer": ("i,j->ij", (2,), (3,)),
    "uppercase order": ("bA", (2, 3)), "batched": ("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
    "ellipsis": ("...j,j->...", (2, 3, 4), (4,)), "ellipsis implicit": ("...j,j", (2, 3, 4), (4,)),
    "ellipsis broadcast": ("...ij,...jk->...ik", (2, 1, 2, 3), (3, 3, 2)),
    "repeated in one": ("iij->ji", (3, 3, 2)), "three operands": ("ij,jk,kl->il", (2, 3), (3, 3), (3, 2)),
    "size-1 label": ("ij,j", (2, 1), (4,)), "scalar": (",i->i", (), (3,)),
}


@pytest.mark.parametrize("case", list(EINSUM))
def test_einsum_matches_numpy(case):
    spec, *shapes = EINSUM[case]
    _assert_like_numpy(lambda *xs: np.einsum(spec, *xs), {f"x{i}": s for i, s in enumerate(shapes)})


def test_einsum_sublists_and_numeric_operands():
    numeric = np.random.default_rng(5).normal(size=(4, 2))
    _assert_like_numpy(lambda x: np.einsum(x, [0, 1, 2], [2, 0]), {"x": (2, 3, 4)})
    _assert_like_numpy(lambda x: np.einsum(x, [Ellipsis, 1], numeric, [1, 2]), {"x": (2, 3, 4)})
    _assert_like_numpy(lambda x: np.einsum("ijk,kl->li", x, numeric, optimize=True), {"x": (2, 3, 4)})
    w = symbols("w", (2,))
    assert str(as_expression(np.einsum("i,i", w, np.array([2.0, 3.0])))) == "2*w_0 + 3*w_1"


OTHERS = {
    "pad": (lambda A: np.pad(A, 1), {"A": (2, 3)}),
    "pad pairs": (lambda A: np.pad(A, ((1, 0), (2, 1)), constant_values=((2.5, -1), (0, 3))),
                  {"A": (2, 3)}),
    "pad edge": (lambda A: np.pad(A, 2, mode="edge"), {"A": (2, 3)}),
    "pad reflect": (lambda A: np.pad(A, (1, 2), mode="reflect"), {"A": (3, 3)}),
    "pad reflect odd": (lambda x: np.pad(x, 2, mode="reflect", reflect_type="odd"), V3),
    "pad symmetric": (lambda A: np.pad(A, 1, mode="symmetric"), {"A": (2, 3)}),
    "pad wrap": (lambda A: np.pad(A, ((0, 1), (2, 2)), mode="wrap"), {"A": (2, 3)}),
    "concatenate": (lambda A: np.concatenate([A, np.ones((1, 3)), A[:1]]), {"A": (2, 3)}),
    "concatenate axis": (lambda A, B: np.concatenate((A, B, [[1.0], [2.0]]), axis=1),
                         {"A": (2, 3), "B": (2, 2)}),
    "concatenate flat": (lambda A: np.concatenate([A, np.arange(3)], axis=None), {"A": (2, 3)}),
    "stack": (lambda A: np.stack([A, np.full((2, 3), 0.5)], axis=-1), {"A": (2, 3)}),
    "hstack": (lambda x: np.hstack([x, np.arange(2.0), x[:1]]), V3),
    "vstack": (lambda x: np.vstack([x, np.linspace(0, 1, 5)]), V3),
    "column_stack": (lambda x: np.column_stack([x, np.arange(5)]), V3),
    "dstack": (lambda A: np.dstack([A, np.eye(2, 3)]), {"A": (2, 3)}),
    "var": (lambda A: np.var(A), {"A": (3, 4)}),
    "var axis ddof": (lambda A: np.var(A, axis=0, ddof=1), {"A": (3, 4)}),
    "var tuple keepdims": (lambda A: np.var(A, axis=(0, 2), keepdims=True), {"A": (2, 3, 4)}),
    "var correction": (lambda A: np.var(A, axis=-1, correction=1), {"A": (3, 4)}),
    "var method": (lambda A: A.var(axis=1, keepdims=True), {"A": (3, 4)}),
    "std": (lambda A: np.std(A, axis=(1,), ddof=1), {"A": (3, 4)}),
    "std method": (lambda A: A.std(), {"A": (3, 4)}),
    "sum tuple": (lambda A: np.sum(A, axis=(0, 2)), {"A": (2, 3, 4)}),
    "sum negative tuple keepdims": (lambda A: A.sum(axis=(-1, 0), keepdims=True), {"A": (2, 3, 4)}),
    "mean tuple": (lambda A: np.mean(A, axis=(1, 2)), {"A": (2, 3, 4)}),
    "mean tuple keepdims": (lambda A: A.mean(axis=(0, 1), keepdims=True), {"A": (2, 3, 4)}),
    "max tuple": (lambda A: np.max(A, axis=(0, 2)), {"A": (2, 3, 4)}),
    "max tuple keepdims": (lambda A: A.max(axis=(2, 1), keepdims=True), {"A": (2, 3, 4)}),
    "max all keepdims": (lambda A: np.max(A, keepdims=True), {"A": (2, 3)}),
    "min tuple": (lambda A: A.min(axis=(0, 1)), {"A": (2, 3, 4)}),
    "amin tuple keepdims": (lambda A: np.amin(A, axis=(0, -1), keepdims=True), {"A": (2, 3, 4)}),
    "boolean mask": (lambda A: A[np.array([[True, False, True], [False, False, True]])], {"A": (2, 3)}),
    "mask from numbers": (lambda A: A[G[:2] > 0], {"A": (2, 3)}),
    "row mask": (lambda A: A[np.array([True, False, True])], {"A": (3, 2)}),
    "repeated rows": (lambda W: W[np.array([2, 0, 2, 2])], {"W": (3, 2)}),
    "repeated list": (lambda W: W[[1, 1, 0]], {"W": (3, 2)}),
    "pairs": (lambda x: x[np.arange(4), np.array([0, 2, 2, 1])], {"x": (4, 3)}),
    "outer": (lambda x: np.outer(x, C), V3),
    "outer 2-d": (lambda A, x: np.outer(A, x), {"A": (2, 2), "x": (3,)}),
    "transpose": (lambda A: A.T, {"A": (2, 3)}),
    "transpose 3-d": (lambda A: A.T, {"A": (2, 3, 4)}),
}


@pytest.mark.parametrize("case", list(OTHERS))
def test_others_match_numpy(case):
    function, shapes = OTHERS[case]
    _assert_like_numpy(function, shapes)


def test_a_stand_in_of_constants_indexes_as_integers():
    x = symbols("x", (5,))
    index = np.zeros_like(x[:3]) + np.array([1, 1, 3])
    assert isinstance(index, StandIn)
    assert list(x[index].array) == [x.array[1], x.array[1], x.array[3]]


def _scatter(W, idx, target):
    np.add.at(target, idx, W)
    return target


def test_add_at_accumulates_repeated_indices():
    idx = np.array([0, 2, 0, 0])
    (W,), (w,), subs = _inputs({"W": (4, 3)})
    for make in (lambda: np.zeros_like(W[:3]), lambda: np.zeros((3, 3), dtype=object)):
        out = _scatter(W, idx, make())
        np.testing.assert_allclose(_numbers(out, subs), _scatter(w, idx, np.zeros((3, 3))), rtol=RTOL)
    pairs = (np.array([0, 0, 1]), np.array([1, 1, 2]))
    target, want = np.zeros_like(W[:2]), np.zeros((2, 3))
    np.maximum.at(target, pairs, W[0])
    np.maximum.at(want, pairs, w[0])
    np.testing.assert_allclose(_numbers(target, subs), want, rtol=RTOL)


@pytest.mark.parametrize("operation,named", [
    (lambda w: np.linalg.det(symbols("B", (MATRIX_LIMIT + 1,) * 2)), "7x7 symbolic matrix"),
    (lambda w: np.linalg.inv(symbols("B", (2, 7, 7))), "numpy.linalg.inv of a 7x7"),
    (lambda w: np.linalg.matrix_power(symbols("B", (7, 7)), -1), "matrix_power of a 7x7"),
    (lambda w: np.linalg.norm(np.outer(w, w), 2), "singular values"),
    (lambda w: np.linalg.norm(np.outer(w, w), "nuc"), "singular values"),
    (lambda w: np.linalg.inv(np.stack([w[:2], w[:2]])), "Singular matrix"),
    (lambda w: np.linalg.det(w), "numpy.linalg.det cannot run on symbolic values"),
    (lambda w: np.pad(w, 1, mode="mean"), "numpy.pad with mode='mean'"),
    (lambda w: np.einsum("i->j", w), "numpy.einsum cannot run"),
    (lambda w: np.add.at(w, [0, 0], 1.0), "numpy.add.at into a read-only array"),
    (lambda w: np.add.at(np.zeros(3), [0, 0], w[:2]), "numpy.add.at into an array of numbers"),
    (lambda w: w[w > 0], "indexing by a symbolic value"),
    (lambda w: np.var(w, dtype=float), "numpy.var cannot run"),
])
def test_refusals_are_named(operation, named):
    with pytest.raises(UnsupportedOperation, match=named):
        operation(symbols("w", (3,)))


def test_a_determinant_is_charged_to_the_budget(monkeypatch):
    import gradcheck.stand_in.value as value
    monkeypatch.setattr(value, "OPERATION_LIMIT", 500)
    with pytest.raises(UnsupportedOperation, match="grew past 500"):
        np.linalg.det(value.symbols("A", (MATRIX_LIMIT, MATRIX_LIMIT)))


_RNG = np.random.default_rng(11)
_A = _RNG.normal(size=(3, 3)) + 2 * np.eye(3)
_B, _W, _b = _RNG.normal(size=(3, 3)), _RNG.normal(size=(3, 3)), _RNG.normal(size=3)
END_TO_END = {
    "det": (lambda A: np.linalg.det(A), {"A": _A}),
    "slogdet": (lambda A: np.linalg.slogdet(A)[1], {"A": _A}),
    "inv": (lambda A: np.sum(_W * np.linalg.inv(A)), {"A": _A}),
    "solve": (lambda A, b: _b @ np.linalg.solve(A, b), {"A": _A, "b": _b}),
    "norm": (lambda A, b: np.linalg.norm(A) + np.linalg.norm(b, 1), {"A": _A, "b": _b}),
    "trace": (lambda A, B: np.trace(A @ B), {"A": _A, "B": _B}),
    "einsum": (lambda A, B: np.sum(_W * np.einsum("ij,kj->ik", A, B)), {"A": _A, "B": _B}),
    "pad": (lambda A: np.sum(np.pad(A, 1) ** 2 * np.arange(25.0).reshape(5, 5)), {"A": _A}),
    "concatenate": (lambda A, b: np.sum(np.concatenate([A, b[None, :]]) ** 3), {"A": _A, "b": _b}),
    "var": (lambda A: np.sum(np.var(A, axis=0, ddof=1)) + A.std(), {"A": _A}),
}


@pytest.mark.parametrize("case", list(END_TO_END))
def test_check_runs_the_symbolic_source(case):
    function, at = END_TO_END[case]
    report = gradcheck.check(function, at=at)
    assert report.ok and "symbolic" in report.sources, str(report)
