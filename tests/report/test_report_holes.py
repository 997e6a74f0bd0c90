"""The coverage grid's decision-instant holes agree with validate's
api_candle_coverage_at_decision check, day by day, on a lake where candles are sparse (the raw
generator builds candles from trades, so some instants come before a market's first candle)."""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path

import pytest

from kalshi_lake.config import Settings
from kalshi_lake.lake.storage import Lake
from kalshi_lake.report.coverage import coverage_cells
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.checks import run_checks
from kalshi_lake.sql.connection import connect
from kalshi_lake.transform import run_transform

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
CHECK = "api_candle_coverage_at_decision"


def test_quote_holes_match_the_check(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    spec = SynthSpec(
        seed=3,
        cities=("chicago", "denver"),
        start=dt.date(2026, 10, 25),
        days=6,
        trades_per_market=30,
        families=("high", "low"),
    )
    generate_raw(Lake(str(root)), spec)
    run_transform(Settings(lake=str(root)))
    con = connect(str(root))
    try:
        cells = coverage_cells(con, now=NOW)
        (check,) = run_checks(con, as_of=NOW, only=[CHECK])  # sets the check's variables
        body = next(c for c in sqlfiles.load("checks") if c.name == CHECK).render("")
        per_day = {
            (city, family, date): n
            for city, family, date, n in con.sql(
                f"SELECT city, family, date, count(*) FROM ({body.rstrip().rstrip(';')}) "
                "GROUP BY ALL"
            ).fetchall()
        }
    finally:
        con.close()
    holes = {(c.city, c.family, c.date): c.quote_holes for c in cells if c.quote_holes}
    assert holes, "the lake should have instants before a market's first candle"
    assert holes == per_day
    assert check.offending == sum(holes.values())
    statuses = collections.Counter(c.status for c in cells)
    assert statuses["partial"] == len(holes)
