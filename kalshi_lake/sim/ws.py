"""The simulator's WebSocket endpoint, ``/trade-api/ws/v2`` on the simulator's own port.

The hand-written HTTP server (:mod:`kalshi_lake.sim.server`) reads a request head; for this path
it hands the connection to :meth:`WsEndpoint.serve`, which drives the ``websockets`` library's
sans-I/O :class:`~websockets.server.ServerProtocol` over the same asyncio streams: the handshake
(HTTP 401 JSON without valid ``KALSHI-ACCESS-*`` headers, :mod:`kalshi_lake.sim.ws_auth`), then
frames. Per connection one task owns the :class:`~kalshi_lake.sim.ws_session.Session`: every
tick (and at each client command) it reads the simulated clock and streams what happened since
the last tick, in a worker thread so a firehose's first tapes never stall the event loop.
Kalshi pings every 10 s with payload ``heartbeat``
(https://docs.kalshi.com/websockets/connection-keep-alive); the protocol object answers the
client's pings and closes.

Disconnects: a ``ws_disconnect_rate`` fault cuts the TCP connection without a close frame (a
network drop); the maintenance window (``ws_maintenance``: Thursdays 03:00-05:00 ET,
https://docs.kalshi.com/getting_started/maintenance_and_pauses) closes with code 1001 and
refuses new handshakes with HTTP 503 until it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from websockets.datastructures import Headers
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

from kalshi_lake.sim.config import SimConfig
from kalshi_lake.sim.model import ET, from_us
from kalshi_lake.sim.world import World
from kalshi_lake.sim.ws_auth import WS_PATH, HandshakeAuth, Rejection
from kalshi_lake.sim.ws_feed import Feed
from kalshi_lake.sim.ws_session import Session

__all__ = ["WS_PATH", "Clock", "WsEndpoint", "in_maintenance"]

#: How often (real seconds) a connection looks at the clock when the client is quiet.
TICK_S = 0.05
#: Client messages larger than this close the connection (1009); commands are tiny.
MAX_MESSAGE = 1 << 20
MAINTENANCE = Rejection.of(503, code="service_unavailable", details="scheduled maintenance")
_log = logging.getLogger(__name__)


class Clock(Protocol):
    """The simulated clock the endpoint reads (the server's)."""

    def now_us(self) -> int:
        """Simulated now, UTC microseconds."""
        ...


def in_maintenance(now_us: int) -> bool:
    """True inside Kalshi's weekly maintenance window, Thursday 03:00-05:00 ET."""
    local = from_us(now_us).astimezone(ET)
    return local.weekday() == 3 and 3 <= local.hour < 5


@dataclass
class WsStats:
    """Counters over every connection (what tests and the stats endpoint read)."""

    handshakes: int = 0
    accepted: int = 0
    rejected: int = 0
    closed_for_maintenance: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return dict(vars(self))


class WsEndpoint:
    """The WebSocket side of one simulator: handshake checks, connections and their counters."""

    def __init__(self, config: SimConfig, world: World, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self.feed = Feed(world)
        self.auth = HandshakeAuth.from_config(config)
        self.stats = WsStats()
        self.sessions: list[Session] = []  # every connection accepted, in order (tests read them)
        self._lock = threading.Lock()
        # Sessions compute in these threads; the REST handlers keep their own pool.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="kalshi-sim-ws")

    def session_counts(self) -> dict[str, int]:
        """Frame counters summed over every connection (data, dropped, overflow, ...)."""
        total: dict[str, int] = {}
        with self._lock:
            sessions = list(self.sessions)
        for s in sessions:
            for k, v in s.counts.items():
                total[k] = total.get(k, 0) + v
        return total

    def close(self) -> None:
        """Release the worker threads (the server's shutdown)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        """Run one connection whose request head (through the blank line) was already read."""
        extensions = [ServerPerMessageDeflateFactory()] if self.config.ws_deflate else None
        proto = ServerProtocol(extensions=extensions, max_size=MAX_MESSAGE)
        proto.receive_data(head)
        events = proto.events_received()
        request = events[0] if events and isinstance(events[0], Request) else None
        self.stats.handshakes += 1
        if request is None:  # not parseable as an HTTP request: the protocol has answered 400
            self.stats.rejected += 1
            await _flush(proto, writer)
            return
        rejection = self.auth.check(request.headers)
        if rejection is None and self.config.ws_maintenance and in_maintenance(self.clock.now_us()):
            rejection = MAINTENANCE
        if rejection is not None:
            self.stats.rejected += 1
            proto.send_response(_json_response(rejection))
            await _flush(proto, writer)
            return
        response = proto.accept(request)
        proto.send_response(response)
        await _flush(proto, writer)
        if response.status_code != 101:  # not a valid upgrade (426, 400)
            self.stats.rejected += 1
            return
        self.stats.accepted += 1
        with self._lock:
            session = Session(self.feed, self.config, len(self.sessions) + 1)
            self.sessions.append(session)
        await _Connection(self, proto, session, reader, writer).run()


def _json_response(rejection: Rejection) -> Response:
    headers = Headers()
    headers["Content-Type"] = "application/json; charset=utf-8"
    headers["Content-Length"] = str(len(rejection.body))
    headers["Connection"] = "close"
    phrase = {401: "Unauthorized", 503: "Service Unavailable"}.get(rejection.status, "Error")
    return Response(rejection.status, phrase, headers, rejection.body)


async def _flush(proto: ServerProtocol, writer: asyncio.StreamWriter) -> bool:
    """Write what the protocol queued; False once it asked for the connection to end."""
    more = True
    for chunk in proto.data_to_send():
        if chunk:
            writer.write(chunk)
        else:
            more = False  # b"" is the protocol's end-of-stream marker
    with contextlib.suppress(ConnectionError):
        await writer.drain()
    return more


class _Connection:
    """One accepted connection: a reader task feeding the protocol, and the session's loop."""

    def __init__(
        self,
        endpoint: WsEndpoint,
        proto: ServerProtocol,
        session: Session,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.endpoint = endpoint
        self.proto = proto
        self.session = session
        self.reader = reader
        self.writer = writer
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._parts: list[bytes] = []

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        reading = asyncio.create_task(self._read())
        cfg = self.endpoint.config
        next_ping = loop.time() + cfg.ws_ping_interval_s
        try:
            while self.proto.state is State.OPEN:
                try:
                    text = await asyncio.wait_for(self.inbox.get(), timeout=TICK_S)
                except TimeoutError:
                    text = ""
                if text is None:
                    break
                now = self.endpoint.clock.now_us()
                if cfg.ws_maintenance and in_maintenance(now):
                    self.endpoint.stats.closed_for_maintenance += 1
                    self.proto.send_close(1001, "scheduled maintenance")
                    await _flush(self.proto, self.writer)
                    break
                step = self.session.handle if text else self.session.advance
                args = (text, now) if text else (now,)
                await loop.run_in_executor(self.endpoint._pool, step, *args)  # type: ignore[arg-type]
                outbox, self.session.outbox = self.session.outbox, []
                if self.proto.state is not State.OPEN:
                    break  # the client closed while the step ran
                for frame in outbox:
                    self.proto.send_text(frame.encode())
                if loop.time() >= next_ping:
                    self.proto.send_ping(b"heartbeat")
                    next_ping = loop.time() + cfg.ws_ping_interval_s
                if self.session.abort:
                    await _flush(self.proto, self.writer)
                    self.writer.transport.abort()
                    break
                if not await _flush(self.proto, self.writer):
                    break
        except ConnectionError:
            pass
        except Exception:
            # A simulator bug must not pass for a network fault: close with 1011 (internal
            # error) and leave the traceback in the log.
            _log.exception("WebSocket session %d failed", self.session.conn)
            with contextlib.suppress(Exception):
                self.proto.fail(1011, "internal error")
                await _flush(self.proto, self.writer)
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await reading
            if not self.writer.transport.is_closing():
                self.writer.close()

    async def _read(self) -> None:
        """Feed the socket's bytes to the protocol; queue each complete client text message."""
        try:
            while True:
                data = await self.reader.read(65536)
                if data:
                    self.proto.receive_data(data)
                else:
                    self.proto.receive_eof()
                for event in self.proto.events_received():
                    if isinstance(event, Frame):
                        self._frame(event)
                await _flush(self.proto, self.writer)  # pongs, the close handshake
                if not data or self.proto.state is State.CLOSED:
                    break
        except ConnectionError:
            pass
        finally:
            self.inbox.put_nowait(None)

    def _frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
            self._parts.append(bytes(frame.data))
            if frame.fin:
                text = b"".join(self._parts).decode("utf-8", "replace")
                self._parts.clear()
                # An empty text cannot be confused with the loop's "tick": it is not JSON
                # either way, and the session answers error 1 for it.
                self.inbox.put_nowait(text or " ")
        elif frame.opcode is Opcode.PONG:
            self.session.pong(bytes(frame.data))
        elif frame.opcode is Opcode.CLOSE:
            _log.debug("ws client closed: %r", frame)
