"""The walk engine: one pager through the client, every page to the sink with its checkpoint."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kalshi_lake.api.client import ApiResponse
from kalshi_lake.api.paging import Pager
from kalshi_lake.backfill.context import RunContext
from kalshi_lake.errors import ClientError, NotFoundError
from kalshi_lake.lake.raw import RawPage
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: Reads one page's JSON; may return extra state updates that become durable with the page.
OnPage = Callable[[dict[str, Any]], Mapping[str, Mapping[str, Any] | None] | None]


@dataclass(frozen=True)
class WalkSpec:
    """What one walk asks for and how its pages are filed in the raw layer."""

    #: Raw-layer endpoint name (``raw/<endpoint>/...``).
    endpoint: str
    #: "live" or "historical": the API tier, counted per tier.
    tier: str
    #: Request path relative to the API base.
    path: str
    #: A top-level key every response must have (else it is retried as truncated).
    expect: str
    #: The ``date=`` partition the pages go to.
    date: dt.date
    #: State key of a resumable walk (None: a listing, always walked afresh).
    key: str | None = None
    series: str | None = None
    event: str | None = None
    market: str | None = None


def raw_page(
    ctx: RunContext,
    spec: WalkSpec,
    resp: ApiResponse,
    page_number: int,
    *,
    cursor_in: str | None = None,
    cursor_out: str | None = None,
) -> RawPage:
    """The raw-layer row of one response page (and count it for its tier)."""
    ctx.tally.tier_counts[spec.tier]["pages"] += 1
    return RawPage(
        endpoint=spec.endpoint,
        tier=spec.tier,
        city=ctx.city.name,
        date=spec.date,
        request_path=resp.path,
        request_params=resp.params,
        body=resp.text,
        fetched_at=resp.fetched_at,
        run_id=ctx.run_id,
        http_status=resp.status,
        page_number=page_number,
        cursor_in=cursor_in,
        cursor_out=cursor_out,
        series_ticker=spec.series or ctx.city.series_ticker,
        event_ticker=spec.event,
        market_ticker=spec.market,
    )


async def fetch_one(ctx: RunContext, spec: WalkSpec) -> ApiResponse:
    """GET a single-page endpoint and land its page."""
    resp = await ctx.client.get(spec.path, expect=spec.expect, tier=spec.tier)
    await ctx.sink.add(raw_page(ctx, spec, resp, 0))
    return resp


async def walk(
    ctx: RunContext,
    pager: Pager,
    spec: WalkSpec,
    *,
    agg: dict[str, Any] | None = None,
    on_page: OnPage | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Fetch every page of one walk, landing each with its checkpoint; returns ``agg``.

    ``stop`` (checked after each page) ends a listing early once it has what it needs.

    With ``spec.key`` the walk is resumable: a finished walk is not repeated and an unfinished
    one continues from its saved cursor (or window start). ``agg`` holds running totals that
    are saved with each checkpoint; ``on_page`` updates them and may return extra state
    updates that become durable with the page.
    """
    agg = agg if agg is not None else {}
    key = spec.key
    fresh_state = pager.checkpoint()
    resumed = False
    if key is not None:
        saved = ctx.saved.get(key)
        if saved is not None:
            agg.update(saved.get("agg") or {})
            if saved.get("done"):
                return agg
            pager.restore(saved)
            resumed = True
    while (params := pager.next_params()) is not None:
        cursor_in = pager.cursor
        try:
            resp = await ctx.client.get(spec.path, params, expect=spec.expect, tier=spec.tier)
        except ClientError as exc:
            if resumed and cursor_in and not isinstance(exc, NotFoundError):
                # A saved cursor can expire between runs: walk again from the start.
                log.info("saved cursor of %s refused (%s); restarting the walk", key, exc)
                pager.restore(fresh_state)
                agg.clear()
                resumed = False
                continue
            raise
        pager.update(resp.data)
        extra = on_page(resp.data) if on_page is not None else None
        updates: dict[str, Mapping[str, Any] | None] = dict(extra or {})
        if key is not None:
            updates[key] = {**pager.checkpoint(), "agg": dict(agg)}
        page = raw_page(
            ctx,
            spec,
            resp,
            pager.page - 1,
            cursor_in=cursor_in,
            cursor_out=pager.cursor_out(resp.data),
        )
        await ctx.sink.add(page, updates)
        if stop is not None and stop():
            break
    return agg
