"""Recorded WebSocket frames (``raw/ws``) -> flat frames of trades and lifecycle events.

Shapes: https://docs.kalshi.com/websockets/public-trades and
https://docs.kalshi.com/websockets/market-and-event-lifecycle. Only server frames
(``direction = 'in'``) of type ``trade`` and ``market_lifecycle_v2`` are read; everything else
in ``raw/ws`` (order books, tickers, commands, acks, connection events) feeds no curated table
here. Each frame is read once: ``conn_id`` + ``frame_no`` is a frame's identity, and a frame
found in two files (a compaction interrupted after its merged file was published but before the
minute files were deleted) counts once.

Exactness as in :mod:`~kalshi_lake.transform.parse`: prices leave as Int64 micro-dollars
(``*_u``), counts as centi-contracts (``*_c``), times as Int64 UTC microseconds (``*_us``; the
caller turns them into timestamps). A trade's ``ts_ms`` (milliseconds) is preferred to the
deprecated ``ts`` (seconds); ``ts_unit_us`` says which one it came from, so a comparison with
the REST copy's microsecond ``created_time`` is made at the frame's own precision.

A frame that is not JSON or lacks a required field is a problem row (``problem`` not NULL),
reported with its file and row like a bad page; a raw/ws file DuckDB cannot read is reported
and left out (:class:`~kalshi_lake.transform.rawdb.RawDB` remembers it).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import duckdb
import polars as pl

from kalshi_lake.transform import parse
from kalshi_lake.transform.plan import RawFile
from kalshi_lake.transform.rawdb import RawDB
from kalshi_lake.transform.summary import SCHEMA, Problem

#: The ``raw/`` folder of WebSocket frames, as a transform input "endpoint".
WS_ENDPOINT = "ws"

#: Columns of :func:`parse_ws_trades`.
WS_TRADE_COLUMNS = (
    "fid", "row", "city", "date", "recv_us", "trade_id", "market_ticker", "traded_us",
    "ts_unit_us", "yes_u", "no_u", "count_c", "taker_side", "is_block_trade", "problem",
)  # fmt: skip

#: Columns of :func:`parse_ws_lifecycle`.
WS_LIFECYCLE_COLUMNS = (
    "fid", "row", "city", "date", "recv_us", "conn_id", "frame_no", "market_ticker",
    "event_type", "event_us", "result", "settlement_value_u", "open_us", "close_us",
    "is_deactivated", "meta_event_ticker", "problem",
)  # fmt: skip

_TRADE_SHAPE = (
    '{"msg":{"trade_id":"VARCHAR","market_ticker":"VARCHAR",'
    '"yes_price_dollars":"VARCHAR","no_price_dollars":"VARCHAR","yes_price":"VARCHAR",'
    '"no_price":"VARCHAR","count_fp":"VARCHAR","count":"VARCHAR",'
    '"taker_outcome_side":"VARCHAR","taker_side":"VARCHAR","is_block_trade":"BOOLEAN",'
    '"ts":"BIGINT","ts_ms":"BIGINT"}}'
)

_LIFECYCLE_SHAPE = (
    '{"msg":{"market_ticker":"VARCHAR","event_type":"VARCHAR","result":"VARCHAR",'
    '"settlement_value":"JSON","determination_ts":"BIGINT","settled_ts":"BIGINT",'
    '"open_ts":"BIGINT","close_ts":"BIGINT","is_deactivated":"BOOLEAN",'
    '"additional_metadata":{"event_ticker":"VARCHAR"}}}'
)

_US = 1_000_000


def ws_files(files: Sequence[RawFile]) -> list[RawFile]:
    """The ``raw/ws`` files among ``files``."""
    return [f for f in files if f.endpoint == WS_ENDPOINT]


def parse_ws(db: RawDB, files: Sequence[RawFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(trades, lifecycle)``: the good rows of the trade and lifecycle frames in ``files``
    (problem rows are reported through ``db``); unreadable files are reported and skipped."""
    files = list(files)
    while True:
        try:
            _view(db, files)
            trades = parse.query_frame(db.con, _trades_sql)
            lifecycle = parse.query_frame(db.con, _lifecycle_sql)
            break
        except Exception:
            bad = _unreadable(db, files)
            if not bad:
                raise
            files = [f for f in files if f.rel not in bad]
    return _good(db, trades), _good(db, lifecycle)


def _good(db: RawDB, df: pl.DataFrame) -> pl.DataFrame:
    """The good rows; one problem per bad frame (file, row)."""
    bad = df.filter(pl.col("problem").is_not_null())
    for fid, row, msg in bad.select("fid", "row", "problem").iter_rows():
        db.on_problem(Problem(SCHEMA, db.path_of(fid), None, msg, 1, row=row))
    return df.filter(pl.col("problem").is_null()).drop("problem")


_VIEW = "ws_frames"


def _view(db: RawDB, files: list[RawFile]) -> None:
    """A view of the inbound trade and lifecycle frames of ``files``, one row per frame
    identity (the copy in the first file in path order), with the file's id, city and date."""
    con = db.con
    con.execute(f"DROP VIEW IF EXISTS {_VIEW}")
    cols = (
        "CAST(NULL AS INTEGER) AS fid, CAST(NULL AS BIGINT) AS row, "
        "CAST(NULL AS VARCHAR) AS city, CAST(NULL AS DATE) AS date, "
        "CAST(NULL AS TIMESTAMPTZ) AS recv_at, CAST(NULL AS VARCHAR) AS conn_id, "
        "CAST(NULL AS BIGINT) AS frame_no, CAST(NULL AS VARCHAR) AS msg_type, "
        "CAST(NULL AS VARCHAR) AS market_ticker, CAST(NULL AS VARCHAR) AS body"
    )
    if not files:
        con.execute(f"CREATE VIEW {_VIEW} AS SELECT {cols} WHERE false")
        return
    rows = db.file_rows_sql(
        _VIEW,
        files,
        "recv_at, conn_id, frame_no, msg_type, market_ticker, body",
        where="direction = 'in' AND msg_type IN ('trade', 'market_lifecycle_v2')",
    )
    con.execute(
        f"CREATE VIEW {_VIEW} AS SELECT * FROM ({rows}) "
        "QUALIFY row_number() OVER (PARTITION BY conn_id, frame_no ORDER BY fid, row) = 1"
    )


def _json(shape: str, safe: bool) -> str:
    return f"try(from_json(body, '{shape}'))" if safe else f"(from_json(body, '{shape}'))"


def _trades_sql(safe: bool) -> str:
    return f"""
    WITH p AS (
        SELECT fid, row, city, date, epoch_us(recv_at) AS recv_us,
               {_json(_TRADE_SHAPE, safe)}.msg AS t
        FROM {_VIEW} WHERE msg_type = 'trade'
    ), v AS (
        SELECT fid, row, city, date, recv_us, t.trade_id,
               t.market_ticker,
               coalesce(t.ts_ms * 1000, t.ts * {_US}) AS traded_us,
               CASE WHEN t.ts_ms IS NOT NULL THEN 1000 ELSE {_US} END AS ts_unit_us,
               coalesce(kl_dollars(t.yes_price_dollars), kl_cents(t.yes_price)) AS yes_u,
               coalesce(kl_dollars(t.no_price_dollars), kl_cents(t.no_price)) AS no_u,
               coalesce(kl_count(t.count_fp), kl_count(t.count)) AS count_c,
               coalesce(t.taker_outcome_side, t.taker_side) AS taker_side,
               t.is_block_trade, t IS NULL AS not_json
        FROM p
    )
    SELECT * EXCLUDE (not_json), CASE
        WHEN not_json THEN 'corrupt frame: not a JSON trade message'
        WHEN trade_id IS NULL THEN 'a trade frame has no trade_id'
        WHEN market_ticker IS NULL THEN 'a trade frame has no market_ticker'
        WHEN traded_us IS NULL THEN 'a trade frame has no ts_ms or ts'
        WHEN yes_u IS NULL THEN 'a trade frame has no valid yes price'
        WHEN count_c IS NULL THEN 'a trade frame has no valid count'
        WHEN abs(yes_u) > {parse.MAX_MICRO} OR abs(coalesce(no_u, 0)) > {parse.MAX_MICRO}
            THEN 'a trade price does not fit DECIMAL(10,6)'
        END AS problem
    FROM v
    """


def _lifecycle_sql(safe: bool) -> str:
    return f"""
    WITH p AS (
        SELECT fid, row, city, date, epoch_us(recv_at) AS recv_us, conn_id, frame_no,
               {_json(_LIFECYCLE_SHAPE, safe)}.msg AS m
        FROM {_VIEW} WHERE msg_type = 'market_lifecycle_v2'
    ), v AS (
        SELECT fid, row, city, date, recv_us, conn_id, frame_no,
               m.market_ticker, m.event_type,
               CASE m.event_type WHEN 'determined' THEN m.determination_ts * {_US}
                   WHEN 'settled' THEN m.settled_ts * {_US} END AS event_us,
               m.result, kl_px(NULL, m.settlement_value) AS settlement_value_u,
               m.open_ts * {_US} AS open_us, m.close_ts * {_US} AS close_us,
               m.is_deactivated, m.additional_metadata.event_ticker AS meta_event_ticker,
               m IS NULL AS not_json
        FROM p
    )
    SELECT * EXCLUDE (not_json), CASE
        WHEN not_json THEN 'corrupt frame: not a JSON lifecycle message'
        WHEN market_ticker IS NULL THEN 'a lifecycle frame has no market_ticker'
        WHEN event_type IS NULL THEN 'a lifecycle frame has no event_type'
        WHEN abs(coalesce(settlement_value_u, 0)) > {parse.MAX_MICRO}
            THEN 'a settlement value does not fit DECIMAL(10,6)'
        END AS problem
    FROM v
    """


def _unreadable(db: RawDB, files: list[RawFile]) -> set[str]:
    """Paths of the raw/ws files DuckDB cannot read whole; each is reported once."""
    bad = db.probe_unreadable(files, "count(recv_at), count(frame_no), sum(length(body))")
    with contextlib.suppress(duckdb.Error):
        db.con.execute(f"DROP VIEW IF EXISTS {_VIEW}")
    return bad
