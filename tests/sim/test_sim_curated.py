"""The curated-lake generator writes a real curated lake: layout, schemas, the sim's ladders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

import kalshi_lake
from kalshi_lake import schemas
from kalshi_lake.cities import get_city
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import model
from kalshi_lake.sim.curated import build_synthetic_lake, close_time, open_time


def _lake(tmp_path: Path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    counts = build_synthetic_lake(
        lake,
        cities=[get_city("chicago"), get_city("phoenix")],
        start=dt.date(2026, 1, 30),
        days=4,
        trades_per_market=20,
        api_candles_per_market=15,
    )
    assert counts["markets"] == 2 * 4 * 6 and counts["trades"] > 0
    return lake


def test_synthetic_lake_has_the_curated_layout_and_answers_the_backtest_views(
    tmp_path: Path,
) -> None:
    lake = _lake(tmp_path)
    months = sorted(p.name for p in Path(lake.path("curated/trades/city=chicago")).iterdir())
    assert months == ["month=2026-01", "month=2026-02"]
    con = kalshi_lake.connect(lake)
    n, quoted = con.execute(
        "SELECT count(*), count(quote_at) FROM decision_quotes_for('phoenix', DATE '2026-01-30', DATE '2026-02-02')"
    ).fetchall()[0]
    assert n == 2 * 4 * 6 and quoted > 0
    winners = con.execute("SELECT count(*) FROM event_ladder WHERE is_winner").fetchall()[0][0]
    assert winners == 2 * 2 * 4  # one per event and instant


def test_markets_are_sim_ladders_with_one_winner_per_event(tmp_path: Path) -> None:
    lake = _lake(tmp_path)
    files = sorted(Path(lake.path("curated/markets")).glob("city=*/month=*/*.parquet"))
    markets = pl.concat([pl.read_parquet(f) for f in files])
    assert markets.columns == schemas.MARKETS.names
    for (event,), rows in markets.group_by("event_ticker"):
        day = rows["date"][0]
        city = get_city("chicago" if str(event).startswith("KXHIGHCHI") else "phoenix")
        assert event == city.event_ticker(day)
        rungs = model.ladder(int(rows["cap_strike"].drop_nulls().min()))
        assert sorted(rows["market_ticker"]) == sorted(f"{event}-{b.suffix}" for b in rungs)
        got = {
            r["market_ticker"]: (r["strike_type"], r["low_f"], r["high_f"], r["yes_sub_title"])
            for r in rows.iter_rows(named=True)
        }
        assert got == {
            f"{event}-{b.suffix}": (b.strike_type, b.lo, b.hi, b.subtitle) for b in rungs
        }
        assert (rows["result"] == "yes").sum() == 1
        assert rows["open_time"].unique().to_list() == [open_time(day)]
        assert rows["close_time"].unique().to_list() == [close_time(day)]
