"""Raw market and event pages -> flat frames (:func:`parse_markets`, :func:`parse_events`).

The market and event half of :mod:`~kalshi_lake.transform.parse` (which holds the page plumbing,
trades and candlesticks): ``GET /markets/{ticker}``, ``/markets``, ``/events/{ticker}`` and
``/events`` pages in every payload era (https://docs.kalshi.com/api-reference). Fields are read
as JSON and type-checked: a value of the wrong type is a problem row, never a NULL or a string.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial

import duckdb
import polars as pl

from kalshi_lake.transform.parse import (
    MAX_MICRO,
    from_json_sql,
    items_kind,
    items_or_null,
    json_pages,
    page_problem,
    prepare,
    query_frame,
)

# Market and event fields are read as JSON, not cast on the way in: a value of the wrong type
# (a strike "abc", a status 7, an object where a string belongs) must be seen and reported,
# not turned into NULL or into the text of a number (see :func:`_market_problem`).
_MARKET_FIELDS = ("ticker", "event_ticker", "strike_type", "floor_strike", "cap_strike",
                  "yes_sub_title", "status", "result", "settlement_value_dollars",
                  "settlement_value", "expiration_value", "open_time", "close_time",
                  "settlement_ts", "volume_fp", "volume", "open_interest_fp", "open_interest",
                  "rules_primary", "settlement_bounds_type",
                  "settlement_floor_dollars")  # fmt: skip
_MARKET = "{" + ",".join(f'"{k}":"JSON"' for k in _MARKET_FIELDS) + "}"
_EVENT = f'{{"event_ticker":"JSON","series_ticker":"JSON","markets":[{_MARKET}]}}'

#: Market fields that must be JSON strings when present (the numeric ones, strikes, counts,
#: prices and ``expiration_value``, may be numbers or strings holding one).
_MARKET_STRINGS = ("ticker", "event_ticker", "strike_type", "yes_sub_title", "status", "result",
                   "open_time", "close_time", "settlement_ts", "rules_primary",
                   "settlement_bounds_type", "settlement_floor_dollars")  # fmt: skip


MARKET_COLUMNS = (
    "city",
    "date",
    "endpoint",
    "fid",
    "row",
    "page_number",
    "idx",
    "tier",
    "fetched_at",
    "page_series_ticker",
    "page_event_ticker",
    "parent_event_ticker",
    "parent_series_ticker",
    "market_ticker",
    "event_ticker",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "yes_sub_title",
    "status",
    "result",
    "settlement_value_u",
    "expiration_value",
    "open_time",
    "close_time",
    "settlement_ts",
    "volume_c",
    "open_interest_c",
    "rules_primary",
    "settlement_bounds_type",
    "settlement_floor_u",
    "problem",
)

EVENT_COLUMNS = ("city", "date", "endpoint", "fid", "row", "page_number", "idx", "tier", "fetched_at",
                 "event_ticker", "series_ticker", "problem")  # fmt: skip


def _market_values(m: str) -> dict[str, str]:
    """SQL per output column of one market struct ``m`` (fields as JSON, see ``_MARKET``).

    Numbers may come as JSON numbers or as strings (the ``*_dollars``/``*_fp`` fields are
    strings); a value of another type, or a string that is not one, gives NULL here and is
    reported by :func:`_market_problem`.
    """
    return {
        "market_ticker": f"kl_jstr({m}.ticker)",
        "event_ticker": f"kl_jstr({m}.event_ticker)",
        "strike_type": f"nullif(kl_jstr({m}.strike_type), '')",
        "floor_strike": f"TRY_CAST(kl_jtext({m}.floor_strike) AS DECIMAL(10, 4))",
        "cap_strike": f"TRY_CAST(kl_jtext({m}.cap_strike) AS DECIMAL(10, 4))",
        "yes_sub_title": f"kl_jstr({m}.yes_sub_title)",
        "status": f"nullif(kl_jstr({m}.status), '')",
        "result": f"nullif(kl_jstr({m}.result), '')",
        "settlement_value_u": (
            f"kl_px(kl_jtext({m}.settlement_value_dollars), {m}.settlement_value)"
        ),
        "expiration_value": f"TRY_CAST(kl_jtext({m}.expiration_value) AS DECIMAL(10, 4))",
        "open_time": f"kl_ts(nullif(kl_jstr({m}.open_time), ''))",
        "close_time": f"kl_ts(nullif(kl_jstr({m}.close_time), ''))",
        "settlement_ts": f"kl_ts(nullif(kl_jstr({m}.settlement_ts), ''))",
        "volume_c": f"coalesce(kl_count(kl_jtext({m}.volume_fp)), kl_count(kl_jtext({m}.volume)))",
        "open_interest_c": (
            f"coalesce(kl_count(kl_jtext({m}.open_interest_fp)), "
            f"kl_count(kl_jtext({m}.open_interest)))"
        ),
        "rules_primary": f"kl_jstr({m}.rules_primary)",
        # OpenAPI 3.31+ (https://docs.kalshi.com/changelog): absent from older payloads, NULL
        # then. The type is kept as sent (``default``/``floor`` today; new values may come).
        "settlement_bounds_type": f"nullif(kl_jstr({m}.settlement_bounds_type), '')",
        "settlement_floor_u": f"kl_dollars(nullif(kl_jstr({m}.settlement_floor_dollars), ''))",
    }


def _market_select(m: str) -> str:
    return ",\n               ".join(f"{sql} AS {col}" for col, sql in _market_values(m).items())


def _market_problem(m: str) -> str:
    """SQL for why market ``m`` cannot be used (NULL when it can): no ticker, or a field of
    the wrong type (the value is quoted in the message)."""
    whens = [f"WHEN {m}.ticker IS NULL THEN 'a market has no ticker'"]
    for f in _MARKET_STRINGS:
        whens.append(
            f"WHEN kl_jt({m}.{f}) <> 'VARCHAR' "
            f"THEN 'a market''s {f} is ' || kl_shown({m}.{f}) || ', not a string'"
        )
    # A present, non-empty value must parse: no number or time becomes NULL unreported.
    parsed = {
        "floor_strike": ("number", "floor_strike"),
        "cap_strike": ("number", "cap_strike"),
        "expiration_value": ("number", "expiration_value"),
        "open_time": ("time", "open_time"),
        "close_time": ("time", "close_time"),
        "settlement_ts": ("time", "settlement_ts"),
    }
    values = _market_values(m)
    for f, (what, col) in parsed.items():
        whens.append(
            f"WHEN {m}.{f} IS NOT NULL AND CAST({m}.{f} AS VARCHAR) <> '\"\"' "
            f"AND {values[col]} IS NULL "
            f"THEN 'a market''s {f} is ' || kl_shown({m}.{f}) || ', not a {what}'"
        )
    for f in ("volume_fp", "volume", "open_interest_fp", "open_interest"):
        whens.append(
            f"WHEN {m}.{f} IS NOT NULL AND kl_count(kl_jtext({m}.{f})) IS NULL "
            f"THEN 'a market''s {f} is ' || kl_shown({m}.{f}) || ', not a number'"
        )
    for f in ("settlement_value_dollars", "settlement_value"):
        whens.append(
            f"WHEN {m}.{f} IS NOT NULL AND kl_px(NULL, {m}.{f}) IS NULL "
            f"THEN 'a market''s {f} is ' || kl_shown({m}.{f}) || ', not a price'"
        )
    # A fixed-point dollar string (already checked to be a string above) that must fit the
    # curated DECIMAL(10,6): a value that does not is reported, never stored as NULL.
    floor = values["settlement_floor_u"]
    whens.append(
        f"WHEN nullif(kl_jstr({m}.settlement_floor_dollars), '') IS NOT NULL "
        f"AND ({floor} IS NULL OR abs({floor}) > {MAX_MICRO}) "
        f"THEN 'a market''s settlement_floor_dollars is ' "
        f"|| kl_shown({m}.settlement_floor_dollars) || ', not a price'"
    )
    return "CASE " + "\n            ".join(whens) + " END"


def _event_problem(e: str) -> str:
    """SQL for why event ``e`` (fields as JSON) cannot be used (NULL when it can)."""
    return (
        f"CASE WHEN {e}.event_ticker IS NULL THEN 'an event has no event_ticker' "
        f"WHEN kl_jt({e}.event_ticker) <> 'VARCHAR' "
        f"THEN 'an event''s event_ticker is ' || kl_shown({e}.event_ticker) || ', not a string' "
        f"WHEN kl_jt({e}.series_ticker) <> 'VARCHAR' "
        f"THEN 'an event''s series_ticker is ' || kl_shown({e}.series_ticker) || ', not a string' "
        "END"
    )


MARKET_ENDPOINTS = ("market", "markets", "event", "events")


def parse_markets(
    con: duckdb.DuckDBPyConnection, pages: str, endpoints: Collection[str] = MARKET_ENDPOINTS
) -> pl.DataFrame:
    """One row per market object in ``market``, ``markets``, ``event`` and ``events`` pages
    (only the ``endpoints`` named are read).

    Event pages are read in both places Kalshi has put their markets (``event.markets`` and the
    top-level ``markets``, see https://docs.kalshi.com/api-reference/events/get-event); events listings read their nested markets.
    ``parent_*`` are the enclosing event's tickers when the market came nested in an event.
    """
    prepare(con)
    return query_frame(con, partial(_markets_sql, pages, endpoints), small=True)


def _markets_sql(pages: str, endpoints: Collection[str], safe: bool) -> str:
    base = (
        "city, date, endpoint, fid, row, page_number, tier, fetched_at, "
        "series_ticker AS page_series_ticker, event_ticker AS page_event_ticker, body"
    )
    keep = (
        "city, date, endpoint, fid, row, page_number, tier, fetched_at, page_series_ticker, "
        "page_event_ticker"
    )
    no_parent = (
        "NULL::VARCHAR AS parent_event_ticker, NULL::VARCHAR AS parent_series_ticker, "
        "NULL::VARCHAR AS ev_bad"
    )
    # Each source yields (keep..., kind, what, parent_event_ticker, parent_series_ticker, ev_bad,
    # items). An event that cannot be used (``ev_bad``) adds one NULL item in front of its
    # markets: the row that reports it (its markets stand on their own tickers).
    sources = {
        "market": f"""
        {json_pages("one", pages, base, "market", f'{{"market":{_MARKET}}}', safe)},
        one_q AS (
            SELECT {keep}, {items_kind("market")}, 'market' AS what, {no_parent}, [j.market] AS items
            FROM one
        )""",
        "markets": f"""
        {json_pages("lst", pages, base, "markets", f'{{"markets":[{_MARKET}]}}', safe)},
        lst_q AS (
            SELECT {keep}, {items_kind("markets")}, 'markets' AS what, {no_parent},
                   {items_or_null("markets")} AS items
            FROM lst
        )""",
        "event": f"""
        {json_pages("ev", pages, base, "event", f'{{"event":{_EVENT},"markets":[{_MARKET}]}}', safe)},
        ev_e AS (
            SELECT {keep}, {items_kind("event")}, j.event AS e, j.markets AS top FROM ev
        ), ev_q AS (
            SELECT {keep}, kind, 'event' AS what,
                   kl_jstr(e.event_ticker) AS parent_event_ticker,
                   kl_jstr(e.series_ticker) AS parent_series_ticker,
                   {_event_problem("e")} AS ev_bad,
                   CASE WHEN e IS NULL THEN [NULL]
                        ELSE list_concat(CASE WHEN ev_bad IS NULL THEN [] ELSE [NULL] END,
                                         coalesce(e.markets, []), coalesce(top, []))
                   END AS items
            FROM ev_e
        )""",
        "events": f"""
        {json_pages("evs", pages, base, "events", f'{{"events":[{_EVENT}]}}', safe)},
        evs_e AS (
            SELECT {keep}, {items_kind("events")}, unnest({items_or_null("events")}) AS e
            FROM evs
        ), evs_b AS (
            SELECT {keep}, kind, e,
                   CASE WHEN kind IS NULL THEN {_event_problem("e")} END AS ev_bad
            FROM evs_e
        ), evs_q AS (
            SELECT {keep}, kind, 'events' AS what, kl_jstr(e.event_ticker) AS parent_event_ticker,
                   kl_jstr(e.series_ticker) AS parent_series_ticker, ev_bad,
                   CASE WHEN kind IS NOT NULL THEN [NULL]
                        WHEN ev_bad IS NOT NULL THEN list_concat([NULL], coalesce(e.markets, []))
                        ELSE e.markets END AS items
            FROM evs_b
        )""",
    }
    last = {"market": "one_q", "markets": "lst_q", "event": "ev_q", "events": "evs_q"}
    chosen = [e for e in MARKET_ENDPOINTS if e in endpoints] or ["market"]
    cols = f"{keep}, kind, what, parent_event_ticker, parent_series_ticker, ev_bad, items"
    union = "\n        UNION ALL\n        ".join(f"SELECT {cols} FROM {last[e]}" for e in chosen)
    sql = f"""
    WITH {", ".join(sources[e] for e in chosen)},
    allq AS (
        {union}
    ), u AS (
        -- A NULL or empty list unnests to no rows. No WHERE on ``items`` here: DuckDB pushes
        -- such a filter below the projection and parses every body twice (PERF: halves it).
        SELECT * EXCLUDE (items), unnest(items) AS m, unnest(range(len(items))) AS idx
        FROM allq
    ), v AS (
        SELECT {keep}, CAST(idx AS INTEGER) AS idx, kind, what, parent_event_ticker,
               parent_series_ticker, m IS NULL AS no_market,
               CASE WHEN m IS NULL THEN ev_bad ELSE {_market_problem("m")} END AS bad,
               {_market_select("m")}
        FROM u
    )
    SELECT * EXCLUDE (kind, what, no_market, bad), CASE
        WHEN kind IS NOT NULL THEN {page_problem("kind", "what")}
        WHEN bad IS NOT NULL THEN bad
        WHEN no_market THEN 'skip'
        END AS problem
    FROM v
    """
    return sql


def parse_events(con: duckdb.DuckDBPyConnection, pages: str) -> pl.DataFrame:
    """One row per event object in ``event`` and ``events`` pages (:data:`EVENT_COLUMNS`).

    Only what the curated tables need from events: which series an event belongs to (the
    Market object has no ``series_ticker``, see
    https://docs.kalshi.com/api-reference/market/get-market).
    """
    prepare(con)
    return query_frame(con, partial(_events_sql, pages), small=True)


def _events_sql(pages: str, safe: bool) -> str:
    ev = '{"event_ticker":"JSON","series_ticker":"JSON"}'
    return f"""
    WITH one AS (
        SELECT city, date, endpoint, fid, row, page_number, tier, fetched_at,
               [{from_json_sql(f'{{"event":{ev}}}', safe)}.event] AS items
        FROM {pages} WHERE endpoint = 'event' AND http_status = 200
    ), lst AS (
        SELECT city, date, endpoint, fid, row, page_number, tier, fetched_at,
               {from_json_sql(f'{{"events":[{ev}]}}', safe)}.events AS items
        FROM {pages} WHERE endpoint = 'events' AND http_status = 200
    ), allq AS (SELECT * FROM one UNION ALL SELECT * FROM lst
    ), u AS (
        SELECT * EXCLUDE (items), unnest(items) AS e, unnest(range(len(items))) AS idx
        FROM allq WHERE items IS NOT NULL
    )
    -- A NULL ``e`` (a page without an event) is no event; a bad one is a problem row (reported
    -- by :func:`parse_markets`, which reads the same pages).
    SELECT city, date, endpoint, fid, row, page_number, CAST(idx AS INTEGER) AS idx, tier,
           fetched_at, kl_jstr(e.event_ticker) AS event_ticker,
           kl_jstr(e.series_ticker) AS series_ticker, {_event_problem("e")} AS problem
    FROM u WHERE e IS NOT NULL
    """
