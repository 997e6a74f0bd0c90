"""Which markets the live recorder follows, found from REST and kept in the raw layer.

Every few minutes :func:`discover` lists each followed series' markets that close after a recent
instant (``GET /markets?series_ticker=S&min_close_ts=...``: the open ones, the ones opening soon,
and the recently closed ones that have not settled yet). Every page is kept in the raw layer like
any backfill page (``raw/markets``, dated by the fetch's UTC day), so the curated ``markets``
table learns about new ladders from the same pages the recorder acted on.

A market is followed from a little before it opens until it settles: subscribing ahead means no
frame of its first minutes is missed, and staying on after close keeps the burst of cancels that
empties its book and the lifecycle frames that settle it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from kalshi_lake.api.client import KalshiClient
from kalshi_lake.cities import City
from kalshi_lake.lake.raw import RawPage, write_pages
from kalshi_lake.lake.storage import Lake

#: Markets closing after ``now - LOOKBACK`` are listed (a closed market settles within hours).
LOOKBACK = dt.timedelta(hours=36)
#: Statuses after which a market's state never changes: no longer followed.
FINAL = frozenset({"settled", "finalized"})
#: Statuses of a market not open yet.
UNOPENED = frozenset({"initialized", "unopened"})
PAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class FollowedMarket:
    """A market the recorder follows, as its latest listing showed it."""

    ticker: str
    city: str
    family: str
    status: str
    open_time: dt.datetime | None


@dataclass(frozen=True)
class Discovered:
    """One discovery round: the markets to follow and what it cost."""

    markets: tuple[FollowedMarket, ...]
    requests: int

    def tickers(self, now: dt.datetime, ahead: dt.timedelta) -> list[str]:
        """Tickers to subscribe now: not final, and open (or closed, awaiting settlement), or
        opening within ``ahead`` (the listing's status decides, the clock only for unopened ones).
        """
        return sorted(
            m.ticker
            for m in self.markets
            if m.status not in FINAL
            and (m.status not in UNOPENED or m.open_time is None or m.open_time <= now + ahead)
        )


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(dt.UTC)
    except ValueError:
        return None


async def discover(
    client: KalshiClient,
    lake: Lake,
    cities: Sequence[City],
    families: Sequence[str] | None,
    *,
    run_id: str,
    now: dt.datetime,
) -> Discovered:
    """List the followed series' current markets, keep every page raw, return what to follow."""
    pages: list[RawPage] = []
    found: list[FollowedMarket] = []
    requests = 0
    min_close = int((now - LOOKBACK).timestamp())
    for city in cities:
        for family, series in city.families.items():
            if families is not None and family not in families:
                continue
            cursor: str | None = None
            number = 0
            while True:
                params: dict[str, object] = {
                    "series_ticker": series.ticker,
                    "min_close_ts": min_close,
                    "limit": PAGE_LIMIT,
                }
                if cursor:
                    params["cursor"] = cursor
                resp = await client.get("/markets", params, expect="markets")
                requests += 1
                number += 1
                cursor_out = resp.data.get("cursor") or None
                pages.append(
                    RawPage(
                        endpoint="markets",
                        tier="live",
                        city=city.name,
                        date=resp.fetched_at.astimezone(dt.UTC).date(),
                        request_path=resp.path,
                        request_params=resp.params,
                        body=resp.text,
                        fetched_at=resp.fetched_at,
                        run_id=run_id,
                        http_status=resp.status,
                        page_number=number,
                        cursor_in=cursor,
                        cursor_out=cursor_out,
                        series_ticker=series.ticker,
                    )
                )
                for m in resp.data.get("markets") or []:
                    if not isinstance(m, dict) or not isinstance(m.get("ticker"), str):
                        continue
                    found.append(
                        FollowedMarket(
                            ticker=m["ticker"],
                            city=city.name,
                            family=family,
                            status=str(m.get("status") or ""),
                            open_time=_parse_time(m.get("open_time")),
                        )
                    )
                if not cursor_out or cursor_out == cursor or number >= 50:
                    break
                cursor = cursor_out
    if pages:
        write_pages(lake, pages)
    return Discovered(tuple(found), requests)
