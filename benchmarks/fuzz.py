"""Seeded random expressions over the parser's whitelist, with SymPy's own derivative as
the right claim: the fuzz that tests/test_random_expressions.py, tests/test_roundtrip.py
and the reliability benchmark (7) run, one grammar for all three."""

from __future__ import annotations

import random

__all__ = ["SMOOTH", "WITH_KINKS", "random_expression", "cases"]

SMOOTH = ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sinh", "cosh", "asin", "acos",
          "atan", "sigmoid", "softplus"]
WITH_KINKS = SMOOTH + ["abs", "relu"]


def random_expression(rng: random.Random, depth: int, functions: list[str] = SMOOTH) -> str:
    if depth == 0 or rng.random() < 0.25:
        return rng.choice(["w", "x", "b", "w", "x", str(round(rng.uniform(-3, 3), 2))])
    if rng.random() < 0.35:
        return f"{rng.choice(functions)}({random_expression(rng, depth - 1, functions)})"
    op = rng.choice(["+", "-", "*", "/", "**2", "**3"])
    if op.startswith("**"):
        return f"({random_expression(rng, depth - 1, functions)}){op}"
    return (f"({random_expression(rng, depth - 1, functions)} {op} "
            f"{random_expression(rng, depth - 1, functions)})")


def cases(count: int = 40, seed: int = 2026, functions: list[str] = SMOOTH
          ) -> list[tuple[str, str, str]]:
    """(text, the first variable, SymPy's derivative by it as text), a nonzero one."""
    import sympy

    from gradcheck.errors import ExpressionError
    from gradcheck.parse import parse, symbol

    rng = random.Random(seed)
    found = []
    while len(found) < count:
        text = random_expression(rng, 4, functions)
        try:
            expr = parse(text)
        except ExpressionError:
            continue
        if not expr.free_symbols:
            continue
        name = sorted(s.name for s in expr.free_symbols)[0]
        derivative = sympy.diff(expr, symbol(name))
        if derivative != 0:
            found.append((text, name, str(derivative)))
    return found
