"""Accept-Language: the simulator answers in Spanish or Portuguese when asked, like Kalshi."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from kalshi_lake.sim import SimServer
from kalshi_lake.sim.language import requested_language

EVENT = "KXHIGHCHI-26NOV20"
TITLES = ("title", "subtitle", "yes_sub_title", "no_sub_title")


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, None),
        ("", None),
        ("en", None),
        ("en-US,en;q=0.9", None),
        ("es", "es"),
        ("es-ES,es;q=0.9", "es"),
        ("pt-BR", "pt"),
        ("fr", None),  # not a language Kalshi translates into: English
        ("fr, pt;q=0.5", "pt"),
        ("en;q=0.5, es", "es"),  # weights decide, not order
        ("es;q=0, en", None),
    ],
)
def test_the_language_a_header_asks_for(header: str | None, lang: str | None) -> None:
    assert requested_language(header) == lang


def _event(sim: SimServer, **headers: str) -> dict[str, Any]:
    r = httpx.get(
        f"{sim.base_url}/events/{EVENT}", params={"with_nested_markets": "true"}, headers=headers
    )
    assert r.status_code == 200
    event: dict[str, Any] = r.json()["event"]
    return event


def test_titles_come_translated_when_asked_and_english_otherwise(sim: SimServer) -> None:
    english = _event(sim)
    assert _event(sim, **{"Accept-Language": "en"}) == english
    assert _event(sim, **{"Accept-Language": "fr"}) == english
    for lang, word in (("es", " o más"), ("pt-BR", " ou mais")):
        other = _event(sim, **{"Accept-Language": lang})
        assert other["title"] != english["title"] and other["sub_title"] != english["sub_title"]
        for m, e in zip(other["markets"], english["markets"], strict=True):
            assert all(m[k] != e[k] for k in TITLES), m
            # Only the titles: every number, time and ticker is the same.
            assert {k: v for k, v in m.items() if k not in TITLES} == {
                k: v for k, v in e.items() if k not in TITLES
            }
        assert any(m["yes_sub_title"].endswith(word) for m in other["markets"])
    # The simulator counts the header of every request it answered (none sent: "").
    assert sim.stats()["accept_language"] == {"": 1, "en": 1, "es": 1, "fr": 1, "pt-BR": 1}


def test_the_api_fields_of_each_era(sim: SimServer) -> None:
    # Before 2026-09-10 events carry available_on_brokers; markets before 2026-09-24 carry
    # liquidity_dollars and no settlement bounds; from then on the reverse, with some floors.
    w = sim.world
    old, mid, new = (
        w.event("chicago", dt.date(2026, 9, 9)),
        w.event("chicago", dt.date(2026, 9, 23)),
        w.event("chicago", dt.date(2026, 11, 20)),
    )
    assert old is not None and mid is not None and new is not None
    assert "available_on_brokers" in w.event_payload(old)
    assert "available_on_brokers" not in w.event_payload(mid)
    for m in mid.markets:
        p = w.market_payload(m)
        assert p["liquidity_dollars"] == "0.0000" and "settlement_bounds_type" not in p
    kinds = set()
    for day in range(1, 21):
        ev = w.event("chicago", dt.date(2026, 11, day))
        assert ev is not None
        for m in ev.markets:
            p = w.market_payload(m)
            assert "liquidity_dollars" not in p
            kinds.add(p["settlement_bounds_type"])
            floor = p.get("settlement_floor_dollars")
            assert (floor is not None) == (p["settlement_bounds_type"] == "floor")
            assert floor is None or 0 <= float(floor) < 1
    assert kinds == {"default", "floor"}
