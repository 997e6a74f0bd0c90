"""REST order book polls (no key, or ``--orderbook rest``): the followed markets' books, raw.

``GET /markets/orderbooks`` takes up to :data:`BOOKS_PER_REQUEST` tickers
(https://docs.kalshi.com/api-reference/market/get-multiple-market-orderbooks); one poll asks for
every followed market, a city at a time (a raw page belongs to one city's partition), and keeps
each answer as a raw page of endpoint ``orderbooks`` dated by when it was fetched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kalshi_lake.api.client import KalshiClient
from kalshi_lake.cities import city_for_ticker
from kalshi_lake.lake.raw import RawPage, write_pages
from kalshi_lake.lake.storage import Lake

#: Tickers per ``GET /markets/orderbooks`` request (Kalshi's maximum).
BOOKS_PER_REQUEST = 100


@dataclass
class BookPoll:
    """What one poll did: its requests, and per request the tickers asked and when (UTC us)."""

    requests: int = 0
    pages: int = 0
    asked: list[tuple[list[str], int]] = field(default_factory=list)


async def poll_books(
    client: KalshiClient,
    lake: Lake,
    tickers: Sequence[str],
    *,
    run_id: str,
    raw_writes: asyncio.Lock,
) -> BookPoll:
    """Fetch the books of ``tickers`` and write them as raw pages (under ``raw_writes``)."""
    poll = BookPoll()
    by_city: dict[str, list[str]] = {}
    for t in tickers:
        found = city_for_ticker(t)
        if found is not None:
            by_city.setdefault(found.name, []).append(t)
    pages = []
    for city, mine in sorted(by_city.items()):
        for i in range(0, len(mine), BOOKS_PER_REQUEST):
            chunk = mine[i : i + BOOKS_PER_REQUEST]
            asked_us = time.time_ns() // 1000
            resp = await client.get("/markets/orderbooks", {"tickers": chunk}, expect="orderbooks")
            poll.asked.append((chunk, asked_us))
            poll.requests += 1
            pages.append(
                RawPage(
                    endpoint="orderbooks",
                    tier="live",
                    city=city,
                    date=resp.fetched_at.astimezone(dt.UTC).date(),
                    request_path=resp.path,
                    request_params=resp.params,
                    body=resp.text,
                    fetched_at=resp.fetched_at,
                    run_id=run_id,
                    http_status=resp.status,
                )
            )
    if pages:
        async with raw_writes:
            await asyncio.to_thread(write_pages, lake, pages)
        poll.pages = len(pages)
    return poll
