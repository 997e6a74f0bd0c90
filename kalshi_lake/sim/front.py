"""The simulator's front door: everything between a request and :meth:`SimApp.handle`.

:class:`Front` answers the stats endpoint, draws the request's seeded faults, applies latency and
the token bucket, counts, and caches :class:`~kalshi_lake.sim.wire.Reply` objects by request
target (safe because the world is frozen at ``now``). The loopback server
(:mod:`kalshi_lake.sim.server`) and the in-process transport (:mod:`kalshi_lake.sim.transport`)
both go through it, so they answer and misbehave alike; each only turns an :class:`Answer` into
bytes on a socket or an ``httpx.Response``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from concurrent.futures import Executor
from dataclasses import dataclass

from kalshi_lake.sim.api import SimApp
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
from kalshi_lake.sim.wire import JSON, PREFIX, Reply, dumps
from kalshi_lake.sim.world import World

__all__ = ["STATS_PATHS", "Answer", "Front"]

STATS_PATHS = ("/_sim/stats", PREFIX + "/_sim/stats")
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
    """One simulator's world, app, faults, token bucket, counters and reply cache.

    ``config.now`` must be set (callers freeze the clock first, see :meth:`SimConfig.resolved_now`).
    """

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.world = World.from_config(config)
        self.app = SimApp(
            self.world, CursorFault.from_config(config), PayloadFaults.from_config(config)
        )
        self.stats = Stats()
        self.faults = Faults(config)
        self.bucket = TokenBucket(config.rate, config.effective_burst) if config.rate else None
        self.cache = _ReplyCache(_CACHE_BYTES)

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
        self.stats.language(accept_language)
        endpoint = self.app.endpoint(target)
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
        key = f"{method} {target}"
        reply = self.cache.get(key)
        if reply is None:
            loop = asyncio.get_running_loop()
            reply = await loop.run_in_executor(executor, self.app.handle, method, target)
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
