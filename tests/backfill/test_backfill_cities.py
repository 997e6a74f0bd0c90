"""Any set of cities in one command: one process, one rate limiter, one city's failure isolated."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kalshi_lake.backfill import CitiesSummary, run_backfills
from kalshi_lake.cities import CITIES, get_city
from kalshi_lake.cli import cli
from kalshi_lake.errors import FetchIncompleteError
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.state import read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import SimServer

# The fixture simulator's historical cutoff is 2026-09-22T00:00Z: these days straddle it.
ACROSS_CUTOFF = dt.date(2026, 9, 21), dt.date(2026, 9, 23)
LIVE_DAYS = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def _cli(lake: Path, sim: SimServer, *args: str) -> Any:
    return CliRunner().invoke(
        cli,
        ["--lake", str(lake), "backfill", *args, "--api-url", sim.base_url, "--rate", "2000"],
    )


def _trades_by_city(raw: Any) -> dict[str, set[str]]:
    import json

    out: dict[str, set[str]] = {}
    for r in raw.pages("trades"):
        out.setdefault(r["city"], set()).update(
            t["trade_id"] for t in json.loads(r["body"])["trades"]
        )
    return out


@pytest.mark.parametrize(
    "city_args",
    [
        ["--city", "chicago", "--city", "nyc"],
        ["--city", "chicago,NYC"],
        ["--city", "chi, new york", "--city", "nyc"],  # aliases, spaces, a duplicate
    ],
    ids=["repeated", "comma-list", "aliases-and-duplicates"],
)
def test_every_city_named_is_backfilled(
    sim: SimServer,
    lake_dir: Path,
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    city_args: list[str],
) -> None:
    # Before: `--city chicago --city nyc` silently kept only nyc (click's last value wins).
    start, end = LIVE_DAYS
    transform = city_args == ["--city", "chicago", "--city", "nyc"]  # once is enough
    result = _cli(
        lake_dir, sim, *city_args, "--start", str(start), "--end", str(end),
        *([] if transform else ["--no-transform"]),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    by_city = _trades_by_city(raw_of(lake_dir))
    assert set(by_city) == {"chicago", "nyc"}
    for name in ("chicago", "nyc"):
        assert by_city[name] == truth_of(sim.world, name, start, end).trades
    # One summary row per city, then each city's own transform.
    assert "backfill 2 cities (chicago, nyc): ok" in result.output
    for name in ("chicago", "nyc"):
        for family in ("high", "low"):  # both families by default, a row each
            assert f"  {name:<14}{family:<8}{start}..{end}" in result.output
        assert list((lake_dir / "curated").glob(f"*/city={name}")) or not transform
    # Each city has its own run record.
    records = [r for r in read_run_records(Lake.of(lake_dir)) if r.get("command") == "backfill"]
    assert sorted(r["city"] for r in records) == ["chicago", "nyc"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("chicago,gotham", "unknown city 'gotham'; valid cities: nyc, chicago"),
        (",", "names no city"),
    ],
)
def test_a_bad_city_list_exits_2_naming_the_valid_ones(
    lake_dir: Path, value: str, message: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", value,
         "--api-url", "http://127.0.0.1:1/trade-api/v2"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (lake_dir / "raw").exists()


@pytest.mark.slow
def test_all_cities_across_the_cutoff_land_every_row(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = ACROSS_CUTOFF
    result = _cli(lake_dir, sim, "--city", "all", "--start", str(start), "--end", str(end),
                  "--no-transform")  # fmt: skip
    assert result.exit_code == 0, result.output
    raw = raw_of(lake_dir)
    by_city = _trades_by_city(raw)
    active = [c for c in CITIES if c.first_event <= end]
    assert active and len(active) <= len(CITIES)
    for city in active:
        truth = truth_of(sim.world, city, start, end)
        assert truth.events, city.name
        assert by_city.get(city.name, set()) == truth.trades, city.name
        assert {c for c in raw.candles if c[0] in truth.markets} == truth.candles, city.name
        assert truth.markets <= raw.markets, city.name
    # Both tiers were walked, and every request went through one client.
    assert {r["tier"] for r in raw.pages("trades")} == {"live", "historical"}
    assert f"backfill {len(CITIES)} cities" in result.output


def test_one_city_failing_for_good_leaves_the_others_whole_and_a_rerun_completes_it(
    sim_factory: Callable[..., SimServer],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = LIVE_DAYS
    cities = [get_city(n) for n in ("chicago", "nyc", "miami")]
    broken = sim_factory(fail_on="KXHIGHCHI")  # chicago's series answers 404, for good
    with pytest.raises(FetchIncompleteError) as caught:
        run_backfills(settings_for(broken), cities, start, end)
    summary = caught.value.summary
    assert isinstance(summary, CitiesSummary)
    assert caught.value.exit_code == 3
    message = str(caught.value)
    assert "1 of 3 cities are incomplete: chicago" in message
    assert "discovery of KXHIGHCHI" in message and "Complete: nyc, miami" in message
    assert summary.complete_cities() == ["nyc", "miami"]
    by_city = _trades_by_city(raw_of(lake_dir))
    # Only chicago's highs are broken: its lows were fetched all the same.
    lows = truth_of(broken.world, "chicago", start, end, families=["low"]).trades
    assert by_city["chicago"] == lows
    for name in ("nyc", "miami"):
        assert by_city[name] == truth_of(broken.world, name, start, end).trades
    assert "chicago: discovery of KXHIGHCHI" in summary.render()

    # The same command against a healed API completes chicago; the others are found complete.
    healed = sim_factory()
    again = run_backfills(settings_for(healed), cities, start, end)
    assert again.status == "ok" and not again.incomplete
    runs = {r.city: r for r in again.runs}
    # 2 days x 2 families (high and low) each.
    assert runs["nyc"].events_skipped == runs["nyc"].events == 4
    assert runs["chicago"].events_done == runs["chicago"].events_skipped == 2  # lows were done
    assert (
        _trades_by_city(raw_of(lake_dir))["chicago"]
        == truth_of(healed.world, "chicago", start, end).trades
    )


def test_the_cli_exits_3_naming_the_failed_city_and_transforms_the_others(
    sim_factory: Callable[..., SimServer], lake_dir: Path
) -> None:
    broken = sim_factory(fail_on="KXHIGHNY")
    start, end = LIVE_DAYS
    result = _cli(lake_dir, broken, "--city", "nyc,chicago", "--start", str(start),
                  "--end", str(end))  # fmt: skip
    assert result.exit_code == 3, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: 1 of 2 cities are incomplete: nyc")
    assert "re-run the same command" in last
    assert (lake_dir / "curated").exists()
    assert not list((lake_dir / "curated").glob("*/city=nyc"))
    assert list((lake_dir / "curated").glob("*/city=chicago"))


def test_a_city_leased_by_another_worker_is_skipped_and_the_others_done(
    sim: SimServer, lake_dir: Path
) -> None:
    lake = Lake.of(lake_dir)
    other = Lease(lake, "backfill/nyc", ttl_s=60, purpose="backfill run other")
    other.acquire()
    try:
        start, end = LIVE_DAYS
        result = _cli(lake_dir, sim, "--city", "nyc,chicago", "--start", str(start),
                      "--end", str(end), "--no-transform")  # fmt: skip
    finally:
        other.release()
    assert result.exit_code == 2, result.output
    assert "nyc" in result.output and "skipped" in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: nyc skipped: another worker holds the lease")
    records = [r for r in read_run_records(lake) if r.get("command") == "backfill"]
    assert [r["city"] for r in records] == ["chicago"]
    assert records[0]["status"] == "ok"


@pytest.mark.slow
def test_the_cities_share_one_rate_limit(
    sim_factory: Callable[..., SimServer], settings_for: Callable[..., Any]
) -> None:
    # Three cities at 40 requests/s over one limiter: the simulator sees 40/s in all, not 120.
    rate = 40.0
    server = sim_factory(latency_ms=40.0)
    cities = [get_city(n) for n in ("chicago", "nyc", "miami")]
    t0 = time.monotonic()
    days = dt.date(2026, 11, 1), dt.date(2026, 11, 6)
    summary = run_backfills(settings_for(server, rate=rate, concurrency=8), cities, *days)
    elapsed = time.monotonic() - t0
    seen = server.stats()["requests"]
    assert summary.requests == seen
    # Each city's share, plus the one GET /series the run sends for all of them.
    assert sum(r.requests for r in summary.runs) + 1 == seen
    # The client's bucket starts full with one second of the rate; after that, the rate.
    assert seen - rate <= rate * elapsed * 1.05
    # The three cities run at once instead of taking turns: taking turns, their runs would add
    # up to the command's time; at once, to nearly three times it (a loaded machine lets one
    # city finish early, hence the margin).
    # (No bound on the shortest run: on a loaded machine one city's units can all be served
    # early, and the sum already tells running at once from taking turns.)
    assert sum(r.elapsed_s for r in summary.runs) >= 2.0 * summary.elapsed_s


def test_progress_shows_a_row_per_city(
    sim: SimServer, settings_for: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # Unattended (stderr not a terminal): each burst of lines has the total and every city.
    cities = [get_city(n) for n in ("chicago", "nyc")]
    settings = settings_for(sim, progress=True, progress_interval_s=0.0)
    run_backfills(settings, cities, *LIVE_DAYS)
    err = capsys.readouterr().err
    assert "backfill 2 cities: events" in err
    assert "  chicago: events" in err and "  nyc: events" in err
    assert "  chicago: events 4/4" in err and "  nyc: events 4/4" in err  # 2 days x 2 families


def test_transform_takes_the_same_city_lists(sim: SimServer, lake_dir: Path) -> None:
    start, end = LIVE_DAYS
    fetched = _cli(lake_dir, sim, "--city", "chicago,nyc,miami", "--start", str(start),
                   "--end", str(end), "--no-transform")  # fmt: skip
    assert fetched.exit_code == 0, fetched.output
    assert not (lake_dir / "curated").exists()
    # Before: "chicago,nyc" was an unknown city (exit 2) and a repeated --city kept the last.
    result = CliRunner().invoke(
        cli, ["--lake", str(lake_dir), "transform", "--city", "chicago,ny", "--city", "chicago"]
    )
    assert result.exit_code == 0, result.output
    built = {p.name for p in (lake_dir / "curated").glob("markets/city=*")}
    assert built == {"city=chicago", "city=nyc"}
