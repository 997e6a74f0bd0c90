"""Hostile cursors: ``cursor_fault`` cycles, repeats or empties the pagination of chosen requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kalshi_lake.errors import ConfigError
from kalshi_lake.sim import SimConfig, SimServer

Factory = Callable[..., SimServer]
VICTIM = "KXHIGHCHI-26NOV05-B60.5"  # 1,509 trades: two pages of 1,000
TARGET = f"/markets/trades?ticker={VICTIM}"


def _walk(sim: SimServer, path: str, params: dict[str, Any], pages: int) -> list[tuple[str, list]]:
    """``pages`` pages of a cursor walk: (cursor handed on, items) each."""
    out: list[tuple[str, list]] = []
    cursor = ""
    with httpx.Client(base_url=sim.base_url) as c:
        for _ in range(pages):
            q = {**params, **({"cursor": cursor} if cursor else {})}
            r = c.get(path, params=q)
            assert r.status_code == 200, r.text
            body = r.json()
            items = next(v for k, v in body.items() if isinstance(v, list))
            cursor = body["cursor"]
            out.append((cursor, items))
            if not cursor:
                break
    return out


def _ids(items: list) -> list[str]:
    return [t["trade_id"] for t in items]


def test_cycle_hands_the_first_pages_cursor_on_from_the_last(sim_factory: Factory) -> None:
    sim = sim_factory(cursor_fault="cycle", cursor_fault_on=TARGET)
    pages = _walk(sim, "/markets/trades", {"ticker": VICTIM, "limit": 1000}, 6)
    assert len(pages) == 6 and [len(p[1]) for p in pages] == [1000, 509] * 3
    cursors = [p[0] for p in pages]
    assert cursors[0] == cursors[2] == cursors[4] and cursors[1] == cursors[3]
    assert cursors[0] != cursors[1]


def test_repeat_serves_the_first_page_again_under_fresh_cursors(sim_factory: Factory) -> None:
    sim = sim_factory(cursor_fault="repeat", cursor_fault_on=TARGET)
    pages = _walk(sim, "/markets/trades", {"ticker": VICTIM, "limit": 1000}, 6)
    assert len({p[0] for p in pages}) == 6 and all(p[0] for p in pages)
    first = _ids(pages[0][1])
    assert all(_ids(p[1]) == first for p in pages[2:])


def test_empty_serves_empty_pages_under_fresh_cursors(sim_factory: Factory) -> None:
    sim = sim_factory(cursor_fault="empty", cursor_fault_on=TARGET)
    pages = _walk(sim, "/markets/trades", {"ticker": VICTIM, "limit": 1000}, 8)
    assert [len(p[1]) for p in pages] == [1000, 509] + [0] * 6
    assert len({p[0] for p in pages}) == 8 and all(p[0] for p in pages)


@pytest.mark.parametrize("fault", ["cycle", "repeat", "empty"])
def test_only_matching_requests_meet_the_fault(sim_factory: Factory, fault: str) -> None:
    sim = sim_factory(cursor_fault=fault, cursor_fault_on=TARGET)
    other = _walk(sim, "/markets/trades", {"ticker": "KXHIGHCHI-26NOV05-T58", "limit": 1000}, 5)
    assert [p[0] for p in other] == [""]
    listing = _walk(sim, "/markets", {"event_ticker": "KXHIGHCHI-26NOV05"}, 5)
    assert [p[0] for p in listing] == [""]


def test_without_filters_every_request_to_the_endpoint_meets_it(sim_factory: Factory) -> None:
    sim = sim_factory(cursor_fault="empty", cursor_fault_on="/markets")
    pages = _walk(sim, "/markets", {"event_ticker": "KXHIGHCHI-26NOV05"}, 3)
    assert [len(p[1]) for p in pages] == [6, 0, 0] and all(p[0] for p in pages)


def test_a_healthy_simulator_ends_a_walk_resumed_from_a_fault_cursor(
    sim_factory: Factory,
) -> None:
    hostile = sim_factory(cursor_fault="repeat", cursor_fault_on=TARGET)
    cursor = _walk(hostile, "/markets/trades", {"ticker": VICTIM, "limit": 1000}, 3)[-1][0]
    healthy = sim_factory()
    with httpx.Client(base_url=healthy.base_url) as c:
        r = c.get("/markets/trades", params={"ticker": VICTIM, "limit": 1000, "cursor": cursor})
    assert r.status_code == 200 and r.json() == {"cursor": "", "trades": []}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cursor_fault": "loop"}, "cursor_fault must be one of cycle, repeat, empty"),
        ({"cursor_fault_on": "/events"}, "cursor_fault_on needs a cursor_fault"),
        ({"cursor_fault": "cycle", "cursor_fault_on": "events"}, "must be an endpoint path"),
    ],
)
def test_bad_cursor_fault_settings_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SimConfig(**kwargs)
