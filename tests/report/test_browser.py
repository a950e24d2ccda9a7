"""The report in a real browser: headless Chromium at 1280 px. Skipped only when no chromium is
installed (`apt-get install chromium`; CI installs it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.report_sweep import write_sweep

from kick.report.browser import find_chromium, layout, problems
from kick.report.files import write_report
from kick.report.model import collect

pytestmark = pytest.mark.skipif(find_chromium() is None, reason="chromium is not installed")


def test_the_report_fits_1280_px_with_one_overview_and_a_provenance_header(tmp_path: Path) -> None:
    write_report(collect(write_sweep(tmp_path / "runs")), tmp_path / "rep")
    found = layout(tmp_path / "rep" / "report.html", 1280)
    assert found["viewport"] == 1280
    assert found["page_width"] <= 1280 and found["widest_right"] <= 1280, found
    assert (found["overview_grids"], found["provenance"]) == (1, 1)
    assert found["images"] == 3 and found["images_fit"]
    assert problems(found) == []


def test_the_check_sees_an_element_wider_than_the_window(tmp_path: Path) -> None:
    page = tmp_path / "wide.html"
    page.write_text("<html><body><table class='overview'><tr><td><div style='width:2000px'>x</div></td></tr></table>"
                    "<div class='scroll' style='overflow-x:auto'><div style='width:3000px'>boxed</div></div>"
                    "</body></html>")  # fmt: skip
    found = layout(page, 1280)
    assert found["page_width"] > 1280 and found["widest"].startswith("table.overview")
    assert found["widest_right"] < 2100  # the 3000 px div scrolls inside its box: not counted
    assert any("wider than the window" in p for p in problems(found))
    assert "no provenance header" in problems(found)
