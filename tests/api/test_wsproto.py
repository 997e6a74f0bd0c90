"""The WebSocket protocol helpers: URLs, frame heads, commands and per-subscription seq accounting.

Frames below are the examples of Kalshi's WebSocket pages (https://docs.kalshi.com/websockets/
websocket-connection, .../orderbook-updates, .../public-trades, .../market-and-event-lifecycle),
in the fixed-point shapes the wire carries today.
"""

from __future__ import annotations

import json

import pytest

from kalshi_lake.api.wsproto import (
    Commands,
    FrameHead,
    SeqTracker,
    parse_head,
    ws_url_for,
)


@pytest.mark.parametrize(
    ("api", "ws"),
    [
        (
            "https://external-api.kalshi.com/trade-api/v2",
            "wss://external-api-ws.kalshi.com/trade-api/ws/v2",
        ),
        (
            "https://external-api.demo.kalshi.co/trade-api/v2",
            "wss://external-api-ws.demo.kalshi.co/trade-api/ws/v2",
        ),
        (
            "https://api.elections.kalshi.com/trade-api/v2",
            "wss://api.elections.kalshi.com/trade-api/ws/v2",
        ),
        ("https://demo-api.kalshi.co/trade-api/v2/", "wss://demo-api.kalshi.co/trade-api/ws/v2"),
        ("http://127.0.0.1:8123/trade-api/v2", "ws://127.0.0.1:8123/trade-api/ws/v2"),
    ],
)
def test_ws_url_for_each_rest_base(api: str, ws: str) -> None:
    assert ws_url_for(api) == ws


SNAPSHOT = (
    '{"type":"orderbook_snapshot","sid":2,"seq":2,"msg":{"market_ticker":"FED-23DEC-T3.00",'
    '"market_id":"9b0f6b43-5b68-4f9f-9f02-9a2d1b8ac1a1","yes_dollars_fp":[["0.0800","300.00"]]}}'
)
TRADE = (
    '{"type":"trade","sid":5,"seq":7,"msg":{"trade_id":"d91bc706-ee49-470d-82d8-11418bda6fed",'
    '"market_ticker":"KXHIGHCHI-25OCT02-B80.5","yes_price_dollars":"0.2700",'
    '"no_price_dollars":"0.7300","count_fp":"7.00","taker_side":"yes","ts":1759350609}}'
)


def test_parse_head_reads_data_replies_and_errors() -> None:
    assert parse_head(SNAPSHOT) == FrameHead(
        "orderbook_snapshot",
        sid=2,
        seq=2,
        channel="orderbook_delta",
        market_ticker="FED-23DEC-T3.00",
    )
    assert parse_head(TRADE).channel == "trade"
    assert parse_head(TRADE).market_ticker == "KXHIGHCHI-25OCT02-B80.5"
    sub = parse_head('{"type":"subscribed","id":1,"msg":{"channel":"orderbook_delta","sid":1}}')
    assert (sub.sid, sub.id, sub.channel, sub.seq) == (1, 1, "orderbook_delta", None)
    err = parse_head(
        '{"type":"error","sid":4,"seq":4,"msg":{"code":14,"msg":"Market Ticker required"}}'
    )
    assert (err.code, err.sid, err.seq) == (14, 4, 4)
    listing = parse_head('{"id":3,"type":"ok","msg":[{"channel":"ticker","sid":2}]}')
    assert (listing.type, listing.id, listing.sid) == ("ok", 3, None)
    life = parse_head(
        '{"type":"market_lifecycle_v2","sid":1,"seq":9,"msg":{"market_ticker":"X-1",'
        '"settled_ts":1759351985,"event_type":"settled"}}'
    )
    assert (life.channel, life.market_ticker) == ("market_lifecycle_v2", "X-1")


@pytest.mark.parametrize("text", ["", "not json", "[1, 2]", '"x"', b"\xff\xfe"])
def test_parse_head_never_raises(text: str | bytes) -> None:
    assert parse_head(text).type == "unparseable"


def test_parse_head_odd_fields_are_not_trusted() -> None:
    head = parse_head('{"type": 5, "sid": "2", "seq": true, "msg": {"market_ticker": 3}}')
    assert head == FrameHead("unknown")


def test_commands_number_ids_and_use_documented_params() -> None:
    cmds = Commands()
    sub = cmds.subscribe(["orderbook_delta"], ["A", "B"], use_yes_price=False)
    assert sub == {
        "id": 1,
        "cmd": "subscribe",
        "params": {
            "channels": ["orderbook_delta"],
            "market_tickers": ["A", "B"],
            "use_yes_price": False,
        },
    }
    assert cmds.subscribe(["market_lifecycle_v2"])["params"] == {
        "channels": ["market_lifecycle_v2"]
    }
    upd = cmds.update(4, "get_snapshot", ["A"])
    assert upd["id"] == 3 and upd["params"] == {
        "sids": [4],
        "market_tickers": ["A"],
        "action": "get_snapshot",
    }
    assert cmds.unsubscribe([4]) == {"id": 4, "cmd": "unsubscribe", "params": {"sids": [4]}}
    assert cmds.list_subscriptions() == {"id": 5, "cmd": "list_subscriptions"}


def _frame(kind: str, sid: int, seq: int | None) -> FrameHead:
    body: dict[str, object] = {"type": kind, "sid": sid, "msg": {"market_ticker": "M"}}
    if seq is not None:
        body["seq"] = seq
    return parse_head(json.dumps(body))


def test_seq_counts_every_sequenced_frame_of_a_sid_whatever_its_type() -> None:
    # One subscription's stream as observed: snapshots, a delta, an error tied to the sid, more
    # deltas, an in-stream snapshot; every one consumes a number.
    seq = SeqTracker()
    assert (
        seq.observe(
            parse_head('{"type":"subscribed","id":1,"msg":{"channel":"orderbook_delta","sid":4}}')
        )
        is None
    )
    kinds = ["orderbook_snapshot", "orderbook_snapshot", "orderbook_delta", "error"]
    kinds += ["orderbook_delta"] * 4 + ["orderbook_snapshot", "ok"]
    for n, kind in enumerate(kinds, start=1):
        assert seq.observe(_frame(kind, 4, n)) is None
    assert seq.channels == {4: "orderbook_delta"}
    # ticker frames carry no seq and never break the count
    assert seq.observe(_frame("ticker", 1, None)) is None


def test_seq_reports_a_hole_once_and_goes_on() -> None:
    seq = SeqTracker()
    for n in (1, 2, 3):
        assert seq.observe(_frame("trade", 3, n)) is None
    brk = seq.observe(_frame("trade", 3, 6))
    assert brk is not None and (brk.kind, brk.expected, brk.got, brk.missing) == ("gap", 4, 6, 2)
    assert seq.observe(_frame("trade", 3, 7)) is None
    again = seq.observe(_frame("trade", 3, 7))
    assert again is not None and (again.kind, again.missing) == ("repeat", 0)
    # another sid has its own counter, from 1
    assert seq.observe(_frame("trade", 5, 1)) is None
    first = seq.observe(_frame("orderbook_delta", 9, 3))
    assert first is not None and (first.expected, first.got) == (1, 3)


def test_seq_forgets_an_unsubscribed_sid() -> None:
    seq = SeqTracker()
    seq.observe(_frame("trade", 2, 1))
    seq.forget(2)
    assert seq.observe(_frame("trade", 2, 1)) is None
