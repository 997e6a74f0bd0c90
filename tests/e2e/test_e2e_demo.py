"""End to end on a simulator lake: `kalshi-lake demo` runs to the end, the checks are silent, and
decision_quotes equals a plain Python computation from the simulator's own data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import kalshi_lake
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.demo import DEMO_MARKER, DEMO_NOW
from kalshi_lake.lake.storage import Lake, unique_name
from kalshi_lake.sim.world import World
from kalshi_lake.sql.checks import run_checks

SEED = 7
DAYS = 3
pytestmark = pytest.mark.slow  # the demo end to end


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Result]:
    """`kalshi-lake --lake X demo --cities chicago,phoenix --days 3` on a fresh lake."""
    root = tmp_path_factory.mktemp("demo") / "lake"
    res = CliRunner().invoke(
        cli,
        [
            "--lake",
            str(root),
            "demo",
            "--cities",
            "chicago,phoenix",
            "--days",
            str(DAYS),
            "--seed",
            str(SEED),
        ],
    )
    return Lake(str(root)), res


def test_demo_runs_to_the_end(demo_run: tuple[Lake, Result]) -> None:
    lake, res = demo_run
    assert res.exit_code == 0, res.output
    out = res.output
    assert "simulator at http://127.0.0.1:" in out
    assert "backfill chicago" in out and "backfill phoenix" in out
    assert "event_ladder: chicago" in out and "is_winner" in out
    assert (
        "kalshi_lake.connect(" in out and "demo finished in" in out and "validation passed" in out
    )
    assert lake.exists("kalshi.duckdb") and lake.exists(DEMO_MARKER)
    # the last step writes the report and its path is the last line
    assert out.strip().splitlines()[-1].startswith(f"report: {lake.path('report.html')} ")
    assert lake.exists("report.html")


def test_checks_are_silent_on_the_simulator_lake(demo_run: tuple[Lake, Result]) -> None:
    lake, _res = demo_run
    results = run_checks(lake, as_of=DEMO_NOW)
    assert {
        r.name: (r.status, r.sample[:1], r.error)
        for r in results
        if r.level == "error" and not r.passed
    } == {}


def _price(s: str | None, empty: str) -> Decimal | None:
    """A candle's bid/ask close: Kalshi shows an empty side as 0 (bid) or 1 (ask)."""
    if s is None or Decimal(s) == Decimal(empty):
        return None
    return Decimal(s)


def _reference(world: World, market: dict[str, Any]) -> list[dict[str, Any]]:
    """decision_quotes of one market, straight from the simulator's candles and trades."""
    ticker = market["market_ticker"]
    zone = get_city(market["city"]).zone
    candles = world.candles(ticker, 1)
    trades = sorted(
        world.trades(ticker),
        key=lambda t: (
            dt.datetime.fromisoformat(t["created_time"].replace("Z", "+00:00")),
            t["trade_id"],
        ),
    )
    out = []
    for label, back in (("D-1 10:00", 1), ("D 10:00", 0)):
        at = dt.datetime.combine(
            market["date"] - dt.timedelta(days=back), dt.time(10), zone
        ).astimezone(dt.UTC)
        seen = [c for c in candles if c["end_period_ts"] <= at.timestamp()]
        last = seen[-1] if seen else None
        traded = [
            t
            for t in trades
            if dt.datetime.fromisoformat(t["created_time"].replace("Z", "+00:00")) <= at
        ]
        lt = traded[-1] if traded else None
        bid = _price(last["yes_bid"]["close_dollars"], "0") if last else None
        ask = _price(last["yes_ask"]["close_dollars"], "1") if last else None
        out.append(
            {
                "market_ticker": ticker,
                "decision_label": label,
                "decision_at": at,
                "yes_bid": bid,
                "yes_ask": ask,
                "mid": (bid + ask) / 2 if bid is not None and ask is not None else None,
                "quote_at": dt.datetime.fromtimestamp(last["end_period_ts"], dt.UTC)
                if last
                else None,
                "last_trade_price": Decimal(lt["yes_price_dollars"]) if lt else None,
                "last_trade_at": dt.datetime.fromisoformat(
                    lt["created_time"].replace("Z", "+00:00")
                )
                if lt
                else None,
                "result": world.market_payload(ticker).get("result") or None,
            }
        )
    return out


def test_decision_quotes_equal_the_simulator_data(demo_run: tuple[Lake, Result]) -> None:
    lake, _res = demo_run
    world = World(SEED, DEMO_NOW)
    con = kalshi_lake.connect(lake)
    cur = con.execute("SELECT * FROM decision_quotes ORDER BY market_ticker, decision_at")
    names = [d[0] for d in cur.description]
    got = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    # only markets whose trades and candles the demo fetched (its date range)
    markets = con.execute(
        "SELECT market_ticker, city, date FROM markets WHERE market_ticker IN "
        "(SELECT market_ticker FROM candles_1m WHERE source = 'api')"
    ).fetchall()
    assert len(markets) >= 6 * DAYS * 2
    expected = {}
    for ticker, city, date in markets:
        for row in _reference(world, {"market_ticker": ticker, "city": city, "date": date}):
            expected[(ticker, row["decision_label"])] = row
    compared = 0
    for g in got:
        e = expected.get((g["market_ticker"], g["decision_label"]))
        if e is None:
            continue
        assert {k: g[k] for k in e} == e
        compared += 1
    assert compared == len(expected)
    assert sum(1 for e in expected.values() if e["yes_bid"] is not None) > len(expected) // 2


def test_demo_refuses_a_lake_it_did_not_write(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "real"))
    lake.write_bytes(b"x", f"raw/trades/city=chicago/date=2026-11-01/{unique_name()}")
    res = CliRunner().invoke(cli, ["--lake", lake.root, "demo", "--days", "1"])
    assert res.exit_code == 2
    assert "already holds data that the demo did not write" in res.output
