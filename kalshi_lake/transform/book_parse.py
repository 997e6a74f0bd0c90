"""Recorded order book data -> flat frames (DuckDB SQL): WebSocket snapshots and deltas, the
connection facts that say when a replayed book stops being known, and REST polls.

Shapes: https://docs.kalshi.com/websockets/orderbook-updates (``orderbook_snapshot`` with
``yes_dollars_fp``/``no_dollars_fp`` ladders of ``[price, size]`` strings, ``orderbook_delta``
with ``price_dollars``, ``delta_fp``, ``side``; the integer-cent ``yes``/``no``/``price``/``delta``
of the pre-fixed-point era are read too) and
https://docs.kalshi.com/api-reference/market/get-multiple-market-orderbooks (REST polls,
``orderbooks[].orderbook_fp.yes_dollars``/``no_dollars``).

Everything here stays on each ladder's own leg (``leg`` ``yes``/``no``, as sent); the YES
scale is applied by :mod:`.books`, which needs ``use_yes_price`` of the subscription: read from
the ``subscribe`` command (``direction = 'out'``) joined to its ``subscribed`` reply (the sid).

Exactness as in :mod:`~kalshi_lake.transform.parse`: prices Int64 micro-dollars (``*_u``),
sizes Int64 centi-contracts (``*_c``), times Int64 UTC microseconds (``*_us``). A WebSocket frame
is read once: ``conn_id`` + ``frame_no`` is its identity (a frame found in two files, after an
interrupted compaction, counts once). A frame or poll that does not parse is reported as a
problem with its file and row, and left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from kalshi_lake.lake.raw import CONNECTION_CITY, WS_FOLDER
from kalshi_lake.transform.plan import RawFile
from kalshi_lake.transform.rawdb import RawDB
from kalshi_lake.transform.summary import CORRUPT_FILE, SCHEMA, Problem

#: How far (days) from a partition's month the frames about its connections may lie: a
#: market is followed from its listing (the day before its climate date) until it settles.
CONNECTION_DAYS = 3

_SNAPSHOT_SHAPE = (
    '{"msg":{"market_ticker":"VARCHAR","yes_dollars_fp":"VARCHAR[][]",'
    '"no_dollars_fp":"VARCHAR[][]","yes":"VARCHAR[][]","no":"VARCHAR[][]"}}'
)
_DELTA_SHAPE = (
    '{"msg":{"market_ticker":"VARCHAR","price_dollars":"VARCHAR","price":"VARCHAR",'
    '"delta_fp":"VARCHAR","delta":"VARCHAR","side":"VARCHAR"}}'
)
_POLL_SHAPE = (
    '{"orderbooks":[{"ticker":"VARCHAR","orderbook_fp":{"yes_dollars":"VARCHAR[][]",'
    '"no_dollars":"VARCHAR[][]"}}]}'
)
_CMD_SHAPE = '{"id":"BIGINT","params":{"channels":"VARCHAR[]","use_yes_price":"BOOLEAN",' \
    '"sids":"BIGINT[]","market_tickers":"VARCHAR[]","action":"VARCHAR"}}'  # fmt: skip


@dataclass
class BookRows:
    """The parsed order book input of a batch."""

    #: one row per snapshot or delta frame: fid, city, date, recv_us, conn_id, frame_no, sid,
    #: seq, msg_type, market_ticker, leg, price_u, delta_c (deltas only)
    frames: pl.DataFrame
    #: one row per level of a snapshot frame: conn_id, frame_no, leg, price_u, size_c
    levels: pl.DataFrame
    #: per (conn_id, sid): use_yes_price of the subscription (only the true ones)
    yes_price: pl.DataFrame
    #: the connection facts: conn_id, recv_us, frame_no, what ('gap' | 'end' | 'unsubscribed'
    #: | 'delete' | 'connected': the connection's first frame recorded), sid, market_ticker
    facts: pl.DataFrame
    #: one row per market of a REST poll: fid, row, idx, city, fetched_us, market_ticker
    polls: pl.DataFrame
    #: one row per level of a poll: fid, row, idx, leg, price_u, size_c
    poll_levels: pl.DataFrame


def parse_books(
    db: RawDB, ws: Sequence[RawFile], polls: Sequence[RawFile], months: Sequence[str]
) -> BookRows:
    """The order book rows of a batch: its ``raw/ws`` files (market frames), the
    ``city=_connection`` frames of the days around ``months`` and its ``raw/orderbooks``
    files. Bad frames and pages are reported through ``db``; unreadable files are skipped."""
    ws = list(dict.fromkeys(ws))
    frames, levels = _ws_market(db, ws)
    conn = _connection_files(db, frames, months) if frames.height else []
    yes_price, facts = _ws_connection(db, conn)
    p, pl_ = _polls(db, list(dict.fromkeys(polls)))
    return BookRows(frames, levels, yes_price, facts, p, pl_)


def _connection_files(db: RawDB, frames: pl.DataFrame, months: Sequence[str]) -> list[RawFile]:
    """The ``city=_connection`` files of the days the book ``frames`` were received, a day
    either side (a connection's commands and its end may fall just outside), and never further
    than :data:`CONNECTION_DAYS` from ``months``: the minute transform stays bounded."""
    lake = db.lake
    prefix = f"raw/{WS_FOLDER}/city={CONNECTION_CITY}/"
    if not months or not lake.has_files(prefix):
        return []
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    first = (epoch + dt.timedelta(microseconds=int(frames["recv_us"].min()))).date()  # type: ignore[arg-type]
    last = (epoch + dt.timedelta(microseconds=int(frames["recv_us"].max()))).date()  # type: ignore[arg-type]
    lo = min(dt.date.fromisoformat(m + "-01") for m in months)
    hi_month = dt.date.fromisoformat(max(months) + "-01")
    hi = (hi_month + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    lo = max(lo - dt.timedelta(days=CONNECTION_DAYS), first - dt.timedelta(days=1))
    hi = min(hi + dt.timedelta(days=CONNECTION_DAYS), last + dt.timedelta(days=1))
    out: list[RawFile] = []
    for folder in lake.ls_dirs(prefix):
        try:
            day = dt.date.fromisoformat(folder.removeprefix("date="))
        except ValueError:
            continue
        if not lo <= day <= hi:
            continue
        for path, size in sorted(lake.walk_files(prefix + folder).items()):
            rel = lake.rel(path)
            if rel.endswith(".parquet") and not rel.rsplit("/", 1)[1].startswith((".", "_")):
                out.append(RawFile(rel, WS_FOLDER, CONNECTION_CITY, day, size))
    return out


def _uris(db: RawDB, files: Sequence[RawFile]) -> str:
    return "[" + ", ".join("'" + db.lake.uri(f.rel).replace("'", "''") + "'" for f in files) + "]"


def _readable(db: RawDB, files: list[RawFile], probe: str) -> list[RawFile]:
    """``files`` without those DuckDB cannot read whole (each reported once)."""
    good = []
    for f in files:
        if f.rel in db.unreadable:
            continue
        uri = db.lake.uri(f.rel).replace("'", "''")
        try:
            db.con.execute(f"SELECT {probe} FROM read_parquet('{uri}')").fetchall()
        except duckdb.Error as exc:
            reason = str(exc).splitlines()[0][:200]
            db.unreadable[f.rel] = reason
            db.on_problem(
                Problem(CORRUPT_FILE, f.rel, None, f"unreadable Parquet file, skipped: {reason}")
            )
            continue
        good.append(f)
    return good


def _run(db: RawDB, files: list[RawFile], probe: str, sql: str) -> pl.DataFrame:
    """``sql`` (with ``{files}`` and ``{fids}``) over ``files``; on a read error the unreadable
    files are found, reported and left out, and it runs again."""
    try:
        return _query(db, files, sql)
    except duckdb.Error:
        files = _readable(db, files, probe)
        return _query(db, files, sql)


def _query(db: RawDB, files: list[RawFile], sql: str) -> pl.DataFrame:
    if files:
        src = f"read_parquet({_uris(db, files)}, filename = true, file_row_number = true)"
        fids = [db.fid.get(f.rel, -1) for f in files]
        cities = [f.city for f in files]
        dates = [f.date.isoformat() for f in files]
    else:
        src = "(SELECT NULL AS filename, 0 AS file_row_number WHERE false)"
        fids, cities, dates = [], [], []
    db.con.execute("SET VARIABLE kl_book_uri = ?", [[db.lake.uri(f.rel) for f in files]])
    db.con.execute("SET VARIABLE kl_book_fid = ?", [fids])
    db.con.execute("SET VARIABLE kl_book_city = ?", [cities])
    db.con.execute("SET VARIABLE kl_book_date = ?", [dates])
    *setup, query = [q for q in sql.replace("{src}", src).split(";") if q.strip()]
    for stmt in setup:
        db.con.execute(stmt)
    return pl.from_arrow(db.con.sql(query).to_arrow_table())  # type: ignore[return-value]


_POS = "list_position(getvariable('kl_book_uri'), filename)"
_FILE_COLS = (
    f"CAST(getvariable('kl_book_fid')[{_POS}] AS INTEGER) AS fid, file_row_number AS row, "
    f"CAST(getvariable('kl_book_city')[{_POS}] AS VARCHAR) AS city, "
    f"CAST(getvariable('kl_book_date')[{_POS}] AS DATE) AS date"
)

_WS_EMPTY_COLS = (
    "CAST(NULL AS VARCHAR) AS filename, CAST(NULL AS BIGINT) AS file_row_number, "
    "CAST(NULL AS TIMESTAMPTZ) AS recv_at, CAST(NULL AS VARCHAR) AS conn_id, "
    "CAST(NULL AS BIGINT) AS frame_no, CAST(NULL AS VARCHAR) AS direction, "
    "CAST(NULL AS VARCHAR) AS channel, CAST(NULL AS VARCHAR) AS msg_type, "
    "CAST(NULL AS BIGINT) AS sid, CAST(NULL AS BIGINT) AS seq, "
    "CAST(NULL AS VARCHAR) AS market_ticker, CAST(NULL AS VARCHAR) AS body"
)


def _ws_market(db: RawDB, files: list[RawFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(frames, levels)`` of the order book frames in the market files ``files``."""
    src = "{src}" if files else f"(SELECT {_WS_EMPTY_COLS} WHERE false)"
    base = f"""
    CREATE OR REPLACE TEMP TABLE kl_book_frames AS
    WITH r AS (
        SELECT {_FILE_COLS}, epoch_us(recv_at) AS recv_us, conn_id, frame_no, sid, seq,
               msg_type, market_ticker, body
        FROM {src}
        WHERE direction = 'in' AND msg_type IN ('orderbook_snapshot', 'orderbook_delta')
        QUALIFY row_number() OVER (PARTITION BY conn_id, frame_no ORDER BY fid, row) = 1
    )
    SELECT fid, row, city, date, recv_us, conn_id, frame_no, sid, seq, msg_type,
           CASE WHEN msg_type = 'orderbook_snapshot'
                THEN try(from_json(body, '{_SNAPSHOT_SHAPE}')).msg END AS s,
           CASE WHEN msg_type = 'orderbook_delta'
                THEN try(from_json(body, '{_DELTA_SHAPE}')).msg END AS d,
           market_ticker AS head_ticker
    FROM r;
    SELECT fid, row, city, date, recv_us, conn_id, frame_no, sid, seq, msg_type,
           coalesce(s.market_ticker, d.market_ticker, head_ticker) AS market_ticker,
           d.side AS leg,
           coalesce(kl_dollars(d.price_dollars), kl_cents(d.price)) AS price_u,
           coalesce(kl_count(d.delta_fp), kl_count(d.delta)) AS delta_c,
           CASE
             WHEN msg_type = 'orderbook_snapshot' AND s IS NULL
               THEN 'corrupt frame: not a JSON order book snapshot'
             WHEN msg_type = 'orderbook_delta' AND d IS NULL
               THEN 'corrupt frame: not a JSON order book delta'
             WHEN coalesce(s.market_ticker, d.market_ticker) IS NULL
               THEN 'an order book frame has no market_ticker'
             WHEN msg_type = 'orderbook_delta' AND (d.side IS NULL OR d.side NOT IN ('yes', 'no'))
               THEN 'an order book delta has no side yes or no'
             WHEN msg_type = 'orderbook_delta'
                  AND coalesce(kl_dollars(d.price_dollars), kl_cents(d.price)) IS NULL
               THEN 'an order book delta has no valid price'
             WHEN msg_type = 'orderbook_delta'
                  AND coalesce(kl_count(d.delta_fp), kl_count(d.delta)) IS NULL
               THEN 'an order book delta has no valid size change'
           END AS problem
    FROM kl_book_frames
    """
    probe = "count(recv_at), count(frame_no), sum(length(body))"
    frames = _run(db, files, probe, base)
    levels = _query(
        db,
        [],
        """
        WITH l AS (
            SELECT conn_id, frame_no, 'yes' AS leg, unnest(s.yes_dollars_fp) AS lv, true AS fp
            FROM kl_book_frames WHERE s IS NOT NULL
            UNION ALL
            SELECT conn_id, frame_no, 'no', unnest(s.no_dollars_fp), true
            FROM kl_book_frames WHERE s IS NOT NULL
            UNION ALL
            SELECT conn_id, frame_no, 'yes', unnest(s.yes), false
            FROM kl_book_frames WHERE s IS NOT NULL
            UNION ALL
            SELECT conn_id, frame_no, 'no', unnest(s.no), false
            FROM kl_book_frames WHERE s IS NOT NULL
        )
        SELECT conn_id, frame_no, leg,
               CASE WHEN fp THEN kl_dollars(lv[1]) ELSE kl_cents(lv[1]) END AS price_u,
               kl_count(lv[2]) AS size_c
        FROM l
        """,
    )
    db.con.execute("DROP TABLE IF EXISTS kl_book_frames")
    bad_levels = levels.filter(pl.col("price_u").is_null() | pl.col("size_c").is_null())
    if bad_levels.height:
        keys = (
            bad_levels.select("conn_id", "frame_no")
            .unique()
            .with_columns(
                _bad=pl.lit("an order book snapshot has a level without a valid price and size")
            )
        )
        frames = (
            frames.join(keys, on=["conn_id", "frame_no"], how="left")
            .with_columns(problem=pl.coalesce("problem", "_bad"))
            .drop("_bad")
        )
    frames = _good(db, frames)
    levels = levels.join(frames.select("conn_id", "frame_no"), on=["conn_id", "frame_no"],
                         how="semi")  # fmt: skip
    return frames, levels


def _good(db: RawDB, df: pl.DataFrame) -> pl.DataFrame:
    """The good rows; one problem per bad frame or page (file, row)."""
    bad = df.filter(pl.col("problem").is_not_null())
    for fid, row, msg in bad.select("fid", "row", "problem").iter_rows():
        db.on_problem(Problem(SCHEMA, db.path_of(fid), None, msg, 1, row=row))
    return df.filter(pl.col("problem").is_null()).drop("problem")


def _ws_connection(db: RawDB, files: list[RawFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(yes_price, facts)`` of every connection in the ``_connection`` files (all of the
    window's: a later connection may end an earlier one)."""
    src = "{src}" if files else f"(SELECT {_WS_EMPTY_COLS} WHERE false)"
    rows = _run(
        db,
        files,
        "count(recv_at), count(frame_no), sum(length(body))",
        f"""
        SELECT epoch_us(recv_at) AS recv_us, conn_id, frame_no, direction, channel, msg_type,
               sid, body
        FROM {src}
        WHERE (direction IN ('out', 'event')
               OR msg_type IN ('subscribed', 'unsubscribed'))
        QUALIFY row_number() OVER (PARTITION BY conn_id, frame_no ORDER BY filename,
                                   file_row_number) = 1
        """,
    )
    db.con.register("kl_book_conn_rows", rows.to_arrow())
    try:
        yes_price = _query(
            db,
            [],
            f"""
            WITH cmd AS (
                SELECT conn_id, try(from_json(body, '{_CMD_SHAPE}')) AS c
                FROM kl_book_conn_rows WHERE direction = 'out'
            ), sub AS (
                SELECT conn_id, sid, try(CAST(json_extract(body, '$.id') AS BIGINT)) AS id
                FROM kl_book_conn_rows
                WHERE direction = 'in' AND msg_type = 'subscribed'
                  AND json_extract_string(body, '$.msg.channel') = 'orderbook_delta'
            )
            SELECT DISTINCT sub.conn_id, sub.sid
            FROM sub JOIN cmd ON cmd.conn_id = sub.conn_id AND cmd.c.id = sub.id
            WHERE cmd.c.params.use_yes_price
            """,
        )
        facts = _query(
            db,
            [],
            f"""
            SELECT conn_id, recv_us, frame_no, 'gap' AS what, sid,
                   CAST(NULL AS VARCHAR) AS market_ticker
            FROM kl_book_conn_rows
            WHERE direction = 'event' AND msg_type = 'gap'
              AND coalesce(channel, 'orderbook_delta') = 'orderbook_delta'
            UNION ALL
            SELECT conn_id, recv_us, frame_no, 'end', NULL, NULL
            FROM kl_book_conn_rows
            WHERE direction = 'event' AND msg_type IN ('disconnected', 'closed')
            UNION ALL
            SELECT conn_id, min(recv_us), min(frame_no), 'connected', NULL, NULL
            FROM kl_book_conn_rows GROUP BY conn_id
            UNION ALL
            SELECT conn_id, recv_us, frame_no, 'unsubscribed', sid, NULL
            FROM kl_book_conn_rows WHERE direction = 'in' AND msg_type = 'unsubscribed'
            UNION ALL
            SELECT conn_id, recv_us, frame_no, 'delete', c.params.sids[1],
                   unnest(c.params.market_tickers)
            FROM (SELECT *, try(from_json(body, '{_CMD_SHAPE}')) AS c FROM kl_book_conn_rows
                  WHERE direction = 'out')
            WHERE c.params.action = 'delete_markets'
            """,
        )
    finally:
        db.con.unregister("kl_book_conn_rows")
    return yes_price, facts


def _polls(db: RawDB, files: list[RawFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(polls, levels)`` of the REST order book pages in ``files``."""
    src = (
        "{src}"
        if files
        else (
            "(SELECT CAST(NULL AS VARCHAR) AS filename, CAST(NULL AS BIGINT) AS file_row_number, "
            "CAST(NULL AS TIMESTAMPTZ) AS fetched_at, CAST(NULL AS SMALLINT) AS http_status, "
            "CAST(NULL AS VARCHAR) AS body WHERE false)"
        )
    )
    sql = f"""
    CREATE OR REPLACE TEMP TABLE kl_book_polls AS
    WITH p AS (
        SELECT {_FILE_COLS}, epoch_us(fetched_at) AS fetched_us,
               try(from_json(body, '{_POLL_SHAPE}')).orderbooks AS books
        FROM {src} WHERE http_status = 200
    )
    SELECT fid, row, city, fetched_us, books IS NULL AS bad,
           unnest(CASE WHEN books IS NULL THEN [NULL] ELSE books END) AS b,
           generate_subscripts(CASE WHEN books IS NULL THEN [NULL] ELSE books END, 1) AS idx
    FROM p;
    SELECT fid, row, idx, city, fetched_us, b.ticker AS market_ticker,
           CASE WHEN bad THEN 'corrupt body: not a JSON orderbooks page'
                WHEN b.ticker IS NULL THEN 'an order book has no ticker' END AS problem
    FROM kl_book_polls
    """
    polls = _run(db, files, "count(fetched_at), sum(length(body))", sql)
    levels = _query(
        db,
        [],
        """
        WITH l AS (
            SELECT fid, row, idx, 'yes' AS leg, unnest(b.orderbook_fp.yes_dollars) AS lv
            FROM kl_book_polls WHERE NOT bad
            UNION ALL
            SELECT fid, row, idx, 'no', unnest(b.orderbook_fp.no_dollars)
            FROM kl_book_polls WHERE NOT bad
        )
        SELECT fid, row, idx, leg, kl_dollars(lv[1]) AS price_u, kl_count(lv[2]) AS size_c
        FROM l
        """,
    )
    db.con.execute("DROP TABLE IF EXISTS kl_book_polls")
    bad = levels.filter(pl.col("price_u").is_null() | pl.col("size_c").is_null())
    if bad.height:
        keys = (
            bad.select("fid", "row", "idx")
            .unique()
            .with_columns(_bad=pl.lit("an order book has a level without a valid price and size"))
        )
        polls = (
            polls.join(keys, on=["fid", "row", "idx"], how="left")
            .with_columns(problem=pl.coalesce("problem", "_bad"))
            .drop("_bad")
        )
    polls = _good(db, polls)
    levels = levels.join(polls.select("fid", "row", "idx"), on=["fid", "row", "idx"],
                         how="semi")  # fmt: skip
    return polls, levels
