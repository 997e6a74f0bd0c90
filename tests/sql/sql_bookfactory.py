"""A small set of curated order book tables (book_deltas, book_snapshots, quotes) for the SQL
tests that need every view to have rows: one market's exchange snapshot, a delta after it, a
5-minute cadence row and a REST poll of another market, as the transform writes them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.lake.storage import Lake
from kalshi_lake.schemas import TABLES

D = Decimal


def write_book_tables(lake: Lake, market: str, at: dt.datetime) -> None:
    """Books of ``market`` (a chicago high market) from ``at`` on, and a polled neighbour."""
    event = market.rsplit("-", 1)[0]
    date = dt.datetime.strptime(event.split("-")[1].title(), "%y%b%d").date()
    other = event + "-B42.5"
    later = at + dt.timedelta(seconds=30)
    cadence = at.replace(second=0, microsecond=0) + dt.timedelta(minutes=5 - at.minute % 5)
    base = {"event_ticker": event, "family": "high", "date": date}
    deltas: list[dict[str, Any]] = [
        {"market_ticker": market, "recv_at": at, "source": "ws", "conn_id": "r.1", "frame_no": 5,
         "sid": 3, "seq": 10, "side": "bid", "price": D("0.35"), "delta": D("5"),
         "is_snapshot": True},
        {"market_ticker": market, "recv_at": at, "source": "ws", "conn_id": "r.1", "frame_no": 5,
         "sid": 3, "seq": 10, "side": "ask", "price": D("0.4"), "delta": D("7.5"),
         "is_snapshot": True},
        {"market_ticker": market, "recv_at": later, "source": "ws", "conn_id": "r.1",
         "frame_no": 6, "sid": 3, "seq": 11, "side": "bid", "price": D("0.36"),
         "delta": D("2"), "is_snapshot": False},
        {"market_ticker": other, "recv_at": at, "source": "rest", "conn_id": None,
         "frame_no": None, "sid": None, "seq": None, "side": "bid", "price": D("0.1"),
         "delta": D("1"), "is_snapshot": True},
    ]  # fmt: skip
    snaps: list[dict[str, Any]] = [
        {"market_ticker": market, "snapshot_at": at, "kind": "ws", "conn_id": "r.1",
         "frame_no": 5, "side": "ask", "price": D("0.4"), "size": D("7.5")},
        {"market_ticker": market, "snapshot_at": at, "kind": "ws", "conn_id": "r.1",
         "frame_no": 5, "side": "bid", "price": D("0.35"), "size": D("5")},
        {"market_ticker": other, "snapshot_at": at, "kind": "rest", "conn_id": None,
         "frame_no": None, "side": "bid", "price": D("0.1"), "size": D("1")},
    ]  # fmt: skip
    if cadence > later:
        for side, price, size in (("ask", "0.4", "7.5"), ("bid", "0.35", "5"),
                                  ("bid", "0.36", "2")):  # fmt: skip
            snaps.append({"market_ticker": market, "snapshot_at": cadence, "kind": "cadence",
                          "conn_id": "r.1", "frame_no": 6, "side": side, "price": D(price),
                          "size": D(size)})  # fmt: skip
    quotes: list[dict[str, Any]] = [
        {"market_ticker": market, "quote_at": at, "source": "ws", "conn_id": "r.1",
         "frame_no": 5, "yes_bid": D("0.35"), "yes_bid_size": D("5"), "yes_ask": D("0.4"),
         "yes_ask_size": D("7.5"), "is_known": True},
        {"market_ticker": market, "quote_at": later, "source": "ws", "conn_id": "r.1",
         "frame_no": 6, "yes_bid": D("0.36"), "yes_bid_size": D("2"), "yes_ask": D("0.4"),
         "yes_ask_size": D("7.5"), "is_known": True},
        {"market_ticker": other, "quote_at": at, "source": "rest", "conn_id": None,
         "frame_no": None, "yes_bid": D("0.1"), "yes_bid_size": D("1"), "yes_ask": None,
         "yes_ask_size": None, "is_known": True},
    ]  # fmt: skip
    month = date.strftime("%Y-%m")
    for table, rows in (("book_deltas", deltas), ("book_snapshots", snaps), ("quotes", quotes)):
        folder = f"curated/{table}/city=chicago/month={month}"
        schema = TABLES[table]
        data = pa.Table.from_pylist([{**base, **r} for r in rows], schema)
        sink = pa.BufferOutputStream()
        pq.write_table(data, sink)
        lake.replace_partition(folder, sink.getvalue().to_pybytes())
