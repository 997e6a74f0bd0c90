"""The simulated world is self-consistent and follows the reference's market facts."""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from decimal import Decimal

import pytest

from kalshi_lake.cities import LEGACY_LAST_DATE, TWC_FIRST_DATE, get_city
from kalshi_lake.sim import World
from kalshi_lake.sim.config import FIXTURE_NOW
from kalshi_lake.sim.model import from_us

UTC = dt.UTC
NYC = get_city("nyc")
CHI = get_city("chicago")
SETTLED_DAY = dt.date(2026, 11, 20)  # finalized, still live at FIXTURE_NOW
ACTIVE_DAY = dt.date(2026, 11, 21)  # trading at FIXTURE_NOW


def _tickers(world: World, city: str, days: list[dt.date]) -> list[str]:
    out = []
    for d in days:
        ev = world.event(city, d)
        assert ev is not None, d
        out += [m.ticker for m in ev.markets]
    return out


SAMPLE_DAYS = [dt.date(2026, 11, 20), dt.date(2026, 10, 2), dt.date(2026, 6, 15)]


@pytest.mark.parametrize("city", ["nyc", "chicago", "seattle"])
def test_market_volume_equals_the_sum_of_its_trades(world: World, city: str) -> None:
    for ticker in _tickers(world, city, SAMPLE_DAYS):
        total = sum(Decimal(t["count_fp"]) for t in world.trades(ticker))
        assert Decimal(world.market_payload(ticker)["volume_fp"]) == total, ticker


def _minute_end(created: str) -> int:
    t = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    s = int(t.timestamp())
    return s if s % 60 == 0 and t.microsecond == 0 else (s // 60 + 1) * 60


@pytest.mark.parametrize("day", SAMPLE_DAYS)
def test_one_minute_candles_agree_with_trades(world: World, day: dt.date) -> None:
    hist = world.is_historical(world.event("nyc", day).markets[0])  # type: ignore[union-attr]
    for ticker in _tickers(world, "nyc", [day]):
        by_minute: dict[int, list[dict[str, str]]] = defaultdict(list)
        for t in world.trades(ticker):
            by_minute[_minute_end(t["created_time"])].append(t)
        candles = world.candles(ticker, 1)
        ends = [c["end_period_ts"] for c in candles]
        assert ends == sorted(set(ends)), "one candle per period, oldest first"
        assert set(by_minute) <= set(ends), "every minute with a trade has a candle"
        for c in candles:
            trades = by_minute.get(c["end_period_ts"], [])
            vol = sum(Decimal(t["count_fp"]) for t in trades)
            assert Decimal(c["volume_fp"]) == vol
            if not trades:
                assert c["price"].get("close_dollars") is None
                continue
            prices = [Decimal(t["yes_price_dollars"]) for t in trades]
            p = c["price"]
            assert Decimal(p["open_dollars"]) == prices[0]
            assert Decimal(p["close_dollars"]) == prices[-1]
            assert Decimal(p["high_dollars"]) == max(prices)
            assert Decimal(p["low_dollars"]) == min(prices)
            vwap = (
                sum(Decimal(t["yes_price_dollars"]) * Decimal(t["count_fp"]) for t in trades) / vol
            )
            assert abs(Decimal(p["mean_dollars"]) - vwap) <= Decimal("0.00005")
        # the historical shape carries the same numbers under flat names
        if hist:
            flat = world.historical_candles(ticker, 1)
            assert [c["end_period_ts"] for c in flat] == ends
            assert [c["volume"] for c in flat] == [c["volume_fp"] for c in candles]


def test_hourly_and_daily_candles_add_up_to_the_minutes(world: World) -> None:
    ticker = _tickers(world, "nyc", [SETTLED_DAY])[1]
    minutes = world.candles(ticker, 1)
    for period in (60, 1440):
        coarse = world.candles(ticker, period)
        assert sum(Decimal(c["volume_fp"]) for c in coarse) == sum(
            Decimal(c["volume_fp"]) for c in minutes
        )
        assert coarse[-1]["yes_bid"]["close_dollars"] == minutes[-1]["yes_bid"]["close_dollars"]
    daily_ends = [
        from_us(c["end_period_ts"] * 1_000_000).astimezone(get_city("nyc").zone)
        for c in world.candles(ticker, 1440)
    ]
    assert all((t.hour, t.minute) == (0, 0) for t in daily_ends), "daily candles end at ET midnight"


def test_candles_are_sparse_and_show_an_empty_book_as_0_and_1(world: World) -> None:
    ev = world.event("nyc", SETTLED_DAY)
    assert ev is not None
    m = ev.markets[2]
    candles = world.candles(m.ticker, 1)
    minutes = (m.close_us - m.open_us) // 60_000_000
    assert len(candles) < minutes, "candles only where something changed"
    last = candles[-1]
    assert last["end_period_ts"] == m.close_us // 1_000_000 + 60, "book pulled just after close"
    assert last["yes_bid"]["close_dollars"] == "0.0000"
    assert last["yes_ask"]["close_dollars"] == "1.0000"
    shapes = {json.dumps(sorted(c["price"])) for c in candles if c["volume_fp"] == "0.00"}
    assert len(shapes) >= 2, "no-trade periods vary between {}, previous-only and nulls"


def test_open_interest_and_last_price_match_the_tape(world: World) -> None:
    for ticker in _tickers(world, "nyc", [SETTLED_DAY]):
        payload = world.market_payload(ticker)
        trades = world.trades(ticker)
        candles = world.candles(ticker, 1)
        assert payload["open_interest_fp"] == candles[-1]["open_interest_fp"]
        if trades:
            assert payload["last_price_dollars"] == trades[-1]["yes_price_dollars"]


def test_each_settled_event_has_exactly_one_yes(world: World) -> None:
    for city in ("nyc", "chicago", "miami", "denver", "houston"):
        for ev in world.events([get_city(city)], dt.date(2026, 10, 22), dt.date(2026, 11, 20)):
            payloads = [world.market_payload(m) for m in ev.markets]
            assert all(p["status"] == "finalized" for p in payloads)
            results = [p["result"] for p in payloads]
            assert results.count("yes") == 1, ev.event_ticker
            winner = payloads[results.index("yes")]
            assert winner["settlement_value_dollars"] == "1.0000"
            temp = int(Decimal(winner["expiration_value"]))
            for p, m in zip(payloads, ev.markets, strict=True):
                assert m.resolves_yes(temp) == (p["result"] == "yes")


def test_ladder_has_two_tails_and_four_two_degree_brackets(world: World) -> None:
    ev = world.event("nyc", dt.date(2026, 8, 28))
    assert ev is not None
    ps = [world.market_payload(m) for m in ev.markets]
    low = ps[0]["cap_strike"]
    assert [p["ticker"] for p in ps] == [
        f"KXHIGHNY-26AUG28-T{low}",
        f"KXHIGHNY-26AUG28-B{low}.5",
        f"KXHIGHNY-26AUG28-B{low + 2}.5",
        f"KXHIGHNY-26AUG28-B{low + 4}.5",
        f"KXHIGHNY-26AUG28-B{low + 6}.5",
        f"KXHIGHNY-26AUG28-T{low + 7}",
    ]
    assert (ps[0]["strike_type"], ps[0]["yes_sub_title"]) == ("less", f"{low - 1}° or below")
    assert "floor_strike" not in ps[0]
    assert (ps[1]["strike_type"], ps[1]["floor_strike"], ps[1]["cap_strike"]) == (
        "between",
        low,
        low + 1,
    )
    assert ps[1]["subtitle"] == f"{low}° to {low + 1}°"
    assert (ps[5]["strike_type"], ps[5]["floor_strike"]) == ("greater", low + 7)
    assert ps[5]["no_sub_title"] == f"{low + 8}° or above"
    assert "cap_strike" not in ps[5]


def test_times_follow_the_reference() -> None:
    w = World(1, dt.datetime(2026, 11, 21, tzinfo=UTC))

    def times(day: dt.date) -> tuple[str, str, str]:
        ev = w.event("nyc", day)
        assert ev is not None
        p = w.market_payload(ev.markets[0])
        return p["open_time"], p["close_time"], p["settlement_ts"]

    # 10:00 ET on D-1; 11:59 PM civil ET until the 2026-03-17 climate day, then 04:59Z.
    assert times(dt.date(2026, 3, 17))[:2] == ("2026-03-16T14:00:00Z", "2026-03-18T03:59:00Z")
    assert times(dt.date(2026, 3, 18))[:2] == ("2026-03-17T14:00:00Z", "2026-03-19T04:59:00Z")
    assert times(dt.date(2026, 1, 10))[:2] == ("2026-01-09T15:00:00Z", "2026-01-11T04:59:00Z")
    # settlement about 8 AM ET on D+1
    settle = dt.datetime.fromisoformat(times(dt.date(2026, 5, 11))[2].replace("Z", "+00:00"))
    assert settle.astimezone(NYC.zone).date() == dt.date(2026, 5, 12)
    assert 8 <= settle.astimezone(NYC.zone).hour < 9


def test_settlement_source_switches_on_2026_08_14() -> None:
    w = World(1, dt.datetime(2026, 11, 21, tzinfo=UTC))
    before = w.event("chicago", TWC_FIRST_DATE - dt.timedelta(days=1))
    after = w.event("chicago", TWC_FIRST_DATE)
    assert before is not None and after is not None
    p0, p1 = w.market_payload(before.markets[5]), w.market_payload(after.markets[5])
    assert "National Weather Service's Climatological Report (Daily)" in p0["rules_primary"]
    assert "Chicago Midway" in p0["rules_primary"]
    assert "The Weather Company" not in p0["rules_primary"]
    assert p1["rules_primary"].startswith("If the maximum temperature recorded at Chicago (CLIMDW)")
    assert "according to The Weather Company" in p1["rules_primary"]
    e0, e1 = w.event_payload(before), w.event_payload(after)
    assert e0["settlement_sources"][0]["name"] == "National Weather Service"
    assert e1["settlement_sources"] == [
        {"name": "The Weather Company", "url": "https://weather.com/kalshi"}
    ]


def test_legacy_prefix_until_the_rename() -> None:
    w = World(1, dt.datetime(2026, 11, 21, tzinfo=UTC))
    old = w.event("nyc", LEGACY_LAST_DATE)
    new = w.event("nyc", LEGACY_LAST_DATE + dt.timedelta(days=1))
    assert old is not None and new is not None
    assert old.event_ticker == "HIGHNY-24OCT23" and old.series_ticker == "KXHIGHNY"
    assert new.event_ticker == "KXHIGHNY-24OCT24"
    assert w.event_by_ticker("KXHIGHNY-24OCT23") is None
    assert w.event_by_ticker("HIGHNY-24OCT24") is None
    assert w.event("denver", dt.date(2024, 11, 20)).event_ticker == "KXHIGHDEN-24NOV20"  # type: ignore[union-attr]
    assert w.event("nyc", NYC.first_event - dt.timedelta(days=1)) is None
    assert w.event("nyc", NYC.first_event) is not None


def test_fractional_counts_only_from_2026_04_09(world: World) -> None:
    def counts(day: dt.date) -> list[Decimal]:
        return [
            Decimal(t["count_fp"]) for tk in _tickers(world, "nyc", [day]) for t in world.trades(tk)
        ]

    before = counts(dt.date(2026, 4, 7)) + counts(dt.date(2026, 4, 8))
    after = counts(dt.date(2026, 4, 9)) + counts(dt.date(2026, 4, 10))
    assert before and all(c == c.to_integral_value() for c in before)
    assert any(c != c.to_integral_value() for c in after)


def test_trades_are_well_formed_and_priced_inside_the_book(world: World) -> None:
    for ticker in _tickers(world, "nyc", [SETTLED_DAY]):
        for t in world.trades(ticker):
            yes, no = Decimal(t["yes_price_dollars"]), Decimal(t["no_price_dollars"])
            assert yes + no == 1 and Decimal("0.01") <= yes <= Decimal("0.99")
            assert t["taker_outcome_side"] == t["taker_side"]
            assert t["taker_book_side"] == ("bid" if t["taker_outcome_side"] == "yes" else "ask")
            assert t["ticker"] == ticker and len(t["trade_id"]) == 36


def test_prices_drift_toward_the_outcome(world: World) -> None:
    for ev in world.events([NYC], dt.date(2026, 10, 1), dt.date(2026, 10, 31)):
        for m in ev.markets:
            trades = world.trades(m.ticker)
            if len(trades) < 20:
                continue
            last = Decimal(trades[-1]["yes_price_dollars"])
            if m.result == "yes":
                assert last >= Decimal("0.5"), m.ticker
            else:
                assert last <= Decimal("0.5"), m.ticker


def test_activity_varies_from_busy_to_nearly_empty(world: World) -> None:
    counts = [
        len(world.trades(m.ticker))
        for ev in world.events([NYC], dt.date(2026, 9, 1), dt.date(2026, 11, 20))
        for m in ev.markets
    ]
    assert max(counts) >= 1000
    assert min(counts) <= 20


def test_status_follows_now(world: World) -> None:
    statuses = {
        d: world.market_payload(world.event("nyc", d).markets[0])["status"]  # type: ignore[union-attr]
        for d in (SETTLED_DAY, ACTIVE_DAY)
    }
    assert statuses == {SETTLED_DAY: "finalized", ACTIVE_DAY: "active"}
    early = World(7, dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    ev = early.event("nyc", ACTIVE_DAY)
    assert ev is not None and early.market_payload(ev.markets[0])["status"] == "initialized"
    assert early.event("nyc", ACTIVE_DAY + dt.timedelta(days=1)) is None, "not created yet"
    late = World(7, dt.datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    assert late.market_payload(ev.markets[0].ticker)["status"] == "closed"
    # nothing after now: trades and candles stop at the clock
    for t in world.trades(world.event("nyc", ACTIVE_DAY).markets[1].ticker):  # type: ignore[union-attr]
        assert t["created_time"] <= "2026-11-21T15:00:00Z"
    assert all(
        c["end_period_ts"] <= FIXTURE_NOW.timestamp()
        for c in world.candles(world.event("nyc", ACTIVE_DAY).markets[1].ticker)  # type: ignore[union-attr]
    )


def test_cutoff_sits_at_midnight_lag_days_back(world: World) -> None:
    assert world.cutoff["market_settled_ts"] == dt.datetime(2026, 9, 22, tzinfo=UTC)
    assert set(world.cutoff) == {
        "market_settled_ts",
        "trades_created_ts",
        "orders_updated_ts",
        "market_positions_last_updated_ts",
    }
    assert World(7, FIXTURE_NOW, 10).cutoff["trades_created_ts"] == dt.datetime(
        2026, 11, 11, tzinfo=UTC
    )


def test_same_seed_same_world_other_seed_other_world() -> None:
    a = World(3, FIXTURE_NOW)
    b = World(3, FIXTURE_NOW)
    c = World(4, FIXTURE_NOW)
    t = a.event("boston", SETTLED_DAY).markets[2].ticker  # type: ignore[union-attr]
    assert a.market_payload(t) == b.market_payload(t)
    assert a.trades(t) == b.trades(t)
    assert a.candles(t) == b.candles(t)
    assert json.dumps(
        [c.market_payload(m) for m in c.event("boston", SETTLED_DAY).markets]  # type: ignore[union-attr]
    ) != json.dumps([a.market_payload(m) for m in a.event("boston", SETTLED_DAY).markets])  # type: ignore[union-attr]


def test_direct_candle_json_equals_the_dicts(world: World) -> None:
    import zlib

    from kalshi_lake.sim.candlejson import (
        historical_candle,
        historical_candle_json,
        live_candle,
        live_candle_json,
    )

    for day in (dt.date(2026, 11, 20), dt.date(2026, 5, 2)):
        for m in world.event("chicago", day).markets:  # type: ignore[union-attr]
            salt = zlib.crc32(m.ticker.encode())
            for period in (1, 60):
                for row in world.candle_rows(m, period):
                    for direct, obj in (
                        (live_candle_json(row, salt), live_candle(row, salt)),
                        (historical_candle_json(row), historical_candle(row)),
                    ):
                        assert direct == json.dumps(
                            obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False
                        )
