"""A sum of many terms is differenced term by term (finite._term_losses): the same
derivatives as differencing the whole sum, against hand-derived truth."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck import finite

N = 80  # above finite.SPLIT_TERMS
RNG = np.random.default_rng(7)
W, X = RNG.uniform(0.3, 1.5, N), RNG.uniform(-1.0, 1.0, N)
w = sympy.symbols(f"w0:{N}", real=True)
x = sympy.symbols(f"x0:{N}", real=True)
AT = {**{f"w{i}": float(W[i]) for i in range(N)}, **{f"x{i}": float(X[i]) for i in range(N)}}
WRT = [f"w{i}" for i in range(N)]


def chain() -> sympy.Expr:
    """Each w_i in two terms, some subtracted, one with a kink nowhere near the point."""
    terms = [(w[i] - w[i + 1]) ** 2 * x[i] for i in range(N - 1)]
    return sympy.Add(*terms) - sympy.Add(*[sympy.sin(w[i] * x[i]) for i in range(N)]) + abs(w[0] + 5)


def chain_truth() -> np.ndarray:
    g = -np.cos(W * X) * X
    d = 2 * (W[:-1] - W[1:]) * X[:-1]
    g[:-1] += d
    g[1:] -= d
    g[0] += 1.0  # d|w0 + 5| / dw0 at w0 > -5
    return g


@pytest.mark.parametrize("method", ["richardson", "central", "complex"])
def test_split_differences_match_the_hand_derived_gradient(method):
    expr = chain() if method != "complex" else chain() - abs(w[0] + 5) + w[0]
    assert len(gradcheck.expression.Expression.from_sympy(expr).terms()) >= finite.SPLIT_TERMS
    r = gradcheck.check(expr, wrt=WRT, at=AT, method=method)
    assert r.ok, str(r)
    numeric = np.array([p.numeric for p in r.points[0].params])
    tolerance = 1e-6 if method == "central" else 1e-9
    np.testing.assert_allclose(numeric, chain_truth(), rtol=tolerance, atol=tolerance)


def test_split_and_whole_sum_agree_within_their_error_bounds(monkeypatch):
    split = gradcheck.check(chain(), wrt=WRT, at=AT, method="richardson")
    monkeypatch.setattr(finite, "SPLIT_TERMS", 10 ** 9)
    whole = gradcheck.check(chain(), wrt=WRT, at=AT, method="richardson")
    for a, b in zip(split.points[0].params, whole.points[0].params):
        assert abs(a.numeric - b.numeric) <= a.numeric_error + b.numeric_error
        assert a.numeric_error <= b.numeric_error * 1.5  # the other terms' rounding is gone
    assert [p.status for p in split.points[0].params] == [p.status for p in whole.points[0].params]


def test_a_slip_in_one_element_of_a_large_sum_is_named():
    truth = chain_truth()
    claimed = {name: float(v) for name, v in zip(WRT, truth)}
    claimed["w17"] *= 1 + 1e-6
    r = gradcheck.check(chain(), wrt=WRT, at=AT, claimed=claimed, method="richardson")
    flagged = [p.name for p in r.points[0].params if p.status != "ok"]
    assert flagged == ["w17"] and r.points[0].params[17].culprit == "claimed"
