"""Agreement, blame, refinement and the special statuses, on hand-made estimates."""

import math

import pytest

from gradcheck.compare import Estimate, classify

RTOL = 1e-8


def estimates(**values):
    """Exact-ish estimates; numeric gets an error bound of 1e-10 relative."""
    out = {}
    for name, value in values.items():
        bound = 1e-10 * abs(value) if name == "numeric" else 1e-15 * abs(value)
        out[name] = Estimate(value, bound)
    return out


def test_all_agree_is_ok():
    v = classify(estimates(symbolic=2.0, tape=2.0, numeric=2.0 + 1e-11), RTOL, 0.0)
    assert (v.status, v.culprit) == ("ok", None)
    assert v.rel_error == pytest.approx(5e-12)


@pytest.mark.parametrize("odd", ["symbolic", "tape", "numeric", "claimed"])
def test_the_odd_one_out_is_the_culprit(odd):
    values = {"symbolic": 3.0, "tape": 3.0, "numeric": 3.0, "claimed": 3.0}
    values[odd] = -3.0
    v = classify(estimates(**values), RTOL, 0.0)
    assert (v.status, v.culprit) == ("mismatch", odd)
    assert v.rel_error == pytest.approx(2.0)
    assert odd in v.message


def test_claim_is_blamed_before_others_in_a_tie():
    v = classify(estimates(symbolic=1.0, claimed=2.0), RTOL, 0.0)
    assert v.culprit == "claimed"


def test_tiny_gradients_are_judged_relatively():
    v = classify(estimates(symbolic=1e-8, tape=1e-8, numeric=1e-8, claimed=2e-8), RTOL, 0.0)
    assert (v.status, v.culprit) == ("mismatch", "claimed")


def test_atol_can_be_asked_for():
    v = classify(estimates(symbolic=1e-8, tape=1e-8, numeric=1e-8, claimed=2e-8), RTOL, 1e-6)
    assert v.status == "ok"


def test_numeric_error_bound_is_used():
    e = estimates(symbolic=5.0, tape=5.0)
    e["numeric"] = Estimate(5.001, 0.01)  # a poor estimate that knows it is poor
    assert classify(e, RTOL, 0.0).status == "ok"
    e["numeric"] = Estimate(5.001, 1e-6)  # overconfident: blamed
    assert classify(e, RTOL, 0.0).culprit == "numeric"


def test_close_calls_are_refined_at_high_precision():
    calls = []

    def refine(value):
        def run():
            calls.append(value)
            return value
        return run

    # float64 rounding so coarse (uncertainty 1e-3) that a 1e-6 slip would hide in it
    e = {"symbolic": Estimate(1.0, 1e-3, refine(1.0)), "tape": Estimate(1.0, 1e-3),
         "claimed": Estimate(1.000001, 1e-3, refine(1.000001))}
    v = classify(e, RTOL, 0.0)
    assert calls, "an ill-conditioned comparison must be re-evaluated"
    assert (v.status, v.culprit) == ("mismatch", "claimed")
    assert set(v.refined) == {"symbolic", "claimed"}


def test_a_right_claim_is_not_flagged_for_float_rounding():
    # float64 evaluations disagree at 1e-9 (cancellation); at 50 digits they are equal
    e = {"symbolic": Estimate(1.0 + 1e-9, 1e-16, lambda: 1.0), "tape": Estimate(1.0, 1e-16),
         "claimed": Estimate(1.0 - 1e-9, 1e-16, lambda: 1.0)}
    assert classify(e, RTOL, 0.0).status == "ok"


def test_undefined_and_kinks_are_never_a_pass():
    e = estimates(symbolic=0.0, tape=0.0, numeric=0.0)
    assert classify(e, RTOL, 0.0, undefined="log(x) is nan").status == "undefined"
    assert classify(e, RTOL, 0.0, kink="Abs(x) = 0").status == "nondifferentiable"


def test_non_finite_sources():
    nan = math.nan
    assert classify(estimates(symbolic=nan, tape=nan, numeric=nan), RTOL, 0.0).status == "undefined"
    v = classify(estimates(symbolic=1.0, tape=nan, numeric=1.0), RTOL, 0.0)
    assert (v.status, v.culprit) == ("mismatch", "tape")
    v = classify(estimates(symbolic=1.0, tape=1.0, numeric=nan), RTOL, 0.0)
    assert v.status == "ok" and "finite differences" in v.message


def test_no_two_sources_agree():
    v = classify(estimates(symbolic=1.0, tape=2.0, numeric=3.0), RTOL, 0.0)
    assert (v.status, v.culprit) == ("mismatch", None)
    assert "no two sources agree" in v.message
