"""The real recorded responses (dual cents+dollars era, January 2026) parse into the right rows."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from transform_helpers import SAMPLES, page, read_curated, sample_body, write

from kalshi_lake.config import Settings
from kalshi_lake.transform import parse, parse_markets, run_transform

UTC = dt.UTC
MICRO = Decimal("0.000001")
CENTI = Decimal("0.01")


def _response(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text())["response"]


def _parse(fn: Any, endpoint: str, name: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
    con = duckdb.connect()
    rows = [
        {
            "fid": 0,
            "city": "chicago",
            "date": dt.date(2026, 1, 12),
            "endpoint": endpoint,
            "tier": "live",
            "page_number": 0,
            "fetched_at": dt.datetime(2026, 1, 12, 22, 8, tzinfo=UTC),
            "request_params": json.dumps(params or {}),
            "http_status": 200,
            "body": sample_body(name),
        }
    ]
    con.register("pages", parse.pages_table(rows))
    good, problems = parse.split_problems(fn(con, "pages"))
    assert problems.height == 0, problems
    return good


def _dec(micro: int | None) -> Decimal | None:
    return None if micro is None else Decimal(micro) * MICRO


def test_trades_list_sample_gives_every_trade_exactly() -> None:
    name = "obstacle-2026-01__trades_list_response.json"
    got = _parse(parse.parse_trades, "trades", name)
    src = _response(name)["trades"]
    assert got.height == len(src) == 5
    for row, t in zip(got.iter_rows(named=True), src, strict=True):
        assert row["trade_id"] == t["trade_id"]
        assert row["market_ticker"] == "KXELONMARS-99"
        # the dollars twin and the integer cents agree, and both come out exactly
        assert (
            _dec(row["yes_u"]) == Decimal(t["yes_price_dollars"]) == Decimal(t["yes_price"]) / 100
        )
        assert _dec(row["no_u"]) == Decimal(t["no_price_dollars"]) == Decimal("0.94")
        assert Decimal(row["count_c"]) * CENTI == Decimal(t["count"]) == 1
        assert row["taker_side"] == t["taker_side"] == "no"  # older payloads: taker_side only
        assert row["is_block_trade"] is None  # the field did not exist yet
        parsed = dt.datetime.fromisoformat(t["created_time"].replace("Z", "+00:00"))
        assert row["traded_at"] == parsed
    # five digits of fraction are tolerated: "2026-01-12T14:59:36.37315Z"
    assert got["traded_at"][1] == dt.datetime(2026, 1, 12, 14, 59, 36, 373150, tzinfo=UTC)


def test_market_single_sample() -> None:
    got = _parse(
        parse_markets.parse_markets, "market", "obstacle-2026-01__market_single_response.json"
    )
    assert got.height == 1
    m = got.row(0, named=True)
    assert m["market_ticker"] == "KXMVENFLSINGLEGAME-S202513E70FA7695-688BECB3826"
    assert m["event_ticker"] == "KXMVENFLSINGLEGAME-S202513E70FA7695"
    assert m["strike_type"] == "custom"
    assert m["floor_strike"] is None and m["cap_strike"] is None
    assert m["status"] == "active"
    assert m["result"] is None  # "" means not determined
    assert m["expiration_value"] is None  # ""
    assert m["volume_c"] == 0 and m["open_interest_c"] == 0
    assert m["open_time"] == dt.datetime(2026, 1, 12, 22, 8, 10, 402546, tzinfo=UTC)
    assert m["close_time"] == dt.datetime(2026, 1, 27, 1, 15, tzinfo=UTC)


def test_markets_list_sample_and_event_samples() -> None:
    lst = _parse(
        parse_markets.parse_markets, "markets", "obstacle-2026-01__markets_list_response.json"
    )
    src = _response("obstacle-2026-01__markets_list_response.json")["markets"]
    assert lst["market_ticker"].to_list() == [m["ticker"] for m in src]
    assert lst["idx"].to_list() == list(range(5))

    ev = _parse(
        parse_markets.parse_markets, "event", "obstacle-2026-01__event_single_response.json"
    )
    # the January 2026 event page has its markets at the top level, not nested
    assert ev.height == 1
    m = ev.row(0, named=True)
    assert (m["market_ticker"], m["parent_event_ticker"], m["parent_series_ticker"]) == (
        "KXELONMARS-99",
        "KXELONMARS-99",
        "KXELONMARS",
    )
    assert Decimal(m["volume_c"]) * CENTI == Decimal(35001)  # integer count era
    assert Decimal(m["open_interest_c"]) * CENTI == Decimal(13679)

    events = _parse(
        parse_markets.parse_events, "events", "obstacle-2026-01__events_list_response.json"
    )
    src_ev = _response("obstacle-2026-01__events_list_response.json")["events"]
    assert events.select("event_ticker", "series_ticker").rows() == [
        (e["event_ticker"], e["series_ticker"]) for e in src_ev
    ]


def _expected_candle(c: dict[str, Any]) -> dict[str, Any]:
    """Independent reading of a dual-era candle: the ``_dollars`` twin when present (it is the
    exact value), else the integer cents / 100; missing or null means no value."""

    def px(d: dict[str, Any], k: str) -> Decimal | None:
        if d.get(f"{k}_dollars") is not None:
            return Decimal(d[f"{k}_dollars"])
        return None if d.get(k) is None else Decimal(d[k]) / 100

    out: dict[str, Any] = {"end_period_ts": c["end_period_ts"]}
    for k in ("open", "high", "low", "close", "mean"):
        out[f"price_{k}_u"] = px(c["price"], k)
    for side in ("yes_bid", "yes_ask"):
        for k in ("open", "high", "low", "close"):
            out[f"{side}_{k}_u"] = px(c[side], k)
    out["volume_c"] = Decimal(c["volume"])
    out["open_interest_c"] = Decimal(c["open_interest"])
    return out


@pytest.mark.parametrize(
    ("endpoint", "name"),
    [
        ("candlesticks", "obstacle-2026-01__series_candlesticks_response.json"),
        ("event_candlesticks", "obstacle-2026-01__event_candlesticks_response.json"),
        ("batch_candlesticks", "obstacle-2026-01__candlesticks_batch_response.json"),
    ],
)
def test_candlestick_samples(endpoint: str, name: str) -> None:
    got = _parse(parse.parse_candles, endpoint, name, {"period_interval": 1440})
    body = _response(name)
    if endpoint == "candlesticks":
        src = body["candlesticks"]
    elif endpoint == "event_candlesticks":
        assert body["market_tickers"] == ["KXELONMARS-99"]
        src = body["market_candlesticks"][0]
    else:
        src = body["markets"][0]["candlesticks"]
    assert got.height == len(src) == 90
    assert set(got["market_ticker"]) == {"KXELONMARS-99"}
    assert set(got["period_minutes"]) == {1440}
    for row, c in zip(got.iter_rows(named=True), src, strict=True):
        want = _expected_candle(c)
        have = {k: row[k] for k in want}
        for k, v in have.items():
            if k.endswith("_u"):
                have[k] = _dec(v)
            elif k.endswith("_c"):
                have[k] = Decimal(v) * CENTI
        assert have == want, c["end_period_ts"]
    # the first candle had no trades: price OHLC null, quotes present
    first = got.row(0, named=True)
    assert first["price_close_u"] is None and first["price_mean_u"] is None
    assert first["yes_bid_close_u"] == 80_000 and first["yes_ask_close_u"] == 110_000


def test_samples_end_to_end_through_the_lake(lake_dir: Path, settings: Settings) -> None:
    """Wrapped as raw pages (the way the backfill files them), the samples become curated rows."""
    day = dt.date(2026, 1, 12)
    write(
        lake_dir,
        [
            page("trades", sample_body("obstacle-2026-01__trades_list_response.json"), date=day,
                 event_ticker="KXELONMARS-99", market_ticker="KXELONMARS-99"),
            page("event", sample_body("obstacle-2026-01__event_single_response.json"), date=day,
                 event_ticker="KXELONMARS-99"),
            page("market", sample_body("obstacle-2026-01__market_single_response.json"), date=day),
        ],
    )  # fmt: skip
    run_transform(settings)
    trades = read_curated(lake_dir, "trades")
    assert trades.height == 5
    assert trades["month"].unique().to_list() == ["2026-01"]
    assert trades["yes_price"].to_list() == [Decimal("0.060000")] * 5
    assert trades["count"].to_list() == [Decimal("1.00")] * 5
    # sorted by market, time, id (the sample lists newest first)
    assert trades["traded_at"].is_sorted()
    assert set(trades["event_ticker"]) == {"KXELONMARS-99"}  # from the market, not the ticker
    mk = read_curated(lake_dir, "markets").sort("market_ticker")
    assert mk["market_ticker"].to_list() == [
        "KXELONMARS-99",
        "KXMVENFLSINGLEGAME-S202513E70FA7695-688BECB3826",
    ]
    elon = mk.row(0, named=True)
    assert elon["series_ticker"] == "KXELONMARS"  # from the enclosing event
    assert elon["volume"] == Decimal("35001.00")
    assert elon["date"] == day
