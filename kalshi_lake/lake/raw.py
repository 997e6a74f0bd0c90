"""Raw page records: one row per HTTP response, kept byte for byte with its provenance.

Layout (README "The lake")::

    raw/<endpoint>/city=<city>/date=<YYYY-MM-DD>/<unique>[.<family>].parquet

``city`` and ``date`` are Hive keys taken from the path: they are not stored inside the files, so
engines that add Hive columns (DuckDB, polars, Spark) never see the same column twice.
``date`` is the event's climate date for event- or market-scoped requests, and the UTC date of
the fetch for requests that span many events (series, event and market listings, the cutoff).
``<family>`` (``high``, ``low``) is the market family of the file's pages, so that what was
fetched per family can be read from a listing of file names alone (``fetched_days_in``); files
written before families were recorded have none and hold daily highs only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from kalshi_lake.cities import family_for_ticker
from kalshi_lake.lake.storage import Lake, unique_name

#: Logical endpoint names used as the first folder under ``raw/`` (the tier is a column).
ENDPOINTS: dict[str, str] = {
    "series": "GET /series/{series_ticker}",
    "events": "GET /events (listing)",
    "event": "GET /events/{event_ticker}",
    "markets": "GET /markets, GET /historical/markets (listings)",
    "market": "GET /markets/{ticker}, GET /historical/markets/{ticker}",
    "trades": "GET /markets/trades, GET /historical/trades",
    "candlesticks": "GET /series/{s}/markets/{t}/candlesticks, GET /historical/markets/{t}/candlesticks",
    "event_candlesticks": "GET /series/{s}/events/{e}/candlesticks",
    "batch_candlesticks": "GET /markets/candlesticks",
    "cutoff": "GET /historical/cutoff",
    "orderbook": "GET /markets/{ticker}/orderbook",
    "orderbooks": "GET /markets/orderbooks (batch; the live recorder's polls)",
}

TIERS = ("live", "historical")

# WebSocket frames (the live recorder's journal, rolled) live beside the pages in their own
# folder with their own schema, FRAME_SCHEMA:
#
#     raw/ws/city=<city>/date=<YYYY-MM-DD>/<segment>.parquet
#
# city=_connection holds the frames about no one market (commands, acks, connection events),
# dated by their UTC receive date. Readers of pages list only page_endpoints() (never raw/ws):
# the two schemas must not meet in one scan.

#: The folder under ``raw/`` of WebSocket frames (not an endpoint: another schema).
WS_FOLDER = "ws"

#: The ``city=`` partition of frames about no one market.
CONNECTION_CITY = "_connection"

RAW_SCHEMA = pa.schema(
    [
        pa.field("endpoint", pa.string(), nullable=False),
        pa.field("tier", pa.string(), nullable=False),
        pa.field("series_ticker", pa.string()),
        pa.field("event_ticker", pa.string()),
        pa.field("market_ticker", pa.string()),
        pa.field("request_path", pa.string(), nullable=False),
        pa.field("request_params", pa.string(), nullable=False),
        pa.field("cursor_in", pa.string()),
        pa.field("cursor_out", pa.string()),
        pa.field("page_number", pa.int32(), nullable=False),
        pa.field("http_status", pa.int16(), nullable=False),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("run_id", pa.string(), nullable=False),
        pa.field("body", pa.large_string(), nullable=False),
        pa.field("body_sha256", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class RawPage:
    """One HTTP response page and the request that produced it."""

    endpoint: str
    tier: str
    city: str
    date: dt.date
    request_path: str
    request_params: Mapping[str, Any]
    body: str
    fetched_at: dt.datetime
    run_id: str
    http_status: int = 200
    page_number: int = 0
    cursor_in: str | None = None
    cursor_out: str | None = None
    series_ticker: str | None = None
    event_ticker: str | None = None
    market_ticker: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.endpoint not in ENDPOINTS:
            raise ValueError(f"unknown raw endpoint {self.endpoint!r}")
        if self.tier not in TIERS:
            raise ValueError(f"unknown tier {self.tier!r}")

    def row(self) -> dict[str, Any]:
        """The record as a dict in :data:`RAW_SCHEMA` order."""
        return {
            "endpoint": self.endpoint,
            "tier": self.tier,
            "series_ticker": self.series_ticker,
            "event_ticker": self.event_ticker,
            "market_ticker": self.market_ticker,
            "request_path": self.request_path,
            "request_params": json.dumps(
                dict(self.request_params), sort_keys=True, separators=(",", ":")
            ),
            "cursor_in": self.cursor_in,
            "cursor_out": self.cursor_out,
            "page_number": self.page_number,
            "http_status": self.http_status,
            "fetched_at": self.fetched_at.astimezone(dt.UTC),
            "run_id": self.run_id,
            "body": self.body,
            "body_sha256": hashlib.sha256(self.body.encode("utf-8")).hexdigest(),
        }


#: One row per WebSocket frame, both directions, kept byte for byte (``raw/ws``). ``direction`` is
#: "in" (a server frame), "out" (a command we sent) or "event" (our own JSON about the
#: connection: connect, handshake status, close, gap, resync). ``conn_id`` + ``frame_no`` is
#: the frame's identity: a reader may dedup on it.
FRAME_SCHEMA = pa.schema(
    [
        pa.field("recv_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("conn_id", pa.string(), nullable=False),
        pa.field("frame_no", pa.int64(), nullable=False),
        pa.field("direction", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("msg_type", pa.string()),
        pa.field("sid", pa.int64()),
        pa.field("seq", pa.int64()),
        pa.field("market_ticker", pa.string()),
        pa.field("body", pa.large_string(), nullable=False),
    ]
)

#: Frame columns worth a dictionary (few distinct values); never the bodies.
FRAME_DICT_COLUMNS = ["conn_id", "direction", "channel", "msg_type", "market_ticker"]


def is_page_endpoint(folder: str) -> bool:
    """True for a ``raw/<folder>`` that holds REST pages (:data:`RAW_SCHEMA`)."""
    return folder in ENDPOINTS


def page_endpoints(lake: Lake) -> list[str]:
    """The ``raw/`` folders of REST pages in ``lake`` (never ``raw/ws``), sorted."""
    return [d for d in lake.ls_dirs("raw") if is_page_endpoint(d)]


def has_pages(lake: Lake) -> bool:
    """True if ``lake`` holds at least one raw page file."""
    return any(lake.has_files("raw", e) for e in page_endpoints(lake))


def frame_partition_dir(city: str, date: dt.date) -> str:
    """``raw/ws/city=<city>/date=<YYYY-MM-DD>`` relative to the lake root."""
    return f"raw/{WS_FOLDER}/city={city}/date={date.isoformat()}"


#: Dictionary-encode the repetitive provenance columns only: trying a dictionary on large,
#: unique response bodies costs many times the write time for nothing.
_DICT_COLUMNS = [f.name for f in RAW_SCHEMA if f.name not in ("body", "body_sha256")]


def partition_dir(endpoint: str, city: str, date: dt.date) -> str:
    """``raw/<endpoint>/city=<city>/date=<YYYY-MM-DD>`` relative to the lake root."""
    return f"raw/{endpoint}/city={city}/date={date.isoformat()}"


def page_family(page: RawPage) -> str | None:
    """The market family (``high``/``low``) of a page: its event's, market's or series' in the
    registry; None for a ticker the registry does not know."""
    for ticker in (page.event_ticker, page.market_ticker, page.series_ticker):
        if ticker:
            return family_for_ticker(ticker)
    return None


def raw_file_name(family: str | None) -> str:
    """A new raw file's name: ``<unique>.<family>.parquet`` (``<unique>.parquet`` with none)."""
    return unique_name(f".{family}.parquet" if family else ".parquet")


def pages_table(pages: Sequence[RawPage]) -> pa.Table:
    """An Arrow table of pages in :data:`RAW_SCHEMA`."""
    return pa.Table.from_pylist([p.row() for p in pages], schema=RAW_SCHEMA)


#: Tries of one raw file whose temp file vanished under it (see :func:`write_pages`).
WRITE_ATTEMPTS = 3


def write_pages(lake: Lake, pages: Sequence[RawPage]) -> list[str]:
    """Write pages as one new file per (endpoint, city, date) partition and family; returns
    the paths.

    Each file appears atomically under a unique name, so a crash leaves either the whole file
    or nothing, and concurrent writers never collide. The name carries the pages' family
    (:func:`raw_file_name`).
    """
    groups: dict[tuple[str, str, dt.date, str], list[RawPage]] = {}
    for p in pages:
        groups.setdefault((p.endpoint, p.city, p.date, page_family(p) or ""), []).append(p)
    written = []
    for (endpoint, city, date, family), group in sorted(groups.items()):
        table = pages_table(group)
        for attempt in range(WRITE_ATTEMPTS):
            rel = f"{partition_dir(endpoint, city, date)}/{raw_file_name(family or None)}"
            try:
                written.append(lake.write_table(table, rel, use_dictionary=_DICT_COLUMNS))
                break
            except FileNotFoundError:
                # A backfill taking a city's lease sweeps the temp files older than its lease
                # from that city's raw folders; a writer without the lease (the live recorder's
                # REST pages) can lose its temp file to that sweep mid-write. Writing again under
                # a new name is safe: a file appears whole or not at all.
                if attempt == WRITE_ATTEMPTS - 1:
                    raise
    return written
