"""Seeded random expressions over the whole whitelist: SymPy's own derivative, claimed,
passes; the same claim slipped by a relative 1e-6, or with its sign flipped, is caught."""

import random

import pytest
import sympy

import gradcheck
from gradcheck.parse import parse, symbol

FUNCTIONS = ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "asin", "acos",
             "atan", "sigmoid", "softplus"]


def random_expression(rng: random.Random, depth: int) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(["w", "x", "b", "w", "x", str(round(rng.uniform(-3, 3), 2))])
    kind = rng.random()
    if kind < 0.35:
        return f"{rng.choice(FUNCTIONS)}({random_expression(rng, depth - 1)})"
    op = rng.choice(["+", "-", "*", "/", "**2", "**3"])
    if op.startswith("**"):
        return f"({random_expression(rng, depth - 1)}){op}"
    return f"({random_expression(rng, depth - 1)} {op} {random_expression(rng, depth - 1)})"


def cases(count: int = 40, seed: int = 2026):
    rng = random.Random(seed)
    found = []
    while len(found) < count:
        text = random_expression(rng, 4)
        try:
            expr = parse(text)
        except gradcheck.ExpressionError:
            continue
        if not expr.free_symbols:
            continue
        name = sorted(s.name for s in expr.free_symbols)[0]
        derivative = sympy.diff(expr, symbol(name))
        if derivative != 0:
            found.append((text, name, str(derivative)))
    return found


@pytest.mark.parametrize("text, name, derivative", cases())
def test_right_claims_pass_and_slips_are_caught(text, name, derivative):
    right = gradcheck.check(text, wrt=[name], claimed={name: derivative}, points=2, seed=1)
    statuses = [p.params[0].status for p in right.points]
    values = [p.params[0].symbolic for p in right.points]
    assert "mismatch" not in statuses, str(right)
    for wrong in (f"1.000001*({derivative})", f"-({derivative})"):
        report = gradcheck.check(text, wrt=[name], claimed={name: wrong}, points=2, seed=1)
        for point, status, value in zip(report.points, statuses, values):
            param = point.params[0]
            if status == "ok" and value != 0:  # (at a zero gradient -0 is no mistake)
                assert (param.status, param.culprit) == ("mismatch", "claimed"), str(report)
            else:  # an undefined point stays undefined, never a pass
                assert param.status == status
