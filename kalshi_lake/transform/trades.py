"""Curated trades from parsed trade rows: one row per ``trade_id``, sorted, with event tickers.

Pure polars. Rows carry ``part`` (an integer naming the curated partition a row belongs to, set
by the caller); deduplication and everything else happen within a ``part``, so a result never
depends on which other partitions were processed alongside it.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from kalshi_lake.transform.fastpaths import order_by_ticker

#: Source-position columns: together with ``fetched_at`` they order every copy of a row
#: totally (file in path order, the page's row in that file, the item's place in the page).
POSITION = ("fetched_at", "fid", "row", "idx")

#: What a trade is: every copy of one ``trade_id`` must agree on these (trades are immutable).
#: A NULL (a field an older payload or the other tier does not send) agrees with anything.
TRADE_CONTENT = {
    "market_ticker": "ticker",
    "traded_at": "created_time",
    "yes_u": "yes price",
    "no_u": "no price",
    "count_c": "count",
    "taker_side": "taker side",
    "is_block_trade": "is_block_trade",
}

#: Columns of the frame :func:`build_trades` hands to ``on_conflict``: a copy of a trade
#: (``fid, row, page_number``), the first copy it disagrees with (``first_*``) and the
#: names of the fields that differ.
CONFLICT_COLUMNS = ("trade_id", "fid", "row", "page_number", "first_fid", "first_row",
                    "first_page_number", "fields")  # fmt: skip

#: Receives the conflicting copies found in a build (:data:`CONFLICT_COLUMNS`).
OnConflict = Callable[[pl.DataFrame], None]

#: Internal column of built trades: the row's run of equal (part, market_ticker), numbered in
#: order (see :func:`resolve_event`); the candles group by it instead of the ticker strings.
MARKET_RUN = "_market_run"

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


def ticker_event(col: str = "market_ticker") -> pl.Expr:
    """The event ticker a market ticker starts with (``KXHIGHCHI-25NOV20-B45.5`` -> ``...-25NOV20``).

    Only a fallback: Kalshi warns against parsing tickers, so the market's own ``event_ticker``
    (from market pages) or the page's event ticker come first.
    """
    return pl.col(col).str.replace(r"-[^-]*$", "")


def resolve_event(
    df: pl.DataFrame,
    market_events: pl.DataFrame | None,
    page_col: str,
    run_col: str | None = None,
) -> pl.DataFrame:
    """Add ``event_ticker``: from ``market_events`` (part, market_ticker -> event_ticker), else
    the page's ``page_col``, else the ticker prefix. ``df`` must be sorted by part and market:
    the lookup runs once per market (a run of rows), not once per row.

    With ``run_col``, also add each row's market run number there (UInt32, counting from 0):
    later steps can then find market boundaries without comparing ticker strings again."""
    if df.height == 0:
        out = df.with_columns(event_ticker=pl.lit(None, pl.String)).drop(page_col)
        return out.with_columns(pl.lit(None, pl.UInt32).alias(run_col)) if run_col else out
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
    extra = {run_col: run_id} if run_col else {}
    return df.drop(page_col).with_columns(event_ticker=per_run.gather(run_id), **extra)


#: Page attributes a trade row gets from its page (see ``parse.PAGE_INFO_COLUMNS``).
PAGE_ATTRS = ("city", "date", "tier", "fetched_at", "page_event_ticker")


def conflicts(copies: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """The copies in ``copies`` (rows with :data:`POSITION`, ``page_number`` and the content
    columns) that disagree with the first copy of their ``key`` (:data:`CONFLICT_COLUMNS`)."""
    ordered = copies.sort([*key, *POSITION])
    differs = {
        c: (pl.col(c) != pl.col(c).first().over(key)).fill_null(False) for c in TRADE_CONTENT
    }
    bad = ordered.with_columns(
        **{f"first_{c}": pl.col(c).first().over(key) for c in ("fid", "row", "page_number")},
        fields=pl.concat_list(
            [pl.when(d).then(pl.lit(TRADE_CONTENT[c])) for c, d in differs.items()]
        )
        .list.drop_nulls()
        .list.join(", "),
    ).filter(pl.any_horizontal(*differs.values()))
    return bad.select(CONFLICT_COLUMNS)


def build_trades(
    parsed: pl.DataFrame,
    market_events: pl.DataFrame | None = None,
    pages: pl.DataFrame | None = None,
    on_conflict: OnConflict | None = None,
) -> pl.DataFrame:
    """Deduplicated, sorted trades (:data:`TRADE_OUT`, plus the internal :data:`MARKET_RUN`)
    from good parsed rows with ``part``.

    A trade seen in several pages or runs appears once: the copy fetched last wins (trades are
    immutable, so copies agree; "last" only makes the choice deterministic). Output is sorted
    by ``part, market_ticker, traded_at, trade_id`` (the curated sort key within a partition).
    The page's event ticker stands in for the market's only when the market is unknown.
    Copies of one ``trade_id`` that disagree (:data:`TRADE_CONTENT`) are not copies of one
    trade: the latest is kept all the same, and ``on_conflict`` (if given) receives them.

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
        if on_conflict is not None and candidates.any():
            _report(parsed.filter(candidates), on_conflict)
        df = latest_per_key(parsed, ["part", "trade_id"], candidates)
        keep = None
    else:
        df, keep = parsed, _keep_latest(parsed, pages, candidates, on_conflict)
    own = [c for c in TRADE_OUT if c not in ("event_ticker", *PAGE_ATTRS)]
    extra = [c for c in PAGE_ATTRS if pages is None] + (["fid", "row"] if pages is not None else [])
    df = df.select(*own, *extra)
    order = order_by_ticker(df, ["part", "market_ticker", "traded_at", "trade_id"])
    if keep is not None:
        # Drop the older copies from the sort order: the rows are then gathered once, instead
        # of filtered into a new frame first (PERF: one full copy of the trades less).
        order = order.filter(keep.gather(order))
    df = _attach(df[order], pages)
    df = resolve_event(df, market_events, "page_event_ticker", run_col=MARKET_RUN)
    return df.select(*TRADE_OUT, MARKET_RUN)


def _report(copies: pl.DataFrame, on_conflict: OnConflict) -> None:
    """Hand the conflicting ones of ``copies`` (rows that may have copies) to ``on_conflict``."""
    bad = conflicts(copies, ["part", "trade_id"])
    if bad.height:
        on_conflict(bad)


def _keep_latest(
    parsed: pl.DataFrame,
    pages: pl.DataFrame,
    candidates: pl.Series,
    on_conflict: OnConflict | None = None,
) -> pl.Series | None:
    """Which rows of ``parsed`` survive deduplication by (part, trade_id) (None: all of them).

    Only the ``candidates`` can have copies; copies are rare, so only they are given their
    page's fetch time to choose the latest (:func:`latest_per_key`).
    """
    if not candidates.any():
        return None
    at = candidates.arg_true()
    dups = _attach(parsed.filter(candidates).with_columns(_at=at), pages)
    if on_conflict is not None:
        _report(dups, on_conflict)
    winners = latest_per_key(dups, ["part", "trade_id"])["_at"]
    return (~candidates).scatter(winners, True)


def _attach(rows: pl.DataFrame, pages: pl.DataFrame | None) -> pl.DataFrame:
    if pages is None:
        return rows
    info = pages.select("fid", "row", *PAGE_ATTRS)
    return rows.join(info, on=["fid", "row"], how="left", maintain_order="left")


def _empty(parsed: pl.DataFrame, market_events: pl.DataFrame | None) -> pl.DataFrame:
    df = parsed.with_columns(event_ticker=pl.lit(None, pl.String))
    return df.select(TRADE_OUT)
