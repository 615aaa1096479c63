"""The HTML faces: a Report's table (notebooks), the Markdown form, and the
self-contained page of --html / --gradcheck-html, opened in a real headless browser."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from gradcheck.api import check
from gradcheck.page import Entry, page_html, write_page

CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if os.path.exists(p)), None)
DATA = {"x": [1.0, 2.0, 3.0], "y": [2.0, 4.0, 6.0]}


def wrong():
    return check("(w*x - y)**2", data=DATA, claimed={"w": "2*(w*x - y)"})


def test_report_html_colours_statuses_and_marks_the_culprit():
    html = wrong()._repr_html_()
    assert "data-status='mismatch'" in html and "#fce8e6" in html  # the row's red
    culprit = re.search(r"<td class='culprit'[^>]*>([^<]*)</td>", html)
    assert culprit and culprit.group(1) == "-10.536"  # the claimed value is outlined
    assert "2·x·(w·x - y)" in html and "title='2*x*(w*x - y)'" in html  # readable, and pastable
    assert "FAILED: 1 mismatch of 1 check" in html
    ok = check("w1*x**2 + w2*x + b", at={"x": 2.0})._repr_html_()
    assert "x<sup>2</sup>" in ok and "data-status='mismatch'" not in ok and "<script" not in ok


def test_report_markdown_has_latex_derivatives():
    md = wrong()._repr_markdown_()
    assert "$2 x \\left(w x - y\\right)$" in md and "**-10.536**" in md and "| parameter |" in md


def test_trace_displays_as_html_tables():
    report = check("x*w", at={"x": 2.0, "w": 3.0}, inputs=["x"])
    html = report.trace()._repr_html_()
    assert "<table>" in html and "dv0/dw = x = 2" in html and "dL/dw" in html


def test_page_is_self_contained(tmp_path):
    report = wrong()
    page = page_html([Entry("a wrong claim", report, DATA), Entry("ok", check("x*w", at={"x": 2.0}))])
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", page)  # nothing fetched
    assert "backward pass (first point)" in page and "1 failed" in page
    if shutil.which("dot"):
        assert "<svg" in page
    else:
        assert "not installed" in page and "digraph" in page


def test_page_of_a_function_model_says_why_there_is_no_trace(tmp_path):
    import numpy as np

    report = check(lambda w: np.sum(w ** 2), at={"w": np.ones(3)})
    page = page_html([Entry("function", report)])
    assert "needs a text expression" in page


def test_cli_writes_the_page(tmp_path):
    from click.testing import CliRunner

    from gradcheck.cli import cli

    target = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["expr", "(w*x - y)**2", "--data", "x=1,2,3", "--data", "y=2,4,6",
                                      "--claim", "w=2*(w*x - y)", "--html", str(target)])
    assert result.exit_code == 1
    page = target.read_text(encoding="utf-8")
    assert "mismatch (claimed)" in page and "sum over rows of" in page  # table and trace


@pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium (Debian: apt-get install chromium)")
def test_page_in_a_headless_browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the test extra installs playwright")
    path = write_page(tmp_path / "report.html", [Entry("a wrong claim", wrong(), DATA),
                                                  Entry("a passing check", check("x*w", at={"x": 2.0}))])
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        assert page.title() == "gradcheck report"
        assert page.locator("section").count() == 2
        row = page.locator("tr[data-status='mismatch']")
        assert row.count() == 1
        color = row.locator("td.status").evaluate("e => getComputedStyle(e).backgroundColor")
        assert color == "rgb(252, 232, 230)"
        culprit = page.locator("td.culprit").first
        assert culprit.inner_text() == "-10.536"
        if shutil.which("dot"):
            box = page.locator(".graph svg").first.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 100  # the graph is drawn
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert requests == [path.as_uri()]  # no network: everything is inline
    assert (tmp_path / "report.png").stat().st_size > 10_000
