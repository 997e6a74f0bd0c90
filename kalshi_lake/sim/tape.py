"""The simulator's dynamic data: each market's quote path, trade tape and candles.

Pure functions of (seed, event) over :mod:`kalshi_lake.sim.model`'s events: a latent temperature
estimate drifts from the forecast to the settled value (a Brownian bridge with shrinking
uncertainty), each bracket's fair value follows from it, market makers quote around it and
takers cross the spread. Candles are cut from the tape, so they agree with the trades.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import threading
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Generic, TypeVar

from kalshi_lake.sim.model import (
    BLOCK_TRADES_FROM,
    DAY_US,
    ET,
    FRACTIONAL_FROM,
    HOUR_US,
    HOUR_WEIGHTS,
    MINUTE_US,
    US,
    Event,
    Market,
    from_us,
    standard_offset_us,
    to_us,
)

#: Why the top of the book changed (:attr:`Tape.q_kind`).
Q_QUOTE, Q_REFILL, Q_FILL, Q_CLOSE = 0, 1, 2, 3


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x * 0.7071067811865476))


# ---------------------------------------------------------------------------------------------
# dynamic data: the tape


@dataclass(slots=True)
class Tape:
    """Quote changes and trades of one market, oldest first.

    ``q_*``: each entry is the top of the book from its instant on: best YES bid and ask (cents;
    bid 0 / ask 100 = empty side) and the sizes resting there (cc). ``q_kind`` says why it
    changed (:data:`Q_QUOTE` market makers re-quoting, :data:`Q_REFILL` a level topped up just
    before a trade larger than it, :data:`Q_FILL` a trade taking its count off the top,
    :data:`Q_CLOSE` the book emptied just after close, the last entry). Several entries may share
    an instant (a refill, then its fill); the last one is in effect. ``t_*``: one entry per trade;
    ``t_px`` is the YES price in cents, ``t_yes`` the taker's outcome side, ``t_oi`` open
    interest after the trade, ``t_cum`` cumulative count (``t_cum[k]`` = sum of the first ``k``
    counts). A YES taker buys at the ask (off the NO bids), a NO taker sells at the bid.
    """

    q_us: list[int] = field(default_factory=list)
    q_bid: list[int] = field(default_factory=list)
    q_ask: list[int] = field(default_factory=list)
    q_bsz: list[int] = field(default_factory=list)
    q_asz: list[int] = field(default_factory=list)
    q_kind: list[int] = field(default_factory=list)
    t_us: list[int] = field(default_factory=list)
    t_px: list[int] = field(default_factory=list)
    t_cc: list[int] = field(default_factory=list)
    t_yes: list[bool] = field(default_factory=list)
    t_block: list[bool] = field(default_factory=list)
    t_id: list[int] = field(default_factory=list)
    t_oi: list[int] = field(default_factory=list)
    t_cum: list[int] = field(default_factory=lambda: [0])

    def quote_at(self, now_us: int) -> tuple[int, int, int, int]:
        """(bid, ask, bid size, ask size) in effect at ``now`` ((0, 100, 0, 0) before the first)."""
        j = bisect_right(self.q_us, now_us) - 1
        if j < 0:
            return 0, 100, 0, 0
        return self.q_bid[j], self.q_ask[j], self.q_bsz[j], self.q_asz[j]

    def n_trades_until(self, now_us: int) -> int:
        """How many trades happened at or before ``now``."""
        return bisect_right(self.t_us, now_us)


class _Fair:
    """Fair YES probability of each bracket over time, from a latent temperature estimate."""

    def __init__(self, event: Event, rng: random.Random) -> None:
        self.event = event
        self.t0 = event.open_us
        self.t1 = max(event.resolve_us, self.t0 + HOUR_US)
        step = 900 * US
        n = max(2, math.ceil((self.t1 - self.t0) / step))
        self.step = (self.t1 - self.t0) / n
        w = [0.0]
        for _ in range(n):
            w.append(w[-1] + rng.gauss(0.0, math.sqrt(1.0 / n)))
        self.m: list[float] = []
        self.s: list[float] = []
        for k in range(n + 1):
            tau = k / n
            bridge = w[k] - tau * w[n]
            self.m.append(event.forecast + (event.value - event.forecast) * tau + 1.6 * bridge)
            self.s.append(0.35 + 2.6 * math.sqrt(1.0 - tau))
        self.n = n

    def at(self, t_us: int) -> tuple[float, float]:
        """(mean, sd) of the market's belief about the settled value at ``t``."""
        if t_us >= self.t1:
            # After the afternoon peak only the report's rounding is uncertain, and less so
            # every hour.
            decay = max(0.08, 1.0 - (t_us - self.t1) / (6 * HOUR_US))
            return float(self.event.value), 0.35 * decay
        x = (t_us - self.t0) / self.step
        k = min(self.n - 1, max(0, int(x)))
        f = x - k
        return (
            self.m[k] + (self.m[k + 1] - self.m[k]) * f,
            self.s[k] + (self.s[k + 1] - self.s[k]) * f,
        )

    @staticmethod
    def prob(market: Market, mean: float, sd: float) -> float:
        """P(settled value in the bracket) under N(mean, sd) rounded to whole degrees."""
        upper = 1.0 if market.hi is None else _phi((market.hi + 0.5 - mean) / sd)
        lower = 0.0 if market.lo is None else _phi((market.lo - 0.5 - mean) / sd)
        return max(0.0, upper - lower)


def _trade_buckets(event: Event) -> tuple[list[int], list[float]]:
    """15-minute buckets over the trading window and their cumulative trading intensity."""
    std = standard_offset_us(event.city.tz)
    day_start = event.strike_date_us - DAY_US  # local-standard midnight starting the climate day
    starts: list[int] = []
    cum: list[float] = []
    total = 0.0
    t = event.open_us
    step = 900 * US
    while t < event.close_us:
        local_hour = ((t + std) // HOUR_US) % 24
        w = HOUR_WEIGHTS[local_hour] * (1.6 if t >= day_start else 1.0)
        total += w
        starts.append(t)
        cum.append(total)
        t += step
    return starts, cum


def simulate_tapes(seed: int, event: Event) -> list[Tape]:
    """Quote paths and trade tapes of every market of ``event``, deterministic in (seed, event)."""
    rng = random.Random(f"kalshi-sim|{seed}|{event.series_ticker}|{event.date.isoformat()}|tape")
    fair = _Fair(event, rng)
    m0, s0 = fair.at(event.open_us)
    priors = [_Fair.prob(m, m0, s0) for m in event.markets]
    shares = [
        p * (1 - p) + 0.02 + (0.15 if m.result == "yes" else 0.0)
        for p, m in zip(priors, event.markets, strict=True)
    ]
    total_share = sum(shares)
    starts, cum = _trade_buckets(event)
    fractional = event.date >= FRACTIONAL_FROM
    blocks = event.date >= BLOCK_TRADES_FROM
    close_us = event.close_us
    bucket_us = 900 * US
    # Refill sizes draw from their own stream, so the prices, trades and ids above stay what they
    # were before the tape tracked the sizes trades take.
    refill_rng = random.Random(
        f"kalshi-sim|{seed}|{event.series_ticker}|{event.date.isoformat()}|refill"
    )
    tapes = []
    for market, share in zip(event.markets, shares, strict=True):
        n_trades = int(event.expected_trades * share / total_share * rng.uniform(0.6, 1.4))
        tape = Tape()
        _simulate_quotes(rng, fair, market, tape, n_trades, close_us)
        _simulate_trades(rng, tape, n_trades, starts, cum, bucket_us, close_us, fractional, blocks)
        _take_fills(refill_rng, tape)
        tapes.append(tape)
    return tapes


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedCache(Generic[K, V]):
    """A thread-safe LRU of values that never depend on "now", shared by every World.

    Unlike ``functools.lru_cache`` the key is given apart from the arguments (an :class:`Event`
    holds a list, so it cannot be hashed). Two threads missing the same key both compute it; the
    values are equal, so either may stay.
    """

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The value under ``key``, made by ``make()`` on a miss."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self.max_items:
                self._items.popitem(last=False)
        return value


_TAPES: SharedCache[tuple[int, str], list[Tape]] = SharedCache(160)


def cached_tapes(seed: int, event: Event) -> list[Tape]:
    """:func:`simulate_tapes`, remembered for the last 160 events (tapes never depend on "now",
    so every World and order book in the process shares them)."""
    return _TAPES.get((seed, event.event_ticker), lambda: simulate_tapes(seed, event))


def _simulate_quotes(
    rng: random.Random, fair: _Fair, market: Market, tape: Tape, n_trades: int, close_us: int
) -> None:
    quiet = n_trades < 30
    mean_gap_us = MINUTE_US / (0.02 + min(0.5, n_trades / 3000))
    rand = rng.random
    log = math.log
    erf = math.erf
    lo = None if market.lo is None else market.lo - 0.5
    hi = None if market.hi is None else market.hi + 0.5
    t = market.open_us + int(rng.uniform(0.2, 50.0) * US)
    half_bid, half_ask = 1, 1
    prev_bid, prev_ask = 0, 100
    q_us, q_bid, q_ask, q_bsz, q_asz = tape.q_us, tape.q_bid, tape.q_ask, tape.q_bsz, tape.q_asz
    q_kind = tape.q_kind
    at = fair.at
    while t < close_us:
        mean, sd = at(t)
        k = 0.7071067811865476 / sd
        upper = 1.0 if hi is None else 0.5 * (1.0 + erf((hi - mean) * k))
        lower = 0.0 if lo is None else 0.5 * (1.0 + erf((lo - mean) * k))
        c = int((upper - lower) * 100 + 0.5)
        c = 1 if c < 1 else 99 if c > 99 else c
        if rand() < 0.3:
            # Market makers re-price their spread now and then; quiet books are wider.
            widen = int(rand() * 6) if quiet else 0
            half_bid = 1 + (rand() < 0.35) + (rand() < 0.1) + widen
            half_ask = 1 + (rand() < 0.35) + (rand() < 0.1) + widen
        bid = c - half_bid
        ask = c + half_ask
        if bid < 0:
            bid = 0
        if ask > 100:
            ask = 100
        if quiet and rand() < 0.05:
            bid = 0  # thin books lose their bid side now and then
        if bid != prev_bid or ask != prev_ask:
            q_us.append(t)
            q_bid.append(bid)
            q_ask.append(ask)
            q_bsz.append(0 if bid == 0 else (int(rand() * 800) + 1) * 100)
            q_asz.append(0 if ask == 100 else (int(rand() * 800) + 1) * 100)
            q_kind.append(Q_QUOTE)
            prev_bid, prev_ask = bid, ask
        t += int(-log(1.0 - rand()) * mean_gap_us) + 1
    # Resting orders are cancelled at the close: the book empties just after it.
    q_us.append(close_us + int(rng.uniform(0.05, 20.0) * US))
    q_bid.append(0)
    q_ask.append(100)
    q_bsz.append(0)
    q_asz.append(0)
    q_kind.append(Q_CLOSE)


def _size_table(n: int = 4096) -> tuple[float, ...]:
    # Quantiles of a lognormal(2.3, 1.4) trade size (median ~10 contracts, a long tail), so a
    # draw costs one uniform instead of a Box-Muller pair.
    nd = NormalDist(2.3, 1.4)
    return tuple(min(25000.0, math.exp(nd.inv_cdf((i + 0.5) / n))) for i in range(n))


SIZES = _size_table()
_NSIZES = len(SIZES)


def _simulate_trades(
    rng: random.Random,
    tape: Tape,
    n_trades: int,
    starts: list[int],
    cum: list[float],
    bucket_us: int,
    close_us: int,
    fractional: bool,
    blocks: bool,
) -> None:
    if not starts or n_trades <= 0:
        return
    total = cum[-1]
    rand = rng.random
    last_bucket = len(starts) - 1
    times = []
    for _ in range(n_trades):
        b = bisect_left(cum, rand() * total)
        if b > last_bucket:
            b = last_bucket
        t = starts[b] + int(rand() * bucket_us)
        times.append(t if t < close_us else close_us - 1)
    times.sort()
    q_us, q_bid, q_ask = tape.q_us, tape.q_bid, tape.q_ask
    nq = len(q_us)
    j = -1
    oi = 0
    running = 0
    sizes = SIZES
    nsizes = _NSIZES
    bits = rng.getrandbits
    t_us, t_px, t_cc, t_yes = tape.t_us, tape.t_px, tape.t_cc, tape.t_yes
    t_block, t_id, t_oi, t_cum = tape.t_block, tape.t_id, tape.t_oi, tape.t_cum
    next_q = q_us[0] if nq else close_us
    bid = 0
    ask = 100
    for t in times:
        while t >= next_q:
            j += 1
            bid, ask = q_bid[j], q_ask[j]
            next_q = q_us[j + 1] if j + 1 < nq else close_us + 1
        if j < 0 or (bid == 0 and ask == 100):
            continue
        if bid == 0:
            yes = True
        elif ask == 100:
            yes = False
        else:
            yes = rand() < 0.5
        size = sizes[int(rand() * nsizes)]
        # From 2026-04-09 some fills are fractional (hundredths of a contract).
        frac = fractional and rand() < 0.3
        cc = (int(size * 100) or 1) if frac else (int(size + 0.5) or 1) * 100
        block = blocks and rand() < 0.002
        if oi == 0 or rand() < 0.6:
            oi += cc
        else:
            oi = oi - cc if cc < oi else 0
        running += cc
        t_us.append(t)
        t_px.append(ask if yes else bid)
        t_cc.append(cc)
        t_yes.append(yes)
        t_block.append(block)
        t_id.append(bits(128))
        t_oi.append(oi)
        t_cum.append(running)


def _take_fills(rng: random.Random, tape: Tape) -> None:
    """Make every trade take its count off the top of the book, in the quote path.

    The quote path drawn by :func:`_simulate_quotes` only has market makers' re-quotes; this adds,
    at each trade's instant, a :data:`Q_FILL` entry with the size left at the level it hit (the
    ask for a YES taker, the bid for a NO taker). A trade larger than the level first gets a
    :data:`Q_REFILL` entry (a maker tops the level up), so a trade never takes more than rests
    there and never empties it: the best prices stay the re-quoted ones, which the trades and
    candles were cut from.
    """
    q_us, q_bid, q_ask, q_bsz, q_asz = tape.q_us, tape.q_bid, tape.q_ask, tape.q_bsz, tape.q_asz
    q_kind = tape.q_kind
    t_us, t_cc, t_yes = tape.t_us, tape.t_cc, tape.t_yes
    if not t_us:
        return
    n_q = len(q_us)
    out_us: list[int] = []
    out_bid: list[int] = []
    out_ask: list[int] = []
    out_bsz: list[int] = []
    out_asz: list[int] = []
    out_kind: list[int] = []

    def emit(t: int, bid: int, ask: int, bsz: int, asz: int, kind: int) -> None:
        out_us.append(t)
        out_bid.append(bid)
        out_ask.append(ask)
        out_bsz.append(bsz)
        out_asz.append(asz)
        out_kind.append(kind)

    rand = rng.random
    i = 0
    bid, ask, bsz, asz = 0, 100, 0, 0
    for t, cc, yes in zip(t_us, t_cc, t_yes, strict=True):
        # A quote change at the trade's instant comes first (as in candle_rows).
        while i < n_q and q_us[i] <= t:
            bid, ask, bsz, asz = q_bid[i], q_ask[i], q_bsz[i], q_asz[i]
            emit(q_us[i], bid, ask, bsz, asz, q_kind[i])
            i += 1
        size = asz if yes else bsz
        if size <= cc:
            size = cc + (int(rand() * 800) + 1) * 100
            if yes:
                asz = size
            else:
                bsz = size
            emit(t, bid, ask, bsz, asz, Q_REFILL)
        if yes:
            asz -= cc
        else:
            bsz -= cc
        emit(t, bid, ask, bsz, asz, Q_FILL)
    while i < n_q:
        emit(q_us[i], q_bid[i], q_ask[i], q_bsz[i], q_asz[i], q_kind[i])
        i += 1
    tape.q_us, tape.q_bid, tape.q_ask = out_us, out_bid, out_ask
    tape.q_bsz, tape.q_asz, tape.q_kind = out_bsz, out_asz, out_kind


# ---------------------------------------------------------------------------------------------
# candles


@dataclass(frozen=True, slots=True)
class CandleRow:
    """One emitted period: quote OHLC, trade OHLC (None when no trade), VWAP parts, volume, OI."""

    end_s: int
    bid: tuple[int, int, int, int]  # open, high, low, close (cents)
    ask: tuple[int, int, int, int]
    price: tuple[int, int, int, int] | None
    notional: int  # sum of price cents * count cc over the period's trades
    volume_cc: int
    previous: int | None  # last trade price before the period
    oi_cc: int


def _daily_ends(open_us: int, close_us: int) -> list[int]:
    """Daily candle boundaries (local midnight America/New_York) around a market's life, in s."""
    first = from_us(open_us).astimezone(ET).date() - dt.timedelta(days=1)
    last = from_us(close_us).astimezone(ET).date() + dt.timedelta(days=3)
    ends = []
    d = first
    while d <= last:
        ends.append(to_us(dt.datetime(d.year, d.month, d.day, tzinfo=ET)) // US)
        d += dt.timedelta(days=1)
    return ends


def candle_rows(
    tape: Tape, period_min: int, now_s: int, open_us: int, close_us: int
) -> list[CandleRow]:
    """Aggregate a tape into candles of ``period_min`` minutes, emitted only where something
    changed (a trade or a best bid/ask change), completed periods only (end <= ``now_s``).

    A period ends at ``end_period_ts`` inclusive: an event at exactly a boundary belongs to the
    period ending there. Daily periods end at local midnight America/New_York.
    """
    q_us, q_bid, q_ask = tape.q_us, tape.q_bid, tape.q_ask
    t_us, t_px, t_cc, t_oi = tape.t_us, tape.t_px, tape.t_cc, tape.t_oi
    nq, nt = len(q_us), len(t_us)
    inf = 1 << 62
    daily = _daily_ends(open_us, close_us) if period_min == 1440 else None
    p_us = period_min * MINUTE_US
    rows: list[CandleRow] = []
    qi = ti = 0
    bid, ask = 0, 100
    last_px: int | None = None
    oi = 0
    while qi < nq or ti < nt:
        tq = q_us[qi] if qi < nq else inf
        tt = t_us[ti] if ti < nt else inf
        first = tq if tq <= tt else tt
        if daily is not None:
            k = bisect_left(daily, -(-first // US))
            end_s = daily[k]
        else:
            end_s = -(-first // p_us) * p_us // US
        if end_s > now_s:
            break
        end_us = end_s * US
        b_o = b_h = b_l = bid
        a_o = a_h = a_l = ask
        p_o = p_h = p_l = p_c = -1
        prev = last_px
        vol = 0
        notional = 0
        while True:
            tq = q_us[qi] if qi < nq else inf
            tt = t_us[ti] if ti < nt else inf
            if tq <= tt and tq <= end_us:
                # A quote change at the same instant as a trade comes first: the trade printed
                # at the quote in effect at its time.
                bid, ask = q_bid[qi], q_ask[qi]
                b_h = max(b_h, bid)
                b_l = min(b_l, bid)
                a_h = max(a_h, ask)
                a_l = min(a_l, ask)
                qi += 1
            elif tt <= end_us:
                px, cc = t_px[ti], t_cc[ti]
                if p_o < 0:
                    p_o = p_h = p_l = px
                else:
                    p_h = max(p_h, px)
                    p_l = min(p_l, px)
                p_c = px
                vol += cc
                notional += px * cc
                oi = t_oi[ti]
                ti += 1
            else:
                break
        if p_c >= 0:
            last_px = p_c
        rows.append(
            CandleRow(
                end_s=end_s,
                bid=(b_o, b_h, b_l, bid),
                ask=(a_o, a_h, a_l, ask),
                price=(p_o, p_h, p_l, p_c) if p_o >= 0 else None,
                notional=notional,
                volume_cc=vol,
                previous=prev,
                oi_cc=oi,
            )
        )
    return rows


def vwap_ten_thousandths(notional: int, volume_cc: int) -> int:
    """Volume-weighted mean price in 1/10000 dollars, rounded half up.

    ``notional`` is sum(cents * cc); dividing by sum(cc) gives cents, times 100 gives 1/10000 $.
    """
    return (notional * 200 + volume_cc) // (2 * volume_cc)
