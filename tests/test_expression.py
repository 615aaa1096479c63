"""Text expressions as models: the syntax tree run on the tape and on NumPy, as written."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck.errors import ExpressionError
from gradcheck.expression import FUNCTION_PRIMITIVES, KINKED_FUNCTIONS, Expression
from gradcheck.parse import FUNCTIONS, parse
from gradcheck.tape import PRIMITIVES, Tensor
from gradcheck.tape.engine import reachable_nodes

# SymPy's derivatives of the kinked functions hold these, 0 away from their switch
_MPMATH = [{"DiracDelta": lambda x, k=0: mpmath.mpf(0), "Heaviside": lambda x, h0=0.5: mpmath.mpf(x > 0)},
           "mpmath"]

# an argument where every function is smooth and defined, and a second factor of w
CALLS = {name: f"{name}(0.5*w + 0.1)" for name in FUNCTIONS}
CALLS.update({name: f"{name}(w, 2*w - 1)" for name in ("max", "min", "Max", "Min")})
CALLS["Heaviside"] = "Heaviside(w - 0.2, 0.25)"


def test_every_parser_function_runs_on_a_primitive_and_back():
    assert set(FUNCTION_PRIMITIVES) == set(FUNCTIONS)
    assert all(p in PRIMITIVES for p in FUNCTION_PRIMITIVES.values())
    assert KINKED_FUNCTIONS <= set(FUNCTIONS)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_tape_on_the_tree_matches_sympy_at_30_digits(name):
    text = f"{CALLS[name]} * w + w**2"
    expression = Expression.parse(text)
    w = Tensor(0.37, requires_grad=True, name="w")
    out = expression.evaluate({"w": w})
    out.backward()
    exact = parse(text)
    symbol = next(iter(exact.free_symbols))
    with mpmath.workdps(30):
        value = sympy.lambdify([symbol], exact, _MPMATH)(mpmath.mpf(0.37))
        slope = sympy.lambdify([symbol], sympy.diff(exact, symbol), _MPMATH)(mpmath.mpf(0.37))
    assert math.isclose(float(out.data), float(value), rel_tol=1e-13, abs_tol=1e-15)
    assert math.isclose(float(w.grad), float(slope), rel_tol=1e-12, abs_tol=1e-14)
    plain = expression.evaluate({"w": np.array([0.37, 0.37])})
    assert np.allclose(plain, float(value), rtol=1e-13)


def test_the_tape_records_what_the_user_wrote():
    x, w, y = (Tensor(v, requires_grad=True, name=n) for n, v in (("x", 1.0), ("w", 1.0), ("y", 2.0)))
    out = Expression.parse("(x*w - y)**2").evaluate({"x": x, "w": w, "y": y})
    nodes = reachable_nodes(out._node)[::-1]
    assert [n.prim.name for n in nodes] == ["mul", "sub", "pow"]
    assert nodes[0].parents == (x, w) and nodes[1].parents[1] is y and nodes[2].args[1] == 2


def test_a_long_chain_runs_without_recursion():
    text = "+".join(f"w{i}*x" for i in range(1100))  # a left-deep tree 1,100 levels deep
    values = {f"w{i}": Tensor(1.0, requires_grad=True) for i in range(1100)}
    out = Expression.parse(text).evaluate({**values, "x": 2.0})
    out.backward()
    assert float(out.data) == 2200.0 and float(values["w7"].grad) == 2.0


def test_undefined_names_the_users_subexpression():
    report = gradcheck.check("w + log(w - 3)", at={"w": 1.0})
    (param,) = report.points[0].params
    assert param.status == "undefined" and "log(w - 3) is nan at w=1" in param.message


def test_a_sympy_expression_is_converted_node_by_node():
    w, x = sympy.symbols("w x")
    from_sympy = gradcheck.check(sympy.sin(w * x) + w**2 / 3, at={"w": 0.5, "x": 2.0})
    from_text = gradcheck.check("sin(w*x) + w**2/3", at={"w": 0.5, "x": 2.0})
    assert from_sympy.ok and from_sympy.to_dict()["points"] == from_text.to_dict()["points"]


@pytest.mark.parametrize("bad", [sympy.I * sympy.Symbol("x"), sympy.floor(sympy.Symbol("x")),
                                 sympy.zoo * sympy.Symbol("x"), sympy.gamma(sympy.Symbol("x")),
                                 sympy.Integral(sympy.Symbol("x"), sympy.Symbol("x")),
                                 sympy.Eq(sympy.Symbol("x"), 1)])
def test_unsupported_sympy_objects_are_refused_in_one_line(bad):
    with pytest.raises(ExpressionError) as error:
        gradcheck.check(bad)
    assert "\n" not in str(error.value)


def test_a_number_of_any_size_in_a_sympy_expression():
    x = sympy.Symbol("x")
    report = gradcheck.check(sympy.Integer(2) ** 64 * x + sympy.Rational(1, 3) * x ** 2, at={"x": 1.5})
    assert report.ok and math.isclose(report.points[0].params[0].tape, 2.0**64 + 1.0)
