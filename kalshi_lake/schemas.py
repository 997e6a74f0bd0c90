"""Arrow schemas of the curated tables (README "Tables"), shared by transform and SQL.

The Hive keys ``city`` and ``month`` live in the folder names
(``curated/<table>/city=<city>/month=<YYYY-MM>/``) and are not stored in the files, so Spark,
Trino, DuckDB and polars all read them without a duplicate-column clash. ``date`` (the event's
climate date) is an ordinary column. ``family`` (``high``/``low``) is the market family of the
row's series, from the registry (:func:`kalshi_lake.cities.family_for_ticker`).
"""

from __future__ import annotations

import pyarrow as pa

PRICE = pa.decimal128(10, 6)
COUNT = pa.decimal128(18, 2)
STRIKE = pa.decimal128(10, 4)
TS = pa.timestamp("us", tz="UTC")

MARKETS = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("series_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("strike_type", pa.string()),
        ("floor_strike", STRIKE),
        ("cap_strike", STRIKE),
        ("low_f", pa.int32()),
        ("high_f", pa.int32()),
        ("yes_sub_title", pa.string()),
        ("status", pa.string()),
        ("result", pa.string()),
        ("settlement_value", PRICE),
        ("expiration_value", STRIKE),
        ("open_time", TS),
        ("close_time", TS),
        ("settlement_ts", TS),
        ("volume", COUNT),
        ("open_interest", COUNT),
        ("settlement_source", pa.string()),
        ("tier", pa.string()),
        ("fetched_at", TS),
        ("settlement_bounds_type", pa.string()),
        ("settlement_floor", PRICE),
    ]
)

TRADES = pa.schema(
    [
        ("trade_id", pa.string()),
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("traded_at", TS),
        ("yes_price", PRICE),
        ("no_price", PRICE),
        ("count", COUNT),
        ("taker_side", pa.string()),
        ("is_block_trade", pa.bool_()),
        ("tier", pa.string()),
        ("fetched_at", TS),
        ("first_seen", pa.string()),
        ("first_seen_at", TS),
    ]
)

MARKET_EVENTS = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("event_type", pa.string()),
        ("event_at", TS),
        ("result", pa.string()),
        ("settlement_value", PRICE),
        ("open_time", TS),
        ("close_time", TS),
        ("is_deactivated", pa.bool_()),
        ("recv_at", TS),
        ("conn_id", pa.string()),
        ("frame_no", pa.int64()),
    ]
)

CANDLES = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("source", pa.string()),
        ("bucket_start", TS),
        ("period_minutes", pa.int16()),
        ("price_open", PRICE),
        ("price_high", PRICE),
        ("price_low", PRICE),
        ("price_close", PRICE),
        ("price_vwap", PRICE),
        ("trade_count", pa.int32()),
        ("volume", COUNT),
        ("yes_bid_open", PRICE),
        ("yes_bid_high", PRICE),
        ("yes_bid_low", PRICE),
        ("yes_bid_close", PRICE),
        ("yes_ask_open", PRICE),
        ("yes_ask_high", PRICE),
        ("yes_ask_low", PRICE),
        ("yes_ask_close", PRICE),
        ("open_interest", COUNT),
    ]
)

#: Order books (``follow``'s WebSocket frames and REST polls), every price on the YES scale:
#: a NO bid at p is a YES ask at 1 - p. Times are receive times (what a backtest could know).
BOOK_DELTAS = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("recv_at", TS),
        ("source", pa.string()),  # 'ws' | 'rest'
        ("conn_id", pa.string()),
        ("frame_no", pa.int64()),
        ("sid", pa.int64()),
        ("seq", pa.int64()),
        ("side", pa.string()),  # 'bid' | 'ask'
        ("price", PRICE),
        ("delta", COUNT),  # signed change; a snapshot row's full size
        ("is_snapshot", pa.bool_()),
    ]
)

BOOK_SNAPSHOTS = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("snapshot_at", TS),
        ("kind", pa.string()),  # 'ws' | 'rest' | 'cadence' | 'unknown'
        ("conn_id", pa.string()),
        ("frame_no", pa.int64()),
        ("side", pa.string()),
        ("price", PRICE),
        ("size", COUNT),
    ]
)

QUOTES = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("quote_at", TS),
        ("source", pa.string()),
        ("conn_id", pa.string()),
        ("frame_no", pa.int64()),
        ("yes_bid", PRICE),
        ("yes_bid_size", COUNT),
        ("yes_ask", PRICE),
        ("yes_ask_size", COUNT),
        ("is_known", pa.bool_()),
    ]
)

#: One level of a side of an order book as decision_points stores it: a positive size on the YES
#: price scale, and ``before``, the size of the better levels of its side (what a taker meets
#: first), so a walk for any quantity is one pass (the SQL macro book_fill).
BOOK_LEVEL = pa.struct([("price", PRICE), ("size", COUNT), ("before", COUNT)])

#: The decision rows at the default instants (D-1 10:00 and D 10:00 city-local), one per market
#: and instant: the columns of the SQL macro decision_points_computed_for, which the transform
#: runs over each partition's rows to write this table (:mod:`kalshi_lake.transform.decision_points`).
DECISION_POINTS = pa.schema(
    [
        ("market_ticker", pa.string()),
        ("event_ticker", pa.string()),
        ("family", pa.string()),
        ("date", pa.date32()),
        ("decision_label", pa.string()),
        ("decision_at", TS),
        ("yes_bid", PRICE),
        ("yes_ask", PRICE),
        ("mid", pa.decimal128(10, 7)),
        ("quote_at", TS),
        ("quote_age", pa.float64()),  # seconds, as market_quotes_for gives them
        ("last_trade_price", PRICE),
        ("last_trade_at", TS),
        ("last_trade_age", pa.float64()),
        ("result", pa.string()),
        ("settlement_value", PRICE),
        ("status", pa.string()),
        ("strike_type", pa.string()),
        ("floor_strike", STRIKE),
        ("cap_strike", STRIKE),
        ("low_f", pa.int32()),
        ("high_f", pa.int32()),
        ("yes_sub_title", pa.string()),
        ("open_time", TS),
        ("close_time", TS),
        ("book_as_of", TS),  # NULL (and the next two) where the book is not known
        ("book_source", pa.string()),  # 'ws' | 'rest'
        ("book_asks", pa.list_(BOOK_LEVEL)),  # by price up (cheapest YES first)
        ("book_bids", pa.list_(BOOK_LEVEL)),  # by price down (cheapest NO first)
    ]
)

#: Curated table name -> schema; candles_1m and candles_5m share one schema.
TABLES: dict[str, pa.Schema] = {
    "markets": MARKETS,
    "trades": TRADES,
    "candles_1m": CANDLES,
    "candles_5m": CANDLES,
    "market_events": MARKET_EVENTS,
    "book_deltas": BOOK_DELTAS,
    "book_snapshots": BOOK_SNAPSHOTS,
    "quotes": QUOTES,
    "decision_points": DECISION_POINTS,
}

#: The curated tables only ``follow``'s recordings fill (WebSocket frames, REST order book
#: polls): a lake that was only backfilled has none of their files.
LIVE_TABLES = frozenset({"market_events", "book_deltas", "book_snapshots", "quotes"})

#: The sort key of each table (rows are written in this order).
SORT_KEYS: dict[str, tuple[str, ...]] = {
    "markets": ("market_ticker",),
    "trades": ("market_ticker", "traded_at", "trade_id"),
    "candles_1m": ("market_ticker", "source", "bucket_start"),
    "candles_5m": ("market_ticker", "source", "bucket_start"),
    "market_events": ("market_ticker", "recv_at", "conn_id", "frame_no"),
    "book_deltas": ("market_ticker", "recv_at", "conn_id", "frame_no", "side", "price"),
    "book_snapshots": ("market_ticker", "snapshot_at", "conn_id", "frame_no", "side", "price"),
    "quotes": ("market_ticker", "quote_at", "conn_id", "frame_no"),
    "decision_points": ("market_ticker", "decision_at", "decision_label"),
}

#: Hive keys of curated partitions, in folder order.
HIVE_KEYS = ("city", "month")
