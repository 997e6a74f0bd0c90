"""Curated trades from parsed trade rows: one row per ``trade_id``, sorted, with event tickers.

Pure polars. Rows carry ``part`` (an integer naming the curated partition a row belongs to, set
by the caller); deduplication and everything else happen within a ``part``, so a result never
depends on which other partitions were processed alongside it.
"""

from __future__ import annotations

import polars as pl

#: Source-position columns: together with ``fetched_at`` they order every copy of a row
#: totally (file in path order, the page's row in that file, the item's place in the page).
POSITION = ("fetched_at", "fid", "row", "idx")

TRADE_OUT = (
    "part",
    "city",
    "date",
    "trade_id",
    "market_ticker",
    "event_ticker",
    "traded_at",
    "yes_u",
    "no_u",
    "count_c",
    "taker_side",
    "is_block_trade",
    "tier",
    "fetched_at",
)


def latest_per_key(
    df: pl.DataFrame, key: list[str], candidates: pl.Series | None = None
) -> pl.DataFrame:
    """Keep, per ``key``, the copy fetched last (ties: later file in path order, later page
    row in the file, later position in the page: a total order, so the choice is stable).

    ``candidates`` optionally marks the rows that may have copies (a cheap hash pre-filter);
    the other rows are known unique and pass through untouched.
    """
    if candidates is not None:
        if not candidates.any():
            return df
        rest = df.filter(~candidates)
        dups = df.filter(candidates)
    else:
        rest, dups = None, df
    winners = dups.sort([*key, *POSITION]).unique(subset=key, keep="last", maintain_order=True)
    return winners if rest is None else pl.concat([rest, winners], how="vertical")


def sort_by_ticker(
    df: pl.DataFrame, keys: list[str], ticker: str = "market_ticker"
) -> pl.DataFrame:
    """``df.sort(keys)`` where ``keys`` includes the string ``ticker`` column.

    The ticker is replaced in the sort key by its rank among the distinct tickers (the same
    byte order): a handful of distinct strings ranked once instead of string comparisons on
    every row (PERF: halves the sort of a million-trade batch).
    """
    if df.height == 0:
        return df
    distinct = df.select(pl.col(ticker).unique().sort()).to_series()
    rank = pl.col(ticker).replace_strict(
        distinct, pl.int_range(len(distinct), eager=True, dtype=pl.UInt32), return_dtype=pl.UInt32
    )
    by = ["_rank" if k == ticker else k for k in keys]
    return df.with_columns(_rank=rank).sort(by).drop("_rank")


def ticker_event(col: str = "market_ticker") -> pl.Expr:
    """The event ticker a market ticker starts with (``KXHIGHCHI-25NOV20-B45.5`` -> ``...-25NOV20``).

    Only a fallback: Kalshi warns against parsing tickers, so the market's own ``event_ticker``
    (from market pages) or the page's event ticker come first.
    """
    return pl.col(col).str.replace(r"-[^-]*$", "")


def resolve_event(
    df: pl.DataFrame, market_events: pl.DataFrame | None, page_col: str
) -> pl.DataFrame:
    """Add ``event_ticker``: from ``market_events`` (part, market_ticker -> event_ticker), else
    the page's ``page_col``, else the ticker prefix. ``df`` must be sorted by part and market:
    the lookup runs once per market (a run of rows), not once per row."""
    if df.height == 0:
        return df.with_columns(event_ticker=pl.lit(None, pl.String)).drop(page_col)
    change = (
        (pl.col("part") != pl.col("part").shift())
        | (pl.col("market_ticker") != pl.col("market_ticker").shift())
    ).fill_null(True)
    starts = df.select(change).to_series()
    run_id = starts.cast(pl.UInt32).cum_sum() - 1
    heads = df.filter(starts).select("part", "market_ticker", page_col)
    if market_events is not None and market_events.height:
        me = market_events.select("part", "market_ticker", pl.col("event_ticker").alias("_ev"))
        heads = heads.join(me, on=["part", "market_ticker"], how="left", maintain_order="left")
        event = pl.coalesce("_ev", page_col, ticker_event())
    else:
        event = pl.coalesce(page_col, ticker_event())
    per_run = heads.select(event).to_series()
    return df.drop(page_col).with_columns(event_ticker=per_run.gather(run_id))


#: Page attributes a trade row gets from its page (see ``parse.PAGE_INFO_COLUMNS``).
PAGE_ATTRS = ("city", "date", "tier", "fetched_at", "page_event_ticker")


def build_trades(
    parsed: pl.DataFrame,
    market_events: pl.DataFrame | None = None,
    pages: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Deduplicated, sorted trades (:data:`TRADE_OUT`) from good parsed rows with ``part``.

    A trade seen in several pages or runs appears once: the copy fetched last wins (trades are
    immutable, so copies agree; "last" only makes the choice deterministic). Output is sorted
    by ``part, market_ticker, traded_at, trade_id`` (the curated sort key within a partition).
    The page's event ticker stands in for the market's only when the market is unknown.

    Page attributes (:data:`PAGE_ATTRS`) are either on ``parsed`` already or given as
    ``pages`` (``fid, row`` -> attributes), in which case they are joined after the sort:
    moving five page columns through the dedup and sort costs more than the join.
    """
    if pages is None and parsed.height == 0:
        return _empty(parsed, market_events)
    if parsed.height == 0:
        return _empty(_attach(parsed, pages), market_events)
    # Hash pre-filter: only rows whose trade_id hash repeats can be copies (PERF: string
    # is_duplicated costs ~5x a u64 one). Collisions are harmless: the exact step re-checks.
    candidates = parsed.select(pl.col("trade_id").hash().is_duplicated()).to_series()
    if pages is None:
        df = latest_per_key(parsed, ["part", "trade_id"], candidates)
    elif candidates.any():
        # copies are rare: give only them their fetch time to choose the latest
        dups = _attach(parsed.filter(candidates), pages)
        winners = latest_per_key(dups, ["part", "trade_id"]).drop(*PAGE_ATTRS)
        df = pl.concat([parsed.filter(~candidates), winners], how="vertical")
    else:
        df = parsed
    own = [c for c in TRADE_OUT if c not in ("event_ticker", *PAGE_ATTRS)]
    extra = [c for c in PAGE_ATTRS if pages is None] + (["fid", "row"] if pages is not None else [])
    df = sort_by_ticker(df.select(*own, *extra), ["part", "market_ticker", "traded_at", "trade_id"])
    if pages is not None:
        df = _attach(df, pages)
    return resolve_event(df, market_events, "page_event_ticker").select(TRADE_OUT)


def _attach(rows: pl.DataFrame, pages: pl.DataFrame | None) -> pl.DataFrame:
    if pages is None:
        return rows
    info = pages.select("fid", "row", *PAGE_ATTRS)
    return rows.join(info, on=["fid", "row"], how="left", maintain_order="left")


def _empty(parsed: pl.DataFrame, market_events: pl.DataFrame | None) -> pl.DataFrame:
    df = parsed.with_columns(event_ticker=pl.lit(None, pl.String))
    return df.select(TRADE_OUT)
