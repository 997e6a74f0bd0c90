"""The simulator's order books: consistent with the tape, the trades and the candles."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Iterator

import pytest

from kalshi_lake.sim import World
from kalshi_lake.sim.book import DEPTH_WINDOW, Book, BookChange, _build, book_at, book_changes
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.sim.model import FRACTIONAL_FROM, MINUTE_US, US, Event, Market
from kalshi_lake.sim.tape import Tape, candle_rows, simulate_tapes

SEED = FIXTURE_SEED
END = 1 << 62

#: (city, climate day, family): a high and a low after fractional counts began, a busy city,
#: and a day before fractional counts (whole-contract sizes only).
CASES = [
    ("chicago", dt.date(2026, 11, 20), "high"),
    ("nyc", dt.date(2026, 11, 19), "low"),
    ("nyc", dt.date(2026, 10, 30), "high"),
    ("miami", dt.date(2025, 7, 4), "high"),
]


def _events(world: World) -> list[Event]:
    out = []
    for city, day, family in CASES:
        ev = world.event(city, day, family)
        assert ev is not None, (city, day, family)
        out.append(ev)
    return out


def _markets(world: World) -> Iterator[tuple[Event, Market, Tape]]:
    for ev in _events(world):
        for m in ev.markets:
            yield ev, m, world.tape(m)


def _apply(book: tuple[dict[int, int], dict[int, int]], c: BookChange) -> None:
    ladder = book[0] if c.side == "yes" else book[1]
    size = ladder.get(c.price_c, 0) + c.delta_cc
    assert size >= 0, f"{c} leaves a negative level"
    if size:
        ladder[c.price_c] = size
    else:
        del ladder[c.price_c]


def _top(book: tuple[dict[int, int], dict[int, int]]) -> tuple[int, int, int, int]:
    """(bid, ask, bid size, ask size) in the tape's convention (bid 0 / ask 100 = empty)."""
    yes, no = book
    bid = max(yes) if yes else 0
    nb = max(no) if no else 0
    return bid, 100 - nb, yes.get(bid, 0), no.get(nb, 0)


def _all(ev: Event, m: Market) -> list[BookChange]:
    return book_changes(SEED, ev, m.ticker, 0, END)


def test_changes_are_time_ordered_for_the_market_and_well_formed(world: World) -> None:
    for ev, m, _ in _markets(world):
        changes = _all(ev, m)
        assert changes, m.ticker
        assert [c.ts_us for c in changes] == sorted(c.ts_us for c in changes)
        assert changes[0].ts_us >= m.open_us
        for c in changes:
            assert c.market_ticker == m.ticker
            assert c.side in ("yes", "no") and 1 <= c.price_c <= 99
            assert c.delta_cc != 0 and c.cause in ("quote", "trade", "close")
            if ev.date < FRACTIONAL_FROM:
                assert c.delta_cc % 100 == 0  # whole contracts before fractional trading


def test_top_of_book_is_the_tape_quote_at_every_instant_and_never_crossed(world: World) -> None:
    for ev, m, tape in _markets(world):
        book: tuple[dict[int, int], dict[int, int]] = ({}, {})
        changes = _all(ev, m)
        for k, c in enumerate(changes):
            _apply(book, c)
            yes, no = book
            assert all(v > 0 for v in yes.values()) and all(v > 0 for v in no.values())
            if yes and no:  # never crossed, not even between two changes of one instant
                assert max(yes) < 100 - max(no), (m.ticker, c)
            if k + 1 == len(changes) or changes[k + 1].ts_us != c.ts_us:
                assert _top(book) == tape.quote_at(c.ts_us), (m.ticker, c)
        # And at every instant the tape's quote changes (one before, at, one after).
        for t in tape.q_us:
            for at in (t - 1, t, t + 1):
                b = book_at(SEED, ev, m.ticker, at)
                bid, ask, bsz, asz = tape.quote_at(at)
                assert b.best_bid() == ((bid, bsz) if bid else None)
                assert b.best_ask() == ((ask, asz) if ask < 100 else None)


def test_every_trade_executes_against_the_book(world: World) -> None:
    for ev, m, tape in _markets(world):
        book: tuple[dict[int, int], dict[int, int]] = ({}, {})
        k = 0
        for c in _all(ev, m):
            if c.cause == "trade":
                assert k < len(tape.t_us), f"{m.ticker}: more fills than trades"
                yes_taker = tape.t_yes[k]
                bid, ask, _, _ = _top(book)
                assert c.ts_us == tape.t_us[k]
                assert c.delta_cc == -tape.t_cc[k]
                if yes_taker:  # buys YES at the best ask: off the best NO bid
                    assert (c.side, c.price_c, tape.t_px[k]) == ("no", 100 - ask, ask)
                else:  # sells YES at the best bid
                    assert (c.side, c.price_c, tape.t_px[k]) == ("yes", bid, bid)
                level = book[0 if c.side == "yes" else 1][c.price_c]
                assert tape.t_cc[k] <= level
                k += 1
            _apply(book, c)
        assert k == len(tape.t_us), f"{m.ticker}: {len(tape.t_us) - k} trades never hit the book"


def test_one_minute_candles_bid_ask_are_the_books_best_over_the_minute(world: World) -> None:
    checked = 0
    for ev, m, tape in _markets(world):
        changes = _all(ev, m)
        rows = candle_rows(tape, 1, END // US, m.open_us, m.close_us)
        assert rows
        for row in rows:
            end = row.end_s * US
            start = end - MINUTE_US
            first = book_at(SEED, ev, m.ticker, start)
            state = (dict(first.yes), dict(first.no))
            seen = [_top(state)]
            inside = [c for c in changes if start < c.ts_us <= end]
            for k, c in enumerate(inside):
                _apply(state, c)
                if k + 1 == len(inside) or inside[k + 1].ts_us != c.ts_us:
                    seen.append(_top(state))  # the book once an instant's changes are applied
            bids = [s[0] for s in seen]
            asks = [s[1] for s in seen]
            assert row.bid == (bids[0], max(bids), min(bids), bids[-1]), (m.ticker, row.end_s)
            assert row.ask == (asks[0], max(asks), min(asks), asks[-1]), (m.ticker, row.end_s)
            checked += 1
    assert checked > 500


def test_served_candles_show_the_book(world: World) -> None:
    ev = _events(world)[0]
    m = ev.markets[2]
    for candle in world.candles(m.ticker, 1):
        b = book_at(SEED, ev, m.ticker, candle["end_period_ts"] * US)
        bid = b.best_bid()
        ask = b.best_ask()
        assert candle["yes_bid"]["close_dollars"] == f"{(bid[0] if bid else 0) / 100:.4f}"
        assert candle["yes_ask"]["close_dollars"] == f"{(ask[0] if ask else 100) / 100:.4f}"


def test_several_levels_rest_behind_each_top(world: World) -> None:
    rng = random.Random(5)
    deep = shallow = 0
    for ev, m, _ in _markets(world):
        for _ in range(25):
            at = rng.randrange(m.open_us, m.close_us)
            b = book_at(SEED, ev, m.ticker, at)
            for ladder in (b.yes, b.no):
                if not ladder or max(ladder) <= DEPTH_WINDOW:
                    continue  # a top near 1c has no room behind it
                assert max(ladder) - min(ladder) <= DEPTH_WINDOW
                if len(ladder) >= 4:
                    deep += 1
                else:
                    shallow += 1
    assert deep > 9 * shallow, (deep, shallow)


def test_close_burst_empties_the_book(world: World) -> None:
    for ev, m, tape in _markets(world):
        changes = _all(ev, m)
        burst = [c for c in changes if c.cause == "close"]
        assert burst and changes[-len(burst) :] == burst
        before = book_at(SEED, ev, m.ticker, burst[0].ts_us - 1)
        assert len(burst) == len(before.yes) + len(before.no) >= 2
        assert all(c.delta_cc < 0 and c.ts_us > m.close_us for c in burst)
        # The deepest levels go first; the tops last, when the tape's book empties.
        assert burst[-1].ts_us == tape.q_us[-1]
        assert book_at(SEED, ev, m.ticker, tape.q_us[-1]).is_empty()
        assert book_at(SEED, ev, m.ticker, m.settlement_us + 3600 * US).is_empty()
    assert book_at(SEED, ev, m.ticker, m.open_us).is_empty()


def test_replaying_changes_from_the_open_equals_book_at_100_random_instants(
    world: World,
) -> None:
    rng = random.Random(14)
    pairs = [(ev, m) for ev, m, _ in _markets(world)]
    for _ in range(100):
        ev, m = rng.choice(pairs)
        at = rng.randrange(m.open_us - 60 * US, m.close_us + 60 * US)
        book: tuple[dict[int, int], dict[int, int]] = ({}, {})
        for c in book_changes(SEED, ev, m.ticker, m.open_us - 1, at):
            _apply(book, c)
        assert book_at(SEED, ev, m.ticker, at) == Book(*book)


def test_windows_are_half_open_and_tile_the_whole_list(world: World) -> None:
    ev = _events(world)[1]
    m = ev.markets[3]
    whole = _all(ev, m)
    cuts = sorted({whole[0].ts_us - 1, whole[len(whole) // 3].ts_us, whole[-5].ts_us, END})
    tiled = [c for a, b in itertools.pairwise(cuts) for c in book_changes(SEED, ev, m.ticker, a, b)]
    assert tiled == whole
    at = whole[10].ts_us
    assert all(c.ts_us == at for c in book_changes(SEED, ev, m.ticker, at - 1, at))
    assert book_changes(SEED, ev, m.ticker, at, at) == []


def test_same_seed_same_book_other_seed_other_book(world: World) -> None:
    ev = _events(world)[0]
    m = ev.markets[1]
    fresh_tape = simulate_tapes(SEED, ev)[m.index]
    rebuilt = _build(SEED, m.ticker, fresh_tape, ev.date >= FRACTIONAL_FROM)
    cached = _all(ev, m)
    assert [rebuilt.change(k) for k in range(len(rebuilt.ts))] == cached
    other = World(SEED + 1, world.now).event(ev.city.name, ev.date)
    assert other is not None
    assert book_changes(SEED + 1, other, other.markets[m.index].ticker, 0, END) != cached


def test_unknown_ticker_is_a_key_error(world: World) -> None:
    ev = _events(world)[0]
    with pytest.raises(KeyError, match="not a market"):
        book_changes(SEED, ev, "KXHIGHCHI-26NOV20-B99.5", 0, END)
    with pytest.raises(KeyError):
        book_at(SEED, ev, _events(world)[1].markets[0].ticker, 0)


def test_world_wrappers_use_the_worlds_seed_and_now(world: World) -> None:
    ev = _events(world)[0]
    m = ev.markets[0]
    assert world.book_changes(m.ticker, 0, END) == _all(ev, m)
    at = (m.open_us + m.close_us) // 2
    assert world.book_at(m.ticker, at) == book_at(SEED, ev, m.ticker, at)
    busy = world.event("nyc", world.now.date(), "high")
    assert busy is not None
    top = busy.markets[2]
    assert world.book_at(top.ticker) == book_at(SEED, busy, top.ticker, world.now_us)
    with pytest.raises(KeyError):
        world.book_at("KXHIGHCHI-99JAN01-B50.5")
