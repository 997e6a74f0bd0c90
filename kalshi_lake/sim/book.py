"""The simulator's order books: one per market, a pure deterministic function of (seed, event).

A Kalshi book has two ladders of bids (https://docs.kalshi.com/getting_started/orderbook_responses):
YES bids, and NO bids priced on the NO leg (a NO bid at ``p`` is a YES offer at ``100 - p``).
The top of each ladder is the tape's quote path (:class:`~kalshi_lake.sim.tape.Tape`): best YES
bid = the tape's bid, best NO bid = ``100 -`` the tape's ask, with the tape's sizes, so the REST
market's quote, the candles' bid/ask OHLC and the book agree at every instant. Behind each top
rest up to :data:`DEPTH_WINDOW` cents of deeper bids, drawn from the book's own seeded stream;
market makers redraw a couple of them at each re-quote. Trades take their count off the level
they hit (the tape's fills); just after close a burst of cancellations empties the book
(https://docs.kalshi.com/getting_started/market_lifecycle).

:func:`book_changes` lists the signed size changes (what the WebSocket ``orderbook_delta``
channel streams); :func:`book_at` is the book after every change up to an instant (what the
snapshots and the REST order book show). Replaying the changes from the open gives
:func:`book_at` at every instant. Prices are integer cents, sizes integer hundredths of a
contract (``cc``); times integer UTC microseconds.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass

from kalshi_lake.sim.model import FRACTIONAL_FROM, Event
from kalshi_lake.sim.tape import Q_CLOSE, Q_FILL, Q_QUOTE, SharedCache, Tape, cached_tapes

__all__ = ["DEPTH_WINDOW", "Book", "BookChange", "book_at", "book_changes"]

#: How many cents behind each ladder's best bid deeper bids may rest (about four in five do).
DEPTH_WINDOW = 8
#: Deeper levels a market maker redraws at each re-quote, per side.
_CHURN = 2
#: Cancellations of the close burst are this many µs apart, the deepest first; the two tops go
#: last, at the instant the tape's quote path says the book is empty.
_BURST_STEP_US = 1000
#: A full copy of the book is kept every this many changes, so :func:`book_at` replays at most
#: this many.
_CHECKPOINT_EVERY = 512

_SIDES = ("yes", "no")
_CAUSES = ("quote", "trade", "close")
_QUOTE, _TRADE, _CLOSE = 0, 1, 2


@dataclass(frozen=True, slots=True)
class BookChange:
    """One change of one level of a market's book."""

    ts_us: int  # UTC microseconds
    market_ticker: str
    side: str  # "yes" | "no": which bid ladder (a NO bid at p is a YES ask at 100-p)
    price_c: int  # cents, on that side's own leg (no-leg pricing, as REST/WS default)
    delta_cc: int  # size change in hundredths of a contract (+ added, - removed)
    cause: str  # "quote" | "trade" | "close" (why the level changed)


@dataclass(frozen=True)
class Book:
    """A market's book at an instant: price (cents, own leg) -> size (cc, > 0) per ladder."""

    yes: dict[int, int]
    no: dict[int, int]

    def best_bid(self) -> tuple[int, int] | None:
        """(price, size) of the best YES bid, or None when no one bids for YES."""
        if not self.yes:
            return None
        p = max(self.yes)
        return p, self.yes[p]

    def best_ask(self) -> tuple[int, int] | None:
        """(price, size) of the best YES ask on the YES scale (``100 -`` the best NO bid), or
        None when no one bids for NO."""
        if not self.no:
            return None
        p = max(self.no)
        return 100 - p, self.no[p]

    def is_empty(self) -> bool:
        """True when neither ladder has a level."""
        return not self.yes and not self.no


@dataclass(slots=True)
class _Changes:
    """Every change of one market's book, as parallel arrays (compact: a market has thousands)."""

    ticker: str
    ts: list[int]
    side: list[int]  # index into _SIDES
    price: list[int]
    delta: list[int]
    cause: list[int]  # index into _CAUSES
    # (number of changes applied, yes ladder, no ladder) every _CHECKPOINT_EVERY changes
    checkpoints: list[tuple[int, dict[int, int], dict[int, int]]]

    def change(self, k: int) -> BookChange:
        return BookChange(
            self.ts[k],
            self.ticker,
            _SIDES[self.side[k]],
            self.price[k],
            self.delta[k],
            _CAUSES[self.cause[k]],
        )


_BOOKS: SharedCache[tuple[int, str], _Changes] = SharedCache(96)


def book_changes(
    seed: int, event: Event, market_ticker: str, t0_us: int, t1_us: int
) -> list[BookChange]:
    """The changes of a market's book with ``t0_us < ts_us <= t1_us``, in time order (changes
    sharing an instant in the order they apply: removals before additions, so a replay is never
    crossed, though a top may recede until the instant's additions land; once all changes of an
    instant are applied the top is the tape's quote). Raises KeyError when ``market_ticker`` is
    not one of ``event``'s markets."""
    ch = _compiled(seed, event, market_ticker)
    i = bisect_right(ch.ts, t0_us)
    j = bisect_right(ch.ts, t1_us)
    return [ch.change(k) for k in range(i, j)]


def book_at(seed: int, event: Event, market_ticker: str, ts_us: int) -> Book:
    """The market's book after every change with ``ts <= ts_us`` (empty before the first quote
    and after the close burst). Raises KeyError for a ticker not in ``event``."""
    ch = _compiled(seed, event, market_ticker)
    j = bisect_right(ch.ts, ts_us)
    c = bisect_right(ch.checkpoints, j, key=lambda cp: cp[0]) - 1
    start, yes0, no0 = ch.checkpoints[c]
    yes, no = dict(yes0), dict(no0)
    ladders = (yes, no)
    side, price, delta = ch.side, ch.price, ch.delta
    for k in range(start, j):
        ladder = ladders[side[k]]
        size = ladder.get(price[k], 0) + delta[k]
        if size:
            ladder[price[k]] = size
        else:
            del ladder[price[k]]
    return Book(yes, no)


# ---------------------------------------------------------------------------------------------
# building


def _compiled(seed: int, event: Event, market_ticker: str) -> _Changes:
    index = next((m.index for m in event.markets if m.ticker == market_ticker), None)
    if index is None:
        raise KeyError(f"{market_ticker} is not a market of {event.event_ticker}")

    def build() -> _Changes:
        tape = cached_tapes(seed, event)[index]
        return _build(seed, market_ticker, tape, event.date >= FRACTIONAL_FROM)

    return _BOOKS.get((seed, market_ticker), build)


class _Builder:
    """Walks a tape's quote path, keeping the book and appending its changes."""

    def __init__(self, seed: int, ticker: str, fractional: bool) -> None:
        self.rng = random.Random(f"kalshi-sim|{seed}|{ticker}|book")
        self.fractional = fractional
        self.out = _Changes(ticker, [], [], [], [], [], [(0, {}, {})])
        self.ladders: tuple[dict[int, int], dict[int, int]] = ({}, {})
        # The deeper bids resting at each price of each ladder (0: none), whether or not they are
        # within DEPTH_WINDOW of the top right now.
        self.depth = ([self._draw() for _ in range(101)], [self._draw() for _ in range(101)])

    def _draw(self) -> int:
        rand = self.rng.random
        if rand() < 0.2:
            return 0
        if self.fractional and rand() < 0.3:
            return int(rand() * 40_000) + 1
        return (int(rand() * 600) + 1) * 100

    def churn(self, side: int, top: int) -> None:
        if top <= 1:
            return
        depth = self.depth[side]
        for _ in range(_CHURN):
            p = top - 1 - int(self.rng.random() * DEPTH_WINDOW)
            if p >= 1:
                depth[p] = self._draw()

    def target(self, side: int, top: int, size: int) -> dict[int, int]:
        """The ladder with its best bid at ``top`` (0: empty ladder)."""
        if top <= 0:
            return {}
        depth = self.depth[side]
        ladder = {p: depth[p] for p in range(max(1, top - DEPTH_WINDOW), top) if depth[p]}
        ladder[top] = size
        return ladder

    def _emit(self, ts: int, side: int, price: int, delta: int, cause: int) -> None:
        out = self.out
        ladder = self.ladders[side]
        size = ladder.get(price, 0) + delta
        if size:
            ladder[price] = size
        else:
            del ladder[price]
        out.ts.append(ts)
        out.side.append(side)
        out.price.append(price)
        out.delta.append(delta)
        out.cause.append(cause)
        if len(out.ts) % _CHECKPOINT_EVERY == 0:
            out.checkpoints.append((len(out.ts), dict(self.ladders[0]), dict(self.ladders[1])))

    def move_to(self, ts: int, targets: tuple[dict[int, int], dict[int, int]], cause: int) -> None:
        """Change the book into ``targets``: every removal first, then every addition."""
        adds: list[tuple[int, int, int]] = []
        for side in (0, 1):
            now, target = self.ladders[side], targets[side]
            for price in sorted(now.keys() | target.keys()):
                delta = target.get(price, 0) - now.get(price, 0)
                if delta < 0:
                    self._emit(ts, side, price, delta, cause)
                elif delta > 0:
                    adds.append((side, price, delta))
        for side, price, delta in adds:
            self._emit(ts, side, price, delta, cause)

    def close(self, ts: int) -> None:
        """Cancel every resting bid: the deepest levels first, 1 ms apart, the tops at ``ts``."""
        yes, no = self.ladders
        tops = [(side, max(lad)) for side, lad in enumerate((yes, no)) if lad]
        deeper = [
            (price, side, lad[price])
            for side, lad in enumerate((yes, no))
            for price in lad
            if (side, price) not in tops
        ]
        deeper.sort()  # lowest price (farthest from its top) first, YES before NO at a price
        first = ts - len(deeper) * _BURST_STEP_US
        for k, (price, side, size) in enumerate(deeper):
            self._emit(first + k * _BURST_STEP_US, side, price, -size, _CLOSE)
        for side, price in tops:
            self._emit(ts, side, price, -self.ladders[side][price], _CLOSE)


def _build(seed: int, ticker: str, tape: Tape, fractional: bool) -> _Changes:
    b = _Builder(seed, ticker, fractional)
    for k, ts in enumerate(tape.q_us):
        kind = tape.q_kind[k]
        if kind == Q_CLOSE:
            b.close(ts)
            continue
        bid, no_bid = tape.q_bid[k], 100 - tape.q_ask[k]
        if kind == Q_QUOTE:
            b.churn(0, bid)
            b.churn(1, no_bid)
        targets = (b.target(0, bid, tape.q_bsz[k]), b.target(1, no_bid, tape.q_asz[k]))
        b.move_to(ts, targets, _TRADE if kind == Q_FILL else _QUOTE)
    return b.out
