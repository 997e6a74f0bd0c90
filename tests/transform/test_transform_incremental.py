"""Replay, incremental rebuilds, dedup across pages and runs, scope, removal, the lease."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from transform_helpers import (
    FETCHED,
    SYNTH_SPEC,
    assert_same,
    curated_files,
    curated_snapshot,
    is_sorted,
    page,
    read_curated,
    trade,
    trades_page,
    write,
)

from kalshi_lake.config import Settings
from kalshi_lake.errors import LockedError
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.storage import Lake
from kalshi_lake.schemas import LIVE_TABLES, TABLES
from kalshi_lake.sim.rawgen import generate_raw
from kalshi_lake.transform import build, inputs, plan, run_transform

UTC = dt.UTC
Copy = Callable[[str], Path]


def _settings(lake: Path) -> Settings:
    return Settings(lake=str(lake), progress=False)


@pytest.mark.slow
def test_replay_delete_curated_transform_compare(synth_copy: Copy) -> None:
    lake = synth_copy("replay")
    first = run_transform(_settings(lake))
    assert len(first.rebuilt) == 4  # 2 cities x (Sep, Oct)
    assert first.duplicates > 0  # the generator re-fetched pages
    # every trade object of every page was read exactly once (copies included)
    [(copies,)] = duckdb.sql(
        f"SELECT sum(json_array_length(body, '$.trades'))::BIGINT "
        f"FROM read_parquet('{lake}/raw/trades/*/*/*.parquet')"
    ).fetchall()
    assert first.trades_read == copies
    before = curated_snapshot(lake)
    for table in TABLES:
        # market_events and the books: only follow's recordings make rows (test_transform_ws.py)
        assert before[table].height > 0 or table in LIVE_TABLES
        assert is_sorted(before[table], table)
    assert before["trades"]["trade_id"].n_unique() == before["trades"].height
    # every partition folder holds exactly its one live file
    files = curated_files(lake)
    assert files and all(f.endswith("/part-0.parquet") for f in files)
    # markets, trades, candles_1m, candles_5m and decision_points of 4 partitions
    assert len(files) == 4 * 5

    shutil.rmtree(lake / "curated")
    again = run_transform(_settings(lake))  # incremental: sees the missing files
    assert sorted(again.rebuilt) == sorted(first.rebuilt)
    assert_same(before, curated_snapshot(lake))
    assert curated_files(lake) == files

    full = run_transform(_settings(lake), full=True)
    assert len(full.rebuilt) == 4
    assert_same(before, curated_snapshot(lake))
    # nothing changed since: nothing to do
    idle = run_transform(_settings(lake))
    assert idle.rebuilt == [] and idle.skipped == 4


@pytest.mark.slow
def test_incremental_after_new_raw_equals_full_rebuild(synth_copy: Copy, tmp_path: Path) -> None:
    lake = synth_copy("incremental")
    run_transform(_settings(lake))
    # A later backfill: one new event day (a new month for nyc), and a re-fetch of an old day
    # with a markets listing filed under its November fetch date.
    new_day = dataclasses.replace(SYNTH_SPEC, start=dt.date(2026, 11, 2), days=1, cities=("nyc",))
    generate_raw(Lake(str(lake)), new_day)
    refetch = dataclasses.replace(
        SYNTH_SPEC, start=dt.date(2026, 9, 29), days=1, cities=("chicago",), seed=SYNTH_SPEC.seed
    )
    generate_raw(Lake(str(lake)), refetch)
    inc = run_transform(_settings(lake))
    assert sorted(inc.rebuilt) == [("chicago", "2026-09"), ("nyc", "2026-11")]
    assert inc.skipped == 3
    incremental = curated_snapshot(lake)

    fresh = tmp_path / "fresh"
    shutil.copytree(lake / "raw", fresh / "raw")
    run_transform(_settings(fresh), full=True)
    assert_same(incremental, curated_snapshot(fresh))
    # the re-fetched day added copies, not trades
    trades = incremental["trades"]
    assert trades["trade_id"].n_unique() == trades.height


def test_dedup_across_overlapping_pages_and_repeated_runs(
    lake_dir: Path, settings: Settings
) -> None:
    tk = "KXHIGHCHI-26OCT05-B80.5"
    t = [trade(f"id-{i}", tk, f"2026-10-04T15:0{i}:00Z", yes=f"0.{10 + i}00") for i in range(6)]
    early, late = FETCHED, FETCHED + dt.timedelta(hours=1)
    write(
        lake_dir,
        [
            trades_page(t[0:3], fetched_at=early),
            trades_page(t[2:5], fetched_at=late, page_number=1),
        ],
    )
    write(lake_dir, [trades_page(t[0:3], fetched_at=early)])  # the same page in another file
    run_transform(settings)
    got = read_curated(lake_dir, "trades")
    assert got["trade_id"].to_list() == [f"id-{i}" for i in range(5)]
    # a trade seen in several pages keeps its latest copy's provenance
    assert got.filter(pl.col("trade_id") == "id-2")["fetched_at"].item() == late
    assert got["yes_price"].to_list() == [Decimal(f"0.{10 + i}") for i in range(5)]

    # later runs bring the same trades again (and one new): still one row per trade
    write(lake_dir, [trades_page(t, fetched_at=late + dt.timedelta(days=1), tier="historical")])
    summary = run_transform(settings)
    assert (summary.trades_read, summary.duplicates) == (15, 9)  # 3 + 3 + 3 + 6 copies of 6 trades
    got = read_curated(lake_dir, "trades")
    assert got["trade_id"].to_list() == [f"id-{i}" for i in range(6)]
    assert set(got["tier"]) == {"historical"}
    run_transform(settings, full=True)
    assert read_curated(lake_dir, "trades").equals(got)
    c1 = read_curated(lake_dir, "candles_1m")
    assert c1.filter(pl.col("source") == "trades")["trade_count"].sum() == 6


def test_removed_raw_removes_the_partition_and_strays_are_swept(
    lake_dir: Path, settings: Settings
) -> None:
    tk = "KXHIGHCHI-26OCT05-B80.5"
    sep = write(lake_dir, [trades_page([trade("a", "KXHIGHCHI-26SEP30-T70", "2026-09-29T15:00:00Z")],
                                       date=dt.date(2026, 9, 30))])  # fmt: skip
    write(lake_dir, [trades_page([trade("b", tk, "2026-10-04T15:00:00Z")])])
    run_transform(settings)
    assert {p.split("/")[2] for p in curated_files(lake_dir)} == {"month=2026-09", "month=2026-10"}

    Lake(str(lake_dir)).delete(sep)
    stray = (
        lake_dir / "curated" / "trades" / "city=chicago" / "month=2026-10" / "old-layout.parquet"
    )
    shutil.copy(
        lake_dir / "curated" / "trades" / "city=chicago" / "month=2026-10" / "part-0.parquet", stray
    )
    summary = run_transform(settings)
    assert summary.removed == [("chicago", "2026-09")]
    assert summary.rebuilt == [("chicago", "2026-10")]  # the stray file made it dirty
    files = curated_files(lake_dir)
    assert all("month=2026-10/part-0.parquet" in f for f in files)
    assert not (lake_dir / "curated" / "trades" / "city=chicago" / "month=2026-09").exists()
    assert read_curated(lake_dir, "trades")["trade_id"].to_list() == ["b"]


def test_scope_by_city_and_dates(synth_copy: Copy) -> None:
    lake = synth_copy("scope")
    only = run_transform(
        _settings(lake), city=_city("nyc"), start=dt.date(2026, 10, 1), end=dt.date(2026, 10, 2)
    )
    assert only.rebuilt == [("nyc", "2026-10")]
    assert {p.split("/")[1] for p in curated_files(lake)} == {"city=nyc"}
    rest = run_transform(_settings(lake))
    assert sorted(rest.rebuilt) == [
        ("chicago", "2026-09"),
        ("chicago", "2026-10"),
        ("nyc", "2026-09"),
    ]
    assert rest.skipped == 1


@pytest.mark.slow
def test_scoped_incremental_lists_only_its_months_and_equals_full(
    synth_copy: Copy, tmp_path: Path
) -> None:
    """The transform a backfill of one day runs (city + that day) lists only that month's raw
    folders (its cost does not grow with the lake) and still gives the full-rebuild answer."""
    lake = synth_copy("scoped")
    run_transform(_settings(lake))
    refetch = dataclasses.replace(
        SYNTH_SPEC, start=dt.date(2026, 9, 29), days=1, cities=("chicago",), listing=True
    )
    generate_raw(Lake(str(lake)), refetch)
    listed = inputs.list_raw(Lake(str(lake)), ["chicago"], {"2026-09"})
    scoped = {f.endpoint: set() for f in listed}
    for f in listed:
        scoped[f.endpoint].add(f.month)
    for endpoint, months in scoped.items():
        if endpoint in plan.DATE_SCOPED:
            assert months == {"2026-09"}, endpoint
    assert any(e in plan.LISTINGS for e in scoped)  # listings are always listed whole
    day = dt.date(2026, 9, 29)
    inc = run_transform(_settings(lake), city=_city("chicago"), start=day, end=day)
    assert inc.rebuilt == [("chicago", "2026-09")]

    fresh = tmp_path / "fresh"
    shutil.copytree(lake / "raw", fresh / "raw")
    run_transform(_settings(fresh), full=True)
    assert_same(curated_snapshot(lake), curated_snapshot(fresh))
    # nothing left over for an unscoped run: the other partitions were not touched or lost
    rest = run_transform(_settings(lake))
    assert rest.rebuilt == [] and rest.removed == []


def test_a_held_lease_blocks_a_second_transform(lake_dir: Path, settings: Settings) -> None:
    write(lake_dir, [trades_page([trade("a", "KXHIGHCHI-26OCT05-B80.5", "2026-10-04T15:00:00Z")])])
    with (
        Lease(Lake(str(lake_dir)), "transform/chicago", purpose="another transform"),
        pytest.raises(LockedError) as err,
    ):
        run_transform(settings)
    assert "another transform" in str(err.value) and err.value.exit_code == 2
    assert not (lake_dir / "curated").exists()
    run_transform(settings)  # released: runs
    assert read_curated(lake_dir, "trades").height == 1


def test_a_new_transform_version_rebuilds_everything(
    lake_dir: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(lake_dir, [trades_page([trade("a", "KXHIGHCHI-26OCT05-B80.5", "2026-10-04T15:00:00Z")])])
    run_transform(settings)
    assert run_transform(settings).rebuilt == []
    monkeypatch.setattr(build, "TRANSFORM_VERSION", build.TRANSFORM_VERSION + 1)
    assert run_transform(settings).rebuilt == [("chicago", "2026-10")]


def test_pages_that_feed_no_table_and_empty_lakes(lake_dir: Path, settings: Settings) -> None:
    assert run_transform(settings).rebuilt == []  # no raw at all
    write(lake_dir, [page("series", {"series": {"ticker": "KXHIGHCHI"}}, date=dt.date(2026, 11, 20)),
                     page("orderbook", {"orderbook_fp": {"yes_dollars": []}})])  # fmt: skip
    summary = run_transform(settings)
    assert summary.rebuilt == [] and not (lake_dir / "curated").exists()


def _city(name: str) -> object:
    from kalshi_lake.cities import get_city

    return get_city(name)
