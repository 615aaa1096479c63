"""Finite differences against 50-digit truth from SymPy/mpmath, and their error bounds."""

import numpy as np
import pytest
import sympy

from gradcheck.numeric import METHODS, differentiate_numerically

x = sympy.Symbol("x", real=True)

# (expression, points): smooth cases, including the stiff and badly scaled ones.
SMOOTH = [
    (sympy.sin(x), [0.5, -2.0, 1e-8]),
    (sympy.exp(50 * x), [1.0, 0.3]),
    (sympy.sin(10_000 * x), [0.3, 1.7]),
    (sympy.log(x), [1e-3, 1e-8, 1e8]),
    (x ** 2, [1e8, 1e-8, -3.5]),
    (sympy.tanh(x), [0.0, 3.0]),
    (sympy.sqrt(x), [1e-6, 4.0]),
    (1 / (x - 1), [1.001, 0.999]),  # near a pole
    (sympy.atan(x) * sympy.exp(-x ** 2), [0.7, -1.3]),
]


def truth(expr, value):
    return float(sympy.diff(expr, x).evalf(50, subs={x: sympy.Float(value, 60)}))


def input_rounding(expr, value):
    """How far float64 rounding of x (and of inner products like 10000*x) moves f'."""
    second = abs(float(sympy.diff(expr, x, 2).evalf(30, subs={x: sympy.Float(value, 60)})))
    return 4 * np.finfo(float).eps * (abs(value) * second + abs(truth(expr, value)))


def numpy_function(expr):
    return sympy.lambdify(x, expr, "numpy")


@pytest.mark.parametrize("method", ["richardson", "complex"])
@pytest.mark.parametrize("expr, points", SMOOTH, ids=[str(e) for e, _ in SMOOTH])
def test_accurate_schemes_are_accurate_and_honest(expr, points, method):
    f = numpy_function(expr)
    result = differentiate_numerically(lambda x: f(x), {"x": np.array(points)}, ["x"], method)["x"]
    for value, error, point in zip(result.value, result.error, points):
        true = truth(expr, point)
        assert abs(value - true) <= error + input_rounding(expr, point), (point, value, true, error)
        assert abs(value - true) <= 1e-9 * abs(true), "not accurate enough"
    assert not result.kink.any()


@pytest.mark.parametrize("expr, points", SMOOTH[:6], ids=[str(e) for e, _ in SMOOTH[:6]])
def test_central_error_bound_covers_its_error(expr, points):
    f = numpy_function(expr)
    result = differentiate_numerically(lambda x: f(x), {"x": np.array(points)}, ["x"], "central")["x"]
    for value, error, point in zip(result.value, result.error, points):
        if np.isfinite(value):
            true = truth(expr, point)
            assert abs(value - true) <= error, (point, value, true, error)


def test_richardson_median_error_is_tiny():
    errors = []
    for expr, points in SMOOTH:
        f = numpy_function(expr)
        r = differentiate_numerically(lambda x: f(x), {"x": np.array(points)}, ["x"], "richardson")
        errors += [abs(v - truth(expr, p)) / abs(truth(expr, p)) for v, p in zip(r["x"].value, points)
                   if truth(expr, p) != 0]
    assert np.median(errors) < 1e-11


@pytest.mark.parametrize("f, point", [
    (lambda x: np.abs(x), 0.0), (lambda x: np.maximum(x, 0.0), 0.0), (lambda x: np.abs(x - 0.5), 0.5),
    (lambda x: np.minimum(x, 2 * x), 0.0),
])
def test_one_sided_slopes_that_differ_are_a_kink(f, point):
    assert differentiate_numerically(f, {"x": np.array([point])}, ["x"], "richardson")["x"].kink[0]


def test_several_parameters_in_one_call():
    calls = []

    def f(a, b):
        calls.append(len(a))
        return a ** 2 * b

    r = differentiate_numerically(f, {"a": np.array([1.5, 2.0]), "b": np.array([3.0, -1.0])}, ["a", "b"])
    # one batched call for every perturbed point, one for the centre
    assert len(calls) == 2
    assert np.allclose(r["a"].value, [9.0, -4.0], rtol=1e-12)
    assert np.allclose(r["b"].value, [2.25, 4.0], rtol=1e-12)


def test_outside_the_domain_is_not_finite():
    r = differentiate_numerically(lambda x: np.log(x), {"x": np.array([-1.0])}, ["x"], "richardson")["x"]
    assert not np.isfinite(r.value[0])


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method"):
        differentiate_numerically(np.sin, {"x": np.array([1.0])}, ["x"], "forward")
    assert "richardson" in METHODS
