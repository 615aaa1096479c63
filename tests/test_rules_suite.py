"""``gradcheck.check_rule`` on the CS231n-style layer rules and matrix identities of
``tests/rule_cases.py``: every right backward passes with no mismatching row, and every
realistic bug is caught with exactly its wrong parameters named and the claim blamed;
a few of them again through the pytest fixture (``gradcheck.rule``)."""

from __future__ import annotations

import re

import numpy as np
import pytest

import gradcheck
from rule_cases import BUGS, CASES, Bug, Case


def _id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()


def _check(case: Case, vjp) -> "gradcheck.RuleReport":
    return gradcheck.check_rule(case.f, vjp, at=case.arguments(), wrt=list(case.wrt),
                                inputs=list(case.inputs))


def _failing(report) -> list:
    return [r for r in report.rows if r.status != "ok"]


def test_the_library() -> None:
    assert len(CASES) >= 19 and len(BUGS) >= 40
    assert len({c.name for c in CASES}) == len(CASES)
    for case in CASES:
        assert len(case.bugs) >= 2, case.name
        assert len({b.name for b in case.bugs}) == len(case.bugs), case.name
        assert set(case.wrt) | set(case.inputs) == set(case.at), case.name
        for bug in case.bugs:
            assert bug.wrong and bug.wrong <= set(case.wrt), (case.name, bug.name)
            assert bug.how in ("vjp", "property"), (case.name, bug.name)


@pytest.mark.parametrize("case", CASES, ids=[_id(c.name) for c in CASES])
def test_the_right_rule_passes(case: Case) -> None:
    before = case.arguments()
    report = _check(case, case.vjp)
    assert report.ok, str(report)
    assert not _failing(report), str(report)
    assert report.blamed("vjp") == set()
    checked = {r.name for r in report.rows if r.kind == "vjp"}
    assert checked == set(case.wrt), str(report)
    for name, value in case.at.items():  # the check worked on copies
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("case, bug", BUGS, ids=[f"{_id(c.name)}/{_id(b.name)}" for c, b in BUGS])
def test_the_bug_is_caught(case: Case, bug: Bug) -> None:
    report = _check(case, bug.vjp)
    assert not report.ok, f"{bug.name} passed:\n{report}"
    blamed = report.blamed("vjp")
    properties = {r.name for r in report.rows if r.kind == "property" and r.status == "mismatch"}
    if bug.how == "vjp":
        assert blamed == bug.wrong, f"blamed {sorted(blamed)}, expected {sorted(bug.wrong)}\n{report}"
        # a vjp that ignores g is also (rightly) reported not linear in g
        assert properties <= bug.wrong, str(report)
    else:
        assert properties == bug.wrong, f"property rows for {sorted(properties)}\n{report}"
        assert blamed <= bug.wrong, str(report)
    for row in _failing(report):
        assert row.status == "mismatch" and row.culprit == "claimed", f"{row}\n{report}"
        assert row.name in bug.wrong, f"{row}\n{report}"


# Through the fixture: a case of each front (tuple result, int labels, a float mask
# declared an input, an integer index, two matrix arguments) — the rest is above.
FIXTURE_CASES = [c for c in CASES if c.name in (
    "affine", "softmax cross-entropy", "dropout (0/1 float mask)",
    "embedding W[idx] (repeated indices)", "solve(A, b)")]


@pytest.mark.parametrize("case", FIXTURE_CASES, ids=[_id(c.name) for c in FIXTURE_CASES])
def test_through_the_fixture(case: Case, request: pytest.FixtureRequest) -> None:
    fixture = request.getfixturevalue("gradcheck")
    options = {"at": case.arguments(), "wrt": list(case.wrt), "inputs": list(case.inputs)}
    report = fixture.rule(case.f, vjp=case.vjp, **options)
    assert report.ok
    bug = case.bugs[0]
    with pytest.raises(AssertionError) as failure:
        fixture.rule(case.f, vjp=bug.vjp, **options)
    message = str(failure.value)
    assert "MISMATCH (claimed)" in message, message
    for name in bug.wrong:
        assert re.search(rf"^\w+\s+{re.escape(name)}\s+MISMATCH", message, re.M), message
