"""The direct SymPy -> Python walk (codegen.py) against SymPy evaluated at 50 digits."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

from gradcheck.lambdify import HighPrecision, compile_numpy, shared_subexpressions

w, x, y = sympy.symbols("w x y", real=True)
POINT = {"w": 0.7, "x": 1.3, "y": -0.4}
EXPRESSIONS = [
    w * x - y,
    -sympy.Rational(2, 3) * w / (x + 1) ** 2,
    (w * x + y) ** -3 * 5,
    sympy.sqrt(x) / w - 1 / sympy.sqrt(w + x),
    w ** sympy.Rational(1, 3) * x ** 2.5,
    sympy.exp(-w * x) * sympy.log(1 + x ** 2) - sympy.tanh(w) ** 2,
    sympy.sin(w) * sympy.cos(x) / sympy.tan(x + y),
    sympy.asin(w / 2) + sympy.acos(y) + sympy.atan(x) + sympy.atan2(y, x),
    sympy.asinh(w) + sympy.acosh(x) + sympy.atanh(y) + sympy.sinh(w) * sympy.cosh(y),
    sympy.Max(w, x, y) - sympy.Min(w, y) + abs(y) * sympy.sign(y),
    sympy.Heaviside(w - 0.5) * w + sympy.pi * w + sympy.E ** x,
    (-y) ** 3 - (w - x) ** 2 * (x - w) ** -1,
    sympy.Piecewise((w ** 2, w > 0), (-w, True)),
    sympy.erf(w) + sympy.Float("0.1") * x,
    2 ** w * x ** y,
]


def truth(expr: sympy.Expr) -> float:
    values = {sympy.Symbol(k, real=True): sympy.Rational(v) for k, v in POINT.items()}  # exactly the float64
    return float(expr.subs(values).evalf(50))


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_numpy_code_agrees_with_sympy_at_50_digits(expr):
    if expr.has(sympy.erf):
        pytest.skip("NumPy has no erf: SymPy's printer hands it to math, scalars only")
    (value,) = compile_numpy((w, x, y), [expr])(**POINT)
    assert float(value) == pytest.approx(truth(expr), rel=1e-13)


@pytest.mark.parametrize("expr", EXPRESSIONS, ids=str)
def test_mpmath_code_agrees_with_sympy_at_50_digits(expr):
    compiled = HighPrecision((w, x, y), [expr], shared_subexpressions)
    ctx = compiled.ctx
    (value,) = compiled.function(*(ctx.mpf(POINT[s.name]) for s in (w, x, y)))
    exact = sympy.Float(truth(expr), 50)
    assert abs(complex(value).real - float(exact)) <= 1e-15 * abs(float(exact))


def test_mpmath_code_keeps_rationals_and_floats_exact():
    # SymPy's default printer wrote 2/3 and x**(1/3) as float64 constants
    compiled = HighPrecision((w,), [sympy.Rational(2, 3) * w, w ** sympy.Rational(1, 3),
                                    sympy.Float("0.1", 40) * w])
    ctx = compiled.ctx
    third, cube_root, tenth = compiled.function(ctx.mpf(3))
    assert abs(third - 2) < ctx.mpf(10) ** -45
    assert abs(cube_root - ctx.cbrt(3)) < ctx.mpf(10) ** -45
    assert abs(tenth - ctx.mpf("0.3")) < ctx.mpf(10) ** -38


def test_magnitude_code_sums_absolute_terms_outside_functions():
    (magnitude,) = compile_numpy((w, x, y), [w * sympy.exp(x - y) - 3], magnitude=True)(**POINT)
    assert magnitude == pytest.approx(3 + POINT["w"] * math.exp(POINT["x"] - POINT["y"]), rel=1e-15)
    (inside,) = compile_numpy((w, x, y), [w * (x - y) ** 2], magnitude=True)(**POINT)
    assert inside == pytest.approx(POINT["w"] * (POINT["x"] + abs(POINT["y"])) ** 2, rel=1e-15)


def test_names_a_user_chose_never_reach_the_source():
    sin_named = sympy.Symbol("sin", real=True)  # would shadow NumPy's sin in SymPy's lambdify
    compiled = compile_numpy((sin_named, x), [sin_named * sympy.sin(x)])
    assert float(compiled(sin=2.0, x=0.5)[0]) == pytest.approx(2 * math.sin(0.5), rel=1e-15)


def test_shared_subexpressions_and_arrays_broadcast():
    exprs = [sympy.tanh(w * x) ** 2 + sympy.tanh(w * x), sympy.tanh(w * x) * y]
    values = compile_numpy((w, x, y), exprs)(w=np.array([0.1, 0.2]), x=1.5, y=2.0)
    t = np.tanh(np.array([0.1, 0.2]) * 1.5)
    np.testing.assert_allclose(values[0], t ** 2 + t, rtol=1e-15)
    np.testing.assert_allclose(values[1], 2 * t, rtol=1e-15)


def test_undefined_values_stay_undefined():
    values = compile_numpy((w,), [sympy.log(w), 1 / w, sympy.sqrt(w)])(w=np.array([-1.0, 0.0]))
    assert np.isnan(values[0][0]) and values[0][1] == -np.inf
    assert np.isinf(values[1][1]) and np.isnan(values[2][0])
    assert np.isnan(compile_numpy((w,), [sympy.zoo * w])(w=1.0)[0])
    assert mpmath.isnan(HighPrecision((w,), [sympy.zoo * w]).function(mpmath.mpf(1))[0])


def test_a_rational_coefficient_stays_exact_when_the_rest_is_an_integer():
    compiled = HighPrecision((x,), [sympy.Max(x, 1) / 3])  # max(1, 0.5) is the int 1
    ctx = compiled.ctx
    (third,) = compiled.function(ctx.mpf(0.5))
    assert abs(third - ctx.mpf(1) / 3) < ctx.mpf(10) ** -45


def test_each_thread_evaluates_on_its_own_context():
    import threading
    compiled = HighPrecision((w,), [sympy.exp(w) / 7])
    here = compiled({"w": 0.5}, (), "sum")
    seen = {}

    def other():
        seen["value"] = compiled({"w": 0.5}, (), "sum")
        seen["ctx"] = compiled.ctx

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert seen["ctx"] is not compiled.ctx and np.array_equal(seen["value"], here)
