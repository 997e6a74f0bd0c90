"""The seeded raw-layer generator: deterministic, API-shaped pages, self-consistent data, and
built on the simulator's model (ladders, tickers, fixed-point and time encodings)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.lake.raw import RAW_SCHEMA
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import model
from kalshi_lake.sim.rawgen import SynthSpec, _count, _dollars, _iso, _small_count, generate_raw
from kalshi_lake.transform import run_transform

SPEC = SynthSpec(
    seed=3, cities=("boston",), start=dt.date(2026, 10, 30), days=3, trades_per_market=40,
    page_size=16, dup_page_rate=0.3, subcent_rate=0.1,
)  # fmt: skip


def _pages(lake: Path, endpoint: str) -> list[dict[str, object]]:
    rows = []
    for f in sorted((lake / "raw" / endpoint).glob("city=*/date=*/*.parquet")):
        t = pq.read_table(f)
        assert t.schema.equals(RAW_SCHEMA, check_metadata=False), f
        rows += t.to_pylist()
    return rows


def read_curated(lake: Path, table: str) -> pl.DataFrame:
    """Every row of a curated table."""
    files = sorted((lake / "curated" / table).glob("city=*/month=*/*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files])


def _signature(lake: Path) -> list[tuple[object, ...]]:
    keys = ("endpoint", "page_number", "fetched_at", "market_ticker", "body_sha256")
    out = []
    for ep in ("trades", "event", "candlesticks", "markets"):
        out += sorted(tuple(r[k] for k in keys) for r in _pages(lake, ep))
    return out


def test_same_seed_same_pages_other_seed_other_pages(tmp_path: Path) -> None:
    generate_raw(Lake(str(tmp_path / "a")), SPEC)
    generate_raw(Lake(str(tmp_path / "b")), SPEC)
    generate_raw(Lake(str(tmp_path / "c")), dataclasses.replace(SPEC, seed=4))
    assert _signature(tmp_path / "a") == _signature(tmp_path / "b")
    assert _signature(tmp_path / "a") != _signature(tmp_path / "c")


def test_pages_look_like_the_api_and_data_is_consistent(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    stats = generate_raw(Lake(str(lake)), SPEC)
    trades = _pages(lake, "trades")
    assert stats.trade_pages + sum(1 for p in trades if p["run_id"] == "synth-3-2") == len(trades)
    objs: list[dict[str, object]] = []
    for p in trades:
        body = json.loads(str(p["body"]))
        assert set(body) == {"cursor", "trades"}
        assert 1 <= len(body["trades"]) <= SPEC.page_size
        assert p["body_sha256"] is not None and len(str(p["body_sha256"])) == 64
        # newest first within a page, like the API
        times = [t["created_time"] for t in body["trades"]]
        assert times == sorted(times, reverse=True)
        if p["run_id"] == "synth-3-1":
            objs += body["trades"]
    assert len(objs) == stats.trades
    assert len({o["trade_id"] for o in objs}) == stats.trades
    for o in objs:
        yes, no = Decimal(str(o["yes_price_dollars"])), Decimal(str(o["no_price_dollars"]))
        assert yes + no == 1 and Decimal("0.01") <= yes <= Decimal("0.995")
    assert any(Decimal(str(o["yes_price_dollars"])) % Decimal("0.01") for o in objs)  # sub-cent

    run_transform(Settings(lake=str(lake), progress=False))
    mk = read_curated(lake, "markets")
    tr = read_curated(lake, "trades")
    assert mk.height == 3 * 6 and tr.height == stats.trades
    # market volume equals the sum of its trades; exactly one bracket per event resolves yes
    vol = tr.group_by("market_ticker").agg(v=pl.col("count").sum())
    joined = mk.join(vol, on="market_ticker")
    assert joined.filter(pl.col("volume") != pl.col("v")).height == 0
    assert mk.group_by("event_ticker").agg(y=(pl.col("result") == "yes").sum())["y"].to_list() == [
        1,
        1,
        1,
    ]
    # api candles agree with trade candles on volume per minute
    c1 = read_curated(lake, "candles_1m")
    api = c1.filter(pl.col("source") == "api").select("market_ticker", "bucket_start", "volume")
    own = c1.filter(pl.col("source") == "trades").select("market_ticker", "bucket_start", "volume")
    assert api.sort(api.columns).equals(own.sort(own.columns))


def test_event_ladders_are_the_sim_models(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate_raw(Lake(str(lake)), SPEC)
    city = get_city("boston")
    events = [json.loads(str(p["body"]))["event"] for p in _pages(lake, "event")]
    assert sorted(e["event_ticker"] for e in events) == sorted(
        city.event_ticker(d) for d in SPEC.dates
    )
    for e in events:
        markets = e["markets"]
        rungs = model.ladder(markets[0]["cap_strike"])
        assert [m["ticker"] for m in markets] == [f"{e['event_ticker']}-{b.suffix}" for b in rungs]
        assert [
            (m["strike_type"], m.get("floor_strike"), m.get("cap_strike"), m["yes_sub_title"])
            for m in markets
        ] == [(b.strike_type, b.floor, b.cap, b.subtitle) for b in rungs]
        settled = int(markets[0]["expiration_value"].split(".")[0])
        assert [m["result"] for m in markets] == [
            "yes" if b.resolves_yes(settled) else "no" for b in rungs
        ]
        assert all(b.cond in m["rules_primary"] for m, b in zip(markets, rungs, strict=True))


def test_vectorised_encodings_equal_the_sim_models_formatters() -> None:
    micro = [*range(0, 1_000_001, 100)]
    got = pl.select(a=_dollars(pl.lit(pl.Series(micro)))).to_series().to_list()
    assert got == [model.dollars4(u // 100) for u in micro]
    cents = [*range(0, 100_000, 7), 99_999, 123_456_789]
    got = pl.select(a=_count(pl.lit(pl.Series(cents)))).to_series().to_list()
    assert got == [model.count_fp(c) for c in cents]
    small = [c for c in cents if c < 100_000]
    got = pl.select(a=_small_count(pl.lit(pl.Series(small)))).to_series().to_list()
    assert got == [model.count_fp(c) for c in small]
    base = model.to_us(dt.datetime(2026, 3, 8, 6, 59, 59, tzinfo=dt.UTC))
    stamps = [base, base + 1, base + 10, base + 120_000, base + 999_999, base + 86_400_000_001]
    stamps += [model.to_us(dt.datetime(2021, 8, 1, tzinfo=dt.UTC)) + 7 * k for k in range(500)]
    frame = pl.DataFrame({"us": stamps}).with_columns(
        ts=pl.from_epoch("us", time_unit="us").dt.replace_time_zone("UTC")
    )
    assert frame.select(_iso(pl.col("ts"))).to_series().to_list() == [
        model.fmt_ts(us) for us in stamps
    ]
