"""Raw API pages -> flat frames, for every payload era Kalshi has served.

Shapes: https://docs.kalshi.com/api-reference (trades, candlesticks, markets, events) and the
fixed-point migration in https://docs.kalshi.com/changelog.

The parsers are pure: each takes a DuckDB connection and the name of a table or view of raw
pages (:data:`PAGE_COLUMNS`) and returns a polars DataFrame; nothing here touches the lake.
DuckDB's ``from_json`` + ``unnest`` is the fastest parse measured (PERF: 2.6M trades/s on two
cores, against 1.4M/s for polars' ``str.json_decode`` and under 0.5M/s for Python JSON loops).

Payload eras handled (a missing key, ``null`` and ``{}`` all mean "no value"):

- current fixed-point strings: ``yes_price_dollars``, ``count_fp``, candle ``*_dollars`` and
  ``volume_fp``/``open_interest_fp``;
- the dual era before 2026-03-12: integer cents/counts next to the ``*_dollars`` twins (the
  twin wins; a lone integer-cent field is converted exactly, cents x 10,000 micro-dollars);
- the historical tier's flat candle names (``price.open``, ``yes_bid.close``, ``volume``): the
  same flat names held integer cents in the dual era, so a flat *string* is dollars and a flat
  *number* is cents.

Exactness: numbers never pass through floats. Strings are cast to DuckDB ``DECIMAL`` and then
to fixed-point integers: prices in micro-dollars (``*_u``, 10^-6 $, the precision of the curated
``DECIMAL(10,6)``), counts in centi-contracts (``*_c``, the precision of ``DECIMAL(18,2)``).
:mod:`kalshi_lake.transform.frames` turns them into Arrow decimals at the edge.

Bad input never stops a parse. Every output row carries ``problem``: NULL for a good row, else
a short reason (``corrupt body``, ``no 'trades' array``, ``missing trade_id`` ...). A page that
cannot be parsed yields exactly one problem row; :func:`split_problems` separates them.

This module holds the page plumbing every parser shares (:func:`prepare`, :func:`query_frame`,
:func:`json_pages` ...), trades and candlesticks; markets and events, whose fields are also
type-checked, are in :mod:`~kalshi_lake.transform.parse_markets`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection, Sequence
from functools import partial
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

# ``_run(small=True)`` copies a small result on purpose; DuckDB warns about that copy. Only
# warnings raised from this module's own calls are silenced.
warnings.filterwarnings(
    "ignore", message="Arrow output on a DB-API result", category=UserWarning, module=__name__
)

#: Columns a page table/view handed to the parsers must have. ``fid`` orders files (the build
#: numbers files in path order, so "later file" is well defined) and ``row`` is the page's row
#: in its file (``(fid, row)`` names a page; ``page_number`` alone repeats within a file);
#: ``city``/``date``/``endpoint`` come from the raw path's folders, the rest from the raw page
#: record (RAW_SCHEMA).
PAGE_COLUMNS = (
    "fid",
    "row",
    "city",
    "date",
    "endpoint",
    "tier",
    "page_number",
    "fetched_at",
    "series_ticker",
    "event_ticker",
    "market_ticker",
    "request_params",
    "http_status",
    "body",
)

#: Micro-dollars per dollar and per cent; centi-contracts per contract.
MICRO = 1_000_000
MICRO_PER_CENT = 10_000
CENTI = 100

# --- JSON shapes (only the fields we read; unknown fields are ignored by from_json) -----------

_TRADE = (
    '{"trade_id":"VARCHAR","ticker":"VARCHAR","created_time":"VARCHAR",'
    '"yes_price_dollars":"VARCHAR","no_price_dollars":"VARCHAR","yes_price":"VARCHAR",'
    '"no_price":"VARCHAR","count_fp":"VARCHAR","count":"VARCHAR",'
    '"taker_outcome_side":"VARCHAR","taker_side":"VARCHAR","is_block_trade":"BOOLEAN"}'
)

_OHLC = ("open", "high", "low", "close")
# Flat names are JSON so we can tell cents (a number) from dollars (a string) by the raw text.
_PRICE_DIST = (
    "{" + ",".join(f'"{k}":"JSON","{k}_dollars":"VARCHAR"' for k in (*_OHLC, "mean")) + "}"
)
_BIDASK_DIST = "{" + ",".join(f'"{k}":"JSON","{k}_dollars":"VARCHAR"' for k in _OHLC) + "}"
_CANDLE = (
    '{"end_period_ts":"BIGINT",'
    f'"price":{_PRICE_DIST},"yes_bid":{_BIDASK_DIST},"yes_ask":{_BIDASK_DIST},'
    '"volume_fp":"VARCHAR","volume":"VARCHAR","open_interest_fp":"VARCHAR","open_interest":"VARCHAR"}'
)

# Macros shared by every query. ``_px`` takes the ``_dollars`` twin and the flat JSON value.
_MACROS = f"""
CREATE OR REPLACE TEMP MACRO kl_dollars(s) AS
    CAST(TRY_CAST(s AS DECIMAL(18, 6)) * {MICRO} AS BIGINT);
CREATE OR REPLACE TEMP MACRO kl_cents(s) AS
    CAST(TRY_CAST(s AS DECIMAL(18, 6)) * {MICRO_PER_CENT} AS BIGINT);
CREATE OR REPLACE TEMP MACRO kl_count(s) AS
    CAST(TRY_CAST(s AS DECIMAL(18, 2)) * {CENTI} AS BIGINT);
CREATE OR REPLACE TEMP MACRO kl_px(d, f) AS CASE
    WHEN d IS NOT NULL THEN kl_dollars(d)
    WHEN f IS NULL OR CAST(f AS VARCHAR) = 'null' THEN NULL
    WHEN left(CAST(f AS VARCHAR), 1) = '"' THEN kl_dollars(trim(CAST(f AS VARCHAR), '"'))
    ELSE kl_cents(CAST(f AS VARCHAR)) END;
CREATE OR REPLACE TEMP MACRO kl_ts(s) AS TRY_CAST(s AS TIMESTAMPTZ);
CREATE OR REPLACE TEMP MACRO kl_jt(x) AS CASE WHEN x IS NOT NULL THEN json_type(x) END;
CREATE OR REPLACE TEMP MACRO kl_jstr(x) AS CASE WHEN kl_jt(x) = 'VARCHAR' THEN x ->> '$' END;
CREATE OR REPLACE TEMP MACRO kl_jtext(x) AS nullif(CASE kl_jt(x)
    WHEN 'VARCHAR' THEN x ->> '$'
    WHEN 'BIGINT' THEN CAST(x AS VARCHAR) WHEN 'UBIGINT' THEN CAST(x AS VARCHAR)
    WHEN 'DOUBLE' THEN CAST(x AS VARCHAR) END, '');
CREATE OR REPLACE TEMP MACRO kl_shown(x) AS CASE
    WHEN length(CAST(x AS VARCHAR)) > 40 THEN left(CAST(x AS VARCHAR), 37) || '...'
    ELSE CAST(x AS VARCHAR) END;
CREATE OR REPLACE TEMP MACRO kl_items_kind(j, body, path) AS CASE
    WHEN j IS NULL THEN 'corrupt'
    ELSE coalesce(json_type(body, path), 'MISSING') END;
"""

#: Largest |micro-dollar| value a DECIMAL(10,6) holds.
MAX_MICRO = 9_999_999_999


def prepare(con: duckdb.DuckDBPyConnection) -> None:
    """Create the helper macros (idempotent) and pin the session to UTC."""
    con.execute("SET TimeZone = 'UTC'")
    con.execute(_MACROS)


def page_problem(kind_col: str, key: str) -> str:
    """SQL for the page-level problem of a page whose items could not be read.

    ``key`` is a SQL expression naming the body key that should hold the items.
    """
    q = "''''"  # a SQL string literal holding one single quote
    return (
        f"CASE WHEN {kind_col} = 'corrupt' THEN 'corrupt body: not a JSON object' "
        f"WHEN {kind_col} = 'MISSING' THEN 'no ' || {q} || {key} || {q} || ' in body' "
        f"WHEN {kind_col} = 'NULL' THEN 'skip' "
        f"WHEN {kind_col} IS NOT NULL THEN {q} || {key} || {q} || ' is ' || lower({kind_col}) "
        "|| ', not what the API sends' END"
    )


def query_frame(
    con: duckdb.DuckDBPyConnection, sql: Callable[[bool], str], small: bool = False
) -> pl.DataFrame:
    """Run the query ``sql(safe)`` into a polars frame (``small``: a result of a few thousand
    rows at most, see :func:`_run`).

    The safe query wraps ``from_json`` in ``try()`` (:func:`from_json_sql`) so a body that is not
    JSON becomes a NULL (reported as a problem row) instead of failing the query. ``try()``
    costs about 12% of the trade parse even when nothing fails (PERF), so the fast query,
    without it, runs first, and the safe one only if that raises: corrupt bodies are rare, and
    the answer is the same.
    """
    try:
        return _run(con, sql(False), small)
    except duckdb.Error:
        pass  # a malformed body (or an unreadable file: the safe run raises it again)
    return _run(con, sql(True), small)


def _run(con: duckdb.DuckDBPyConnection, sql: str, small: bool = False) -> pl.DataFrame:
    if small:
        # A relation (``con.sql``) binds the query once more before running it: ~4 ms per
        # query, which is most of the time of a small one (PERF: markets of event pages run
        # once per batch). Executed directly, the result is copied once: cheap when small.
        return pl.from_arrow(con.execute(sql).to_arrow_table())  # type: ignore[return-value]
    # Stream the result out in batches: DuckDB then holds a few vectors, not the whole result
    # (which would count against its memory limit); the Arrow batches become one frame.
    reader = con.sql(sql).to_arrow_reader(batch_size=256 * 1024)
    return pl.from_arrow(reader.read_all())  # type: ignore[return-value]


def from_json_sql(shape: str, safe: bool) -> str:
    """SQL parsing ``body`` as the JSON ``shape``; ``safe``: NULL for a body that is not JSON
    (see :func:`query_frame`)."""
    return f"try(from_json(body, '{shape}'))" if safe else f"(from_json(body, '{shape}'))"


def json_pages(cte: str, pages: str, base: str, endpoint: str, shape: str, safe: bool) -> str:
    """A CTE ``cte``: the ``endpoint`` pages of ``pages`` that answered 200, with the ``base``
    columns and the body parsed as the JSON ``shape`` into ``j`` (see :func:`from_json_sql`)."""
    return f"""{cte} AS (
            SELECT {base}, {from_json_sql(shape, safe)} AS j
            FROM {pages} WHERE endpoint = '{endpoint}' AND http_status = 200
        )"""


def items_kind(key: str) -> str:
    """SQL for ``kind``: why the page's ``j.<key>`` items cannot be read (NULL if they can;
    see :func:`page_problem`)."""
    return f"CASE WHEN j.{key} IS NULL THEN kl_items_kind(j, body, '$.{key}') END AS kind"


def items_or_null(key: str) -> str:
    """SQL for the page's ``j.<key>`` list, or ``[NULL]`` (one row that carries its problem)."""
    return f"CASE WHEN j.{key} IS NULL THEN [NULL] ELSE j.{key} END"


# --- trades ------------------------------------------------------------------------------------

TRADE_COLUMNS = (
    "fid",
    "row",
    "page_number",
    "idx",
    "trade_id",
    "market_ticker",
    "traded_at",
    "yes_u",
    "no_u",
    "count_c",
    "taker_side",
    "is_block_trade",
    "problem",
)

#: Page attributes the trade rows need, from :func:`parse_pages` (joined on fid, row).
PAGE_INFO_COLUMNS = (
    "fid",
    "row",
    "city",
    "date",
    "tier",
    "fetched_at",
    "page_event_ticker",
)


def parse_trades(con: duckdb.DuckDBPyConnection, pages: str) -> pl.DataFrame:
    """One row per trade object in ``trades`` pages of ``pages`` (:data:`TRADE_COLUMNS`).

    ``yes_u``/``no_u`` are micro-dollars, ``count_c`` centi-contracts; ``taker_side`` is
    ``taker_outcome_side`` or, in older payloads, ``taker_side``. Required: ``trade_id``,
    ``ticker``, ``created_time``, a yes price and a count; a trade lacking one is a problem row.
    Page attributes (tier, fetch time, ...) are not repeated on every trade: join
    :func:`parse_pages` (see :func:`with_pages`).
    """
    prepare(con)
    return query_frame(con, partial(_trades_sql, pages))


def _trades_sql(pages: str, safe: bool) -> str:
    shape = f'{{"trades":[{_TRADE}]}}'
    return f"""
    WITH {json_pages("p", pages, "fid, row, page_number, body", "trades", shape, safe)},
    q AS (
        SELECT fid, row, page_number, {items_kind("trades")}, {items_or_null("trades")} AS items
        FROM p
    ), u AS (
        SELECT fid, row, page_number, kind, unnest(items) AS t, unnest(range(len(items))) AS idx
        FROM q
    ), v AS (
        SELECT fid, row, page_number, CAST(idx AS INTEGER) AS idx, kind, t.trade_id,
               t.ticker AS market_ticker, kl_ts(t.created_time) AS traded_at,
               coalesce(kl_dollars(t.yes_price_dollars), kl_cents(t.yes_price)) AS yes_u,
               coalesce(kl_dollars(t.no_price_dollars), kl_cents(t.no_price)) AS no_u,
               coalesce(kl_count(t.count_fp), kl_count(t.count)) AS count_c,
               coalesce(t.taker_outcome_side, t.taker_side) AS taker_side,
               t.is_block_trade
        FROM u
    )
    -- One test clears the (nearly all) good rows; only the rest walk the list of reasons
    -- (PERF: each WHEN is a pass over the rows).
    SELECT * EXCLUDE (kind), CASE
        WHEN kind IS NULL AND trade_id IS NOT NULL AND market_ticker IS NOT NULL
            AND traded_at IS NOT NULL AND yes_u IS NOT NULL AND count_c IS NOT NULL
            AND abs(yes_u) <= {MAX_MICRO} AND abs(coalesce(no_u, 0)) <= {MAX_MICRO} THEN NULL
        WHEN kind IS NOT NULL THEN {page_problem("kind", "'trades'")}
        WHEN trade_id IS NULL THEN 'a trade has no trade_id'
        WHEN market_ticker IS NULL THEN 'a trade has no ticker'
        WHEN traded_at IS NULL THEN 'a trade has no valid created_time'
        WHEN yes_u IS NULL THEN 'a trade has no valid yes price'
        WHEN count_c IS NULL THEN 'a trade has no valid count'
        WHEN abs(yes_u) > {MAX_MICRO} OR abs(coalesce(no_u, 0)) > {MAX_MICRO}
            THEN 'a trade price does not fit DECIMAL(10,6)'
        END AS problem
    FROM v
    """


def parse_pages(
    con: duckdb.DuckDBPyConnection, pages: str, endpoint: str = "trades"
) -> pl.DataFrame:
    """Page attributes (:data:`PAGE_INFO_COLUMNS`) of the ``endpoint`` pages; reads no bodies."""
    sql = f"""
    SELECT fid, row, city, date, tier, fetched_at, event_ticker AS page_event_ticker
    FROM {pages} WHERE endpoint = '{endpoint}' AND http_status = 200
    """
    return _run(con, sql, small=True)


def with_pages(rows: pl.DataFrame, pages: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (with fid, row) plus their page's attributes."""
    return rows.join(pages, on=["fid", "row"], how="left", maintain_order="left")


# --- candlesticks ------------------------------------------------------------------------------

CANDLE_COLUMNS = (
    "city",
    "date",
    "fid",
    "row",
    "page_number",
    "idx",
    "tier",
    "fetched_at",
    "page_event_ticker",
    "market_ticker",
    "period_minutes",
    "end_period_ts",
    "price_open_u",
    "price_high_u",
    "price_low_u",
    "price_close_u",
    "price_mean_u",
    "yes_bid_open_u",
    "yes_bid_high_u",
    "yes_bid_low_u",
    "yes_bid_close_u",
    "yes_ask_open_u",
    "yes_ask_high_u",
    "yes_ask_low_u",
    "yes_ask_close_u",
    "volume_c",
    "open_interest_c",
    "problem",
)


def _candle_select(c: str) -> str:
    """SQL select list for one candle struct ``c`` (empty book sides become NULL)."""
    cols = [f"{c}.end_period_ts AS end_period_ts"]
    for k in (*_OHLC, "mean"):
        name = "mean" if k == "mean" else k
        cols.append(f"kl_px({c}.price.{k}_dollars, {c}.price.{k}) AS price_{name}_u")
    for k in _OHLC:
        # An empty book side is served as bid 0.00 / ask 1.00, never as null (see
        # https://docs.kalshi.com/api-reference/market/get-market-candlesticks).
        cols.append(f"nullif(kl_px({c}.yes_bid.{k}_dollars, {c}.yes_bid.{k}), 0) AS yes_bid_{k}_u")
    for k in _OHLC:
        cols.append(
            f"nullif(kl_px({c}.yes_ask.{k}_dollars, {c}.yes_ask.{k}), {MICRO}) AS yes_ask_{k}_u"
        )
    cols.append(f"coalesce(kl_count({c}.volume_fp), kl_count({c}.volume)) AS volume_c")
    cols.append(
        f"coalesce(kl_count({c}.open_interest_fp), kl_count({c}.open_interest)) AS open_interest_c"
    )
    return ",\n               ".join(cols)


CANDLE_ENDPOINTS = ("candlesticks", "event_candlesticks", "batch_candlesticks")


def parse_candles(
    con: duckdb.DuckDBPyConnection, pages: str, endpoints: Collection[str] = CANDLE_ENDPOINTS
) -> pl.DataFrame:
    """One row per candle in ``candlesticks``, ``event_candlesticks`` and ``batch_candlesticks``
    pages (only the ``endpoints`` named are read).

    Prices in micro-dollars (``price_mean_u`` is Kalshi's volume-weighted mean), counts in
    centi-contracts, ``end_period_ts`` in Unix seconds. ``period_minutes`` comes from the
    request's ``period_interval`` (the candle object does not carry it).
    """
    prepare(con)
    return query_frame(con, partial(_candles_sql, pages, endpoints))


def _candles_sql(pages: str, endpoints: Collection[str], safe: bool) -> str:
    base = (
        "city, date, fid, row, page_number, tier, fetched_at, "
        "event_ticker AS page_event_ticker, "
        "market_ticker AS page_market_ticker, "
        "TRY_CAST(json_extract_string(request_params, '$.period_interval') AS INTEGER) "
        "AS period_minutes, body"
    )
    keep = "city, date, fid, row, page_number, tier, fetched_at, page_event_ticker, period_minutes"
    # Each source yields (keep..., kind, what, market_ticker, items): one row per market.
    sources = {
        "candlesticks": f"""
        {
            json_pages(
                "single",
                pages,
                base,
                "candlesticks",
                f'{{"ticker":"VARCHAR","candlesticks":[{_CANDLE}]}}',
                safe,
            )
        },
        single_q AS (
            SELECT {keep}, {items_kind("candlesticks")},
                   'candlesticks' AS what, coalesce(j.ticker, page_market_ticker) AS market_ticker,
                   {items_or_null("candlesticks")} AS items
            FROM single
        )""",
        "event_candlesticks": f"""
        {
            json_pages(
                "ev",
                pages,
                base,
                "event_candlesticks",
                f'{{"market_tickers":["VARCHAR"],"market_candlesticks":[[{_CANDLE}]]}}',
                safe,
            )
        },
        ev_m AS (
            SELECT {keep}, {items_kind("market_candlesticks")},
                   {items_or_null("market_candlesticks")} AS lists,
                   CASE WHEN j.market_candlesticks IS NULL THEN [NULL]
                        ELSE j.market_tickers END AS tickers
            FROM ev
        ), ev_q AS (
            -- market_tickers[i] owns market_candlesticks[i] (parallel arrays, see
            -- https://docs.kalshi.com/api-reference/events/get-event-candlesticks)
            SELECT {keep}, kind, 'market_candlesticks' AS what, unnest(tickers) AS market_ticker,
                   unnest(lists) AS items
            FROM ev_m
        )""",
        "batch_candlesticks": f"""
        {
            json_pages(
                "batch",
                pages,
                base,
                "batch_candlesticks",
                f'{{"markets":[{{"market_ticker":"VARCHAR","candlesticks":[{_CANDLE}]}}]}}',
                safe,
            )
        },
        batch_m AS (
            SELECT {keep}, {items_kind("markets")}, unnest({items_or_null("markets")}) AS m
            FROM batch
        ), batch_q AS (
            SELECT {keep}, kind, 'markets' AS what, m.market_ticker AS market_ticker,
                   m.candlesticks AS items
            FROM batch_m
        )""",
    }
    last = {
        "candlesticks": "single_q",
        "event_candlesticks": "ev_q",
        "batch_candlesticks": "batch_q",
    }
    chosen = [e for e in CANDLE_ENDPOINTS if e in endpoints] or ["candlesticks"]
    union = "\n        UNION ALL\n        ".join(
        f"SELECT {keep}, kind, what, market_ticker, "
        f"CASE WHEN items IS NULL THEN [NULL] ELSE items END AS items FROM {last[e]}"
        for e in chosen
    )
    sql = f"""
    WITH {", ".join(sources[e] for e in chosen)},
    allq AS (
        {union}
    ), u AS (
        SELECT * EXCLUDE (items), unnest(items) AS c, unnest(range(len(items))) AS idx FROM allq
    ), v AS (
        SELECT city, date, fid, row, page_number, CAST(idx AS INTEGER) AS idx, tier, fetched_at,
               page_event_ticker, market_ticker, period_minutes, kind, what,
               c IS NULL AS no_candle, {_candle_select("c")}
        FROM u
    )
    SELECT * EXCLUDE (kind, what, no_candle), CASE
        WHEN kind IS NOT NULL THEN {page_problem("kind", "what")}
        WHEN no_candle THEN 'skip'
        WHEN market_ticker IS NULL THEN 'candles without a market ticker'
        WHEN period_minutes IS NULL THEN 'request_params has no period_interval'
        WHEN end_period_ts IS NULL THEN 'a candle has no end_period_ts'
        END AS problem
    FROM v
    """
    return sql


# --- helpers -----------------------------------------------------------------------------------


def split_problems(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(good rows without the problem column, problems)``.

    Problems are one row per page and reason, ``(fid, row, page_number, problem, items)``:
    a page is named by its file and its row in that file (``page_number`` is its place in its
    own walk, and one file holds the pages of many walks, so it repeats within a file);
    ``items`` counts the items affected. ``skip`` rows (a ``null`` list, which means "none")
    are dropped from both.
    """
    if df.height == 0:
        return df.drop("problem"), pl.DataFrame(
            schema={
                "fid": pl.Int32,
                "row": pl.Int64,
                "page_number": pl.Int32,
                "problem": pl.String,
                "items": pl.UInt32,
            }
        )
    flagged = df.filter(pl.col("problem").is_not_null())
    good = (
        df.filter(pl.col("problem").is_null()).drop("problem")
        if flagged.height
        else df.drop("problem")
    )
    problems = (
        flagged.filter(pl.col("problem") != "skip")
        .group_by("fid", "row", "page_number", "problem")
        .agg(items=pl.len())
        .with_columns(
            pl.col("fid").cast(pl.Int32),
            pl.col("row").cast(pl.Int64),
            pl.col("page_number").cast(pl.Int32),
        )
        .sort("fid", "row", "problem")
    )
    return good, problems


def pages_table(rows: Sequence[dict[str, Any]]) -> pa.Table:
    """An Arrow table in :data:`PAGE_COLUMNS` from dicts (tests and small in-memory parses).

    Each dict holds a raw page record's fields plus ``fid``, ``city``, ``date``, ``endpoint``
    (and optionally ``row``; by default pages of one ``fid`` are numbered in order).
    """
    schema = pa.schema(
        [
            ("fid", pa.int32()),
            ("row", pa.int64()),
            ("city", pa.string()),
            ("date", pa.date32()),
            ("endpoint", pa.string()),
            ("tier", pa.string()),
            ("page_number", pa.int32()),
            ("fetched_at", pa.timestamp("us", tz="UTC")),
            ("series_ticker", pa.string()),
            ("event_ticker", pa.string()),
            ("market_ticker", pa.string()),
            ("request_params", pa.string()),
            ("http_status", pa.int16()),
            ("body", pa.large_string()),
        ]
    )
    seen: dict[int, int] = {}
    out = []
    for r in rows:
        row = {k: r.get(k) for k in PAGE_COLUMNS}
        if row["row"] is None:  # the page's row in its file: count pages per fid
            row["row"] = seen.get(r["fid"], 0)
        seen[r["fid"]] = int(str(row["row"])) + 1
        out.append(row)
    return pa.Table.from_pylist(out, schema=schema)
