"""One WebSocket connection's subscriptions, commands and sequence numbers, without any I/O.

A :class:`Session` takes the client's text frames (:meth:`Session.handle`) and the simulated
clock's instants (:meth:`Session.advance`) and appends the server's text frames to
:attr:`Session.outbox`, following https://docs.kalshi.com/websockets/websocket-connection and
what clients measured on the wire:

- ``subscribe`` answers one ``subscribed`` (no ``seq``) per channel, each with its own sid
  (1, 2, 3... per connection); a channel already subscribed on the connection answers ``ok``
  on its sid instead, adding any new tickers (snapshots for those only, none for the rest).
- ``seq`` counts per sid, and every frame on a sid that has one takes the next number: data
  (order book snapshots and deltas, trades, lifecycle), ``ok`` acks, errors about the
  subscription and ``unsubscribed``. ``ticker`` data frames have no ``seq``.
- ``update_subscription`` (``add_markets``, ``delete_markets``, ``get_snapshot``): exactly one
  sid; ``ok`` with the whole ticker list, then snapshots of added markets on the same sid;
  ``get_snapshot`` sends in-stream snapshots only.
- Data: every change in ``(last instant, now]`` of the subscribed markets, in time order across
  the connection's subscriptions (:mod:`kalshi_lake.sim.ws_feed`); a command is answered at the
  instant it arrives, after the data up to that instant, so a snapshot is exactly the book the
  deltas before it built and the deltas after it continue from.

Faults (the ``ws_*`` fields of :class:`~kalshi_lake.sim.config.SimConfig`), each from its own
seeded generator and drawn per data frame: a dropped frame still takes its ``seq`` (a gap); an
overflow sends error 25 on the sid, which then ends (the client must subscribe again: what
Kalshi does after it is undocumented, and a forced resync is the safe reading); a disconnect
sets :attr:`Session.abort`; an oddity is a frame of an unknown ``type`` or an unknown field.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kalshi_lake.sim import ws_frames as wf
from kalshi_lake.sim.config import SimConfig
from kalshi_lake.sim.model import HOUR_US, Market
from kalshi_lake.sim.ws_feed import Feed, Item

__all__ = ["CHANNELS", "Session", "Subscription"]

ORDERBOOK, TICKER, TRADE, LIFECYCLE = "orderbook_delta", "ticker", "trade", "market_lifecycle_v2"
#: The market-data channels the simulator serves (any other name is error 8).
CHANNELS = (ORDERBOOK, TICKER, TRADE, LIFECYCLE)
ACTIONS = ("add_markets", "delete_markets", "get_snapshot")
#: The longest stretch of simulated time one step computes at once (a clock that jumps days is
#: streamed in slices, so memory stays bounded).
MAX_STEP_US = HOUR_US


class CommandError(Exception):
    """A command refused with an error frame: code, and the sid it concerns (if any)."""

    def __init__(self, code: int, sid: int | None = None, market_ticker: str | None = None):
        super().__init__(code)
        self.code = code
        self.sid = sid
        self.market_ticker = market_ticker


@dataclass(slots=True)
class Subscription:
    """One sid: its channel, markets (None: every market) and counters."""

    sid: int
    channel: str
    markets: dict[str, Market] | None
    cursor_us: int
    use_yes_price: bool = False
    skip_ticker_ack: bool = False
    seq: int = 0
    sent: int = 0

    def next_seq(self) -> int:
        """Take this sid's next sequence number."""
        self.seq += 1
        return self.seq

    @property
    def tickers(self) -> list[str] | None:
        """The subscribed tickers in the order they were added (None: every market)."""
        return None if self.markets is None else list(self.markets)


@dataclass
class _Faults:
    drop: Callable[[], bool]
    overflow: Callable[[], bool]
    disconnect: Callable[[], bool]
    oddity: Callable[[], bool]
    rng: random.Random


def _draw(seed: int, conn: int, kind: str, rate: float) -> Callable[[], bool]:
    if rate <= 0:
        return lambda: False
    rng = random.Random(f"kalshi-sim|{seed}|ws|{conn}|{kind}")
    return lambda: rng.random() < rate


@dataclass
class Session:
    """The state of one connection (see the module docstring). ``conn`` numbers connections
    from 1 in accept order; it seeds the faults."""

    feed: Feed
    config: SimConfig
    conn: int
    outbox: list[str] = field(default_factory=list)
    subs: dict[int, Subscription] = field(default_factory=dict)
    abort: bool = False
    last_us: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    pong_payloads: set[bytes] = field(default_factory=set)
    _next_sid: int = 1

    def __post_init__(self) -> None:
        c = self.config
        self._faults = _Faults(
            drop=_draw(c.seed, self.conn, "drop", c.ws_drop_rate),
            overflow=_draw(c.seed, self.conn, "overflow", c.ws_overflow_rate),
            disconnect=_draw(c.seed, self.conn, "disconnect", c.ws_disconnect_rate),
            oddity=_draw(c.seed, self.conn, "oddity", c.ws_oddity_rate),
            rng=random.Random(f"kalshi-sim|{c.seed}|ws|{self.conn}|odd-kind"),
        )

    def pong(self, payload: bytes) -> None:
        """Note a pong from the client (the answer to a heartbeat ping)."""
        self._count("pongs")
        self.pong_payloads.add(payload)

    def _count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    # -----------------------------------------------------------------------------------------
    # data

    def advance(self, now_us: int) -> None:
        """Stream every change up to ``now_us`` of every subscription, in time order."""
        if self.last_us is not None and now_us < self.last_us:
            now_us = self.last_us  # the clock never runs backwards for a connection
        self.last_us = now_us
        while not self.abort:
            start = min((s.cursor_us for s in self.subs.values()), default=now_us)
            if start >= now_us:
                return
            end = min(now_us, start + MAX_STEP_US)
            batch: list[tuple[tuple[int, int, str], int, Item]] = []
            for sub in self.subs.values():
                if sub.cursor_us < end:
                    batch.extend((it.key, sub.sid, it) for it in self._items(sub, end))
                    sub.cursor_us = end
            batch.sort(key=lambda b: (b[0], b[1]))
            for _, sid, item in batch:
                live = self.subs.get(sid)
                if live is None:
                    continue  # ended earlier in this batch (an overflow) or unsubscribed
                self._emit(live, item)
                if self.abort:
                    return

    def _items(self, sub: Subscription, end: int) -> list[Item]:
        t0 = sub.cursor_us
        if sub.channel == LIFECYCLE:
            return self.feed.lifecycle(t0, end)
        markets = (
            list(sub.markets.values())
            if sub.markets is not None
            else self.feed.trading_markets(t0, end)
        )
        if sub.channel == TRADE:
            return self.feed.trades(markets, t0, end)
        if sub.channel == TICKER:
            return self.feed.tickers(markets, t0, end)
        return self.feed.book_deltas(markets, t0, end, sub.use_yes_price)

    def _emit(self, sub: Subscription, item: Item) -> None:
        f = self._faults
        if f.overflow():
            # The error takes the place (and the seq) of the frame it stands for.
            self._count("overflow")
            self._send(wf.error(None, 25, sid=sub.sid, seq=sub.next_seq()))
            del self.subs[sub.sid]
            return
        seq = None if sub.channel == TICKER else sub.next_seq()
        if f.drop():
            self._count("dropped")
            return
        msg = item.msg
        odd = f.oddity()
        if odd and f.rng.random() < 0.5:
            self._count("unknown_field")
            msg = {**msg, "sim_unknown_field": "0.00"}
            odd = False
        self._send(wf.encode(wf.envelope(item.type, sid=sub.sid, seq=seq, msg=msg)))
        sub.sent += 1
        self._count("data")
        if odd:
            self._count("unknown_type")
            self._send(wf.encode(wf.envelope("sim_unknown_type", sid=sub.sid, msg={"n": 1})))
        if f.disconnect():
            self._count("disconnect")
            self.abort = True

    def _send(self, text: str) -> None:
        self.outbox.append(text)

    # -----------------------------------------------------------------------------------------
    # commands

    def handle(self, text: str, now_us: int) -> None:
        """Answer one client text frame at ``now_us`` (data up to that instant goes first)."""
        self.advance(now_us)
        now_us = self.last_us if self.last_us is not None else now_us
        self._count("commands")
        try:
            cmd = json.loads(text)
        except ValueError:
            cmd = None
        cmd_id = cmd.get("id") if isinstance(cmd, dict) else None
        if not isinstance(cmd, dict) or not (cmd_id is None or type(cmd_id) is int):
            self._send(wf.error(None, 1))
            return
        name = cmd.get("cmd")
        handler = {
            "subscribe": self._subscribe,
            "unsubscribe": self._unsubscribe,
            "update_subscription": self._update,
            "list_subscriptions": self._list,
        }.get(name if isinstance(name, str) else "")
        try:
            if handler is None:
                raise CommandError(5)
            handler(cmd_id, cmd.get("params"), now_us)
        except CommandError as exc:
            self._count("errors")
            sub = self.subs.get(exc.sid) if exc.sid is not None else None
            self._send(
                wf.error(
                    cmd_id,
                    exc.code,
                    sid=sub.sid if sub else None,
                    seq=sub.next_seq() if sub else None,
                    market_ticker=exc.market_ticker,
                )
            )

    def _resolve(self, params: dict[str, Any], now_us: int, sid: int | None) -> list[Market]:
        """The markets named by ``market_ticker`` / ``market_tickers`` (error 11 for both or a
        wrong type, 16 for a market that does not exist at now); [] when neither is given."""
        one, many = params.get("market_ticker"), params.get("market_tickers")
        if one is not None and many is not None:
            raise CommandError(11, sid)
        names: list[Any] = [one] if one is not None else many if many is not None else []
        if not isinstance(names, list) or not all(isinstance(t, str) and t for t in names):
            raise CommandError(11, sid)
        out: dict[str, Market] = {}
        for t in names:
            found = self.feed.market(t, now_us)
            if found is None:
                raise CommandError(16, sid, market_ticker=t)
            out[t] = found[0]
        return list(out.values())

    def _subscribe(self, cmd_id: int | None, params: Any, now_us: int) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        channels = params.get("channels")
        if not isinstance(channels, list) or not channels:
            raise CommandError(3)
        if not all(isinstance(c, str) and c in CHANNELS for c in channels):
            raise CommandError(8)
        markets = self._resolve(params, now_us, None)
        if ORDERBOOK in channels and not markets:
            raise CommandError(14)
        flags = {k: params.get(k) is True for k in ("use_yes_price", "skip_ticker_ack")}
        initial = params.get("send_initial_snapshot") is True
        for channel in dict.fromkeys(channels):
            existing = next((s for s in self.subs.values() if s.channel == channel), None)
            if existing is not None:
                self._resubscribe(cmd_id, existing, markets, now_us, initial)
                continue
            sub = Subscription(
                sid=self._next_sid,
                channel=channel,
                markets=None
                if channel == LIFECYCLE or (not markets and channel != ORDERBOOK)
                else {m.ticker: m for m in markets},
                cursor_us=now_us,
                **flags,
            )
            self._next_sid += 1
            self.subs[sub.sid] = sub
            self._send(wf.subscribed(cmd_id, channel, sub.sid))
            self._count("subscriptions")
            self._initial(sub, markets, now_us, initial)

    def _resubscribe(
        self,
        cmd_id: int | None,
        sub: Subscription,
        markets: list[Market],
        now_us: int,
        initial: bool,
    ) -> None:
        # Kalshi's subscribe is idempotent: known tickers are a no-op (an ok, no snapshot), new
        # ones join the existing sid; no market list on a trade/ticker sid means every market.
        added: list[Market] = []
        if sub.markets is not None:
            if not markets and sub.channel in (TRADE, TICKER):
                sub.markets = None
            else:
                added = [m for m in markets if m.ticker not in sub.markets]
                sub.markets.update((m.ticker, m) for m in added)
        self._ack(cmd_id, sub)
        self._initial(sub, added, now_us, initial)

    def _ack(self, cmd_id: int | None, sub: Subscription) -> None:
        tickers = None if sub.skip_ticker_ack else sub.tickers
        self._send(wf.ok(cmd_id, sub.sid, sub.next_seq(), tickers))

    def _initial(self, sub: Subscription, markets: list[Market], now_us: int, ticker: bool) -> None:
        """Snapshots of newly subscribed order books (in request order), or the ticker state of
        new markets when ``send_initial_snapshot`` asked for it."""
        if sub.channel == ORDERBOOK:
            for m in markets:
                self._snapshot(sub, m, now_us)
        elif sub.channel == TICKER and ticker:
            for m in markets:
                msg = self.feed.ticker_state(m, now_us)
                self._send(wf.encode(wf.envelope(TICKER, sid=sub.sid, msg=msg)))

    def _snapshot(self, sub: Subscription, market: Market, now_us: int) -> None:
        msg = self.feed.book_snapshot(market, now_us, sub.use_yes_price)
        self._send(wf.encode(wf.envelope("orderbook_snapshot", sid=sub.sid, seq=sub.next_seq(),
                                         msg=msg)))  # fmt: skip
        self._count("snapshots")

    def _unsubscribe(self, cmd_id: int | None, params: Any, now_us: int) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        sids = params.get("sids")
        if not isinstance(sids, list) or not sids or not all(type(s) is int for s in sids):
            raise CommandError(4)
        for sid in sids:
            if sid not in self.subs:
                raise CommandError(7)
        for sid in dict.fromkeys(sids):
            sub = self.subs.pop(sid)
            self._send(wf.unsubscribed(cmd_id, sid, sub.next_seq()))

    def _update(self, cmd_id: int | None, params: Any, now_us: int) -> None:
        if not isinstance(params, dict):
            raise CommandError(2)
        sid: Any = params.get("sid")
        sids = params.get("sids")
        if sids is not None:
            if sid is not None or not isinstance(sids, list) or len(sids) != 1:
                raise CommandError(12)
            sid = sids[0]
        if type(sid) is not int:
            raise CommandError(12)
        sub = self.subs.get(sid)
        if sub is None:
            raise CommandError(7)
        action = params.get("action")
        if action is None:
            raise CommandError(15, sid)
        if action not in ACTIONS or sub.channel == LIFECYCLE:
            raise CommandError(13, sid)
        if action == "get_snapshot":
            if sub.channel != ORDERBOOK:
                raise CommandError(13, sid)
            tickers = params.get("market_tickers")
            if not isinstance(tickers, list) or not tickers:
                raise CommandError(14, sid)  # only market_tickers works here (the docs)
            for m in self._resolve({"market_tickers": tickers}, now_us, sid):
                self._snapshot(sub, m, now_us)
            return
        markets = self._resolve(params, now_us, sid)
        if not markets:
            raise CommandError(14, sid)
        added: list[Market] = []
        if sub.markets is not None:
            if action == "add_markets":
                added = [m for m in markets if m.ticker not in sub.markets]
                sub.markets.update((m.ticker, m) for m in added)
            else:
                for m in markets:
                    sub.markets.pop(m.ticker, None)
        self._ack(cmd_id, sub)
        self._initial(sub, added, now_us, params.get("send_initial_snapshot") is True)

    def _list(self, cmd_id: int | None, params: Any, now_us: int) -> None:
        self._send(wf.list_ok(cmd_id, [(s.channel, s.sid) for s in self.subs.values()]))
