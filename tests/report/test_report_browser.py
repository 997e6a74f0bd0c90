"""The report of a simulator lake in headless Chromium with no network: the heatmap renders
(a screenshot that is not blank, with the status colours in it) and the planted hole (a
deleted day) shows as missing in the rendered chart."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import report_browser as browser
from report_lake import HOLE

from kalshi_lake.report import build_report, write_report
from kalshi_lake.report.charts import COLOURS
from kalshi_lake.report.coverage import STATUSES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report_page(sim_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    return write_report(build_report(str(sim_lake), checks=False), out)


def _pixels_of(shot: np.ndarray, hex_colour: str, tolerance: int = 24) -> int:
    rgb = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(shot.astype(np.int16) - rgb).sum(axis=2) <= tolerance).sum())


def test_page_needs_nothing_from_the_network(report_page: Path) -> None:
    page = report_page.read_text(encoding="utf-8")
    # the markup outside the inline scripts (the Vega bundle's own strings are not markup)
    text = re.sub(r"<script\b[^>]*>.*?</script>", "<script></script>", page, flags=re.DOTALL)
    assert text.count("<script></script>") >= 3  # the bundle, the chart, the data: all inline
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=", text, re.IGNORECASE)
    assert not re.search(r"<link\b", text, re.IGNORECASE)
    assert "@import" not in text and "url(http" not in text


def test_heatmap_renders_offline_and_shows_the_hole(report_page: Path, tmp_path: Path) -> None:
    dom = browser.dump_dom(report_page, tmp_path / "profile-dom")
    chart = re.search(r'<div class="chart[^"]*" id="coverage-chart"[^>]*>(.{0,2000})', dom, re.S)
    assert chart and "<svg" in chart.group(1), "the heatmap was not drawn"
    # Vega drew one rect per cell into an SVG, each described by its fields
    labels = re.findall(r'aria-label="([^"]*status: [^"]*)"', dom)
    cells = [dict(kv.split(": ", 1) for kv in label.split("; ")) for label in labels]
    cells = [c for c in cells if "city" in c and "date" in c]
    by_key = {(c["city"], c["family"], c["date"]): c["status"] for c in cells}
    assert by_key[("chicago", "high", HOLE.isoformat())] == "missing"
    assert by_key[("chicago", "low", HOLE.isoformat())] == "missing"
    others = {k: v for k, v in by_key.items() if not (k[0] == "chicago" and k[2] == str(HOLE))}
    assert others and set(others.values()) == {"complete"}, others

    shot = browser.screenshot(report_page, tmp_path / "profile-shot", tmp_path / "shot.png")
    non_white = (shot.astype(np.int16).sum(axis=2) < 3 * 245).mean()
    assert non_white > 0.02, f"blank screenshot ({non_white:.1%} of pixels not white)"
    colours = dict(zip(STATUSES, COLOURS, strict=True))
    # the missing cells (two, one per family) and many complete ones were painted
    assert _pixels_of(shot, colours["missing"]) > 2 * 40
    assert _pixels_of(shot, colours["complete"]) > 10 * _pixels_of(shot, colours["missing"])
