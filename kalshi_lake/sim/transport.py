"""The simulator as an httpx transport: in-process, no socket, no server thread.

``SimTransport(SimConfig(...))`` answers through the same :class:`~kalshi_lake.sim.front.Front`
as :class:`~kalshi_lake.sim.server.SimServer`, so a request sequence gets the same bodies and the
same seeded faults (latency, 429s, 5xx, truncated bodies, dropped connections) as over loopback.
Hand it to anything that takes an httpx transport::

    transport = SimTransport(SimConfig(seed=7, now=FIXTURE_NOW, fail_rate=0.1))
    run_backfill(Settings(lake=..., api_url=SimTransport.base_url), city, start, end,
                 transport=transport)

A dropped connection raises ``httpx.RemoteProtocolError`` when the request is sent; a body cut on
the wire raises it while the body is read, as httpx does against a real server. The loopback
server stays for end-to-end tests (the CLI, child processes, ``kill -9``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import SimConfig
from kalshi_lake.sim.front import Front
from kalshi_lake.sim.wire import PREFIX

__all__ = ["SimTransport"]


class _CutStream(httpx.AsyncByteStream):
    """A body that stops short of its Content-Length: the peer hung up mid-body."""

    def __init__(self, body: bytes, declared: int, request: httpx.Request) -> None:
        self._body = body
        self._declared = declared
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self._body
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body "
            f"(received {len(self._body)} bytes, expected {self._declared})",
            request=self._request,
        )


class SimTransport(httpx.AsyncBaseTransport):
    """An in-process simulator (same arguments as :class:`~kalshi_lake.sim.server.SimServer`).

    ``world`` and ``app`` are the simulator's; :meth:`stats` is the ``/_sim/stats`` dict. Any host
    works in request URLs; :attr:`base_url` is a conventional one.
    """

    #: A base URL for clients of this transport (the host is never resolved).
    base_url = f"http://kalshi-sim.invalid{PREFIX}"

    def __init__(
        self, config: SimConfig | None = None, *, clock: SimClock | None = None, **overrides: Any
    ) -> None:
        cfg = (config or SimConfig()).started(**overrides)
        self.config = cfg
        self._front = Front(cfg, clock)
        self.clock = self._front.clock
        self.world = self._front.world
        self.app = self._front.app

    def stats(self) -> dict[str, Any]:
        """Counters, the same dict ``GET /_sim/stats`` returns."""
        return self._front.stats.snapshot()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer ``request`` from the simulator (what the server would send for it)."""
        await request.aread()
        target = request.url.raw_path.decode("ascii")
        language = request.headers.get("accept-language")
        answer = await self._front.answer(request.method, target, accept_language=language)
        if answer.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        length = len(answer.body) if answer.declared is None else answer.declared
        headers = [("Content-Type", answer.content_type), ("Content-Length", str(length))]
        stream: httpx.AsyncByteStream = (
            httpx.ByteStream(answer.body)
            if answer.declared is None
            else _CutStream(answer.body, answer.declared, request)
        )
        return httpx.Response(answer.status, headers=headers, stream=stream, request=request)
