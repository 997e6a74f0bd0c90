"""The simulator's daily-low (``KXLOWT*``) series: same shapes as the highs, lows below highs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from kalshi_lake.cities import CITIES, get_city
from kalshi_lake.sim import SimServer, World

CHI_LOW = get_city("chicago").series("low")


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_days_low_is_below_its_high_and_one_bracket_wins(world: World) -> None:
    days = 0
    for city in CITIES:
        if "low" not in city.families:
            continue
        first = max(city.series("low").first_event, world.now.date() - dt.timedelta(days=120))
        day = first
        while day <= world.now.date() - dt.timedelta(days=2):
            high = world.event(city, day)
            low = world.event(city, day, "low")
            assert high is not None and low is not None
            assert low.family == "low" and low.event_ticker == city.series("low").event_ticker(day)
            assert low.high == high.high == high.value, "one simulated day for both families"
            assert low.value < high.value
            assert len(low.markets) == 6
            assert sum(m.result == "yes" for m in low.markets) == 1
            (won,) = [m for m in low.markets if m.result == "yes"]
            assert won.resolves_yes(low.value)
            days += 1
            day += dt.timedelta(days=7)
    assert days > 100


def test_no_lows_before_the_first_event_or_for_cities_without_them(world: World) -> None:
    assert world.event("chicago", CHI_LOW.first_event - dt.timedelta(days=1), "low") is None
    assert world.event("chicago", CHI_LOW.first_event, "low") is not None
    assert world.event_by_ticker("KXLOWTAUS-26NOV20") is None


def test_lows_over_http_in_the_highs_shapes(sim: SimServer, world: World) -> None:
    with httpx.Client(base_url=sim.base_url, timeout=60) as client:
        s = _get(client, f"/series/{CHI_LOW.ticker}")["series"]
        assert s["ticker"] == "KXLOWTCHI" and s["title"] == "Lowest temperature in Chicago"
        high_s = _get(client, "/series/KXHIGHCHI")["series"]
        assert s.keys() == high_s.keys()
        listed = {x["ticker"] for x in _get(client, "/series")["series"]}
        assert {"KXHIGHCHI", "KXLOWTCHI", "KXLOWTNYC", "KXLOWTAUS"} <= listed
        # KXLOWTAUS is the one series the registry lacks: listed, with nothing behind it.
        assert client.get("/series/KXLOWTAUS").status_code == 404
        assert _get(client, "/events", series_ticker="KXLOWTAUS")["events"] == []

        events = _get(client, "/events", series_ticker="KXLOWTCHI", limit=5)["events"]
        assert len(events) == 5
        assert all(e["series_ticker"] == "KXLOWTCHI" for e in events)
        assert all(e["event_ticker"].startswith("KXLOWTCHI-") for e in events)
        assert events[0]["title"].startswith("Lowest temperature in Chicago on ")
        high_e = _get(client, "/events", series_ticker="KXHIGHCHI", limit=1)["events"][0]
        assert events[0].keys() == high_e.keys()

        markets = _get(client, "/markets", series_ticker="KXLOWTCHI", limit=100)["markets"]
        assert markets and all(m["ticker"].startswith("KXLOWTCHI-") for m in markets)
        high_m = _get(client, "/markets", series_ticker="KXHIGHCHI", limit=1)["markets"][0]
        assert markets[0].keys() == high_m.keys()
        assert "**low temp in Chicago**" in markets[0]["title"]
        assert "lowest temperature" in markets[0]["rules_primary"].lower() or (
            "minimum temperature" in markets[0]["rules_primary"]
        )

        day = world.now.date() - dt.timedelta(days=5)
        ev = world.event("chicago", day, "low")
        assert ev is not None
        body = _get(client, f"/events/{ev.event_ticker}")
        assert [m["ticker"] for m in body["markets"]] == [m.ticker for m in ev.markets]
        results = [m["result"] for m in body["markets"]]
        assert results.count("yes") == 1 and results.count("no") == 5
        (won,) = [m for m in body["markets"] if m["result"] == "yes"]
        assert won["expiration_value"] in ("", f"{ev.value}.00")
        trades = _get(client, "/markets/trades", ticker=won["ticker"], limit=1000)["trades"]
        assert trades and all(t["ticker"] == won["ticker"] for t in trades)
