"""The WebSocket endpoint's data over a moving (manual) clock: trades, lifecycle, ticker and order
books, each checked against the world the REST API serves."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest
from ws_support import START, Reader, open_ws, run, step_clock, ws_sim

from kalshi_lake.sim import SimServer, World
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.sim.model import US, to_us
from kalshi_lake.sim.world import SERIES

UTC = dt.UTC
DAY = dt.date(2026, 11, 21)
HOUR = dt.timedelta(hours=1)


def ladder(now: dt.datetime = START, city: str = "chicago", day: dt.date = DAY) -> list[str]:
    ev = World(FIXTURE_SEED, now).event(city, day)
    assert ev is not None
    return [m.ticker for m in ev.markets]


def stream(
    sim: SimServer, params: dict[str, Any], until: dt.datetime, step: dt.timedelta
) -> list[dict[str, Any]]:
    """Subscribe, then move the clock to ``until`` in steps; every frame received."""

    async def body() -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command("subscribe", params)
            await step_clock(sim, r, until, step)
            return r.frames

    return run(body())


def us_of(ts: str) -> int:
    """RFC 3339 with six fractional digits -> UTC microseconds."""
    return to_us(dt.datetime.fromisoformat(ts.replace("Z", "+00:00")))


def cents(dollars: str) -> int:
    whole, frac = dollars.split(".")
    return int(whole) * 100 + int(frac[:2])


def hundredths(fp: str) -> int:
    return int(fp.replace(".", ""))


def assert_seq_contiguous(frames: list[dict[str, Any]]) -> None:
    by_sid: dict[int, list[int]] = {}
    for f in frames:
        if "seq" in f:
            by_sid.setdefault(f["sid"], []).append(f["seq"])
    for seqs in by_sid.values():
        assert seqs == list(range(1, len(seqs) + 1))


def test_trades_streamed_equal_the_world_trades_in_the_window() -> None:
    tickers = ladder()
    end = START + 3 * HOUR
    with ws_sim() as sim:
        frames = stream(
            sim,
            {"channels": ["trade"], "market_tickers": tickers},
            end,
            20 * dt.timedelta(minutes=1),
        )
    trades = [f for f in frames if f["type"] == "trade"]
    world = World(FIXTURE_SEED, end)
    expected = []
    for t in tickers:
        for tr in world.trades(t):
            if dt.datetime.fromisoformat(tr["created_time"].replace("Z", "+00:00")) > START:
                expected.append(tr)
    assert len(trades) == len(expected) > 50
    assert_seq_contiguous(frames)
    got = {f["msg"]["trade_id"]: f["msg"] for f in trades}
    for tr in expected:
        msg = got[tr["trade_id"]]
        assert msg["market_ticker"] == tr["ticker"]
        for key in ("yes_price_dollars", "no_price_dollars", "count_fp", "taker_side",
                    "taker_outcome_side", "taker_book_side", "is_block_trade"):  # fmt: skip
            assert msg[key] == tr[key], key
        created = us_of(tr["created_time"])
        assert (msg["ts"], msg["ts_ms"]) == (created // US, created // 1000)
    # Time order across the connection, and the wire's key order.
    ts = [f["msg"]["ts_ms"] for f in trades]
    assert ts == sorted(ts)
    assert list(trades[0]["msg"]) == [
        "trade_id", "market_ticker", "yes_price_dollars", "no_price_dollars", "count_fp",
        "taker_side", "taker_outcome_side", "taker_book_side", "is_block_trade", "ts", "ts_ms",
    ]  # fmt: skip


def test_trade_channel_without_markets_streams_every_market() -> None:
    end = START + dt.timedelta(minutes=10)
    with ws_sim() as sim:
        frames = stream(sim, {"channels": ["trade"]}, end, dt.timedelta(minutes=5))
    got = Counter(f["msg"]["market_ticker"] for f in frames if f["type"] == "trade")
    world = World(FIXTURE_SEED, end)
    expected: Counter[str] = Counter()
    for ev in world.events(first=DAY - dt.timedelta(days=1), last=DAY + dt.timedelta(days=1)):
        for m in ev.markets:
            lo, hi = world.trade_index_range(m, to_us(START) + 1, to_us(end))
            if hi > lo:
                expected[m.ticker] = hi - lo
    assert got == expected
    assert len({t.split("-")[0] for t in got}) > 5  # many series, both families


def test_lifecycle_is_a_firehose_of_every_series() -> None:
    start = dt.datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
    end = dt.datetime(2026, 11, 21, 14, 0, tzinfo=UTC)
    with ws_sim(start) as sim:
        frames = stream(
            sim, {"channels": ["market_lifecycle_v2"]}, end, 30 * dt.timedelta(minutes=1)
        )
    assert_seq_contiguous(frames)
    kinds = Counter(
        (f["msg"]["event_type"], f["msg"]["market_ticker"].split("-")[1])
        for f in frames
        if f["type"] == "market_lifecycle_v2"
    )
    series = [s for s in SERIES if s.first_event <= dt.date(2026, 11, 20)]
    # The 22nd's ladders are created in the window, the 20th's determined and settled.
    assert kinds == {
        ("created", "26NOV22"): 6 * len(series),
        ("determined", "26NOV20"): 6 * len(series),
        ("settled", "26NOV20"): 6 * len(series),
    }
    events = [f for f in frames if f["type"] == "event_lifecycle"]
    assert len(events) == len(series)
    assert {e["msg"]["series_ticker"] for e in events} == {s.series_ticker for s in series}
    world = World(FIXTURE_SEED, end)
    last: dict[str, str] = {}
    for f in frames:
        if f["type"] != "market_lifecycle_v2":
            continue
        msg = f["msg"]
        keys = list(msg)
        assert keys[0] == "market_ticker" and keys[-1] == "event_type"
        ticker = msg["market_ticker"]
        if msg["event_type"] == "determined":
            payload = world.market_payload(ticker)
            assert msg["result"] == payload["result"]
            assert msg["settlement_value"] == payload["settlement_value_dollars"]
        if msg["event_type"] == "settled":
            assert last[ticker] == "determined"
            assert msg["settled_ts"] == us_of(world.market_payload(ticker)["settlement_ts"]) // US
        if msg["event_type"] == "created":
            payload = world.market_payload(ticker)
            assert msg["open_ts"] == us_of(payload["open_time"]) // US
            assert msg["additional_metadata"]["title"] == payload["title"]
        last[ticker] = msg["event_type"]


def _replay(frames: list[dict[str, Any]]) -> dict[str, list[tuple[int, str, int, int]]]:
    """Per ticker: (ts, side, price cents, delta cc) of every delta, in stream order."""
    out: dict[str, list[tuple[int, str, int, int]]] = {}
    for f in frames:
        if f["type"] == "orderbook_delta":
            m = f["msg"]
            out.setdefault(m["market_ticker"], []).append(
                (us_of(m["ts"]), m["side"], cents(m["price_dollars"]), hundredths(m["delta_fp"]))
            )
    return out


def _ladders(msg: dict[str, Any]) -> tuple[dict[int, int], dict[int, int]]:
    yes = {cents(p): hundredths(s) for p, s in msg.get("yes_dollars_fp", [])}
    no = {cents(p): hundredths(s) for p, s in msg.get("no_dollars_fp", [])}
    return yes, no


def test_book_replayed_from_snapshot_and_deltas_equals_book_at_100_instants() -> None:
    tickers = ladder()
    end = START + 2 * HOUR
    with ws_sim() as sim:
        frames = stream(
            sim,
            {"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": False},
            end,
            10 * dt.timedelta(minutes=1),
        )
        world = sim.world
    assert_seq_contiguous(frames)
    snaps = {f["msg"]["market_ticker"]: _ladders(f["msg"]) for f in frames
             if f["type"] == "orderbook_snapshot"}  # fmt: skip
    deltas = _replay(frames)
    assert sum(len(d) for d in deltas.values()) > 100
    rng = random.Random(14)
    t0, t1 = to_us(START), to_us(end)
    for _ in range(100):
        ticker = rng.choice(tickers)
        at = rng.randint(t0, t1)
        yes, no = dict(snaps[ticker][0]), dict(snaps[ticker][1])
        for ts, side, price, delta in deltas.get(ticker, []):
            if ts > at:
                break
            ladder_ = yes if side == "yes" else no
            size = ladder_.get(price, 0) + delta
            assert size >= 0
            if size:
                ladder_[price] = size
            else:
                del ladder_[price]
        book = world.book_at(ticker, at)
        assert (yes, no) == (book.yes, book.no)


def test_use_yes_price_reports_no_levels_on_the_yes_scale() -> None:
    tickers = ladder()[2:3]
    end = START + HOUR
    with ws_sim() as sim:
        plain = stream(sim, {"channels": ["orderbook_delta"], "market_tickers": tickers}, end, HOUR)
    with ws_sim() as sim:
        flipped = stream(
            sim,
            {"channels": ["orderbook_delta"], "market_tickers": tickers, "use_yes_price": True},
            end,
            HOUR,
        )
    (snap_a,) = [f["msg"] for f in plain if f["type"] == "orderbook_snapshot"]
    (snap_b,) = [f["msg"] for f in flipped if f["type"] == "orderbook_snapshot"]
    assert snap_a["yes_dollars_fp"] == snap_b["yes_dollars_fp"]
    no_a = {cents(p): s for p, s in snap_a["no_dollars_fp"]}
    no_b = {cents(p): s for p, s in snap_b["no_dollars_fp"]}
    assert no_b == {100 - p: s for p, s in no_a.items()}
    # Both ladders ascending by the price they carry.
    assert [cents(p) for p, _ in snap_b["no_dollars_fp"]] == sorted(no_b)
    # Best YES ask = the lowest NO level on the YES scale = 1 - the best no-leg NO bid.
    assert min(no_b) == 100 - max(no_a)
    deltas_a = [f["msg"] for f in plain if f["type"] == "orderbook_delta"]
    deltas_b = [f["msg"] for f in flipped if f["type"] == "orderbook_delta"]
    assert len(deltas_a) == len(deltas_b) > 0
    for a, b in zip(deltas_a, deltas_b, strict=True):
        flip = a["side"] == "no"
        assert cents(b["price_dollars"]) == (
            100 - cents(a["price_dollars"]) if flip else cents(a["price_dollars"])
        )


def test_delta_frames_have_the_wire_shape() -> None:
    tickers = ladder()[:1]
    with ws_sim() as sim:
        frames = stream(
            sim, {"channels": ["orderbook_delta"], "market_tickers": tickers}, START + HOUR, HOUR
        )
    delta = next(f for f in frames if f["type"] == "orderbook_delta")
    assert list(delta) == ["type", "sid", "seq", "msg"]
    assert list(delta["msg"]) == [
        "market_ticker", "market_id", "price_dollars", "delta_fp", "side", "ts", "ts_ms"
    ]  # fmt: skip
    assert len(delta["msg"]["price_dollars"]) == 6 and delta["msg"]["ts"].endswith("Z")
    assert len(delta["msg"]["ts"].split(".")[1]) == 7  # six digits and the Z
    assert us_of(delta["msg"]["ts"]) // 1000 == delta["msg"]["ts_ms"]


def test_close_burst_empties_the_book_and_a_later_snapshot_omits_both_sides() -> None:
    tickers = ladder()[:2]
    world = World(FIXTURE_SEED, START)
    m = world.market(tickers[0])
    assert m is not None
    close = dt.datetime.fromtimestamp(m.close_us / US, UTC)
    start = close - dt.timedelta(minutes=5)

    async def body(sim: SimServer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command(
                "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers}
            )
            await step_clock(sim, r, close + dt.timedelta(minutes=2), dt.timedelta(minutes=1))
            again = await r.command("update_subscription", {"sid": 1, "market_tickers": tickers,
                                                            "action": "get_snapshot"})  # fmt: skip
            return r.frames, again

    with ws_sim(start) as sim:
        frames, again = run(body(sim))
    snaps = {f["msg"]["market_ticker"]: _ladders(f["msg"]) for f in frames
             if f["type"] == "orderbook_snapshot" and f["seq"] <= 2}  # fmt: skip
    deltas = _replay(frames)
    for t in tickers:
        yes, no = snaps[t]
        for _, side, price, delta in deltas[t]:
            book = yes if side == "yes" else no
            book[price] = book.get(price, 0) + delta
        assert not any(yes.values()) and not any(no.values())
        after_close = [d for d in deltas[t] if d[0] > m.close_us]
        assert after_close and all(d[3] < 0 for d in after_close)
    assert [set(f["msg"]) for f in again] == [{"market_ticker", "market_id"}] * 2


def test_ticker_frames_have_no_seq_and_follow_the_book() -> None:
    tickers = ladder()[1:4]
    end = START + HOUR
    with ws_sim() as sim:
        frames = stream(
            sim,
            {"channels": ["ticker"], "market_tickers": tickers, "send_initial_snapshot": True},
            end,
            dt.timedelta(minutes=15),
        )
        world = sim.world
    ticks = [f for f in frames if f["type"] == "ticker"]
    assert all("seq" not in f for f in ticks)
    assert [f["msg"]["market_ticker"] for f in ticks[:3]] == tickers  # the initial states
    assert len(ticks) > 30
    for f in ticks:
        msg = f["msg"]
        book = world.book_at(msg["market_ticker"], us_of(msg["time"]))
        bid, ask = book.best_bid(), book.best_ask()
        assert msg["yes_bid_dollars"] == (f"0.{bid[0]:02d}00" if bid else "0.0000")
        assert hundredths(msg["yes_bid_size_fp"]) == (bid[1] if bid else 0)
        assert hundredths(msg["yes_ask_size_fp"]) == (ask[1] if ask else 0)
        assert cents(msg["yes_ask_dollars"]) == (ask[0] if ask else 100)
    assert list(ticks[0]["msg"])[:2] == ["market_id", "market_ticker"]


@pytest.mark.parametrize("way", ["resubscribe", "get_snapshot", "delete_add"])
def test_resync_ways(way: str) -> None:
    """After a resync the book replays to book_at again; a new sid restarts its seq at 1."""
    tickers = ladder()[1:3]
    end = START + HOUR

    async def body(sim: SimServer) -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command(
                "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers}
            )
            await step_clock(sim, r, START + 30 * dt.timedelta(minutes=1), dt.timedelta(minutes=10))
            if way == "resubscribe":
                await r.command("unsubscribe", {"sids": [1]})
                await r.command(
                    "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers}
                )
            elif way == "get_snapshot":
                await r.command("update_subscription", {"sids": [1], "market_tickers": tickers,
                                                        "action": "get_snapshot"})  # fmt: skip
            else:
                for action in ("delete_markets", "add_markets"):
                    await r.command("update_subscription", {"sids": [1], "market_tickers": tickers,
                                                            "action": action})  # fmt: skip
            await step_clock(sim, r, end, dt.timedelta(minutes=10))
            return r.frames

    with ws_sim() as sim:
        frames = run(body(sim))
        world = sim.world
    assert_seq_contiguous(frames)
    last_snaps = {}
    for i, f in enumerate(frames):
        if f["type"] == "orderbook_snapshot":
            last_snaps[f["msg"]["market_ticker"]] = i
    for t in tickers:
        i = last_snaps[t]
        snap = frames[i]
        if way == "resubscribe":
            assert (snap["sid"], snap["seq"]) in ((2, 1), (2, 2))
        else:
            assert snap["sid"] == 1 and snap["seq"] > 2
        yes, no = _ladders(snap["msg"])
        for f in frames[i + 1 :]:
            if f["type"] == "orderbook_delta" and f["msg"]["market_ticker"] == t:
                m = f["msg"]
                book = yes if m["side"] == "yes" else no
                p = cents(m["price_dollars"])
                book[p] = book.get(p, 0) + hundredths(m["delta_fp"])
                if not book[p]:
                    del book[p]
        final = world.book_at(t, to_us(end))
        assert (yes, no) == (final.yes, final.no)
