"""One batch of partitions: its raw pages parsed (DuckDB), its curated tables built (polars).

:func:`parse_batch` runs on the pipeline's parse thread, :func:`build_tables` on the main
thread (:mod:`~kalshi_lake.transform.pipeline`). Rows carry ``part``, the index of their
partition in the batch, so every table is computed within a partition and sorted by it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from kalshi_lake.cities import CITIES
from kalshi_lake.transform import candles, markets, parse, parse_markets, trades, ws_merge
from kalshi_lake.transform.book_parse import BookRows, parse_books
from kalshi_lake.transform.books import build_books
from kalshi_lake.transform.fastpaths import sort_by_ticker
from kalshi_lake.transform.listings import Listings
from kalshi_lake.transform.plan import GROUPS, Batch
from kalshi_lake.transform.rawdb import RawDB, only
from kalshi_lake.transform.summary import CONFLICT, Problem, TransformSummary
from kalshi_lake.transform.ws_frames import parse_ws

_CITY_SERIES = {c.name: c.series_ticker for c in CITIES}


@dataclass
class Parsed:
    """A batch's pages parsed into good rows (problems already reported)."""

    batch: Batch
    rows: dict[str, pl.DataFrame]  # markets, trades, pages, candles
    seconds: float
    books: BookRows | None = None  # order book frames and polls (their own shapes)

    def take(self, name: str) -> pl.DataFrame:
        """Hand over one frame: the build frees each as soon as it is done with it (the next
        batch's parse is in memory at the same time)."""
        return self.rows.pop(name)


def parse_batch(db: RawDB, batch: Batch) -> Parsed:
    """Parse one batch's raw pages into good rows (problems are reported through ``db``)."""
    t0 = time.perf_counter()
    by_group = {g: [f for f in batch.files if f.endpoint in eps] for g, eps in GROUPS.items()}
    eps = {g: {f.endpoint for f in files} for g, files in by_group.items()}
    [mk] = db.query(
        "pages_markets", by_group["markets"], only(parse_markets.parse_markets, eps["markets"])
    )
    mk = db.good(mk)
    tr, pages = db.query("pages_trades", by_group["trades"], parse.parse_trades, parse.parse_pages)
    tr = db.good(tr)
    [cd] = db.query("pages_candles", by_group["candles"], only(parse.parse_candles, eps["candles"]))
    cd = db.good(cd)
    ws_tr, ws_lc = parse_ws(db, by_group["ws"])
    books = parse_books(db, by_group["ws"], by_group["orderbooks"], [m for _, m in batch.keys])
    rows = {"markets": mk, "trades": tr, "pages": pages, "candles": cd, "ws_trades": ws_tr,
            "ws_lifecycle": ws_lc}  # fmt: skip
    return Parsed(batch, rows, time.perf_counter() - t0, books)


def build_tables(
    parsed: Parsed, fid: Mapping[str, int], listings: Listings, summary: TransformSummary
) -> dict[str, pl.DataFrame]:
    """The curated tables of a parsed batch (each with ``part``, sorted by it first); counts
    raw files, trades read and duplicates in ``summary``."""
    batch = parsed.batch
    part_of_key = {k: i for i, k in enumerate(batch.keys)}
    # (a poll file of a neighbouring month feeds only the order book tables, by market date)
    fid_part = {
        fid[f.rel]: part_of_key[(f.city, f.month)]
        for f in batch.files
        if (f.city, f.month) in part_of_key
    }
    summary.raw_files += len(batch.files)

    # markets and events (date-scoped pages + the reduced listing rows of these months)
    mk = parsed.take("markets")
    # Event pages name their event's series; the markets parsed from them carry it as
    # parent_* (one scan of the small, numerous event files instead of two).
    ev = mk.filter(pl.col("parent_event_ticker").is_not_null()).select(
        "city", "date", "endpoint", "fid", "row", "page_number", "idx", "tier", "fetched_at",
        event_ticker="parent_event_ticker", series_ticker="parent_series_ticker",
    )  # fmt: skip
    mk = _with_part(mk, fid_part)
    ev = _with_part(ev, fid_part)
    keys = pl.DataFrame(
        {
            "city": [k[0] for k in batch.keys],
            "month": [k[1] for k in batch.keys],
            "part": pl.Series(range(len(batch.keys)), dtype=pl.Int32),
        }
    )
    if listings.markets is not None:
        lm = listings.markets.join(keys, on=["city", "month"], how="inner").drop("month")
        mk = pl.concat([mk, lm.select(mk.columns)], how="vertical_relaxed")
    if listings.events is not None:
        le = listings.events.join(keys, on=["city", "month"], how="inner").drop("month")
        ev = pl.concat([ev, le.select(ev.columns)], how="vertical_relaxed")
    market_table = markets.build_markets(mk, ev, _CITY_SERIES)
    market_events = market_table.select("part", "market_ticker", "event_ticker")
    del mk, ev
    # lifecycle frames: their own table, and the markets' status and settlement
    lifecycle = _with_part(parsed.take("ws_lifecycle"), fid_part)
    event_table = ws_merge.build_market_events(lifecycle, market_events)
    market_table = ws_merge.apply_lifecycle(market_table, event_table)
    del lifecycle

    # trades and trade candles
    tr = _with_part(parsed.take("trades"), fid_part)
    rel = {i: r for r, i in fid.items()}

    def on_conflict(bad: pl.DataFrame) -> None:
        summary.problems.extend(_conflict_problems(bad, rel))

    def on_ws_conflict(bad: pl.DataFrame) -> None:
        summary.problems.extend(_ws_conflict_problems(bad, rel))

    pages = parsed.take("pages")
    rest_table = trades.build_trades(tr, market_events, pages, on_conflict)
    ws_tr = _with_part(parsed.take("ws_trades"), fid_part)
    rest_first = ws_merge.rest_first_fetched(tr, pages)
    trade_table = ws_merge.merge_trades(
        rest_table, rest_first, ws_tr, market_events, on_ws_conflict
    )
    summary.trades_read += tr.height + ws_tr.height
    summary.duplicates += tr.height + ws_tr.height - trade_table.height
    del tr, ws_tr, rest_table, pages
    t1m, t5m = candles.trade_candles(trade_table)

    # api candles
    cd = _with_part(parsed.take("candles"), fid_part)
    a1m, a5m = candles.api_candles(cd, market_events)
    del cd

    book_tables = build_books(parsed.books, batch.keys) if parsed.books is not None else {}
    parsed.books = None

    return {
        **book_tables,
        "markets": market_table,
        "trades": trade_table,
        "candles_1m": _merge_candles(a1m, t1m),
        "candles_5m": _merge_candles(a5m, t5m),
        "market_events": event_table,
    }


def _conflict_problems(bad: pl.DataFrame, rel: Mapping[int, str]) -> list[Problem]:
    """One :class:`Problem` per trade copy that disagrees with an earlier copy of its id."""
    out = []
    for r in bad.iter_rows(named=True):
        first = Problem(CONFLICT, rel[r["first_fid"]], r["first_page_number"], "",
                        row=r["first_row"])  # fmt: skip
        msg = (
            f"trade {r['trade_id']} came twice with different contents ({r['fields']}); "
            f"the other copy is in {first.where}"
        )
        out.append(Problem(CONFLICT, rel[r["fid"]], r["page_number"], msg, row=r["row"]))
    return out


def _ws_conflict_problems(bad: pl.DataFrame, rel: Mapping[int, str]) -> list[Problem]:
    """One :class:`Problem` per trade frame that disagrees with the REST copy of its trade."""
    return [
        Problem(
            CONFLICT,
            rel[fid],
            None,
            f"trade {trade_id} came over the WebSocket with different contents ({fields}) "
            "than its REST copy; the REST copy is kept",
            row=row,
        )
        for fid, row, trade_id, fields in bad.iter_rows()
    ]


def _merge_candles(api: pl.DataFrame, own: pl.DataFrame) -> pl.DataFrame:
    """api and trade candles (each sorted by part, market, bucket) in the table's order."""
    if api.height == 0:
        return own
    if own.height == 0:
        return api
    return sort_by_ticker(
        pl.concat([api, own]), ["part", "market_ticker", "source", "bucket_start"]
    )


def _with_part(df: pl.DataFrame, fid_part: dict[int, int]) -> pl.DataFrame:
    """Add ``part`` (the batch's partition index) from each row's file."""
    return df.with_columns(
        part=pl.col("fid").replace_strict(fid_part, default=None, return_dtype=pl.Int32)
    )
