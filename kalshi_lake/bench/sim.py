"""Simulator throughput: requests/s a concurrent httpx client gets from ``kalshi-lake sim``.

The simulator runs as a subprocess (as the CLI starts it), so client and server each have a core
and the figure is about the server. The request mix is what a backfill sends: event and market
listings, single markets, trade pages (following cursors) and one-minute candles for live and
archived markets. Every URL is new on the first pass (``sim_requests_per_s_cold``); the timed
run then cycles through the same URLs, mostly served from the response cache.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterable
from typing import Any

import httpx

from kalshi_lake.bench import figure

NOW = "2026-11-21T15:00:00Z"
SERIES = ("KXHIGHNY", "KXHIGHCHI", "KXHIGHTSEA", "KXHIGHTBOS")


def _start_sim() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "sim", "--seed", "1", "--now", NOW],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http"):
        proc.kill()
        raise RuntimeError(f"simulator did not start: {proc.stderr.read() if proc.stderr else ''}")
    return proc, url


async def _urls(client: httpx.AsyncClient, n_events: int) -> list[str]:
    """Build the request mix from the simulator's own listings."""
    urls: list[str] = []
    for series in SERIES:
        urls.append(f"/series/{series}")
        r = await client.get("/events", params={"series_ticker": series, "limit": n_events})
        for ev in r.json()["events"]:
            urls.append(f"/events/{ev['event_ticker']}")
            live = (await client.get(f"/events/{ev['event_ticker']}")).json()["markets"]
            for m in live:
                t = m["ticker"]
                start = _ts(m["open_time"])
                end = _ts(m["close_time"]) + 3600
                urls += [
                    f"/markets/{t}",
                    f"/markets/trades?ticker={t}&limit=200",
                    f"/series/{series}/markets/{t}/candlesticks"
                    f"?start_ts={start}&end_ts={end}&period_interval=1",
                ]
        urls.append(f"/markets?series_ticker={series}&limit=200")
        r = await client.get(
            "/historical/markets", params={"series_ticker": series, "limit": n_events}
        )
        for m in r.json()["markets"]:
            t = m["ticker"]
            start = _ts(m["open_time"])
            end = _ts(m["close_time"]) + 3600
            urls += [
                f"/historical/markets/{t}",
                f"/historical/trades?ticker={t}&limit=200",
                f"/historical/markets/{t}/candlesticks"
                f"?start_ts={start}&end_ts={end}&period_interval=1",
            ]
    return urls


def _ts(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


async def _hammer(
    client: httpx.AsyncClient, urls: list[str], concurrency: int, seconds: float | None
) -> tuple[int, int, float]:
    """Send ``urls`` (cycling until ``seconds`` pass, or once when None); (ok, errors, elapsed)."""
    ok = 0
    errors = 0
    next_i = 0
    t0 = time.perf_counter()
    deadline = None if seconds is None else t0 + seconds

    async def worker() -> None:
        nonlocal ok, errors, next_i
        while True:
            if deadline is None:
                if next_i >= len(urls):
                    return
            elif time.perf_counter() >= deadline:
                return
            url = urls[next_i % len(urls)]
            next_i += 1
            r = await client.get(url)
            if r.status_code == 200:
                ok += 1
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok, errors, time.perf_counter() - t0


async def _measure(url: str, quick: bool) -> list[dict[str, Any]]:
    # httpx's async pool slows down past ~8 requests in flight (encode/httpx#3215), far below
    # what the server sustains; 8 is the client's sweet spot.
    concurrency = 8
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        urls = await _urls(client, 4 if quick else 12)
        cold_ok, cold_err, cold_s = await _hammer(client, urls, concurrency, None)
        seconds = 2.0 if quick else 6.0
        ok, err, elapsed = await _hammer(client, urls, concurrency, seconds)
    common = {"concurrency": concurrency, "distinct_urls": len(urls), "client": "httpx.AsyncClient"}
    return [
        figure(
            "sim_requests_per_s",
            ok / elapsed,
            "req/s",
            seconds=round(elapsed, 2),
            requests=ok + err,
            errors=err,
            **common,
        ),
        figure(
            "sim_requests_per_s_cold",
            cold_ok / cold_s,
            "req/s",
            seconds=round(cold_s, 2),
            requests=cold_ok + cold_err,
            errors=cold_err,
            **common,
        ),
    ]


def run(quick: bool) -> Iterable[dict[str, Any]]:
    """Yield the simulator figures."""
    proc, url = _start_sim()
    try:
        yield from asyncio.run(_measure(url, quick))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
