"""A sum of many terms is differenced term by term (term_sums.py): the same
derivatives as differencing the whole sum, against hand-derived truth."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import gradcheck
from gradcheck import term_sums
from gradcheck.expression import Expression

N = 80  # above term_sums.SPLIT_TERMS
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
    assert len(Expression.from_sympy(expr).terms()) >= term_sums.SPLIT_TERMS
    r = gradcheck.check(expr, wrt=WRT, at=AT, method=method)
    assert r.ok, str(r)
    numeric = np.array([p.numeric for p in r.points[0].params])
    tolerance = 1e-6 if method == "central" else 1e-9
    np.testing.assert_allclose(numeric, chain_truth(), rtol=tolerance, atol=tolerance)


def test_split_and_whole_sum_agree_within_their_error_bounds(monkeypatch):
    split = gradcheck.check(chain(), wrt=WRT, at=AT, method="richardson")
    monkeypatch.setattr(term_sums, "SPLIT_TERMS", 10 ** 9)
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


# --- the symbolic source by the shapes of the terms (templates.py) -----------------------
def mixed() -> sympy.Expr:
    """Repeated shapes, a coupling, two constants, a repeated symbol, input-only terms."""
    return (sympy.Add(*[sympy.sin(w[i] * x[i]) for i in range(N)])
            + sympy.Add(*[w[i] * w[i + 1] for i in range(N - 1)])
            + sympy.Add(*[(2 if i % 2 else 3) * w[i] ** 2 for i in range(N)])
            + sympy.Add(*[w[i] * sympy.exp(w[i] / 4) for i in range(N)])
            + sympy.Add(*[x[i] ** 2 for i in range(N)]))


def mixed_truth() -> np.ndarray:
    g = np.cos(W * X) * X + np.where(np.arange(N) % 2, 4, 6) * W + np.exp(W / 4) * (1 + W / 4)
    g[:-1] += W[1:]
    g[1:] += W[:-1]
    return g


def build(shapes: bool):
    from gradcheck.problem import make_problem
    from gradcheck.symbolic import build_symbolic
    problem = make_problem(mixed(), wrt=WRT, at=AT)
    model = build_symbolic(problem, shapes=shapes)
    return problem, model, model.arguments(problem, {n: AT[n] for n in WRT})


def test_shapes_give_every_element_its_exact_derivative():
    _, by_shape, arguments = build(shapes=True)
    _, plain, same = build(shapes=False)
    assert by_shape.exprs.__class__.__name__ == "LazyDerivatives"  # the shapes were used
    grad, mag, size = by_shape.evaluate(arguments)
    plain_grad, plain_mag, plain_size = plain.evaluate(same)
    np.testing.assert_allclose(grad, mixed_truth(), rtol=1e-13)
    np.testing.assert_allclose(grad, plain_grad, rtol=1e-13)
    np.testing.assert_allclose(mag, plain_mag, rtol=1e-12)
    assert size == pytest.approx(plain_size, rel=1e-12)


def test_a_shaped_derivative_read_as_sympy_is_the_derivative():
    _, by_shape, arguments = build(shapes=True)
    point = {sympy.Symbol(k, real=True): sympy.Rational(v) for k, v in arguments.items()}
    for element in (0, 17, N - 1):
        value = float(by_shape.exprs[element].subs(point).evalf(30))
        assert value == pytest.approx(mixed_truth()[element], rel=1e-13)
    refined = by_shape.refined(arguments)  # mpmath reads every element's expression
    np.testing.assert_allclose(refined, mixed_truth(), rtol=1e-13)


def test_a_big_sum_check_uses_shapes_and_catches_a_slip():
    truth = mixed_truth()
    claimed = {name: float(v) for name, v in zip(WRT, truth)}
    claimed["w3"] *= 1 + 1e-6
    r = gradcheck.check(mixed(), wrt=WRT, at=AT, claimed=claimed)
    symbolic = np.array([p.symbolic for p in r.points[0].params])
    np.testing.assert_allclose(symbolic, truth, rtol=1e-13)
    tape = np.array([p.tape for p in r.points[0].params])  # the tape ran once per shape
    np.testing.assert_allclose(tape, truth, rtol=1e-13)
    assert [p.name for p in r.points[0].params if p.status != "ok"] == ["w3"]
    assert "symbolic" not in r.skipped and r.derivatives["w0"]


def test_the_tape_by_shapes_matches_the_tape_on_the_whole_sum():
    from gradcheck.problem import make_problem
    from gradcheck.sources import tape_gradient
    problem = make_problem(chain(), wrt=WRT, at=AT)
    point = {n: AT[n] for n in WRT}
    assert problem.term_sum is not None and len(problem.term_sum.shapes) < N
    by_shapes = problem.term_sum.tape_gradient({**problem.fixed, **point}, problem.flatten(point))
    whole = make_problem(chain(), wrt=WRT, at=AT)
    whole.__dict__["term_sum"] = None  # the cached property, switched off
    np.testing.assert_allclose(by_shapes, tape_gradient(whole, point)[0], rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(by_shapes, chain_truth(), rtol=1e-13)


def test_a_function_sum_of_dense_shapes_is_exact_and_a_too_dense_one_refused():
    from gradcheck.problem import make_problem
    from gradcheck.symbolic import build_symbolic
    X = RNG.normal(size=(8, 4))
    Wm = RNG.normal(size=(4, 10)) * 0.3
    problem = make_problem(lambda W: np.sum(np.tanh(X @ W)), at={"W": Wm})
    model = build_symbolic(problem, shapes=True)
    assert model.exprs.__class__.__name__ == "LazyDerivatives"  # 80 terms, 8 shapes
    grad = model.evaluate(model.arguments(problem, {"W": Wm}))[0]
    np.testing.assert_allclose(grad.reshape(4, 10), X.T @ (1 - np.tanh(X @ Wm) ** 2), rtol=1e-12)
    X = RNG.normal(size=(8, 100))
    dense = gradcheck.check(lambda W: np.sum(np.tanh(X @ W)), at={"W": RNG.normal(size=(100, 10)) * 0.1})
    assert "estimated work above" in dense.skipped["symbolic"]


def test_a_complex_shaped_derivative_is_undefined_as_per_element():
    expr = sympy.Add(*[(-2) ** w[i] * x[i] for i in range(N)])
    from gradcheck.problem import make_problem
    from gradcheck.symbolic import build_symbolic
    at = {**{f"w{i}": 2.0 for i in range(N)}, **{f"x{i}": 1.0 for i in range(N)}}
    problem = make_problem(expr, wrt=WRT, at=at)
    point = {n: at[n] for n in WRT}
    by_shape = build_symbolic(problem, shapes=True)
    plain = build_symbolic(problem, shapes=False)
    assert by_shape.exprs.__class__.__name__ == "LazyDerivatives"
    grad = by_shape.evaluate(by_shape.arguments(problem, point))[0]
    assert np.all(np.isnan(grad)) and np.all(np.isnan(plain.evaluate(plain.arguments(problem, point))[0]))


def test_a_symbolic_limit_the_user_gives_is_kept_for_big_sums():
    r = gradcheck.check(chain(), wrt=WRT, at=AT, symbolic_limit=10)
    assert "symbolic" in r.skipped and "symbolic limit of 10" in r.skipped["symbolic"]
    assert "symbolic" not in gradcheck.check(mixed(), wrt=WRT, at=AT).skipped
