"""SimTransport: the simulator in-process answers and misbehaves exactly like the loopback server,
and a backfill runs through it with no socket."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimServer
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.transport import SimTransport

CHICAGO = get_city("chicago")
DAYS = (dt.date(2026, 11, 1), dt.date(2026, 11, 3))
FAULTS: dict[str, Any] = {"fail_rate": 0.15, "drop_rate": 0.1, "malformed_rate": 0.15}
#: Milder for a whole backfill: with 12 retries a request fails for good about once in 1e8 runs
#: (concurrent requests meet faults in any order, so the exact sequence is not fixed).
BACKFILL_FAULTS: dict[str, Any] = {"fail_rate": 0.1, "drop_rate": 0.05, "malformed_rate": 0.1}
TARGETS = (
    "/series/KXHIGHCHI",
    "/events?series_ticker=KXHIGHCHI&limit=5",
    "/events/KXHIGHCHI-26NOV02?with_nested_markets=true",
    "/markets/trades?ticker=KXHIGHCHI-26NOV20-B45.5&limit=20",
    "/historical/cutoff",
    "/markets/NOSUCHMARKET",
    "/markets?limit=5000",
    "/_sim/stats",
)

Outcome = tuple[object, ...]


def _outcome(send: Callable[[], httpx.Response]) -> Outcome:
    try:
        r = send()
    except httpx.TransportError:
        return ("transport error",)
    return (r.status_code, r.headers["content-type"], r.content)


def _over_loopback(server: SimServer, targets: list[str]) -> list[Outcome]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        return [_outcome(lambda t=t: client.get(t)) for t in targets]


def _in_process(transport: SimTransport, targets: list[str]) -> list[Outcome]:
    async def run() -> list[Outcome]:
        async with httpx.AsyncClient(transport=transport, base_url=transport.base_url) as client:
            out = []
            for t in targets:
                try:
                    r = await client.get(t)
                    await r.aread()
                    out.append((r.status_code, r.headers["content-type"], r.content))
                except httpx.TransportError:
                    out.append(("transport error",))
            return out

    return asyncio.run(run())


def test_same_answers_and_same_faults_as_the_loopback_server(
    sim_factory: Callable[..., SimServer],
) -> None:
    targets = [TARGETS[i % len(TARGETS)] for i in range(80)]
    server = sim_factory(**FAULTS)
    transport = SimTransport(seed=FIXTURE_SEED, now=FIXTURE_NOW, **FAULTS)
    over_loopback = _over_loopback(server, targets)
    assert _in_process(transport, targets) == over_loopback
    assert transport.stats() == server.stats()
    # The sequence met every kind of answer, so the comparison covers each path.
    kinds = Counter(o[0] for o in over_loopback)
    assert {200, 404, 400, "transport error"} <= set(kinds)
    assert any(isinstance(k, int) and k >= 500 for k in kinds)
    assert transport.stats()["faults"]["malformed"] > 0


def _settings(lake: Path, api_url: str) -> Settings:
    return Settings(
        lake=str(lake),
        api_url=api_url,
        rate=2000.0,
        concurrency=8,
        max_retries=12,
        backoff_base_s=0.005,
        backoff_max_s=0.05,
        progress=False,
        flush_seconds=0.5,
    )


def _pages(lake: Path) -> Counter[tuple[object, ...]]:
    """Every raw page by what was asked and what came back (not when, or by which run)."""
    keys = ("endpoint", "request_path", "request_params", "page_number", "body_sha256")
    out: Counter[tuple[object, ...]] = Counter()
    for f in sorted((lake / "raw").rglob("*.parquet")):
        for r in pq.read_table(f).to_pylist():
            out[tuple(r[k] for k in keys)] += 1
    return out


def test_a_backfill_in_process_writes_what_a_loopback_backfill_writes(
    sim: SimServer, tmp_path: Path
) -> None:
    run_backfill(_settings(tmp_path / "loopback", sim.base_url), CHICAGO, *DAYS)
    transport = SimTransport(seed=FIXTURE_SEED, now=FIXTURE_NOW)
    summary = run_backfill(
        _settings(tmp_path / "in-process", SimTransport.base_url),
        CHICAGO,
        *DAYS,
        transport=transport,
    )
    # Three days of both families (Chicago has highs and lows).
    assert summary.status == "ok" and summary.events == 3 * 2
    assert summary.requests == transport.stats()["requests"]
    pages = _pages(tmp_path / "in-process")
    assert {k[0] for k in pages} >= {"series", "events", "trades"}
    assert pages == _pages(tmp_path / "loopback")


def test_a_backfill_in_process_recovers_from_every_fault(tmp_path: Path) -> None:
    clean = SimTransport(seed=FIXTURE_SEED, now=FIXTURE_NOW)
    run_backfill(_settings(tmp_path / "clean", clean.base_url), CHICAGO, *DAYS, transport=clean)
    faulty = SimTransport(seed=FIXTURE_SEED, now=FIXTURE_NOW, **BACKFILL_FAULTS)
    summary = run_backfill(
        _settings(tmp_path / "faulty", faulty.base_url), CHICAGO, *DAYS, transport=faulty
    )
    faults = faulty.stats()["faults"]
    assert faults["failed"] and faults["dropped"] and faults["malformed"], json.dumps(faults)
    assert summary.status == "ok" and not summary.failures
    assert set(_pages(tmp_path / "faulty")) == set(_pages(tmp_path / "clean"))
