"""One WebSocket connection to Kalshi's market-data API: the socket seam of the live recorder.

:class:`WsConnection` opens ``/trade-api/ws/v2`` with the signed handshake (the three
``KALSHI-ACCESS-*`` headers over ``timestamp + "GET" + "/trade-api/ws/v2"``; the connection needs
a key even for public channels, https://docs.kalshi.com/websockets/websocket-connection), sends
commands and receives frames. Every frame in either direction is handed to ``on_frame`` as a
:class:`WireFrame` (its text verbatim, its receive or send time in UTC microseconds, its
direction and head) before anything else looks at it, so the recorder can journal it first.

Failures map onto the error tree: a handshake refused with 401 or 403 is :class:`AuthRefusedError`
(exit 2: a refused key never heals by retrying); anything else that ends or prevents a connection
(refused, reset, closed by the server, a handshake timeout, any other status) is
:class:`~kalshi_lake.errors.ConnectionDroppedError`, transient, for the caller's reconnect loop.
Kalshi pings every 10 seconds; the ``websockets`` library answers. Frames arrive decompressed
when the server uses ``permessage-deflate``, so the text kept is what Kalshi meant to send.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, NamedTuple

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from kalshi_lake.api.auth import Signer
from kalshi_lake.api.wsproto import WS_PATH, FrameHead, parse_head
from kalshi_lake.errors import AuthRefusedError, ConnectionDroppedError

#: Largest frame accepted: a snapshot of a deep book is tens of kB; far above that is not Kalshi.
MAX_FRAME_BYTES = 16 * 1024 * 1024


def now_us() -> int:
    """Wall-clock UTC microseconds."""
    return time.time_ns() // 1000


class WireFrame(NamedTuple):
    """One frame as it crossed the wire (a named tuple: one is made per frame, and a frozen
    dataclass cost twice as much)."""

    recv_us: int
    #: ``"in"`` (from the server) or ``"out"`` (a command we sent).
    direction: str
    text: str
    head: FrameHead


class WsConnection:
    """An open connection; use ``async with WsConnection(...) as conn``."""

    def __init__(
        self,
        url: str,
        signer: Signer | None,
        *,
        on_frame: Callable[[WireFrame], None] | None = None,
        open_timeout: float = 15.0,
        clock_us: Callable[[], int] = now_us,
    ) -> None:
        self.url = url
        self._signer = signer
        self._on_frame = on_frame
        self._open_timeout = open_timeout
        self._clock_us = clock_us
        self._ws: ClientConnection | None = None

    async def __aenter__(self) -> WsConnection:
        headers = self._signer.sign("GET", WS_PATH) if self._signer is not None else {}
        try:
            self._ws = await websockets.connect(
                self.url,
                additional_headers=headers,
                open_timeout=self._open_timeout,
                max_size=MAX_FRAME_BYTES,
                # Kalshi pings every 10 s; our own pings would only add traffic.
                ping_interval=None,
                proxy=None,
            )
        except InvalidStatus as exc:
            status = exc.response.status_code
            body = exc.response.body.decode("utf-8", "replace").strip()[:200] or "no body"
            if status in (401, 403):
                raise AuthRefusedError(
                    f"the WebSocket handshake at {self.url} was refused ({status}: {body}); "
                    "check KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH (a key for this "
                    "environment, not revoked) and the machine's clock"
                ) from None
            raise ConnectionDroppedError(
                f"the WebSocket handshake at {self.url} answered {status}", status=status
            ) from None
        except (OSError, InvalidHandshake, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise ConnectionDroppedError(f"cannot open {self.url}: {reason}") from None
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection (a no-op when it is already closed)."""
        if self._ws is not None:
            ws, self._ws = self._ws, None
            # Closing a connection the server already dropped may fail; it is gone either way.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), timeout=5)

    def _conn(self) -> ClientConnection:
        if self._ws is None:
            raise ConnectionDroppedError(f"the WebSocket connection to {self.url} is closed")
        return self._ws

    async def send(self, command: dict[str, Any]) -> WireFrame:
        """Send one command; it is handed to ``on_frame`` (direction ``out``) before it leaves."""
        text = json.dumps(command, separators=(",", ":"))
        head = FrameHead(str(command.get("cmd", "unknown")), id=command.get("id"))
        frame = WireFrame(self._clock_us(), "out", text, head)
        if self._on_frame is not None:
            self._on_frame(frame)
        try:
            await self._conn().send(text)
        except ConnectionClosed as exc:
            raise _dropped(self.url, exc) from None
        return frame

    async def recv(self) -> WireFrame:
        """The next server frame (handed to ``on_frame`` first)."""
        try:
            data = await self._conn().recv()
        except ConnectionClosed as exc:
            raise _dropped(self.url, exc) from None
        recv_us = self._clock_us()
        text = data if isinstance(data, str) else data.decode("utf-8", "replace")
        frame = WireFrame(recv_us, "in", text, parse_head(text))
        if self._on_frame is not None:
            self._on_frame(frame)
        return frame

    @property
    def close_code(self) -> int | None:
        """The close code once the connection has ended (None while open)."""
        return self._ws.close_code if self._ws is not None else None


def _dropped(url: str, exc: ConnectionClosed) -> ConnectionDroppedError:
    rcvd = exc.rcvd
    code = f"close code {rcvd.code}" if rcvd is not None else "no close frame"
    reason = f" ({rcvd.reason})" if rcvd is not None and rcvd.reason else ""
    return ConnectionDroppedError(f"the WebSocket connection to {url} ended: {code}{reason}")
