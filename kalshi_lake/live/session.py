"""The live WebSocket session: subscriptions kept equal to the followed markets, every frame
journaled before it is looked at, holes found and repaired, reconnects with backoff.

:class:`WsSession` runs until stopped, one connection at a time:

1. Connect (signed handshake; a refused key ends the session with
   :class:`~kalshi_lake.errors.AuthRefusedError`, exit 2) and subscribe: ``market_lifecycle_v2``
   alone (it takes no market filter and streams every market), and ``orderbook_delta``, ``trade``
   and ``ticker`` for the followed markets with ``use_yes_price`` sent explicitly (Kalshi
   announced that its default will flip; a replay must know which scale each subscription used).
2. Every frame, both directions, becomes a :class:`~kalshi_lake.live.records.FrameRecord` for the
   journal, with its receive time, connection id, frame number, channel, sid, seq and market; the
   lifecycle firehose keeps only the frames of followed series and counts the rest. Connection
   events (connected, disconnected, gap, resync) are records too (direction ``event``).
3. ``seq`` is checked per subscription over every frame that carries one
   (:class:`~kalshi_lake.api.wsproto.SeqTracker`). A hole in an order book subscription asks for
   fresh snapshots of its markets on the same sid (``get_snapshot``); a hole in trades or
   lifecycle, an error 25 (the server's buffer overflowed) and every reconnect are handed to
   ``on_gap`` (the follower catches up from REST: trades of those markets over the span, market
   states). After an error 25 the subscription is gone, so it is made again.
4. :meth:`want` changes the followed markets at any time; the running connection adds and removes
   them with ``update_subscription`` on each market subscription.
5. A dropped connection is recorded, then retried with exponential backoff and jitter (1 s doubling
   to 60 s); a connection that lived a minute resets the backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from kalshi_lake.api.auth import Signer
from kalshi_lake.api.ws import WireFrame, WsConnection, now_us
from kalshi_lake.api.wsproto import BUFFER_OVERFLOW, Commands, SeqBreak, SeqTracker
from kalshi_lake.cities import city_for_ticker, event_date
from kalshi_lake.errors import AuthRefusedError, ConnectionDroppedError
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: The channels subscribed per market (lifecycle is subscribed once, for every market).
MARKET_CHANNELS = ("orderbook_delta", "trade", "ticker")
LIFECYCLE = "market_lifecycle_v2"
#: The lifecycle channel's data frames: only those of followed series are kept.
FIREHOSE_TYPES = frozenset({"market_lifecycle_v2", "event_lifecycle", "event_fee_update"})
#: Reconnect backoff: first wait, cap, and how long a connection must live to reset it.
BACKOFF_FIRST_S = 1.0
BACKOFF_CAP_S = 60.0
STABLE_S = 60.0
#: How soon a connection waiting for frames notices ``stop`` or a change of the followed markets.
POLL_S = 0.2


@dataclass(frozen=True, slots=True)
class Gap:
    """A span in which frames of some markets may be missing, for the REST catch-up."""

    #: ``seq`` (a hole in a subscription), ``overflow`` (error 25) or ``disconnect``.
    reason: str
    channel: str | None
    tickers: tuple[str, ...]
    since_us: int
    until_us: int


@dataclass
class SessionStats:
    """Counters a heartbeat shows (monotonic over the session's life)."""

    connects: int = 0
    connected_since_us: int | None = None
    frames_in: int = 0
    frames_out: int = 0
    kept: int = 0
    firehose_skipped: int = 0
    gaps: int = 0
    resyncs: int = 0
    disconnects: int = 0
    last_frame_us: dict[str, int] = field(default_factory=dict)
    #: Markets on the acknowledged market subscriptions of the open connection (empty while
    #: disconnected): a quiet market in here is current, one missing is not (``status``).
    subscribed: frozenset[str] = frozenset()


class WsSession:
    """One recorder's WebSocket side (see the module doc)."""

    def __init__(
        self,
        url: str,
        signer: Signer | None,
        *,
        run_id: str,
        journal: Callable[[FrameRecord], None],
        follows: Callable[[str], bool],
        on_gap: Callable[[Gap], Awaitable[None]] | None = None,
        use_yes_price: bool = False,
        market_channels: Sequence[str] = MARKET_CHANNELS,
        clock_us: Callable[[], int] = now_us,
        seed: int | None = None,
    ) -> None:
        self.url = url
        self._signer = signer
        self._run_id = run_id
        self._journal = journal
        self._follows = follows
        self._on_gap = on_gap
        self._use_yes_price = use_yes_price
        self.market_channels = tuple(market_channels)
        self._clock_us = clock_us
        self._rng = random.Random(seed)
        self._wanted: set[str] = set()
        self._wanted_changed = asyncio.Event()
        self.stats = SessionStats()
        self._attempt = 0

    # ------------------------------------------------------------------------------------------
    # public

    def want(self, tickers: Iterable[str]) -> None:
        """Follow exactly these markets from now on (applied by the running connection)."""
        wanted = set(tickers)
        if wanted != self._wanted:
            self._wanted = wanted
            self._wanted_changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, record and reconnect until ``stop`` is set (or the key is refused)."""
        failures = 0
        down_since: int | None = None
        while not stop.is_set():
            self._attempt += 1
            conn = _Conn(self, f"{self._run_id}.{self._attempt}")
            started = self._clock_us()
            try:
                await conn.serve(stop, down_since)
                return
            except AuthRefusedError as exc:
                conn.event("refused", reason=str(exc))
                raise
            except ConnectionDroppedError as exc:
                self.stats.disconnects += 1
                self.stats.connected_since_us = None
                self.stats.subscribed = frozenset()
                down_since = conn.last_in_us or started
                conn.event("disconnected", reason=str(exc))
                log.warning("%s; reconnecting", exc)
            lived_s = (self._clock_us() - started) / 1e6
            failures = 1 if lived_s >= STABLE_S else failures + 1
            wait = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * 2 ** (failures - 1))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait * (0.5 + self._rng.random() / 2))

    # ------------------------------------------------------------------------------------------
    # used by _Conn

    def _record(self, conn_id: str, frame_no: int, frame: WireFrame, channel: str | None) -> None:
        head = frame.head
        ticker = head.market_ticker
        if head.type in FIREHOSE_TYPES and not self._follows(ticker or head.event_ticker or ""):
            self.stats.firehose_skipped += 1
            return
        city, date = _place(ticker)
        self._journal(
            FrameRecord(
                recv_us=frame.recv_us,
                conn_id=conn_id,
                frame_no=frame_no,
                direction=frame.direction,
                channel=channel,
                msg_type=head.type,
                sid=head.sid,
                seq=head.seq,
                market_ticker=ticker,
                city=city,
                date=date,
                body=frame.text,
            )
        )
        self.stats.kept += 1


@functools.lru_cache(maxsize=4096)
def _place(ticker: str | None) -> tuple[str | None, dt.date | None]:
    """The (city, climate date) partition of a market's frame; (None, None) for the rest
    (cached: every frame asks, about a few hundred markets)."""
    if not ticker:
        return None, None
    city = city_for_ticker(ticker)
    if city is None:
        return None, None
    try:
        return city.name, event_date(ticker)
    except ValueError:
        return None, None


class _Conn:
    """One connection of a session: its frame numbers, subscriptions and seq accounting."""

    def __init__(self, session: WsSession, conn_id: str) -> None:
        self.s = session
        self.conn_id = conn_id
        self._numbers = itertools.count(1)
        self.seq = SeqTracker()
        self.cmds = Commands()
        #: channel -> sid of the market subscriptions, once acknowledged
        self.sids: dict[str, int] = {}
        #: markets on the market subscriptions (as asked; acks confirm)
        self.markets: set[str] = set()
        #: command id -> channels still to be acknowledged by ``subscribed``
        self.pending: dict[int, set[str]] = {}
        self.last_in_us: int | None = None
        self._last_trade_us: int | None = None

    # records ---------------------------------------------------------------------------------

    def on_frame(self, frame: WireFrame) -> None:
        """Every frame goes to the journal first (the socket calls this)."""
        stats = self.s.stats
        if frame.direction == "in":
            stats.frames_in += 1
            self.last_in_us = frame.recv_us
        else:
            stats.frames_out += 1
        channel = self.seq.channel_of(frame.head) if frame.direction == "in" else None
        if channel:
            stats.last_frame_us[channel] = frame.recv_us
        self.s._record(self.conn_id, next(self._numbers), frame, channel)

    def event(self, what: str, **fields: object) -> None:
        """Our own record about the connection (direction ``event``)."""
        at = self.s._clock_us()
        body = json.dumps({"event": what, "at_us": at, **fields}, separators=(",", ":"))
        ticker = fields.get("market_ticker")
        city, date = _place(ticker if isinstance(ticker, str) else None)
        self.s._journal(
            FrameRecord(
                recv_us=at,
                conn_id=self.conn_id,
                frame_no=next(self._numbers),
                direction="event",
                channel=str(fields["channel"]) if fields.get("channel") else None,
                msg_type=what,
                sid=sid if isinstance(sid := fields.get("sid"), int) else None,
                seq=None,
                market_ticker=ticker if isinstance(ticker, str) else None,
                city=city,
                date=date,
                body=body,
            )
        )

    # the connection ---------------------------------------------------------------------------

    async def serve(self, stop: asyncio.Event, down_since: int | None) -> None:
        """Subscribe and read until ``stop``; raises when the connection ends otherwise."""
        s = self.s
        async with WsConnection(
            s.url, s._signer, on_frame=self.on_frame, clock_us=s._clock_us
        ) as ws:
            s.stats.connects += 1
            s.stats.connected_since_us = s._clock_us()
            self.event("connected", url=s.url)
            if down_since is not None:
                await self._gap(
                    Gap("disconnect", None, tuple(sorted(s._wanted)), down_since, s._clock_us())
                )
            await ws.send(self.cmds.subscribe([LIFECYCLE]))
            await self._sync_markets(ws)
            # One plain ``recv`` per frame: a task and an ``asyncio.wait`` per frame (to wake on
            # ``stop`` or ``want`` too) cost half of the recorder's core at 10,000 frames/s. A
            # quiet stream still sees both within ``POLL_S`` (cancelling ``recv`` loses nothing).
            while not stop.is_set():
                try:
                    async with asyncio.timeout(POLL_S):
                        frame = await ws.recv()
                except TimeoutError:
                    pass
                else:
                    await self._handle(ws, frame)
                if s._wanted_changed.is_set():
                    s._wanted_changed.clear()
                    await self._sync_markets(ws)
            self.event("closed", reason="stopped")

    async def _sync_markets(self, ws: WsConnection) -> None:
        """Make the market subscriptions cover exactly the wanted markets."""
        wanted = set(self.s._wanted)
        if self.pending:
            return  # a subscribe is in flight; the ack handler syncs again
        if not self.sids:
            if wanted:
                channels = self.s.market_channels
                cmd = self.cmds.subscribe(
                    channels, sorted(wanted), use_yes_price=self.s._use_yes_price
                )
                self.pending[cmd["id"]] = set(channels)
                self.markets = wanted
                await ws.send(cmd)
            return
        add, drop = sorted(wanted - self.markets), sorted(self.markets - wanted)
        for sid in sorted(self.sids.values()):
            if add:
                await ws.send(self.cmds.update(sid, "add_markets", add))
            if drop:
                await ws.send(self.cmds.update(sid, "delete_markets", drop))
        self.markets = wanted
        self.s.stats.subscribed = frozenset(wanted)

    async def _handle(self, ws: WsConnection, frame: WireFrame) -> None:
        head = frame.head
        if head.type == "subscribed" and head.sid is not None and head.channel:
            channels = self.pending.get(head.id or 0)
            if channels is not None:
                channels.discard(head.channel)
                if head.channel in self.s.market_channels:
                    self.sids[head.channel] = head.sid
                if not channels:
                    del self.pending[head.id or 0]
                    await self._sync_markets(ws)
        brk = self.seq.observe(head)
        if head.type == "trade":
            self._last_trade_us = frame.recv_us
        if brk is not None:
            await self._break(ws, brk)
        if head.type == "unsubscribed" and head.sid is not None:
            self.seq.forget(head.sid)
        if head.type == "error" and head.code == BUFFER_OVERFLOW and head.sid is not None:
            await self._overflow(ws, head.sid)

    async def _break(self, ws: WsConnection, brk: SeqBreak) -> None:
        channel = self.seq.channels.get(brk.sid)
        self.s.stats.gaps += 1
        self.event(
            "gap", channel=channel, sid=brk.sid, expected=brk.expected, got=brk.got, kind=brk.kind
        )
        if brk.kind != "gap":
            return
        if channel == "orderbook_delta" and self.markets:
            await self._resync(ws, brk.sid)
        elif channel in ("trade", LIFECYCLE):
            since = self._last_trade_us if channel == "trade" else None
            await self._gap(
                Gap("seq", channel, tuple(sorted(self.markets)), since or 0, self.s._clock_us())
            )

    async def _resync(self, ws: WsConnection, sid: int) -> None:
        """Fresh snapshots of every market of an order book subscription, on the same sid."""
        self.s.stats.resyncs += 1
        self.event("resync", channel="orderbook_delta", sid=sid, markets=sorted(self.markets))
        await ws.send(self.cmds.update(sid, "get_snapshot", sorted(self.markets)))

    async def _overflow(self, ws: WsConnection, sid: int) -> None:
        """Error 25: the server dropped frames of ``sid`` and ended it; subscribe it again."""
        channel = self.seq.channels.get(sid)
        self.s.stats.gaps += 1
        self.event("gap", channel=channel, sid=sid, kind="overflow")
        self.seq.forget(sid)
        if channel == LIFECYCLE:
            await ws.send(self.cmds.subscribe([LIFECYCLE]))
            await self._gap(Gap("overflow", channel, (), 0, self.s._clock_us()))
            return
        if channel in self.s.market_channels and self.sids.get(channel) == sid:
            del self.sids[channel]
            cmd = self.cmds.subscribe(
                [channel], sorted(self.markets), use_yes_price=self.s._use_yes_price
            )
            self.pending[cmd["id"]] = {channel}
            await ws.send(cmd)
            if channel == "trade":
                since = self._last_trade_us or 0
                await self._gap(
                    Gap("overflow", channel, tuple(sorted(self.markets)), since, self.s._clock_us())
                )

    async def _gap(self, gap: Gap) -> None:
        if self.s._on_gap is not None:
            await self.s._on_gap(gap)
