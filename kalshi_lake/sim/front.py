"""The simulator's front door: everything between a request and :meth:`SimApp.handle`.

:class:`Front` answers the stats endpoint, draws the request's seeded faults, applies latency and
the token bucket, counts, and caches :class:`~kalshi_lake.sim.wire.Reply` objects by request
target and simulated instant. Every answer is computed at the :class:`~kalshi_lake.sim.clock.
SimClock`'s now when the request arrives (a :class:`World` per instant: statuses, trades up to
now, the book at now, the cutoff), so a cached reply is only ever served at the instant it was
made; a clock moving at a speed caches nothing. The loopback server
(:mod:`kalshi_lake.sim.server`) and the in-process transport (:mod:`kalshi_lake.sim.transport`)
both go through it, so they answer and misbehave alike; each only turns an :class:`Answer` into
bytes on a socket or an ``httpx.Response``.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass

from kalshi_lake.sim.api import SimApp
from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import SimConfig
from kalshi_lake.sim.faults import (
    RATE_LIMITED_BODY,
    CursorFault,
    Faults,
    PayloadFaults,
    Stats,
    TokenBucket,
    cut_body,
)
from kalshi_lake.sim.language import requested_language, translated_reply
from kalshi_lake.sim.model import fmt_ts, from_us
from kalshi_lake.sim.wire import JSON, PREFIX, Reply, dumps
from kalshi_lake.sim.world import World

__all__ = ["CLOCK_PATHS", "STATS_PATHS", "Answer", "Front"]

STATS_PATHS = ("/_sim/stats", PREFIX + "/_sim/stats")
CLOCK_PATHS = ("/_sim/clock", PREFIX + "/_sim/clock")
_CACHE_BYTES = 192 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Answer:
    """What to send for one request: a status, body and content type, or nothing (``drop``).

    ``declared`` is set for a body cut on the wire: the Content-Length promised (the whole body's)
    while only ``body`` is sent before the connection is closed.
    """

    status: int = 0
    body: bytes = b""
    content_type: str = JSON
    drop: bool = False
    declared: int | None = None


class _ReplyCache:
    """An LRU of replies by request target, bounded by total body bytes (one event loop only)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[str, Reply] = OrderedDict()

    def get(self, key: str) -> Reply | None:
        reply = self.items.get(key)
        if reply is not None:
            self.items.move_to_end(key)
        return reply

    def put(self, key: str, reply: Reply) -> None:
        if len(reply.body) > self.max_bytes // 8 or key in self.items:
            return
        self.items[key] = reply
        self.size += len(reply.body)
        while self.size > self.max_bytes:
            _, old = self.items.popitem(last=False)
            self.size -= len(old.body)


class Front:
    """One simulator's clock, worlds, app, faults, token bucket, counters and reply cache.

    ``config.now`` must be set (callers fix the start first, see :meth:`SimConfig.resolved_now`).
    ``clock``: the simulated clock (default: ``SimClock(config.now, config.speed)``; tests pass
    ``SimClock.manual(...)``). ``world`` and ``app`` are those of the clock's instant at start;
    :meth:`at` gives those of any instant.
    """

    def __init__(self, config: SimConfig, clock: SimClock | None = None) -> None:
        self.config = config
        self.clock = clock if clock is not None else SimClock(config.resolved_now(), config.speed)
        self._cursor_fault = CursorFault.from_config(config)
        self._payload_faults = PayloadFaults.from_config(config)
        self._lock = threading.Lock()
        start = self.clock.now_us()
        self.world, self.app = self._make(start)
        self._current = (start, self.world, self.app)
        self.stats = Stats()
        self.faults = Faults(config)
        self.bucket = TokenBucket(config.rate, config.effective_burst) if config.rate else None
        self.cache = _ReplyCache(_CACHE_BYTES)

    def _make(self, now_us: int) -> tuple[World, SimApp]:
        world = World(self.config.seed, from_us(now_us), self.config.cutoff_lag_days)
        return world, SimApp(world, self._cursor_fault, self._payload_faults)

    def at(self, now_us: int) -> tuple[World, SimApp]:
        """The world and routes at simulated instant ``now_us`` (the last instant's are kept, so
        a frozen or manual clock builds one per instant it visits)."""
        current = self._current
        if current[0] == now_us:
            return current[1], current[2]
        with self._lock:
            if self._current[0] != now_us:
                world, app = self._make(now_us)
                self._current = (now_us, world, app)
            return self._current[1], self._current[2]

    def world_now(self) -> World:
        """The world at the clock's now."""
        return self.at(self.clock.now_us())[0]

    def clock_snapshot(self) -> dict[str, object]:
        """What ``GET /_sim/clock`` answers: the simulated now and how the clock moves."""
        now = self.clock.now_us()
        mode = "manual" if self.clock.is_manual else "frozen" if self.clock.is_frozen else "moving"
        return {"mode": mode, "now": fmt_ts(now), "now_us": now, "speed": self.clock.speed}

    async def answer(
        self,
        method: str,
        target: str,
        executor: Executor | None = None,
        accept_language: str | None = None,
    ) -> Answer:
        """The answer to ``method target`` (target: path and query, as on the request line).

        :meth:`SimApp.handle` runs on ``executor`` (None: the loop's default), so a slow cold
        listing never stalls the event loop. ``accept_language`` is the request's header: a
        language Kalshi translates into gets translated titles (:mod:`kalshi_lake.sim.language`).
        """
        path = target.partition("?")[0]
        if path in STATS_PATHS:
            return Answer(200, dumps(self.stats.snapshot()))
        if path in CLOCK_PATHS:
            return Answer(200, dumps(self.clock_snapshot()))
        # The instant the request arrived: the whole answer is computed there.
        now_us = self.clock.now_us()
        _, app = self.at(now_us)
        self.stats.language(accept_language)
        endpoint = app.endpoint(target)
        plan = self.faults.draw()
        if plan.delay_s > 0:
            self.stats.fault("delayed")
            await asyncio.sleep(plan.delay_s)
        if self.bucket is not None and not self.bucket.take():
            self.stats.record(endpoint, "429", "rate_limited")
            return Answer(429, RATE_LIMITED_BODY)
        fail_on = self.config.fail_on
        if fail_on is not None and fail_on in target:
            status = self.config.fail_on_status
            self.stats.record(endpoint, str(status), "failed")
            code = "not_found" if status == 404 else "internal_server_error"
            return Answer(
                status, dumps({"error": {"code": code, "message": code.replace("_", " ")}})
            )
        if plan.drop:
            self.stats.record(endpoint, "dropped", "dropped")
            return Answer(drop=True)
        if plan.fail is not None:
            status, ctype, body = plan.fail
            self.stats.record(endpoint, str(status), "failed")
            return Answer(status, body, ctype)
        # Never an answer from another instant: the key holds the instant, and a clock moving
        # at a speed (a new instant every request) skips the cache.
        caching = self.clock.speed is None
        key = f"{now_us} {method} {target}"
        reply = self.cache.get(key) if caching else None
        if reply is None:
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(executor, app.handle, method, target)
            if caching:
                self.cache.put(key, reply)
        lang = requested_language(accept_language)
        if lang is not None:
            reply = translated_reply(reply, lang)
        if plan.malformed is not None and len(reply.body) > 1:
            self.stats.record(reply.endpoint, str(reply.status), "malformed")
            body = cut_body(reply.body, plan.cut_fraction)
            # "short": promise the whole body, send part of it, hang up.
            declared = len(reply.body) if plan.malformed == "short" else None
            return Answer(reply.status, body, reply.content_type, declared=declared)
        self.stats.record(reply.endpoint, str(reply.status))
        return Answer(reply.status, reply.body, reply.content_type)
