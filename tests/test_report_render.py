"""The text table's rough edges: English counts, the `at` line (natural order, wrapped,
the user's digits), the per-row claim, and the JSON's one type for worst_index."""

from __future__ import annotations

from gradcheck.api import check
from gradcheck.render import format_point, natural_key, verdict_line


def test_counts_read_as_english():
    one = check("w*x", wrt=["w"], at={"x": 2.0})
    assert "agree on the 1 parameter at 1 point" in verdict_line(one)
    two = check("w*x", at={"x": 2.0}, claimed={"w": "3"})
    assert "FAILED: 1 mismatch of 2 checks at 1 point" in verdict_line(two)
    assert "parameter(s)" not in str(two) and "checks at" in str(two)


def test_names_sort_naturally_and_the_at_line_wraps():
    assert sorted(["w10", "w2", "w1", "b"], key=natural_key) == ["b", "w1", "w2", "w10"]
    report = check(" + ".join(f"w{i}*x" for i in range(1, 13)), at={"x": 0.5})
    text = str(report)
    lines = text.splitlines()
    at_lines = lines[1:next(i for i, line in enumerate(lines) if line.startswith("  parameter"))]
    assert len(at_lines) >= 2
    assert at_lines[0].startswith("at w1=") and ", w2=" in at_lines[0]
    assert all(len(line) <= 88 for line in at_lines)
    assert at_lines[1].startswith("   ")  # continuation lines are indented
    rows = [line.split()[0] for line in text.splitlines() if line.startswith("  w")]
    assert rows[:3] == ["w1", "w2", "w3"] and rows.index("w10") == 9


def test_values_the_user_gave_keep_every_digit():
    report = check("w*x", wrt=["w"], at={"x": 0.123456789012345, "w": 2.5})
    assert report.settings["given"] and "x=0.123456789012345" in str(report)
    assert "w=2.5" in str(report)
    seeded = format_point({"w": 0.123456789012345})  # not given: 6 digits
    assert seeded == "w=0.123457"


def test_worst_index_has_one_json_type():
    import numpy as np

    at = {"W": np.ones((2, 3)), "x": np.ones(3)}
    plain = check(lambda W, x: np.sum(np.tanh(W @ x)), at=at, inputs=["x"]).to_dict()
    projected = check(lambda W, x: np.sum(np.tanh(W @ x)), at=at, inputs=["x"], projections=2).to_dict()
    for d in (plain, projected):
        (W,) = [p for p in d["points"][0]["params"] if p["name"] == "W"]
        assert isinstance(W["worst_index"], list) and all(isinstance(i, int) for i in W["worst_index"])
    assert d["schema"] == "gradcheck/report/1"
