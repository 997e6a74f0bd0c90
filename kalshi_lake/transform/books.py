"""The curated order book tables of a batch: ``book_deltas``, ``book_snapshots``, ``quotes``
(README "Tables"), from the rows :mod:`.book_parse` read.

The YES scale: a ``yes`` ladder level at p is a YES bid at p; a ``no`` ladder level at p is a
NO bid, that is a YES ask at 1 - p, unless the subscription asked ``use_yes_price`` (then the
exchange already sent the YES price: it is never complemented twice). REST polls are always on
the NO leg's own prices.

Time is receive time (``recv_at``; a poll's ``fetched_at``): what a backtest could have known.
Vectorised (polars) except the one fold that needs order (:mod:`.book_fold`). Each row goes to
the partition of its market's climate date (``part``, the index of ``(city, month)`` in the
batch); rows of a partition outside the batch are left to that partition's own build.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from kalshi_lake.cities import event_date
from kalshi_lake.transform.book_fold import DELTA, INVALIDATE, LEVEL, SNAPSHOT, Ops, fold
from kalshi_lake.transform.book_parse import BookRows
from kalshi_lake.transform.plan import Key

UTC_US = pl.Datetime("us", "UTC")
_ONE = 1_000_000  # one dollar in micro-dollars

DELTA_OUT = ("part", "market_ticker", "event_ticker", "date", "recv_at", "source", "conn_id",
             "frame_no", "sid", "seq", "side", "price_u", "delta_c", "is_snapshot")  # fmt: skip
SNAPSHOT_OUT = ("part", "market_ticker", "event_ticker", "date", "snapshot_at", "kind",
                "conn_id", "frame_no", "side", "price_u", "size_c")  # fmt: skip
QUOTE_OUT = ("part", "market_ticker", "event_ticker", "date", "quote_at", "source", "conn_id",
             "frame_no", "yes_bid_u", "yes_bid_size_c", "yes_ask_u", "yes_ask_size_c",
             "is_known")  # fmt: skip


def build_books(rows: BookRows, keys: Sequence[Key]) -> dict[str, pl.DataFrame]:
    """``{"book_deltas", "book_snapshots", "quotes"}`` of a batch, each with ``part`` and
    sorted by it first, then the table's sort key."""
    part_of = pl.DataFrame(
        {
            "city": [k[0] for k in keys],
            "month": [k[1] for k in keys],
            "part": pl.Series(range(len(keys)), dtype=pl.Int32),
        }
    )
    ws, ws_levels = _ws(rows, part_of)
    polls, poll_levels = _polls(rows, part_of)
    snap_entries = pl.concat([ws.filter(pl.col("is_snap")).drop("leg", "price_u", "delta_c"),
                              polls], how="diagonal_relaxed")  # fmt: skip
    level_rows = pl.concat([ws_levels, poll_levels], how="diagonal_relaxed")

    # book_deltas: every snapshot level and every delta
    deltas = pl.concat(
        [
            level_rows.select(
                *_LEVEL_KEYS,
                pl.col("size_c").alias("delta_c"),
                is_snapshot=pl.lit(True),
            ),
            ws.filter(~pl.col("is_snap")).select(
                *_LEVEL_KEYS,
                "delta_c",
                is_snapshot=pl.lit(False),
            ),
        ],
        how="vertical_relaxed",
    ).rename({"recv_us": "recv_at"})

    # the fold: snapshots (with their levels), deltas, invalidations
    facts = _invalidations(rows, ws)
    out = fold(_ops(snap_entries, level_rows, ws.filter(~pl.col("is_snap")), facts))
    dates = pl.concat([ws.select("part", "market_ticker", "date"),
                       polls.select("part", "market_ticker", "date")]).unique(
        ["part", "market_ticker"])  # fmt: skip

    snaps = pl.concat(
        [
            level_rows.select(
                "part",
                "market_ticker",
                pl.col("recv_us").alias("snapshot_at"),
                pl.col("source").alias("kind"),
                "conn_id",
                "frame_no",
                "side",
                "price_u",
                "size_c",
            ),
            # an empty snapshot: one row with side, price and size null
            snap_entries.join(
                level_rows,
                on=["market_ticker", "recv_us", "conn_id", "frame_no", "source"],
                how="anti",
                nulls_equal=True,
            ).select(
                "part",
                "market_ticker",
                pl.col("recv_us").alias("snapshot_at"),
                pl.col("source").alias("kind"),
                "conn_id",
                "frame_no",
                side=pl.lit(None, pl.String),
                price_u=pl.lit(None, pl.Int64),
                size_c=pl.lit(None, pl.Int64),
            ),
            pl.DataFrame(
                {
                    "part": pl.Series(out.s_part, dtype=pl.Int32),
                    "market_ticker": pl.Series(out.s_market, dtype=pl.String),
                    "snapshot_at": pl.Series(out.s_at, dtype=pl.Int64),
                    "kind": pl.Series(out.s_kind, dtype=pl.String),
                    "conn_id": pl.Series(out.s_conn, dtype=pl.String),
                    "frame_no": pl.Series(out.s_frame, dtype=pl.Int64),
                    "side": pl.Series(out.s_side, dtype=pl.String),
                    "price_u": pl.Series(out.s_price, dtype=pl.Int64),
                    "size_c": pl.Series(out.s_size, dtype=pl.Int64),
                }
            ),
        ],
        how="vertical_relaxed",
    ).join(dates, on=["part", "market_ticker"], how="left")
    quotes = pl.DataFrame(
        {
            "part": pl.Series(out.q_part, dtype=pl.Int32),
            "market_ticker": pl.Series(out.q_market, dtype=pl.String),
            "quote_at": pl.Series(out.q_at, dtype=pl.Int64),
            "source": pl.Series(out.q_source, dtype=pl.String),
            "conn_id": pl.Series(out.q_conn, dtype=pl.String),
            "frame_no": pl.Series(out.q_frame, dtype=pl.Int64),
            "yes_bid_u": pl.Series(out.q_bid, dtype=pl.Int64),
            "yes_bid_size_c": pl.Series(out.q_bid_size, dtype=pl.Int64),
            "yes_ask_u": pl.Series(out.q_ask, dtype=pl.Int64),
            "yes_ask_size_c": pl.Series(out.q_ask_size, dtype=pl.Int64),
            "is_known": pl.Series(out.q_known, dtype=pl.Boolean),
        }
    ).join(dates, on=["part", "market_ticker"], how="left")
    return {
        "book_deltas": _finish(deltas, "recv_at", DELTA_OUT,
                               ["conn_id", "frame_no", "side", "price_u"]),
        "book_snapshots": _finish(snaps, "snapshot_at", SNAPSHOT_OUT,
                                  ["conn_id", "frame_no", "side", "price_u"]),
        "quotes": _finish(quotes, "quote_at", QUOTE_OUT, ["conn_id", "frame_no"]),
    }  # fmt: skip


def _finish(df: pl.DataFrame, at: str, cols: Sequence[str], tie: list[str]) -> pl.DataFrame:
    """Event tickers, UTC times, the table's columns, sorted (nulls last, as DuckDB does)."""
    df = df.with_columns(
        pl.col(at).cast(UTC_US),
        event_ticker=pl.col("market_ticker").str.replace(r"-[^-]*$", ""),
    )
    keys = ["part", "market_ticker", at, *tie]
    return df.select(cols).sort(keys, nulls_last=True)


def _scale(leg: str, price: str, uyp: str) -> tuple[pl.Expr, pl.Expr]:
    """``(side, price)`` on the YES scale of a ladder ``leg`` level at ``price``."""
    is_yes = pl.col(leg) == "yes"
    side = pl.when(is_yes).then(pl.lit("bid")).otherwise(pl.lit("ask"))
    px = pl.when(is_yes | pl.col(uyp)).then(pl.col(price)).otherwise(_ONE - pl.col(price))
    return side.alias("side"), px.alias("price_u")


def _with_part(df: pl.DataFrame, part_of: pl.DataFrame) -> pl.DataFrame:
    return (
        df.with_columns(month=pl.col("date").dt.strftime("%Y-%m"))
        .join(part_of, on=["city", "month"], how="inner")
        .drop("month")
    )


def _ws(rows: BookRows, part_of: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(frames, levels)`` of the WebSocket frames, with ``part``, ``source``, ``is_snap``,
    ``uyp`` (use_yes_price) and deltas on the YES scale."""
    f = rows.frames
    uyp = rows.yes_price.with_columns(uyp=pl.lit(True))
    f = (
        _with_part(f, part_of)
        .join(uyp, on=["conn_id", "sid"], how="left")
        .with_columns(
            uyp=pl.col("uyp").fill_null(False),
            is_snap=pl.col("msg_type") == "orderbook_snapshot",
            source=pl.lit("ws"),
        )
    )
    side, price = _scale("leg", "price_u", "uyp")
    f = f.with_columns(side, price).select(
        "part",
        "market_ticker",
        "date",
        "recv_us",
        "source",
        "conn_id",
        "frame_no",
        "sid",
        "seq",
        "is_snap",
        "uyp",
        "leg",
        "side",
        "price_u",
        "delta_c",
    )
    lv = rows.levels.join(
        f.filter(pl.col("is_snap")).select(
            "conn_id",
            "frame_no",
            "part",
            "market_ticker",
            "date",
            "recv_us",
            "source",
            "sid",
            "seq",
            "uyp",
        ),
        on=["conn_id", "frame_no"],
        how="inner",
    )
    lv = _levels_on_yes_scale(lv)
    return f, lv


#: The columns of a level row (a snapshot's or a poll's), in the order the tables are built:
#: its keys, then its size.
_LEVEL_KEYS = (
    "part", "market_ticker", "date", "recv_us", "source", "conn_id", "frame_no", "sid", "seq",
    "side", "price_u",
)  # fmt: skip
_LEVEL_COLUMNS = (*_LEVEL_KEYS, "size_c")


def _levels_on_yes_scale(lv: pl.DataFrame) -> pl.DataFrame:
    """Levels with their ``side`` and ``price_u`` on the YES scale (see :func:`_scale`)."""
    side, price = _scale("leg", "price_u", "uyp")
    return lv.with_columns(side, price).select(_LEVEL_COLUMNS)


def _polls(rows: BookRows, part_of: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(entries, levels)`` of the REST polls: one entry per market and fetch instant (the
    copy in the last file, row and position when a market was polled twice at one instant)."""
    p = rows.polls
    tickers = p["market_ticker"].unique().to_list()
    dates = {}
    for t in tickers:
        try:
            dates[t] = event_date(t)
        except ValueError:
            continue  # not a dated market ticker: it has no partition
    p = p.with_columns(
        date=pl.col("market_ticker").replace_strict(dates, default=None, return_dtype=pl.Date)
    ).filter(pl.col("date").is_not_null())
    p = (
        _with_part(p, part_of)
        .sort("fid", "row", "idx")
        .unique(["market_ticker", "fetched_us"], keep="last", maintain_order=True)
    )
    entries = p.select(
        "part", "market_ticker", "date", pl.col("fetched_us").alias("recv_us"),
        source=pl.lit("rest"), conn_id=pl.lit(None, pl.String),
        frame_no=pl.lit(None, pl.Int64), sid=pl.lit(None, pl.Int64), seq=pl.lit(None, pl.Int64),
        is_snap=pl.lit(True), fid="fid", row="row", idx="idx",
    )  # fmt: skip
    lv = rows.poll_levels.join(entries, on=["fid", "row", "idx"], how="inner").with_columns(
        uyp=pl.lit(False)
    )
    lv = _levels_on_yes_scale(lv)
    return entries.drop("fid", "row", "idx"), lv


def _invalidations(rows: BookRows, ws: pl.DataFrame) -> pl.DataFrame:
    """One row per (market, fact) that may end the market's known book: ``part``,
    ``market_ticker``, ``recv_us``, ``conn_id``, ``frame_no``, ``sid`` (None: the whole
    connection).

    Facts: a seq hole the recorder found on a sid (its ``gap`` event), the end of a connection
    (``disconnected``/``closed``; without one, the next connection of the same run starting),
    an ``unsubscribed`` sid and an ``update_subscription`` ``delete_markets`` of the market.
    """
    facts = rows.facts
    seen = ws.select("part", "market_ticker", "conn_id").unique()
    # connections ending without a word: the next connection of the same run ends them
    bounds = (
        pl.concat(
            [
                facts.select("conn_id", "recv_us", "frame_no"),
                ws.select("conn_id", "recv_us", "frame_no"),
            ]
        )
        .group_by("conn_id")
        .agg(first_us=pl.col("recv_us").min(), last_frame=pl.col("frame_no").max())
        .with_columns(run=pl.col("conn_id").str.replace(r"\.[^.]*$", ""))
        .sort("first_us", "conn_id")
    )
    ended = facts.filter(pl.col("what") == "end")["conn_id"].unique()
    implicit = (
        bounds.with_columns(next_us=pl.col("first_us").shift(-1).over("run"))
        .filter(pl.col("next_us").is_not_null() & ~pl.col("conn_id").is_in(ended.implode()))
        .select(
            "conn_id", recv_us="next_us", frame_no=pl.col("last_frame") + 1,
            sid=pl.lit(None, pl.Int64), market_ticker=pl.lit(None, pl.String),
        )
    )  # fmt: skip
    explicit = facts.filter(pl.col("what").is_in(["gap", "end", "unsubscribed", "delete"]))
    all_facts = pl.concat(
        [explicit.select("conn_id", "recv_us", "frame_no", "sid", "market_ticker"), implicit],
        how="vertical_relaxed",
    )
    general = (
        all_facts.filter(pl.col("market_ticker").is_null())
        .drop("market_ticker")
        .join(seen, on="conn_id", how="inner")
    )
    named = all_facts.filter(pl.col("market_ticker").is_not_null()).join(
        seen, on=["conn_id", "market_ticker"], how="inner"
    )
    cols = ["part", "market_ticker", "recv_us", "conn_id", "frame_no", "sid"]
    return pl.concat([general.select(cols), named.select(cols)], how="vertical_relaxed")


def _ops(
    snaps: pl.DataFrame, levels: pl.DataFrame, deltas: pl.DataFrame, facts: pl.DataFrame
) -> Ops:
    """The fold's input, sorted (see :class:`~kalshi_lake.transform.book_fold.Ops`): plain
    columns, a snapshot's levels right after it (no nested values: PERF, a list of structs
    per op cost 7 µs an op to hand to Python, plain columns a fraction of that)."""
    cols = ["part", "market_ticker", "recv_us", "conn_id", "frame_no", "source", "sid"]
    none = {"is_bid": pl.lit(None, pl.Boolean), "price_u": pl.lit(None, pl.Int64),
            "size_c": pl.lit(None, pl.Int64)}  # fmt: skip
    s = snaps.select(*cols, **none, kind=pl.lit(SNAPSHOT))
    lv = levels.select(
        *cols, is_bid=pl.col("side") == "bid", price_u="price_u", size_c="size_c",
        kind=pl.lit(LEVEL),
    )  # fmt: skip
    d = deltas.select(
        *cols, is_bid=pl.col("side") == "bid", price_u="price_u", size_c="delta_c",
        kind=pl.lit(DELTA),
    )  # fmt: skip
    x = facts.select(
        "part", "market_ticker", "recv_us", "conn_id", "frame_no", source=pl.lit("ws"),
        sid="sid", **none, kind=pl.lit(INVALIDATE),
    )  # fmt: skip
    allops = pl.concat([s, lv, d, x], how="vertical_relaxed").sort(
        "market_ticker", "recv_us", "conn_id", "frame_no", "kind", nulls_last=True
    )
    return Ops(
        part=allops["part"].to_list(),
        market=allops["market_ticker"].to_list(),
        recv_us=allops["recv_us"].to_list(),
        conn_id=allops["conn_id"].to_list(),
        frame_no=allops["frame_no"].to_list(),
        kind=allops["kind"].to_list(),
        source=allops["source"].to_list(),
        sid=allops["sid"].to_list(),
        is_bid=allops["is_bid"].to_list(),
        price=allops["price_u"].to_list(),
        size=allops["size_c"].to_list(),
    )
