"""The WebSocket endpoint's commands: acks, errors and their codes, sids and seq per sid."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from ws_support import START, Reader, open_ws, run, ws_sim

from kalshi_lake.sim import SimServer, World
from kalshi_lake.sim.config import FIXTURE_SEED

DAY = dt.date(2026, 11, 21)


@pytest.fixture(scope="module")
def tickers() -> list[str]:
    """The chicago high ladder of the climate day trading at the start instant."""
    ev = World(FIXTURE_SEED, START).event("chicago", DAY)
    assert ev is not None
    return [m.ticker for m in ev.markets]


def session(sim: SimServer, script: Any) -> Any:
    async def body() -> Any:
        async with open_ws(sim) as ws:
            return await script(Reader(ws))

    return run(body())


def test_subscribe_answers_one_subscribed_per_channel_with_its_own_sid(
    tickers: list[str],
) -> None:
    async def script(r: Reader) -> list[str]:
        await r.command("subscribe", {"channels": ["trade", "market_lifecycle_v2", "ticker"],
                                      "market_tickers": tickers[:2]})  # fmt: skip
        await r.command("subscribe", {"channels": ["orderbook_delta"], "market_ticker": tickers[0]})
        return r.texts

    with ws_sim() as sim:
        texts = session(sim, script)
    subscribed = [t for t in texts if '"subscribed"' in t]
    # Key order as captured on the wire: type first, then id, then msg; no seq.
    assert subscribed == [
        '{"type":"subscribed","id":1,"msg":{"channel":"trade","sid":1}}',
        '{"type":"subscribed","id":1,"msg":{"channel":"market_lifecycle_v2","sid":2}}',
        '{"type":"subscribed","id":1,"msg":{"channel":"ticker","sid":3}}',
        '{"type":"subscribed","id":3,"msg":{"channel":"orderbook_delta","sid":4}}',
    ]


def test_orderbook_subscribe_sends_snapshots_first_in_request_order(tickers: list[str]) -> None:
    async def script(r: Reader) -> list[dict[str, Any]]:
        return await r.command(
            "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[::-1]}
        )

    with ws_sim() as sim:
        frames = session(sim, script)
    snaps = [f for f in frames if f["type"] == "orderbook_snapshot"]
    assert [f["msg"]["market_ticker"] for f in snaps] == tickers[::-1]
    assert [f["seq"] for f in snaps] == list(range(1, 7))
    assert all(f["sid"] == 1 for f in snaps)
    assert list(snaps[0]) == ["type", "sid", "seq", "msg"]
    assert list(snaps[0]["msg"])[:2] == ["market_ticker", "market_id"]


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ({"cmd": "subscribe"}, 2),
        ({"cmd": "subscribe", "params": {"channels": []}}, 3),
        ({"cmd": "subscribe", "params": {"channels": ["ticker_v2"]}}, 8),
        ({"cmd": "subscribe", "params": {"channels": ["orderbook_delta"]}}, 14),
        (
            {"cmd": "subscribe", "params": {"channels": ["trade"], "market_ticker": "KXNOPE-1-2"}},
            16,
        ),
        ({"cmd": "subscribe", "params": {"channels": ["trade"], "market_tickers": "A"}}, 11),
        ({"cmd": "unsubscribe", "params": {}}, 4),
        ({"cmd": "unsubscribe", "params": {"sids": [9]}}, 7),
        ({"cmd": "update_subscription", "params": {"sids": [1, 2], "action": "add_markets"}}, 12),
        ({"cmd": "update_subscription", "params": {"sid": 9, "action": "add_markets"}}, 7),
        ({"cmd": "frobnicate"}, 5),
    ],
)
def test_command_errors_carry_their_code_and_id(command: dict[str, Any], code: int) -> None:
    async def script(r: Reader) -> list[dict[str, Any]]:
        await r.ws.send(json.dumps({"id": 41, **command}))
        return await r.reply(41)

    with ws_sim() as sim:
        frames = session(sim, script)
    assert frames[-1]["type"] == "error"
    assert frames[-1]["msg"]["code"] == code
    assert "sid" not in frames[-1] and "seq" not in frames[-1]


def test_invalid_json_is_error_1() -> None:
    async def script(r: Reader) -> dict[str, Any]:
        await r.ws.send("{not json")
        (frame,) = await r.until(lambda f: True)
        return frame

    with ws_sim() as sim:
        assert session(sim, script) == {
            "type": "error",
            "msg": {"code": 1, "msg": "Unable to process message"},
        }


def test_errors_and_acks_on_a_sid_consume_its_seq(tickers: list[str]) -> None:
    """The measured behaviour: ok acks and sid errors take seq numbers, subscribed does not."""

    async def script(r: Reader) -> list[dict[str, Any]]:
        await r.command(
            "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[:2]}
        )
        # get_snapshot without market_tickers: error 14 on the sid (seq 3)
        await r.command("update_subscription", {"sids": [1], "action": "get_snapshot"})
        # no action: error 15 (seq 4); an unknown one: 13 (seq 5)
        await r.command("update_subscription", {"sids": [1], "market_tickers": tickers[2:3]})
        await r.command("update_subscription", {"sid": 1, "action": "merge", "market_ticker": "X"})
        # add a market: ok (seq 6) with the whole list, then its snapshot (seq 7)
        await r.command("update_subscription", {"sids": [1], "market_tickers": tickers[2:3],
                                                "action": "add_markets"})  # fmt: skip
        # the same tickers again: ok only (seq 8), no snapshot
        await r.command(
            "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers[:3]}
        )
        # in-stream snapshot on the same sid (seq 9), no ack
        await r.command("update_subscription", {"sids": [1], "market_tickers": tickers[1:2],
                                                "action": "get_snapshot"})  # fmt: skip
        # delete: ok (seq 10) with what is left; then unsubscribed (seq 11)
        await r.command("update_subscription", {"sids": [1], "market_tickers": tickers[:1],
                                                "action": "delete_markets"})  # fmt: skip
        await r.command("unsubscribe", {"sids": [1]})
        return [f for f in r.frames if f.get("sid") == 1 or f["type"] == "subscribed"]

    with ws_sim() as sim:
        frames = session(sim, script)
    summary = [
        (f["type"], f.get("seq"), f.get("msg", {}).get("code") if f["type"] == "error" else None)
        for f in frames
    ]
    assert summary == [
        ("subscribed", None, None),
        ("orderbook_snapshot", 1, None),
        ("orderbook_snapshot", 2, None),
        ("error", 3, 14),
        ("error", 4, 15),
        ("error", 5, 13),
        ("ok", 6, None),
        ("orderbook_snapshot", 7, None),
        ("ok", 8, None),
        ("orderbook_snapshot", 9, None),
        ("ok", 10, None),
        ("unsubscribed", 11, None),
    ]
    oks = [f for f in frames if f["type"] == "ok"]
    assert oks[0]["msg"] == {"market_tickers": tickers[:3]}
    assert oks[2]["msg"] == {"market_tickers": tickers[1:3]}
    assert frames[7]["msg"]["market_ticker"] == tickers[2]
    assert frames[9]["msg"]["market_ticker"] == tickers[1]
    assert list(oks[0]) == ["type", "id", "sid", "seq", "msg"]
    assert list(frames[-1]) == ["type", "id", "sid", "seq"]


def test_skip_ticker_ack_leaves_the_list_out(tickers: list[str]) -> None:
    async def script(r: Reader) -> list[dict[str, Any]]:
        await r.command("subscribe", {"channels": ["trade"], "market_tickers": tickers[:1],
                                      "skip_ticker_ack": True})  # fmt: skip
        return await r.command("update_subscription", {"sid": 1, "market_tickers": tickers[1:2],
                                                       "action": "add_markets"})  # fmt: skip

    with ws_sim() as sim:
        (ok,) = session(sim, script)
    assert ok == {"type": "ok", "id": 3, "sid": 1, "seq": 1, "msg": {}}


def test_list_subscriptions_is_an_ok_with_an_array(tickers: list[str]) -> None:
    async def script(r: Reader) -> list[dict[str, Any]]:
        await r.command("subscribe", {"channels": ["ticker", "market_lifecycle_v2"]})
        await r.command("unsubscribe", {"sids": [1]})
        await r.command("subscribe", {"channels": ["trade"], "market_tickers": tickers})
        cmd_id = await r.send("list_subscriptions")
        return await r.reply(cmd_id)

    with ws_sim() as sim:
        frames = session(sim, script)
    assert frames[-1] == {
        "type": "ok",
        "id": 7,
        "msg": [{"channel": "market_lifecycle_v2", "sid": 2}, {"channel": "trade", "sid": 3}],
    }


def test_sids_belong_to_the_connection() -> None:
    async def script(r: Reader) -> list[dict[str, Any]]:
        return await r.command("subscribe", {"channels": ["market_lifecycle_v2"]})

    with ws_sim() as sim:
        first = session(sim, script)
        second = session(sim, script)
    assert (
        first
        == second
        == [{"type": "subscribed", "id": 1, "msg": {"channel": "market_lifecycle_v2", "sid": 1}}]
    )
