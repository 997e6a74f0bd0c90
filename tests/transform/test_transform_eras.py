"""Every payload era parses the same way; missing, null and {} are one thing; bad items are named."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import polars as pl
import pytest

from kalshi_lake.transform import parse, parse_markets

UTC = dt.UTC


def run(
    fn: Any, endpoint: str, bodies: list[Any], params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """Parse one page per body (fid = its index) and return every row, problems included."""
    con = duckdb.connect()
    rows = [
        {
            "fid": i,
            "city": "nyc",
            "date": dt.date(2026, 8, 14),
            "endpoint": endpoint,
            "tier": "historical",
            "page_number": 3,
            "fetched_at": dt.datetime(2026, 9, 1, tzinfo=UTC),
            "request_params": json.dumps(params if params is not None else {"period_interval": 1}),
            "http_status": 200,
            "event_ticker": "KXHIGHNY-26AUG14",
            "market_ticker": "KXHIGHNY-26AUG14-B80.5",
            "body": b if isinstance(b, str) else json.dumps(b),
        }
        for i, b in enumerate(bodies)
    ]
    con.register("pages", parse.pages_table(rows))
    return fn(con, "pages")


# --- trades ------------------------------------------------------------------------------------

CURRENT = {
    "trade_id": "0723e1aa-1",
    "ticker": "KXHIGHNY-26AUG14-B80.5",
    "created_time": "2026-08-13T20:17:18.331442Z",
    "count_fp": "2798.08",
    "yes_price_dollars": "0.1100",
    "no_price_dollars": "0.8900",
    "taker_side": "no",
    "taker_outcome_side": "yes",
    "taker_book_side": "bid",
    "is_block_trade": True,
    "some_future_field": {"nested": [1, 2]},
}
DUAL = {
    "trade_id": "961535f3-1",
    "ticker": "KXHIGHNY-26AUG14-B80.5",
    "created_time": "2026-01-12T14:59:36.37315Z",
    "count": 3,
    "yes_price": 6,
    "yes_price_dollars": "0.0600",
    "no_price": 94,
    "no_price_dollars": "0.9400",
    "price": 0.06,
    "taker_side": "no",
}
CENTS_ONLY = {
    "trade_id": "c-1",
    "ticker": "KXHIGHNY-26AUG14-B80.5",
    "created_time": "2025-06-01T00:00:00Z",
    "count": 7,
    "yes_price": 37,
    "no_price": 63,
    "taker_side": "yes",
}


def test_trade_eras_agree() -> None:
    df = run(parse.parse_trades, "trades", [{"trades": [CURRENT, DUAL, CENTS_ONLY]}])
    assert df["problem"].null_count() == 3
    cur, dual, cents = df.iter_rows(named=True)
    assert (cur["yes_u"], cur["no_u"], cur["count_c"]) == (110_000, 890_000, 279_808)
    assert cur["taker_side"] == "yes"  # taker_outcome_side wins over the deprecated taker_side
    assert cur["is_block_trade"] is True
    assert (dual["yes_u"], dual["no_u"], dual["count_c"]) == (60_000, 940_000, 300)
    assert dual["taker_side"] == "no"  # older payloads: taker_side only
    assert (cents["yes_u"], cents["no_u"], cents["count_c"]) == (370_000, 630_000, 700)
    assert cur["traded_at"] == dt.datetime(2026, 8, 13, 20, 17, 18, 331442, tzinfo=UTC)
    assert cents["traded_at"] == dt.datetime(2025, 6, 1, tzinfo=UTC)
    assert df["idx"].to_list() == [0, 1, 2]


@pytest.mark.parametrize(
    ("field", "reason"),
    [
        ("trade_id", "no trade_id"),
        ("ticker", "no ticker"),
        ("created_time", "no valid created_time"),
        ("yes_price_dollars", "no valid yes price"),
        ("count_fp", "no valid count"),
    ],
)
def test_trade_missing_required_field_is_a_named_problem(field: str, reason: str) -> None:
    bad = {k: v for k, v in CURRENT.items() if k != field}
    df = run(parse.parse_trades, "trades", [{"trades": [CURRENT, bad]}])
    good, problems = parse.split_problems(df)
    assert good.height == 1
    assert problems.rows() == [(0, 0, 3, f"a trade has {reason}", 1)]


def test_trade_pages_that_cannot_be_read() -> None:
    df = run(
        parse.parse_trades,
        "trades",
        [
            '{"trades": [{"trade_id": "x"',
            {"cursor": ""},
            {"trades": "nope"},
            {"trades": None},
            "[]",
        ],
    )
    good, problems = parse.split_problems(df)
    assert good.height == 0
    assert problems.select("fid", "problem").rows() == [
        (0, "corrupt body: not a JSON object"),
        (1, "no 'trades' in body"),
        (2, "'trades' is varchar, not what the API sends"),
        # fid 3: "trades": null means none: not a problem
        (4, "no 'trades' in body"),
    ]


def test_non_200_pages_are_ignored() -> None:
    con = duckdb.connect()
    rows = [
        {"fid": 0, "city": "nyc", "date": dt.date(2026, 8, 14), "endpoint": "trades", "tier": "live",
         "page_number": 0, "fetched_at": dt.datetime(2026, 9, 1, tzinfo=UTC), "request_params": "{}",
         "http_status": 404, "body": '{"error": {"code": "not_found"}}'},
    ]  # fmt: skip
    con.register("pages", parse.pages_table(rows))
    assert parse.parse_trades(con, "pages").height == 0


# --- candles -----------------------------------------------------------------------------------

LIVE = {
    "end_period_ts": 1786456860,
    "price": {
        "open_dollars": "0.0030", "high_dollars": "0.0030", "low_dollars": "0.0020",
        "close_dollars": "0.0020", "mean_dollars": "0.0025", "previous_dollars": "0.0030",
        "min_dollars": None, "max_dollars": None,
    },
    "yes_bid": {"open_dollars": "0.0000", "high_dollars": "0.0010", "low_dollars": "0.0000",
                "close_dollars": "0.0010"},
    "yes_ask": {"open_dollars": "0.0050", "high_dollars": "1.0000", "low_dollars": "0.0030",
                "close_dollars": "1.0000"},
    "volume_fp": "11886.35",
    "open_interest_fp": "303.03",
}  # fmt: skip
HISTORICAL = {
    "end_period_ts": 1723644060,
    "open_interest": "12.00",
    "price": {"close": "0.0500", "high": "0.0600", "low": "0.0400", "mean": "0.0512",
              "open": "0.0600", "previous": None},
    "volume": "5.00",
    "yes_ask": {"close": "0.9800", "high": "0.9900", "low": "0.9800", "open": "0.9900"},
    "yes_bid": {"close": "0.0100", "high": "0.0100", "low": "0.0000", "open": "0.0000"},
}  # fmt: skip
DUAL_NO_TRADES = {
    "end_period_ts": 1760500800,
    "open_interest": 12432,
    "price": {"close": None, "high": None, "low": None, "mean": None, "open": None,
              "previous": 11, "previous_dollars": "0.1100"},
    "volume": 0,
    "yes_ask": {"close": 11, "close_dollars": "0.1100", "high": 100, "low": 11, "open": 11},
    "yes_bid": {"close": 0, "high": 8, "high_dollars": "0.0800", "low": 8, "open": 8},
}  # fmt: skip


def test_candle_eras() -> None:
    df = run(
        parse.parse_candles,
        "candlesticks",
        [{"ticker": "KXHIGHNY-26AUG14-B80.5", "candlesticks": [LIVE, HISTORICAL, DUAL_NO_TRADES]}],
    )
    live, hist, dual = df.iter_rows(named=True)
    assert all(r["problem"] is None for r in (live, hist, dual))
    # live: sub-cent prices exact; an empty side (bid 0, ask 1) is null, not 0 or 1
    assert (live["price_open_u"], live["price_low_u"], live["price_mean_u"]) == (3000, 2000, 2500)
    assert (live["yes_bid_open_u"], live["yes_bid_high_u"], live["yes_bid_close_u"]) == (
        None,
        1000,
        1000,
    )
    assert (live["yes_ask_high_u"], live["yes_ask_close_u"], live["yes_ask_low_u"]) == (
        None,
        None,
        3000,
    )
    assert (live["volume_c"], live["open_interest_c"]) == (1_188_635, 30_303)
    # historical flat names hold dollar strings
    assert (hist["price_open_u"], hist["price_close_u"], hist["price_mean_u"]) == (
        60_000,
        50_000,
        51_200,
    )
    assert (hist["yes_ask_open_u"], hist["yes_bid_close_u"], hist["yes_bid_low_u"]) == (
        990_000,
        10_000,
        None,
    )
    assert (hist["volume_c"], hist["open_interest_c"]) == (500, 1200)
    # dual era flat names hold integer cents; the _dollars twin wins when present
    assert dual["price_close_u"] is None and dual["price_mean_u"] is None
    assert (dual["yes_ask_close_u"], dual["yes_ask_high_u"]) == (110_000, None)  # 100 cents = empty
    assert (dual["yes_bid_close_u"], dual["yes_bid_high_u"]) == (None, 80_000)  # 0 cents = empty
    assert (dual["volume_c"], dual["open_interest_c"]) == (0, 1_243_200)
    assert df["market_ticker"].to_list() == ["KXHIGHNY-26AUG14-B80.5"] * 3
    assert df["period_minutes"].to_list() == [1, 1, 1]


@pytest.mark.parametrize("price", [None, {}, "absent", {"open_dollars": None, "close": None}])
def test_candle_price_missing_null_and_empty_mean_the_same(price: Any) -> None:
    c: dict[str, Any] = {k: v for k, v in LIVE.items() if k != "price"}
    if price != "absent":
        c["price"] = price
    row = run(parse.parse_candles, "candlesticks", [{"ticker": "T-1", "candlesticks": [c]}]).row(
        0, named=True
    )
    assert row["problem"] is None
    assert [row[f"price_{k}_u"] for k in ("open", "high", "low", "close", "mean")] == [None] * 5
    assert row["yes_bid_close_u"] == 1000


def test_event_candles_use_parallel_arrays_and_batch_candles_their_markets() -> None:
    ev = run(
        parse.parse_candles,
        "event_candlesticks",
        [{"market_tickers": ["E-A", "E-B"], "market_candlesticks": [[LIVE], [HISTORICAL, LIVE]],
          "adjusted_end_ts": 1}],
    )  # fmt: skip
    assert ev.select("market_ticker", "end_period_ts").rows() == [
        ("E-A", 1786456860),
        ("E-B", 1723644060),
        ("E-B", 1786456860),
    ]
    batch = run(
        parse.parse_candles,
        "batch_candlesticks",
        [{"markets": [{"market_ticker": "B-A", "candlesticks": [LIVE]},
                      {"market_ticker": "B-B", "candlesticks": []},
                      {"market_ticker": "B-C", "candlesticks": None}]}],
    )  # fmt: skip
    good, problems = parse.split_problems(batch)
    assert good["market_ticker"].to_list() == ["B-A"]
    assert problems.height == 0


def test_candles_without_a_period_are_a_problem() -> None:
    df = run(
        parse.parse_candles, "candlesticks", [{"ticker": "T", "candlesticks": [LIVE]}], params={}
    )
    assert df["problem"].to_list() == ["request_params has no period_interval"]


def test_unknown_endpoints_and_fields_are_ignored() -> None:
    body = {
        "ticker": "T",
        "candlesticks": [{**LIVE, "brand_new": {"x": [1]}, "price": {**LIVE["price"], "p99": "1"}}],
    }  # type: ignore[dict-item]
    row = run(parse.parse_candles, "candlesticks", [body]).row(0, named=True)
    assert row["problem"] is None and row["price_open_u"] == 3000


# --- markets -----------------------------------------------------------------------------------


def test_market_current_and_dual_fields() -> None:
    current = {
        "ticker": "KXHIGHNY-26AUG14-T87", "event_ticker": "KXHIGHNY-26AUG14", "strike_type": "greater",
        "floor_strike": 87, "yes_sub_title": "88° or above", "status": "finalized", "result": "yes",
        "settlement_value_dollars": "1.0000", "expiration_value": "90.00", "volume_fp": "3356.00",
        "open_interest_fp": "2868.50", "settlement_ts": "2026-08-15T12:04:54.401029Z",
        "rules_primary": "... according to The Weather Company ...",
    }  # fmt: skip
    dual = {
        "ticker": "HIGHNY-24AUG15-B80.5", "event_ticker": "HIGHNY-24AUG15", "strike_type": "between",
        "floor_strike": 80.0, "cap_strike": 81, "result": "", "settlement_value": 100,
        "volume": 35001, "open_interest": 13679, "expiration_value": "",
    }  # fmt: skip
    df = run(parse_markets.parse_markets, "markets", [{"markets": [current, dual], "cursor": ""}])
    cur, old = df.iter_rows(named=True)
    assert (cur["settlement_value_u"], cur["volume_c"], cur["open_interest_c"]) == (
        1_000_000,
        335_600,
        286_850,
    )
    assert str(cur["floor_strike"]) == "87.0000" and cur["cap_strike"] is None
    assert str(cur["expiration_value"]) == "90.0000"
    assert (old["settlement_value_u"], old["volume_c"], old["result"]) == (
        1_000_000,
        3_500_100,
        None,
    )
    assert old["expiration_value"] is None


def test_event_pages_nested_and_top_level_markets() -> None:
    m1 = {"ticker": "E-1", "event_ticker": "E"}
    m2 = {"ticker": "E-2", "event_ticker": "E"}
    df = run(
        parse_markets.parse_markets,
        "event",
        [{"event": {"event_ticker": "E", "series_ticker": "S", "markets": [m1]}, "markets": [m2]},
         {"event": {"event_ticker": "E", "series_ticker": "S"}},
         {"markets": [m1]}],
    )  # fmt: skip
    good, problems = parse.split_problems(df)
    assert good.select("fid", "market_ticker", "parent_series_ticker").rows() == [
        (0, "E-1", "S"),
        (0, "E-2", "S"),
    ]
    assert problems.select("fid", "problem").rows() == [(2, "no 'event' in body")]
