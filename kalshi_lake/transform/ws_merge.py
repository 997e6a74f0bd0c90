"""WebSocket frames into the curated tables: trades merged with REST's, lifecycle into
``market_events`` and ``markets``.

Pure polars, within a ``part`` like the rest of the build (:mod:`.trades`).

Trades. One row per ``trade_id`` whichever source saw it: the REST copy is kept when there is
one (its ``created_time`` has microseconds, a frame's ``ts_ms`` only milliseconds), else the
frame seen first. ``first_seen`` says which source saw the trade first (``ws``: the earliest
frame's receive time; ``rest``: the earliest page's fetch time; a tie goes to ``ws``), and
``first_seen_at`` when. A frame whose trade disagrees with the REST copy (ticker, price, count,
side, block flag, or the time at the frame's own precision) is reported as a conflict, as two
REST copies that disagree are.

Lifecycle. Every lifecycle frame of a followed market is a row of ``market_events``. A
``determined`` or ``settled`` frame received after the REST copy kept in ``markets`` was
fetched updates that market: ``determined`` sets ``status``, ``result`` and
``settlement_value``; ``settled`` sets ``status = 'finalized'`` (as REST shows a settled
market) and ``settlement_ts``; ``close_date_updated`` sets ``close_time``.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from kalshi_lake.transform.fastpaths import sort_by_ticker
from kalshi_lake.transform.trades import MARKET_RUN, TRADE_OUT, ticker_event

UTC_US = pl.Datetime("us", "UTC")

#: Columns of built trades: :data:`~kalshi_lake.transform.trades.TRADE_OUT` and first seen.
TRADE_OUT_WS = (*TRADE_OUT, "first_seen", "first_seen_at")

#: Columns of built market events.
MARKET_EVENT_OUT = (
    "part", "city", "date", "market_ticker", "event_ticker", "event_type", "event_at", "result",
    "settlement_value_u", "open_time", "close_time", "is_deactivated", "recv_at", "conn_id",
    "frame_no",
)  # fmt: skip

#: What a trade frame must agree on with the REST copy (column -> name in a conflict report).
_CONTENT = {
    "market_ticker": "ticker",
    "yes_u": "yes price",
    "no_u": "no price",
    "count_c": "count",
    "taker_side": "taker side",
    "is_block_trade": "is_block_trade",
}

#: Receives the frames that disagree with their REST copy: ``fid, row, trade_id, fields``.
OnWsConflict = Callable[[pl.DataFrame], None]


def rest_first_fetched(parsed: pl.DataFrame, pages: pl.DataFrame) -> pl.DataFrame:
    """``part, trade_id, rest_first_at``: the earliest fetch of each trade id that REST served
    more than once (the others' only copy is the one kept, whose ``fetched_at`` is the answer)."""
    dup = parsed.select(pl.col("trade_id").hash().is_duplicated()).to_series()
    if not dup.any():
        return pl.DataFrame(
            schema={"part": pl.Int32, "trade_id": pl.String, "rest_first_at": UTC_US}
        )
    rows = parsed.filter(dup).select("part", "trade_id", "fid", "row")
    rows = rows.join(pages.select("fid", "row", "fetched_at"), on=["fid", "row"], how="left")
    return rows.group_by("part", "trade_id").agg(rest_first_at=pl.col("fetched_at").min())


def merge_trades(
    rest: pl.DataFrame,
    rest_first: pl.DataFrame,
    ws: pl.DataFrame,
    market_events: pl.DataFrame | None,
    on_conflict: OnWsConflict | None = None,
) -> pl.DataFrame:
    """Built REST trades (:func:`~kalshi_lake.transform.trades.build_trades`) and parsed trade
    frames with ``part`` merged into one row per (part, trade_id) (:data:`TRADE_OUT_WS` and
    :data:`MARKET_RUN`), sorted by ``part, market_ticker, traded_at, trade_id``."""
    if MARKET_RUN not in rest.columns:  # no REST trades: build_trades' empty frame
        rest = rest.with_columns(pl.lit(None, pl.UInt32).alias(MARKET_RUN))
    rest = rest.join(rest_first, on=["part", "trade_id"], how="left", maintain_order="left")
    rest = rest.with_columns(rest_first_at=pl.coalesce("rest_first_at", "fetched_at"))
    if ws.height == 0:
        out = rest.with_columns(first_seen=pl.lit("rest"), first_seen_at=pl.col("rest_first_at"))
        return out.select(*TRADE_OUT_WS, MARKET_RUN)
    ws = ws.with_columns(
        recv_at=pl.col("recv_us").cast(UTC_US), traded_at=pl.col("traded_us").cast(UTC_US)
    )
    # The frame seen first stands for the trade (a later frame of the same id is a resend).
    first = ws.sort("part", "trade_id", "recv_us", "fid", "row").unique(
        subset=["part", "trade_id"], keep="first", maintain_order=True
    )
    both = rest.join(
        first.select(
            "part", "trade_id", "fid", "row", "recv_at", "ts_unit_us",
            *[pl.col(c).alias(f"ws_{c}") for c in (*_CONTENT, "traded_us")],
        ),
        on=["part", "trade_id"],
        how="left",
        maintain_order="left",
    )  # fmt: skip
    if on_conflict is not None:
        _report(both, on_conflict)
    ws_first = pl.col("recv_at").is_not_null() & (pl.col("recv_at") <= pl.col("rest_first_at"))
    rest_out = both.with_columns(
        first_seen=pl.when(ws_first).then(pl.lit("ws")).otherwise(pl.lit("rest")),
        first_seen_at=pl.when(ws_first).then("recv_at").otherwise("rest_first_at"),
    ).select(*TRADE_OUT_WS)
    only_ws = first.join(rest.select("part", "trade_id"), on=["part", "trade_id"], how="anti")
    if only_ws.height == 0:
        return rest_out.with_columns(rest[MARKET_RUN])
    ws_out = only_ws.with_columns(
        tier=pl.lit("live"),
        fetched_at=pl.col("recv_at"),
        first_seen=pl.lit("ws"),
        first_seen_at=pl.col("recv_at"),
        event_ticker=pl.lit(None, pl.String),
    ).select(*TRADE_OUT_WS)
    ws_out = _resolve_events(ws_out, market_events)
    merged = pl.concat([rest_out, ws_out], how="vertical_relaxed")
    merged = sort_by_ticker(merged, ["part", "market_ticker", "traded_at", "trade_id"])
    return merged.with_columns(_market_runs())


def _market_runs() -> pl.Expr:
    """Each row's run of equal (part, market_ticker), numbered from 0 (rows sorted)."""
    change = (
        (pl.col("part") != pl.col("part").shift())
        | (pl.col("market_ticker") != pl.col("market_ticker").shift())
    ).fill_null(True)
    return (change.cast(pl.UInt32).cum_sum() - 1).alias(MARKET_RUN)


def _resolve_events(df: pl.DataFrame, market_events: pl.DataFrame | None) -> pl.DataFrame:
    """``event_ticker`` from the markets of the partition, else the ticker's prefix."""
    if market_events is not None and market_events.height:
        me = market_events.select("part", "market_ticker", pl.col("event_ticker").alias("_ev"))
        df = df.join(me, on=["part", "market_ticker"], how="left", maintain_order="left")
        return df.with_columns(event_ticker=pl.coalesce("_ev", ticker_event())).drop("_ev")
    return df.with_columns(event_ticker=ticker_event())


def _report(both: pl.DataFrame, on_conflict: OnWsConflict) -> None:
    """The frames that disagree with their REST copy (NULL agrees with anything)."""
    seen = both.filter(pl.col("fid").is_not_null())
    if seen.height == 0:
        return
    differs = {
        name: (pl.col(c) != pl.col(f"ws_{c}")).fill_null(False) for c, name in _CONTENT.items()
    }
    unit = pl.col("ts_unit_us")
    differs["created_time"] = (
        pl.col("traded_at").dt.epoch("us") // unit != pl.col("ws_traded_us") // unit
    ).fill_null(False)
    bad = seen.with_columns(
        fields=pl.concat_list([pl.when(d).then(pl.lit(n)) for n, d in differs.items()])
        .list.drop_nulls()
        .list.join(", ")
    ).filter(pl.any_horizontal(*differs.values()))
    if bad.height:
        on_conflict(bad.select("fid", "row", "trade_id", "fields"))


def build_market_events(
    lifecycle: pl.DataFrame, market_events: pl.DataFrame | None
) -> pl.DataFrame:
    """One row per lifecycle frame with ``part`` (:data:`MARKET_EVENT_OUT`), sorted by
    ``part, market_ticker, recv_at, conn_id, frame_no``."""
    df = lifecycle.with_columns(
        recv_at=pl.col("recv_us").cast(UTC_US),
        event_at=pl.col("event_us").cast(UTC_US),
        open_time=pl.col("open_us").cast(UTC_US),
        close_time=pl.col("close_us").cast(UTC_US),
    )
    if market_events is not None and market_events.height:
        me = market_events.select("part", "market_ticker", pl.col("event_ticker").alias("_ev"))
        df = df.join(me, on=["part", "market_ticker"], how="left", maintain_order="left")
    else:
        df = df.with_columns(_ev=pl.lit(None, pl.String))
    df = df.with_columns(
        event_ticker=pl.coalesce("_ev", "meta_event_ticker", ticker_event())
    ).select(MARKET_EVENT_OUT)
    return df.sort("part", "market_ticker", "recv_at", "conn_id", "frame_no")


def apply_lifecycle(markets: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """``markets`` (built from REST, with ``part``) updated by the lifecycle ``events`` (built
    by :func:`build_market_events`) received after each market's copy was fetched."""
    if events.height == 0 or markets.height == 0:
        return markets
    newer = events.join(
        markets.select("part", "market_ticker", "fetched_at"),
        on=["part", "market_ticker"],
        how="inner",
    ).filter(pl.col("recv_at") > pl.col("fetched_at"))
    if newer.height == 0:
        return markets

    def last(kind: str, *cols: str) -> pl.DataFrame:
        return (
            newer.filter(pl.col("event_type") == kind)
            .sort("recv_at", "conn_id", "frame_no")
            .group_by("part", "market_ticker", maintain_order=True)
            .agg(**{f"_{kind}_{c}": pl.col(c).last() for c in cols})
        )

    keys = ["part", "market_ticker"]
    out = markets
    for kind, cols in (
        ("determined", ("result", "settlement_value_u")),
        ("settled", ("event_at",)),
        ("close_date_updated", ("close_time",)),
    ):
        out = out.join(last(kind, *cols), on=keys, how="left", maintain_order="left")
    determined = pl.col("_determined_result").is_not_null()
    settled = pl.col("_settled_event_at").is_not_null()
    out = out.with_columns(
        status=pl.when(settled)
        .then(pl.lit("finalized"))
        .when(determined & ~pl.col("status").is_in(["finalized", "settled"]))
        .then(pl.lit("determined"))
        .otherwise("status"),
        result=pl.when(determined).then("_determined_result").otherwise("result"),
        settlement_value_u=pl.when(determined)
        .then("_determined_settlement_value_u")
        .otherwise("settlement_value_u"),
        settlement_ts=pl.coalesce("_settled_event_at", "settlement_ts"),
        close_time=pl.coalesce("_close_date_updated_close_time", "close_time"),
    )
    return out.select(markets.columns)
