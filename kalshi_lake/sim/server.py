"""The simulator's HTTP/1.1 server: asyncio streams on loopback, keep-alive, faults, stats.

``SimServer(cfg).start()`` runs the server in a background thread with its own event loop
(tests, benchmarks); :func:`run_sim` serves in the foreground until SIGINT/SIGTERM (the CLI).
Handlers run in a small thread pool so one slow request (a cold listing) never stalls the loop;
faults, the rate limit, counters, the clock and the reply cache are the shared
:class:`~kalshi_lake.sim.front.Front`. Responses carry no Date header or any other wall-clock
field, so equal requests get byte-identical answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from types import TracebackType
from typing import Any

from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import SimConfig
from kalshi_lake.sim.front import Front
from kalshi_lake.sim.wire import JSON, PREFIX, dumps
from kalshi_lake.sim.world import World
from kalshi_lake.sim.ws import WS_PATH, WsEndpoint

__all__ = ["SimConfig", "SimServer", "run_sim"]

_MAX_HEADER = 64 * 1024
#: The WebSocket endpoint's counters (not counted, never limited, like ``/_sim/stats``).
WS_STATS_PATHS = ("/_sim/ws", PREFIX + "/_sim/ws")


class SimServer:
    """A running simulator. Use as a context manager or call :meth:`start` / :meth:`stop`.

    ``clock``: the simulated clock (default: from the config's ``now`` and ``speed``; tests pass
    ``SimClock.manual(start)`` and move it). REST answers and the WebSocket endpoint
    (``/trade-api/ws/v2``) both read it.
    """

    def __init__(
        self, config: SimConfig | None = None, *, clock: SimClock | None = None, **overrides: Any
    ) -> None:
        cfg = (config or SimConfig()).started(**overrides)
        self.config = cfg
        self._front = Front(cfg, clock)
        #: The simulated clock every answer (REST and WebSocket) is computed at.
        self.clock = self._front.clock
        #: The world at the clock's start (:meth:`world_now` for the current instant's).
        self.world = self._front.world
        self.app = self._front.app
        #: The WebSocket endpoint (``/trade-api/ws/v2``), sharing the world and the clock.
        self.ws = WsEndpoint(cfg, self.world, self.clock)
        self._pool: ThreadPoolExecutor | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.host = cfg.host
        self.port: int | None = None

    # -----------------------------------------------------------------------------------------
    # public surface

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT/trade-api/v2`` (available once started)."""
        if self.port is None:
            raise RuntimeError("the simulator is not running")
        return f"http://{self.host}:{self.port}{PREFIX}"

    def stats(self) -> dict[str, Any]:
        """Counters, the same dict ``GET /_sim/stats`` returns."""
        return self._front.stats.snapshot()

    def world_now(self) -> World:
        """The world at the clock's now (the same object the REST answers use at that instant)."""
        return self._front.world_now()

    def start(self) -> SimServer:
        """Serve in a background thread; returns once the socket is listening."""
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._main(ready.set))
            except BaseException as exc:  # surfaced to the starting thread
                errors.append(exc)
            finally:
                ready.set()
                loop.close()

        self._thread = threading.Thread(target=run, name="kalshi-sim", daemon=True)
        self._thread.start()
        ready.wait(60)
        if errors:
            raise errors[0]
        if self.port is None:
            raise RuntimeError("the simulator did not start")
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(30)
        self._thread = None

    def __enter__(self) -> SimServer:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def serve_forever(self, on_ready: Callable[[str], None] | None = None) -> None:
        """Serve in the current thread until SIGINT or SIGTERM; ``on_ready(base_url)`` first."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            self._loop = loop
            self._stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self._stop.set)
            await self._main(lambda: on_ready(self.base_url) if on_ready else None)

        asyncio.run(main())

    # -----------------------------------------------------------------------------------------
    # the loop

    async def _main(self, ready: Callable[[], object]) -> None:
        if self._stop is None:
            self._stop = asyncio.Event()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kalshi-sim-handler")
        server = await asyncio.start_server(
            self._client, self.host, self.config.port, limit=_MAX_HEADER, backlog=512
        )
        self.port = server.sockets[0].getsockname()[1]
        ready()
        try:
            await self._stop.wait()
        finally:
            server.close()
            # Hanging up makes every connection handler return on its own; cancelling them would
            # trip asyncio's stream callback on 3.11.
            for w in list(self._writers):
                w.transport.abort()
            current = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not current]
            if tasks:
                _, pending = await asyncio.wait(tasks, timeout=5)
                for t in pending:
                    t.cancel()
            await server.wait_closed()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self.ws.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await self._send(writer, 431, b"", JSON, keep=False)
                    return
                lines = head.decode("latin-1").split("\r\n")
                try:
                    method, target, version = lines[0].split(" ", 2)
                except ValueError:
                    await self._send(writer, 400, b"", JSON, keep=False)
                    return
                if target.partition("?")[0] == WS_PATH:
                    # The WebSocket endpoint takes the connection over, handshake included.
                    await self.ws.serve(reader, writer, head)
                    return
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                length = headers.get("content-length", "0")
                if length.isdigit() and int(length):
                    await reader.readexactly(int(length))
                conn = headers.get("connection", "").lower()
                keep = conn != "close" if version == "HTTP/1.1" else conn == "keep-alive"
                if target.partition("?")[0] in WS_STATS_PATHS:
                    body = dumps(self.ws.stats_payload())
                    await self._send(writer, 200, body, JSON, keep)
                    if not keep:
                        return
                    continue
                language = headers.get("accept-language")
                if not await self._respond(method, target, writer, keep, language) or not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _respond(
        self,
        method: str,
        target: str,
        writer: asyncio.StreamWriter,
        keep: bool,
        language: str | None = None,
    ) -> bool:
        """Answer one request; False when the connection must be closed."""
        answer = await self._front.answer(method, target, self._pool, language)
        if answer.drop:
            writer.transport.abort()
            return False
        await self._send(
            writer, answer.status, answer.body, answer.content_type, keep, answer.declared
        )
        if answer.declared is not None:  # a body cut on the wire: hang up mid-body
            writer.transport.abort()
            return False
        return True

    @staticmethod
    async def _send(
        writer: asyncio.StreamWriter,
        status: int,
        body: bytes,
        content_type: str,
        keep: bool,
        declared: int | None = None,
    ) -> None:
        phrase = HTTPStatus(status).phrase
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body) if declared is None else declared}\r\n"
            f"{'' if keep else 'Connection: close' + chr(13) + chr(10)}\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        if writer.transport.get_write_buffer_size() > 256 * 1024:
            await writer.drain()


def run_sim(config: SimConfig, on_ready: Callable[[str], None]) -> None:
    """Serve ``config`` in the foreground until SIGINT/SIGTERM (the ``kalshi-lake sim`` command)."""
    SimServer(config).serve_forever(on_ready)
