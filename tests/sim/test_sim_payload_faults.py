"""Hostile payloads (``payload_faults``): well-formed JSON with content of the wrong shape."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.errors import ConfigError
from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import MARKET_FAULTS

Factory = Callable[..., SimServer]
EVENT = "KXHIGHCHI-26NOV20"
TICKER = f"{EVENT}-B52.5"


def get(sim: SimServer, target: str) -> dict[str, Any]:
    reply = sim.app.handle("GET", "/trade-api/v2" + target)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = json.loads(reply.body)
    return body


def test_off_by_default_and_faults_never_touch_the_world(sim_factory: Factory) -> None:
    clean = sim_factory()
    hostile = sim_factory(payload_faults=("event_no_ticker", *MARKET_FAULTS, "trade_conflict"))
    target = f"/markets?event_ticker={EVENT}"
    spoiled = get(hostile, target)["markets"]
    honest = get(clean, target)["markets"]
    assert spoiled != honest
    # The world's cached objects were copied, not spoiled: what it serves next is unchanged.
    assert [hostile.world.market_payload(m["ticker"]) for m in spoiled] == honest


def test_each_market_kind_spoils_its_own_market_of_every_page(sim_factory: Factory) -> None:
    sim = sim_factory(payload_faults=MARKET_FAULTS)
    markets = get(sim, f"/markets?event_ticker={EVENT}")["markets"]
    clean = [sim.world.market_payload(m["ticker"]) for m in markets]
    last, second, third, fourth = markets[-1], markets[-2], markets[-3], markets[-4]
    strike = "floor_strike" if "floor_strike" in clean[-1] else "cap_strike"
    assert last[strike] == "abc"
    assert second["volume_fp"] == "12x"
    assert third["status"] == 7
    assert fourth["result"] == {"value": clean[-4]["result"]}
    assert markets[:-4] == clean[:-4]
    # Single markets and markets nested in events meet the first kind too.
    one = get(sim, f"/markets/{TICKER}")["market"]
    assert "abc" in (one.get("floor_strike"), one.get("cap_strike"))
    nested = get(sim, f"/events/{EVENT}?with_nested_markets=true")["event"]["markets"]
    assert nested[-1][strike] == "abc"


def test_the_last_event_of_every_events_page_has_no_ticker(sim_factory: Factory) -> None:
    sim = sim_factory(payload_faults=("event_no_ticker",))
    page = get(sim, "/events?series_ticker=KXHIGHCHI&limit=3")
    tickers = [e.get("event_ticker") for e in page["events"]]
    assert tickers[0] and tickers[1] and tickers[2] is None
    nxt = get(sim, f"/events?series_ticker=KXHIGHCHI&limit=3&cursor={page['cursor']}")
    assert [e.get("event_ticker") is None for e in nxt["events"]] == [False, False, True]
    assert "event_ticker" not in get(sim, f"/events/{EVENT}")["event"]


def test_a_later_trades_page_repeats_a_trade_with_another_price(sim_factory: Factory) -> None:
    sim = sim_factory(payload_faults=("trade_conflict",))
    first = get(sim, f"/markets/trades?ticker={TICKER}&limit=3")
    assert len(first["trades"]) == 3  # the first page of a walk is honest
    second = get(sim, f"/markets/trades?ticker={TICKER}&limit=3&cursor={first['cursor']}")
    twin, *rest = second["trades"]
    before = first["trades"][-1]
    assert twin["trade_id"] == before["trade_id"]
    assert twin["yes_price_dollars"] != before["yes_price_dollars"]
    yes, no = float(twin["yes_price_dollars"]), float(twin["no_price_dollars"])
    assert round(yes + no, 4) == 1.0 and abs(yes - float(before["yes_price_dollars"])) < 0.0101
    assert {k: v for k, v in twin.items() if not k.endswith("price_dollars")} == {
        k: v for k, v in before.items() if not k.endswith("price_dollars")
    }
    assert len(rest) == 3 and before["trade_id"] not in {t["trade_id"] for t in rest}


def test_unknown_payload_fault_is_refused() -> None:
    with pytest.raises(ConfigError, match="payload_faults"):
        SimConfig(payload_faults=("nope",))
    bad = CliRunner().invoke(cli, ["sim", "--payload-fault", "nope"])
    assert bad.exit_code == 2 and "nope" in bad.output


def test_sim_command_serves_payload_faults() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "sim", "--now", "2026-11-21T15:00:00Z",
         "--seed", "7", "--payload-fault", "status_number", "--payload-fault", "event_no_ticker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        markets = httpx.get(f"{url}/markets?event_ticker={EVENT}", timeout=30).json()["markets"]
        assert markets[-1]["status"] == 7
        events = httpx.get(f"{url}/events?series_ticker=KXHIGHCHI&limit=2", timeout=30).json()
        assert "event_ticker" not in events["events"][-1]
    finally:
        proc.terminate()
        proc.wait(30)
