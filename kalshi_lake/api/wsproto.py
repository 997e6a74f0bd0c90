"""Kalshi's WebSocket protocol without a socket: the URL, commands, frame heads, seq accounting.

What the protocol says (https://docs.kalshi.com/websockets/websocket-connection) and what the wire
shows where the docs are thin:

- Every server frame is one JSON text object with ``type``; most carry ``sid`` (the subscription),
  sequenced ones ``seq``, command replies ``id``, the payload is ``msg``.
- ``seq`` counts per sid, not per market: the snapshots and deltas of every market on one
  subscription share one counter. Every frame that carries a ``seq`` consumes one, whatever its
  type: data, ``ok`` acks, errors tied to a subscription, ``unsubscribed``, in-stream snapshots.
  ``subscribed`` and ``ticker`` frames carry none. A new sid (a new subscribe, or any reconnect:
  sids belong to the connection) starts again at 1.
- There is no replay: a lost frame is found only as a hole in its sid's ``seq``, and repaired by a
  fresh order book snapshot and a REST catch-up of trades.

Frame heads (:func:`parse_head`, cheap and exact) are :mod:`kalshi_lake.api.wshead`'s job; the
recorder keeps every frame's text verbatim whatever its head says.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# Frame heads live in their own module; re-exported here, the protocol's one entry point.
from kalshi_lake.api.wshead import CHANNEL_OF_TYPE, FrameHead, parse_head

__all__ = [
    "BUFFER_OVERFLOW",
    "CHANNELS",
    "CHANNEL_OF_TYPE",
    "WS_PATH",
    "Commands",
    "FrameHead",
    "SeqBreak",
    "SeqTracker",
    "parse_head",
    "ws_url_for",
]

#: The WebSocket path; the handshake signs ``timestamp + "GET" + WS_PATH``.
WS_PATH = "/trade-api/ws/v2"

#: The market-data channels the recorder follows.
CHANNELS = ("orderbook_delta", "trade", "ticker", "market_lifecycle_v2")

#: Error code of "Subscription buffer overflow": the server lost frames of that subscription.
BUFFER_OVERFLOW = 25


def ws_url_for(api_url: str) -> str:
    """The WebSocket URL that goes with a REST base URL.

    ``https://external-api.kalshi.com/trade-api/v2`` gives
    ``wss://external-api-ws.kalshi.com/trade-api/ws/v2`` (the dedicated WebSocket host of the
    dedicated REST host, https://docs.kalshi.com/getting_started/api_environments); any other host
    (``api.elections.kalshi.com``, ``demo-api.kalshi.co``, a simulator on loopback) serves both on
    the same host. ``http`` becomes ``ws`` and ``https`` becomes ``wss``.
    """
    parts = urlsplit(api_url)
    scheme = {"https": "wss", "http": "ws"}.get(parts.scheme, parts.scheme)
    host = parts.netloc
    name, dot, domain = host.partition(".")
    if name == "external-api" and dot:
        host = f"external-api-ws.{domain}"
    prefix = parts.path.rstrip("/")
    if prefix.endswith("/trade-api/v2"):
        prefix = prefix[: -len("/trade-api/v2")]
    return urlunsplit((scheme, host, prefix + WS_PATH, "", ""))


class Commands:
    """Builds client commands with ids unique within one connection (1, 2, 3, ...)."""

    def __init__(self) -> None:
        self._last_id = 0

    def _next(self, cmd: str, params: dict[str, Any] | None) -> dict[str, Any]:
        self._last_id += 1
        out: dict[str, Any] = {"id": self._last_id, "cmd": cmd}
        if params is not None:
            out["params"] = params
        return out

    def subscribe(
        self, channels: Iterable[str], tickers: Iterable[str] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """``subscribe``; without tickers the channel's default applies (all markets)."""
        params: dict[str, Any] = {"channels": list(channels)}
        if tickers is not None:
            params["market_tickers"] = list(tickers)
        params.update(extra)
        return self._next("subscribe", params)

    def update(self, sid: int, action: str, tickers: Iterable[str]) -> dict[str, Any]:
        """``update_subscription`` (``add_markets``, ``delete_markets`` or ``get_snapshot``)."""
        params = {"sids": [sid], "market_tickers": list(tickers), "action": action}
        return self._next("update_subscription", params)

    def unsubscribe(self, sids: Iterable[int]) -> dict[str, Any]:
        """``unsubscribe`` (only ``sids`` is accepted)."""
        return self._next("unsubscribe", {"sids": list(sids)})

    def list_subscriptions(self) -> dict[str, Any]:
        """``list_subscriptions`` (no params)."""
        return self._next("list_subscriptions", None)


@dataclass(frozen=True, slots=True)
class SeqBreak:
    """A frame whose ``seq`` is not the one its sid expected."""

    sid: int
    expected: int
    got: int

    @property
    def missing(self) -> int:
        """Frames lost before this one (0 for a repeat or a step back)."""
        return max(0, self.got - self.expected)

    @property
    def kind(self) -> str:
        """``gap`` (frames lost) or ``repeat`` (a seq already seen, or one going back)."""
        return "gap" if self.got > self.expected else "repeat"


class SeqTracker:
    """Per-sid ``seq`` accounting for one connection."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}
        #: sid -> channel, from ``subscribed`` frames.
        self.channels: dict[int, str] = {}

    def observe(self, head: FrameHead) -> SeqBreak | None:
        """Account for one received frame; the break it reveals, if any.

        A sid's first sequenced frame must carry seq 1; after a break the count goes on from the
        frame received (the hole is reported once).
        """
        if head.type == "subscribed" and head.sid is not None and head.channel:
            self.channels[head.sid] = head.channel
            self._next.setdefault(head.sid, 1)
            return None
        if head.sid is None or head.seq is None:
            return None
        expected = self._next.get(head.sid, 1)
        if head.seq == expected:
            self._next[head.sid] = expected + 1
            return None
        if head.seq > expected:
            self._next[head.sid] = head.seq + 1
        return SeqBreak(head.sid, expected, head.seq)

    def forget(self, sid: int) -> None:
        """Drop a sid (after ``unsubscribed``): a later frame on it starts a fresh count."""
        self._next.pop(sid, None)
        self.channels.pop(sid, None)

    def channel_of(self, head: FrameHead) -> str | None:
        """The frame's channel: its own, or its sid's."""
        if head.channel:
            return head.channel
        return self.channels.get(head.sid) if head.sid is not None else None
