"""What the simulated exchange streams between two instants: the WebSocket channels' data.

:class:`Feed` turns the world's pure model (events, market lifecycles, tapes) into time-ordered
:class:`Item` lists for a window ``(t0, t1]`` of the simulated clock: trades from the tape,
ticker states at every quote change and trade, and the lifecycle firehose of every market of
every series (https://docs.kalshi.com/websockets/market-and-event-lifecycle): ``event_lifecycle``
and ``created`` when a ladder is created, ``determined`` a few minutes before settlement and
``settled`` at it. Opening and closing have no frame of their own (the docs: they are implicit).
Order books come from :mod:`kalshi_lake.sim.book` (snapshots are its book at an instant, deltas
its changes). Nothing here knows about sids, seqs or sockets; that is
:mod:`kalshi_lake.sim.ws_session`.

Existence follows the clock, not the world's frozen ``now``: a market exists from its
``created`` instant.
"""

from __future__ import annotations

import datetime as dt
import zlib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kalshi_lake.sim import ws_frames as wf
from kalshi_lake.sim.book import book_at, book_changes
from kalshi_lake.sim.model import HOUR_US, US, Event, Market, from_us, make_event
from kalshi_lake.sim.tape import Tape
from kalshi_lake.sim.world import SERIES, World, event_date, view_for_ticker

__all__ = ["RANK", "Feed", "Item", "determined_us"]

#: Order of items at the same instant: a ladder's creation first, then the book change a trade
#: makes, the trade, the ticker state after both, and the settlement steps.
RANK = {
    "event_lifecycle": 0,
    "created": 1,
    "orderbook_delta": 2,
    "trade": 3,
    "ticker": 4,
    "determined": 5,
    "settled": 6,
}


@dataclass(frozen=True, slots=True)
class Item:
    """One message the exchange emits at ``ts_us``: its frame ``type`` and ``msg`` object."""

    ts_us: int
    rank: int
    ticker: str
    type: str
    msg: dict[str, Any]

    @property
    def key(self) -> tuple[int, int, str]:
        """Sort key: time, then the order of kinds at one instant, then ticker."""
        return (self.ts_us, self.rank, self.ticker)


def determined_us(market: Market) -> int:
    """When the market's result is determined: 2-10 minutes before it settles (seeded by event,
    so a ladder's markets are determined together)."""
    return market.settlement_us - (120 + zlib.crc32(market.event_ticker.encode()) % 480) * US


@lru_cache(maxsize=4096)
def _event(seed: int, series_ticker: str, day: dt.date) -> Event:
    view, family = _views()[series_ticker]
    return make_event(seed, view, day, family)


@lru_cache(maxsize=1)
def _views() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for view in SERIES:
        found = view_for_ticker(view.series_ticker)
        assert found is not None
        out[view.series_ticker] = found
    return out


@lru_cache(maxsize=64)
def _events_of_days(seed: int, first: dt.date, last: dt.date) -> list[tuple[Event, int]]:
    # (event, last settlement instant of its markets) for every series and day in [first, last]
    out = []
    for view in SERIES:
        day = max(first, view.first_event)
        while day <= last:
            ev = _event(seed, view.series_ticker, day)
            out.append((ev, max(m.settlement_us for m in ev.markets)))
            day += dt.timedelta(days=1)
    return out


class Feed:
    """The world's streams over a moving clock (thread-safe for reading; caches only)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.seed = world.seed
        self._notional: dict[str, list[int]] = {}

    # -----------------------------------------------------------------------------------------
    # lookup

    def market(self, ticker: str, now_us: int) -> tuple[Market, Event] | None:
        """(market, event) for a ticker that exists at ``now_us`` (created at or before it)."""
        parts = ticker.split("-")
        found = view_for_ticker(ticker)
        if len(parts) != 3 or found is None:
            return None
        view = found[0]
        try:
            day = event_date(f"{parts[0]}-{parts[1]}")
        except ValueError:
            return None
        if day < view.first_event or view.event_ticker(day) != f"{parts[0]}-{parts[1]}":
            return None
        ev = _event(self.seed, view.series_ticker, day)
        for m in ev.markets:
            if m.ticker == ticker and m.created_us <= now_us:
                return m, ev
        return None

    def events_between(self, t0: int, t1: int) -> list[Event]:
        """Every event of every series alive at some point of ``(t0, t1]`` (created at or
        before ``t1``, settled at or after ``t0``), in series then date order."""
        first = from_us(t0).date() - dt.timedelta(days=3)
        last = from_us(t1).date() + dt.timedelta(days=3)
        return [
            ev
            for ev, settled_us in _events_of_days(self.seed, first, last)
            if ev.created_us <= t1 and settled_us >= t0
        ]

    def tape(self, market: Market) -> Tape:
        """The market's full quote path and trade tape."""
        return self.world.tape(market)

    def trading_markets(self, t0: int, t1: int) -> list[Market]:
        """Markets whose trading window (open to just after close) meets ``(t0, t1]``."""
        return [
            m
            for ev in self.events_between(t0, t1)
            for m in ev.markets
            if m.open_us <= t1 and m.close_us + HOUR_US > t0
        ]

    # -----------------------------------------------------------------------------------------
    # channels

    def trades(self, markets: Iterable[Market], t0: int, t1: int) -> list[Item]:
        """``trade`` items of ``markets`` printed in ``(t0, t1]``, in time order."""
        out = []
        for m in markets:
            tape = self.tape(m)
            for i in range(bisect_right(tape.t_us, t0), bisect_right(tape.t_us, t1)):
                ts = tape.t_us[i]
                msg = wf.trade_msg(
                    tape.t_id[i],
                    m.ticker,
                    ts,
                    tape.t_px[i],
                    tape.t_cc[i],
                    tape.t_yes[i],
                    tape.t_block[i],
                )
                out.append(Item(ts, RANK["trade"], m.ticker, "trade", msg))
        out.sort(key=lambda it: it.key)
        return out

    def lifecycle(self, t0: int, t1: int) -> list[Item]:
        """The ``market_lifecycle_v2`` channel's items in ``(t0, t1]``: every market's
        creation, determination and settlement, and each event's creation."""
        out = []
        for ev in self.events_between(t0, t1):
            if t0 < ev.created_us <= t1:
                payload = self.world.event_payload(ev)
                msg = wf.event_created_msg(ev, payload["title"], payload["sub_title"])
                out.append(Item(ev.created_us, RANK["event_lifecycle"], "", "event_lifecycle", msg))
            for m in ev.markets:
                if t0 < m.created_us <= t1:
                    out.append(self._lc(m.created_us, "created", m, wf.lifecycle_created_msg(m)))
                det = determined_us(m)
                if t0 < det <= t1:
                    out.append(self._lc(det, "determined", m, wf.lifecycle_determined_msg(m, det)))
                if t0 < m.settlement_us <= t1:
                    msg = wf.lifecycle_settled_msg(m)
                    out.append(self._lc(m.settlement_us, "settled", m, msg))
        out.sort(key=lambda it: it.key)
        return out

    @staticmethod
    def _lc(ts: int, kind: str, m: Market, msg: dict[str, Any]) -> Item:
        return Item(ts, RANK[kind], m.ticker, "market_lifecycle_v2", msg)

    def _notional_cum(self, market: Market, tape: Tape) -> list[int]:
        cum = self._notional.get(market.ticker)
        if cum is None:
            if len(self._notional) > 4096:
                self._notional.clear()
            cum = [0]
            for px, cc in zip(tape.t_px, tape.t_cc, strict=True):
                cum.append(cum[-1] + px * cc)
            self._notional[market.ticker] = cum
        return cum

    def ticker_state(self, market: Market, ts_us: int) -> dict[str, Any]:
        """The ``ticker`` message of a market's state at ``ts_us`` (after everything at it)."""
        tape = self.tape(market)
        bid, ask, bsz, asz = tape.quote_at(ts_us)
        k = tape.n_trades_until(ts_us)
        return wf.ticker_msg(
            market.ticker,
            ts_us,
            last_c=tape.t_px[k - 1] if k else None,
            bid_c=bid,
            ask_c=ask,
            bid_cc=bsz,
            ask_cc=asz,
            volume_cc=tape.t_cum[k],
            oi_cc=tape.t_oi[k - 1] if k else 0,
            notional=self._notional_cum(market, tape)[k],
            last_cc=tape.t_cc[k - 1] if k else 0,
        )

    def tickers(self, markets: Iterable[Market], t0: int, t1: int) -> list[Item]:
        """``ticker`` items: the full state after every quote change and trade in ``(t0, t1]``
        (one per instant and market)."""
        out = []
        for m in markets:
            tape = self.tape(m)
            q0, q1 = bisect_right(tape.q_us, t0), bisect_right(tape.q_us, t1)
            k0, k1 = bisect_right(tape.t_us, t0), bisect_right(tape.t_us, t1)
            instants = sorted(set(tape.q_us[q0:q1]) | set(tape.t_us[k0:k1]))
            for ts in instants:
                out.append(Item(ts, RANK["ticker"], m.ticker, "ticker", self.ticker_state(m, ts)))
        out.sort(key=lambda it: it.key)
        return out

    def _event_of(self, market: Market) -> Event:
        return _event(self.seed, market.series_ticker, event_date(market.event_ticker))

    def book_snapshot(self, market: Market, now_us: int, use_yes_price: bool) -> dict[str, Any]:
        """The ``orderbook_snapshot`` message of a market's book at ``now_us``."""
        book = book_at(self.seed, self._event_of(market), market.ticker, now_us)
        return wf.orderbook_snapshot_msg(market.ticker, book.yes, book.no, use_yes_price)

    def book_deltas(
        self, markets: Iterable[Market], t0: int, t1: int, use_yes_price: bool
    ) -> list[Item]:
        """``orderbook_delta`` items of ``markets`` in ``(t0, t1]``, in time order (changes at
        one instant of one market in the order they apply)."""
        out = []
        rank = RANK["orderbook_delta"]
        for m in markets:
            for ch in book_changes(self.seed, self._event_of(m), m.ticker, t0, t1):
                msg = wf.orderbook_delta_msg(
                    m.ticker, ch.ts_us, ch.side, ch.price_c, ch.delta_cc, use_yes_price
                )
                out.append(Item(ch.ts_us, rank, m.ticker, "orderbook_delta", msg))
        out.sort(key=lambda it: it.key)  # stable: one market's changes keep their order
        return out
