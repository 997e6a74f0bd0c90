"""The reconciliation of a simulator lake against the simulator's own published reports, read by
the real daily-report reader (kalshi_lake.sim.reports -> a report folder -> fetch_daily_reports ->
raw/daily_reports -> the reconciliation views)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import fsspec
from reports_fixture import CITY, EVENTS_START

import kalshi_lake
from kalshi_lake.config import Settings
from kalshi_lake.lake.daily_reports import fetch_daily_reports
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.reports import publish_reports
from kalshi_lake.sim.world import SERIES, World


def test_the_simulators_reports_read_by_the_reader_match_its_lake(
    base_lake: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(base_lake, lake)
    bucket = tmp_path / "bucket"
    world = World(FIXTURE_SEED, FIXTURE_NOW, 60)
    series = [s for s in SERIES if s.series_ticker in ("KXHIGHCHI", "KXLOWTCHI", "KXHIGHNY")]
    first, last = EVENTS_START - dt.timedelta(days=1), EVENTS_START + dt.timedelta(days=4)
    publish_reports(fsspec.filesystem("file"), str(bucket), world, first, last, series=series)
    settings = Settings(lake=str(lake), reports_url=str(bucket / "reporting"))
    fetched = fetch_daily_reports(settings, [CITY], first, last + dt.timedelta(days=1))
    assert len(fetched.days_fetched) == 6 and len(fetched.days_pending) == 1
    # the day asked and not published leaves its markers (what makes it pending), once
    pending = lake / "raw" / "daily_reports" / f"city={CITY}" / f"date={last + dt.timedelta(1)}"
    markers = [
        f"unpublished.{k}.{f}.parquet"
        for k in ("market_data", "trade_data")
        for f in ("high", "low")
    ]
    assert sorted(p.name for p in pending.iterdir()) == markers
    fetch_daily_reports(settings, [CITY], last + dt.timedelta(days=1), last + dt.timedelta(days=1))
    assert sorted(p.name for p in pending.iterdir()) == markers
    con = kalshi_lake.connect(str(lake))
    rows = con.sql(
        "SELECT status, flag, count(*), sum(lake_trades) FROM reconciliation GROUP BY ALL"
    ).fetchall()
    [(status, flag, n, trades)] = rows
    assert (status, flag) == ("match", None) and n > 100 and trades > 1000
