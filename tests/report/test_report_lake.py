"""The report's sections over a simulator lake: coverage cells (the planted hole missing, the
rest complete), the per-city rows, check results, and the reconciliation summary when the lake
has that view."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from report_lake import CITIES, END, HOLE, START

from kalshi_lake.report import build_report, render_report, write_report
from kalshi_lake.report.build import RECONCILIATION_COLUMNS, _reconciliation
from kalshi_lake.sql.connection import connect

pytestmark = pytest.mark.slow


def test_coverage_cells_show_the_hole_and_nothing_else(sim_lake: Path) -> None:
    data = build_report(str(sim_lake), checks=False)
    status = {(c.city, c.family, c.date): c.status for c in data.cells}
    days = [START + dt.timedelta(days=i) for i in range((END - START).days + 1)]
    expected = {
        (city, family, day): "missing" if (city, day) == ("chicago", HOLE) else "complete"
        for city in CITIES
        for family in ("high", "low")
        for day in days
    }
    assert status == expected
    hole = next(c for c in data.cells if (c.city, c.family, c.date) == ("chicago", "high", HOLE))
    assert hole.markets == 6 and hole.trades == 0  # the listing still names its markets


def test_city_scope_and_sections(sim_lake: Path) -> None:
    data = build_report(str(sim_lake), ["nyc"], checks=True)
    assert {c.city for c in data.cells} == {"nyc"}
    assert {c.status for c in data.cells} == {"complete"}
    assert {(r["city"], r["family"]) for r in data.status} == {("nyc", "high"), ("nyc", "low")}
    assert data.tiers[("nyc", "high")]  # markets per tier
    assert data.runs["nyc"]["runs"] == 1
    assert data.checks and all(r.error is None for r in data.checks)
    assert data.reconciliation == [] and data.live == []
    page = render_report(data)
    assert "Not reconciled yet" in page
    assert "kalshi-lake follow</code> has not run" in page
    for r in data.checks:
        assert r.name in page


def test_written_page_embeds_the_cells(sim_lake: Path, tmp_path: Path) -> None:
    out = write_report(build_report(str(sim_lake), checks=False), tmp_path / "sub" / "r.html")
    text = out.read_text(encoding="utf-8")
    island = re.search(r'<script type="application/json" id="coverage-data">(.*?)</script>', text)
    assert island
    cells = json.loads(island.group(1))
    missing = {(c["city"], c["family"], c["date"]) for c in cells if c["status"] == "missing"}
    assert missing == {("chicago", "high", str(HOLE)), ("chicago", "low", str(HOLE))}
    assert 'chicago</td><td>high</td><td class="missing">missing</td>' in text
    assert list(tmp_path.glob("sub/.*")) == []  # no temp file left


def test_reconciliation_summary_is_read_when_the_view_exists(sim_lake: Path) -> None:
    con = connect(str(sim_lake))
    try:
        assert _reconciliation(con, None) == []  # never reconciled
        con.execute(  # a reconciled lake's summary, as `kalshi-lake reconcile` leaves one
            "CREATE OR REPLACE VIEW reconciliation_summary AS SELECT * FROM (VALUES "
            "('chicago', '2026-11', 'high', 6, 1, 1, 2), ('nyc', '2026-11', 'high', 7, 0, 0, 0)"
            f") AS t({', '.join(RECONCILIATION_COLUMNS)})"
        )
        rows = _reconciliation(con, ["chicago"])
    finally:
        con.close()
    assert rows == [
        dict(zip(RECONCILIATION_COLUMNS, ("chicago", "2026-11", "high", 6, 1, 1, 2), strict=True))
    ]
