"""The symbolic stand-in: every ufunc of its table against NumPy on plain numbers, the
array functions against NumPy, and the operations it refuses, each named."""

import math

import numpy as np
import pytest
import sympy

from gradcheck.errors import UnsupportedOperation
from gradcheck.stand_in import ELEMENTWISE, StandIn, as_expression, element_names, symbols

# ufunc -> arguments (plain numbers) at which to compare with NumPy; every table entry has a row.
POINTS = {
    np.add: (0.3, -1.2), np.subtract: (0.3, -1.2), np.multiply: (0.3, -1.2),
    np.true_divide: (0.3, -1.2), np.power: (1.3, 2.5), np.negative: (0.3,), np.positive: (0.3,),
    np.square: (-1.7,), np.reciprocal: (0.4,), np.exp: (0.7,), np.log: (2.5,), np.sqrt: (2.5,),
    np.log1p: (0.25,), np.expm1: (0.25,), np.sin: (0.7,), np.cos: (0.7,), np.tan: (0.7,),
    np.arcsin: (0.3,), np.arccos: (0.3,), np.arctan: (2.0,), np.sinh: (0.7,), np.cosh: (0.7,),
    np.tanh: (0.7,), np.absolute: (-0.7,), np.sign: (-0.7,), np.maximum: (0.3, -1.2),
    np.minimum: (0.3, -1.2), np.heaviside: (0.0, 0.5),
    np.greater: (0.3, -1.2), np.greater_equal: (0.3, 0.3), np.less: (0.3, -1.2),
    np.less_equal: (0.3, 0.3), np.equal: (0.3, 0.3), np.not_equal: (0.3, 0.3),
}


def test_every_table_entry_has_a_row():
    assert set(POINTS) == set(ELEMENTWISE)


def _value(out, values):
    expr = as_expression(out)
    return float(expr.xreplace({sympy.Symbol(k, real=True): v for k, v in values.items()}))


@pytest.mark.parametrize("ufunc", list(POINTS), ids=lambda u: u.__name__)
def test_ufunc_matches_numpy_on_numbers(ufunc):
    args = POINTS[ufunc]
    names = [f"a{i}" for i in range(len(args))]
    stand_ins = [symbols(n) for n in names]
    if ufunc is np.heaviside:  # its second argument is the value at 0, a constant
        stand_ins[1] = args[1]
    out = ufunc(*stand_ins)
    assert isinstance(out, StandIn)
    want = float(ufunc(*args))
    assert math.isclose(_value(out, dict(zip(names, map(sympy.Float, args)))), want, rel_tol=1e-14)


def test_operators_and_reflected_operators():
    w = symbols("w", (2,))
    out = (2 - w) * 3 / (1 + w) ** 2 + np.array([1.0, 2.0]) @ w - (-w) + abs(w)
    at = {"w_0": 0.5, "w_1": -1.5}
    v = np.array([0.5, -1.5])
    want = np.sum((2 - v) * 3 / (1 + v) ** 2 + np.array([1.0, 2.0]) @ v + v + abs(v))
    assert math.isclose(_value(out, at), want, rel_tol=1e-14)


def test_array_functions_match_numpy():
    rng = np.random.default_rng(0)
    A, B = symbols("A", (2, 3, 4)), symbols("B", (4, 2))
    va, vb = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 2))
    subs = {**{s: v for s, v in zip(A.array.flat, va.flat)}, **{s: v for s, v in zip(B.array.flat, vb.flat)}}
    cases = [
        (lambda a, b, xp: a @ b, None), (lambda a, b, xp: xp.sum(a, axis=(0, 2)), None),
        (lambda a, b, xp: a.sum(axis=1, keepdims=True), None), (lambda a, b, xp: xp.mean(a, axis=-1), None),
        (lambda a, b, xp: a.mean(), None), (lambda a, b, xp: a.reshape(6, 4).T[1:3], None),
        (lambda a, b, xp: xp.transpose(a, (2, 0, 1))[:, 1, ::2], None),
        (lambda a, b, xp: xp.dot(a[0], b), None), (lambda a, b, xp: xp.max(a, axis=1), None),
        (lambda a, b, xp: a.min(), None), (lambda a, b, xp: xp.clip(a, -0.5, 0.5), None),
        (lambda a, b, xp: xp.where(a > 0, a, 0.1 * a), None), (lambda a, b, xp: xp.cumsum(b, axis=0), None),
        (lambda a, b, xp: a[np.arange(2), np.array([0, 2])], None), (lambda a, b, xp: a.ravel()[5:9], None),
    ]
    for case, _ in cases:
        out = case(A, B, np)
        want = case(va, vb, np)
        got = np.array([float(sympy.sympify(e).xreplace(subs)) for e in np.ravel(out.array)])
        np.testing.assert_allclose(got.reshape(np.shape(want)), want, rtol=1e-13)


def test_comparisons_of_constants_stay_plain_booleans():
    w = symbols("w")
    assert isinstance(np.array([1.0, 2.0]) > 1.5, np.ndarray)
    assert (w * 0 + 1 > 0) is not None and bool(w * 0 + 1 > 0)


@pytest.mark.parametrize("operation,named", [
    (lambda w: np.floor(w), "numpy.floor is not supported by the symbolic stand-in"),
    (lambda w: np.add.reduce(w), "numpy.add.reduce"),
    (lambda w: np.sort(w), "numpy.sort cannot run on symbolic values"),
    (lambda w: float(w[0]), "float() of a symbolic value"),
    (lambda w: w[0] if w[0] > 0 else -w[0], "bool()"),
    (lambda w: math.exp(w[0]), "float() of a symbolic value"),
    (lambda w: np.asarray(w, dtype=float), "np.asarray()"),
])
def test_refused_operations_are_named(operation, named):
    with pytest.raises(UnsupportedOperation, match=named.replace("(", r"\(").replace(")", r"\)")):
        operation(symbols("w", (2,)))


def test_element_names_and_reduction():
    assert element_names("W", (2, 2)) == ["W_0_0", "W_0_1", "W_1_0", "W_1_1"]
    assert element_names("b", ()) == ["b"]
    w = symbols("w", (2,))
    assert as_expression(w, "mean") == (sympy.Symbol("w_0", real=True) + sympy.Symbol("w_1", real=True)) / 2
    assert str(as_expression(w ** 2.0 * 3.0)) == "3*w_0**2 + 3*w_1**2"  # whole floats stay exact ints


def test_a_growing_expression_is_stopped(monkeypatch):
    import gradcheck.stand_in.value as value
    monkeypatch.setattr(value, "OPERATION_LIMIT", 50)
    w = value.symbols("w", (10,))
    with pytest.raises(UnsupportedOperation, match="grew past"):
        for _ in range(10):
            w = w * 2
