"""`kalshi-lake repair`: unreadable raw files are quarantined and what they held is fetched again."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.keys import keys_covering
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake
from kalshi_lake.repair import QUARANTINE_DIR, BadFile, RawFileRef, run_repair
from kalshi_lake.schemas import TABLES
from kalshi_lake.sim import SimServer
from kalshi_lake.transform import run_transform

CHICAGO = get_city("chicago")
START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 3)  # live tier (cutoff 2026-09-22)


def _curated(lake: Path) -> dict[str, pl.DataFrame]:
    """Every curated table a backfill makes, sorted, without ``fetched_at`` and
    ``first_seen_at`` (when a page was fetched differs between any two runs; what it says does
    not)."""
    out = {}
    for table in TABLES:
        files = sorted(lake.glob(f"curated/{table}/city=*/month=*/*.parquet"))
        if not files:  # market_events: recorded by follow only
            out[table] = pl.DataFrame()
            continue
        df = pl.concat(
            [
                pl.read_parquet(f).with_columns(
                    city=pl.lit(f.parent.parent.name), month=pl.lit(f.parent.name)
                )
                for f in files
            ]
        )
        df = df.drop([c for c in df.columns if c in ("fetched_at", "first_seen_at")])
        out[table] = df.sort(df.columns)
    return out


def _truncate(path: Path) -> bytes:
    """Cut ``path`` in half (a disk that filled up mid-write); returns the bytes left."""
    data = path.read_bytes()[: path.stat().st_size // 2]
    path.write_bytes(data)
    return data


def _backfilled(settings: Settings) -> None:
    run_backfill(settings, CHICAGO, START, END)
    run_transform(settings, city=CHICAGO)


def _cli(lake: Path, sim: SimServer, *args: str) -> Any:
    return CliRunner().invoke(
        cli, ["--lake", str(lake), *args, "--api-url", sim.base_url, "--rate", "2000"]
    )


def test_repair_quarantines_unreadable_files_and_fetches_what_they_held(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(sim)
    _backfilled(settings)
    clean_lake = tmp_path / "clean"
    _backfilled(dataclasses.replace(settings, lake=str(clean_lake)))
    trades = sorted(lake_dir.glob("raw/trades/city=chicago/date=2026-11-02/*.parquet"))[0]
    listing = sorted(lake_dir.glob("raw/markets/city=chicago/date=*/*.parquet"))[0]
    bad = {p.relative_to(lake_dir).as_posix(): _truncate(p) for p in (trades, listing)}
    # Today: a plain re-run of the backfill trusts its saved progress and fetches neither again.
    before = sim.stats()["requests"]
    run_backfill(settings, CHICAGO, START, END)
    assert (
        not trades.exists() or trades.read_bytes() == bad[trades.relative_to(lake_dir).as_posix()]
    )
    assert sim.stats()["requests"] - before < 10

    result = _cli(lake_dir, sim, "repair", "--city", "chicago")
    assert result.exit_code == 0, result.output
    assert "2 unreadable" in result.output
    # The bad bytes are kept, unchanged, in the quarantine; the raw layer no longer has them.
    kept = {
        p.relative_to(lake_dir).as_posix().split("/", 2)[2]: p.read_bytes()
        for p in lake_dir.glob(f"{QUARANTINE_DIR}/*/raw/**/*.parquet")
    }
    assert kept == bad
    assert not trades.exists() and not listing.exists()
    # Fresh pages: that day's trades and the city's listing were fetched again.
    assert list(trades.parent.glob("*.parquet"))
    assert len(list(lake_dir.glob("raw/markets/city=chicago/date=*/*.parquet"))) >= 1
    # The curated tables are exactly a clean run's, and a transform finds nothing wrong.
    got, want = _curated(lake_dir), _curated(clean_lake)
    assert {t: got[t].equals(want[t]) for t in TABLES} == dict.fromkeys(TABLES, True)
    again = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert again.exit_code == 0, again.output


def test_repair_of_a_healthy_lake_does_nothing(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    _backfilled(settings_for(sim))
    before = sim.stats()["requests"]
    result = _cli(lake_dir, sim, "repair")
    assert result.exit_code == 0, result.output
    assert "nothing unreadable" in result.output
    assert sim.stats()["requests"] == before
    assert not (lake_dir / QUARANTINE_DIR).exists()


def test_repair_while_a_backfill_holds_the_city_exits_2(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    _backfilled(settings_for(sim))
    [trades] = sorted(lake_dir.glob("raw/trades/city=chicago/date=2026-11-01/*.parquet"))[:1]
    _truncate(trades)
    with Lease(Lake(str(lake_dir)), "backfill/chicago", purpose="backfill run other"):
        result = _cli(lake_dir, sim, "repair", "--city", "chicago")
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "Traceback" not in result.output
    assert trades.exists()  # nothing was moved


def test_keys_covering_resets_only_the_units_of_lost_pages() -> None:
    m2, m3 = "KXHIGHCHI-26NOV02-B80.5", "KXHIGHCHI-26NOV03-B80.5"
    items = [
        (f"trades/{m2}", {}),
        (f"walk/trades/live/{m2}/0", {}),
        (f"candles/{m2}", {}),
        ("walk/ecandles/KXHIGHCHI-26NOV02/1-2", {}),
        ("event/KXHIGHCHI-26NOV02", {}),
        (f"market/{m2}", {}),
        (f"trades/{m3}", {}),
        ("event/KXHIGHCHI-26NOV03", {}),
    ]
    day = dt.date(2026, 11, 2)
    assert keys_covering(items, {day: {"trades"}}) == [
        "event/KXHIGHCHI-26NOV02",
        f"trades/{m2}",
        f"walk/trades/live/{m2}/0",
    ]
    assert keys_covering(items, {day: {"event_candlesticks"}}) == [
        f"candles/{m2}",
        "event/KXHIGHCHI-26NOV02",
        "walk/ecandles/KXHIGHCHI-26NOV02/1-2",
    ]
    assert keys_covering(items, {day: {"markets"}}) == ["event/KXHIGHCHI-26NOV02"]
    # The events listing, the series and the cutoff are read again by every run anyway.
    assert keys_covering(items, {day: {"events", "series", "cutoff"}}) == []


@pytest.mark.parametrize("flag", ["--city", "--lake"])
def test_repair_usage_errors_exit_2(tmp_path: Path, flag: str) -> None:
    args = ["repair", "--city", "atlantis"] if flag == "--city" else ["--lake", "", "repair"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2, result.output


def test_an_incomplete_refetch_exits_3_and_the_next_repair_finishes_it(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(sim)
    _backfilled(settings)
    clean_lake = tmp_path / "clean"
    _backfilled(dataclasses.replace(settings, lake=str(clean_lake)))
    trades = sorted(lake_dir.glob("raw/trades/city=chicago/date=2026-11-03/*.parquet"))[0]
    _truncate(trades)
    # The API cannot be reached: the bad file is set aside, the re-fetch is incomplete.
    down = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "repair", "--api-url", "http://127.0.0.1:9/trade-api/v2"],
    )
    assert down.exit_code == 3, down.output
    assert "re-run `kalshi-lake repair`" in down.output and "Traceback" not in down.output
    assert not trades.exists()
    # Nothing is unreadable any more, yet the next repair knows what is still to fetch.
    result = _cli(lake_dir, sim, "repair")
    assert result.exit_code == 0, result.output
    assert "left by an earlier repair" in result.output
    got, want = _curated(lake_dir), _curated(clean_lake)
    assert {t: got[t].equals(want[t]) for t in TABLES} == dict.fromkeys(TABLES, True)
    # and then it is done
    assert "nothing unreadable" in _cli(lake_dir, sim, "repair").output


def test_backfill_refresh_fetches_the_listing_again_and_points_at_repair(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    _backfilled(settings_for(sim))
    listings = sorted(lake_dir.glob("raw/markets/city=chicago/date=*/*.parquet"))
    _truncate(listings[0])
    args = ["backfill", "--city", "chicago", "--start", str(START), "--end", str(END), "--refresh"]
    result = _cli(lake_dir, sim, *args)
    # The fetch worked (a fresh listing is in); the transform still meets the bad file.
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    after = list(lake_dir.glob("raw/markets/city=chicago/date=*/*.parquet"))
    assert len(after) > len(listings)
    assert "`kalshi-lake repair --city chicago` (it moves unreadable files" in result.output
    assert _cli(lake_dir, sim, "repair").exit_code == 0
    assert CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"]).exit_code == 0


@pytest.mark.slow
def test_repair_on_an_s3_lake(
    sim: SimServer, settings_for: Callable[..., Settings], s3_url: Callable[..., str]
) -> None:
    settings = settings_for(sim, lake=s3_url())
    run_backfill(settings, CHICAGO, START, START)
    lake = Lake(settings.lake)
    [trades] = [p for p in lake.walk_files("raw", "trades") if p.endswith(".parquet")][:1]
    data = lake.read_bytes(lake.rel(trades))
    lake.write_bytes(data[: len(data) // 2], lake.rel(trades))
    summary = run_repair(settings, CHICAGO)
    [city] = summary.cities
    assert [b.file.rel for b in city.bad] == [lake.rel(trades)]
    assert lake.read_bytes(city.bad[0].quarantined) == data[: len(data) // 2]
    assert not lake.exists(lake.rel(trades))
    assert city.backfill is not None and city.backfill.trades > 0
    assert city.transform is not None and city.transform.ok


def test_the_scan_reports_progress_off_a_terminal(
    sim: SimServer,
    settings_for: Callable[..., Settings],
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_backfill(settings_for(sim), CHICAGO, START, START)
    capsys.readouterr()
    summary = run_repair(settings_for(sim, progress=True, progress_interval_s=0.0), CHICAGO)
    assert summary.unreadable == 0 and summary.scanned > 0
    lines = capsys.readouterr().err.splitlines()
    assert f"repair chicago: read {summary.scanned:,}/{summary.scanned:,} raw files" in lines


def test_a_repair_stopped_after_moving_a_file_is_finished_by_the_next(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = settings_for(sim)
    _backfilled(settings)
    clean_lake = tmp_path / "clean"
    _backfilled(dataclasses.replace(settings, lake=str(clean_lake)))
    trades = sorted(lake_dir.glob("raw/trades/city=chicago/date=2026-11-02/*.parquet"))[0]
    rel = trades.relative_to(lake_dir).as_posix()
    # What a repair killed between moving the file and resetting its progress leaves behind.
    lake = Lake(str(lake_dir))
    moved = f"{QUARANTINE_DIR}/earlier/{rel}"
    lake.write_bytes(_truncate(trades), moved)
    trades.unlink()
    bad = BadFile(RawFileRef(rel, "trades", "chicago", dt.date(2026, 11, 2), 1), "cut", moved)
    StateStore(lake, "repair/city=chicago").commit(
        {f"file/{rel}": bad.to_state(), "span": {"start": "2026-11-02", "end": "2026-11-02"}}
    )
    summary = run_repair(settings)
    [city] = summary.cities
    assert city.resumed == 1 and city.reset_keys > 0
    got, want = _curated(lake_dir), _curated(clean_lake)
    assert {t: got[t].equals(want[t]) for t in TABLES} == dict.fromkeys(TABLES, True)
    assert run_repair(settings).unreadable == 0  # the record is gone
