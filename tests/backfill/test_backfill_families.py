"""Highs and lows end to end: one city's two families backfilled, transformed and validated.

Across the 2026-11-01 fall-back (Chicago), both families live on the simulator: every trade and
candle its world has for both families lands in the raw layer, the curated tables say which
family each row is, each settled lows event has exactly one winning bracket, decision quotes of
the low series are the world's quotes at the DST-correct instants, and ``validate`` passes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from kalshi_lake import connect
from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.sim.model import US, to_us
from kalshi_lake.transform import run_transform

CITY = get_city("chicago")
START, END = dt.date(2026, 10, 31), dt.date(2026, 11, 2)  # DST ends 2026-11-01 (US)


@pytest.mark.slow
def test_both_families_land_whole_and_validate(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    sim = sim_factory()
    settings = settings_for(sim)
    summary = run_backfill(settings, CITY, START, END)
    assert summary.status == "ok" and not summary.failures
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, START, END)
    lows = truth_of(sim.world, CITY, START, END, families=["low"])
    assert lows.trades and lows.candles and lows.trades <= truth.trades
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    series = {r["series_ticker"] for r in raw.rows if r["endpoint"] in ("trades", "events")}
    assert series == {"KXHIGHCHI", "KXLOWTCHI"}, "the raw series_ticker tells families apart"

    run_transform(settings, city=CITY)
    con = connect(str(lake_dir))
    families = dict(con.sql("SELECT family, count(*) FROM trades GROUP BY ALL").fetchall())
    high_n = len(truth.trades - lows.trades)
    assert families == {"high": high_n, "low": len(lows.trades)}
    for table in ("markets", "candles_1m", "candles_5m"):
        bad = con.sql(
            f"SELECT count(*) FROM {table} WHERE family IS DISTINCT FROM "
            "CASE WHEN event_ticker LIKE 'KXLOWT%' THEN 'low' ELSE 'high' END"
        ).fetchall()
        assert bad == [(0,)], table

    # A settled lows event: exactly one yes, and it is the world's winner.
    settled = con.sql(
        "SELECT event_ticker, list(market_ticker) FILTER (WHERE result = 'yes') FROM markets "
        f"WHERE family = 'low' AND status = 'finalized' AND date BETWEEN '{START}' AND '{END}' "
        "GROUP BY ALL ORDER BY min(date)"
    ).fetchall()
    assert [e for e, _ in settled] == [
        CITY.series("low").event_ticker(START + dt.timedelta(days=i)) for i in range(3)
    ]
    for event, yes in settled:
        ev = sim.world.event_by_ticker(event)
        assert ev is not None and ev.family == "low" and ev.value < ev.high
        assert yes == [m.ticker for m in ev.markets if m.result == "yes"]

    _decision_quotes_match_the_world(con, sim)

    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "validate", "--as-of", sim.world.now.isoformat()],
    )
    assert result.exit_code == 0, result.output


def _decision_quotes_match_the_world(con: duckdb.DuckDBPyConnection, sim: Any) -> None:
    """Lows decision instants are 10:00 Chicago time (15:00Z in CDT, 16:00Z in CST), and the
    quote there is the world's book at that instant."""
    rows = con.sql(
        "SELECT market_ticker, date, decision_label, decision_at, yes_bid, yes_ask "
        "FROM decision_quotes WHERE family = 'low' AND date BETWEEN '2026-10-31' AND '2026-11-02' "
        "ORDER BY date, market_ticker, decision_at"
    ).fetchall()
    assert len(rows) == 3 * 6 * 2
    hours = {
        (dt.date(2026, 10, 31), "D-1 10:00"): 15,
        (dt.date(2026, 10, 31), "D 10:00"): 15,
        (dt.date(2026, 11, 1), "D-1 10:00"): 15,
        (dt.date(2026, 11, 1), "D 10:00"): 16,
        (dt.date(2026, 11, 2), "D-1 10:00"): 16,
        (dt.date(2026, 11, 2), "D 10:00"): 16,
    }
    quoted = 0
    for ticker, date, label, at, bid, ask in rows:
        assert at.astimezone(dt.UTC).hour == hours[(date, label)], (ticker, label)
        m = sim.world.market(ticker)
        assert m is not None and m.series_ticker == "KXLOWTCHI"
        at_us = to_us(at)
        if not m.open_us + 60 * US <= at_us <= m.close_us:
            continue  # not open for a minute yet: the open instant has no quote
        b, a, _, _ = sim.world.tape(m).quote_at(at_us)
        # An empty side (bid 0, ask 1) is no quote: NULL.
        want = (_price(b) if b > 0 else None, _price(a) if a < 100 else None)
        assert (bid, ask) == want, (ticker, label)
        quoted += 1
    assert quoted >= 18


def _price(cents: int) -> Any:
    from decimal import Decimal

    return Decimal(cents) / 100


@pytest.mark.parametrize(
    ("city", "family", "message"),
    [
        ("chicago", "bogus", "unknown family 'bogus'; valid families: high, low"),
        ("chicago", "high,medium", "unknown family 'medium'; valid families: high, low"),
        ("austin", "low", "austin has no 'low' series; its families: high"),
    ],
)
def test_a_family_that_does_not_exist_exits_2(
    lake_dir: Path, city: str, family: str, message: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", city, "--family", family,
         "--api-url", "http://127.0.0.1:9/trade-api/v2"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not list(lake_dir.rglob("*.parquet")), "nothing fetched or written"


def test_one_family_fetches_only_its_series(
    sim_factory: Callable[..., Any], lake_dir: Path, settings_for: Callable[..., Any],
    raw_of: Callable[..., Any], truth_of: Callable[..., Any],
) -> None:  # fmt: skip
    sim = sim_factory()
    summary = run_backfill(settings_for(sim), CITY, END, END, families=["low"])
    assert summary.status == "ok"
    raw = raw_of(lake_dir)
    lows = truth_of(sim.world, CITY, END, END, families=["low"])
    assert set(raw.trades) == lows.trades and raw.candles == lows.candles
    assert {r["series_ticker"] for r in raw.rows if r["endpoint"] != "cutoff"} == {"KXLOWTCHI"}
    # GET /series was read once and compared with the registry: the one series it lacks.
    (warning,) = [n for n in summary.notes if n.startswith("warning:")]
    assert "KXLOWTAUS" in warning and "registry lacks" in warning
    assert "KXLOWTAUS" in summary.render()
    assert sim.stats()["by_endpoint"]["/series"] == {"200": 1}
