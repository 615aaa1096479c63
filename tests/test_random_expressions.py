"""Seeded random expressions over the whole whitelist: SymPy's own derivative, claimed,
passes; the same claim slipped by a relative 1e-6, or with its sign flipped, is caught."""

import pytest

import gradcheck
from benchmarks.fuzz import cases


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
