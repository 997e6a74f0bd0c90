"""The WebSocket protocol helpers: URLs, frame heads, commands and per-subscription seq accounting.

Frames below are the examples of Kalshi's WebSocket pages (https://docs.kalshi.com/websockets/
websocket-connection, .../orderbook-updates, .../public-trades, .../market-and-event-lifecycle),
in the fixed-point shapes the wire carries today.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def _reference_head(text: str) -> FrameHead:
    """The head by the book: the whole frame decoded, each field taken if it has the right type."""
    try:
        obj = json.loads(text)
    except ValueError:
        return FrameHead("unparseable")
    if not isinstance(obj, dict):
        return FrameHead("unparseable")

    def as_int(v: object) -> int | None:
        return v if type(v) is int else None

    def as_str(v: object) -> str | None:
        return v if isinstance(v, str) else None

    kind = obj["type"] if isinstance(obj.get("type"), str) else "unknown"
    msg: dict[str, object] = obj["msg"] if isinstance(obj.get("msg"), dict) else {}
    channels = {"orderbook_snapshot": "orderbook_delta", "orderbook_delta": "orderbook_delta"}
    channels.update({t: t for t in ("trade", "ticker", "market_lifecycle_v2")})
    channels.update({t: "market_lifecycle_v2" for t in ("event_lifecycle", "event_fee_update")})
    channel = channels.get(kind)
    sid = as_int(obj.get("sid"))
    if kind == "subscribed":
        channel = as_str(msg.get("channel")) if as_str(msg.get("channel")) is not None else channel
        sid = as_int(msg.get("sid")) if sid is None else sid
    return FrameHead(
        kind,
        sid=sid,
        seq=as_int(obj.get("seq")),
        id=as_int(obj.get("id")),
        channel=channel,
        market_ticker=as_str(msg.get("market_ticker")),
        event_ticker=as_str(msg.get("event_ticker")),
        code=as_int(msg.get("code")) if kind == "error" else None,
    )


def _obj(pairs: list[tuple[str, str]]) -> str:
    """An object from (key, value text) pairs, repeats and all, written compactly."""
    return "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}"


_texts = st.one_of(
    st.sampled_from(["KXHIGHCHI-26DEC06-B40.5", "X-1", "", "trade", 'a"b', "\\", "\x01", "é"]),
    st.text(max_size=12),
)
_scalars = st.one_of(
    _texts.map(lambda t: json.dumps(t, ensure_ascii=False)),
    _texts.map(json.dumps),
    st.integers(-5, 10**20).map(str),
    st.sampled_from(["1.5", "-0", "0.0", "1e3", "2E-2", "true", "false", "null", "[1]", "{}"]),
)
_msg_keys = st.sampled_from(["market_ticker", "event_ticker", "channel", "code", "sid", "msg", "a"])
_types = st.sampled_from(
    [
        *("trade", "orderbook_delta", "orderbook_snapshot", "ticker", "market_lifecycle_v2"),
        *("event_lifecycle", "subscribed", "error", "ok", "Trade", ""),
    ]
)


@st.composite
def _frames(draw: st.DrawFn) -> str:
    msg = _obj(draw(st.lists(st.tuples(_msg_keys, _scalars), max_size=6)))
    top: list[tuple[str, str]] = [("type", json.dumps(draw(_types)))]
    top.append(("sid", draw(st.sampled_from(["1", "0", "12", "-1", "1.0", '"2"', "true"]))))
    if draw(st.booleans()):
        top.append(("seq", draw(st.sampled_from(["7", "0", "99999999999", "null", "7.5"]))))
    top.append(("msg", msg))
    extra = st.tuples(st.sampled_from(["type", "sid", "seq", "id", "msg", "_rx_ms"]), _scalars)
    top += draw(st.lists(extra, max_size=2))
    if draw(st.booleans()):
        top = draw(st.permutations(top))
    text = _obj(top)
    cut = draw(st.sampled_from(["none", "none", "truncate", "space", "tail"]))
    if cut == "truncate":
        text = text[: draw(st.integers(0, len(text)))]
    elif cut == "space":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + " " + text[at:]
    elif cut == "tail":
        text += draw(st.sampled_from(["}", ",", " ", "x"]))
    return text


@settings(max_examples=300, deadline=None)
@given(_frames())
def test_parse_head_equals_a_full_decode(text: str) -> None:
    # The fast reader of the common shape must say exactly what decoding the whole frame says,
    # for every frame: repeated keys (the last wins), escapes, odd types, broken JSON.
    assert parse_head(text) == _reference_head(text)


def test_parse_head_reads_the_common_shape_without_a_full_decode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Data frames in the shape Kalshi writes never reach json.loads (the recorder's hot path);
    # the rest does.
    import kalshi_lake.api.wshead as wshead

    calls: list[object] = []
    real = json.loads

    def counting(text: object) -> object:
        calls.append(text)
        return real(text)  # type: ignore[arg-type]

    monkeypatch.setattr(wshead.json, "loads", counting)
    delta = (
        '{"type":"orderbook_delta","sid":1,"seq":2,"msg":{"market_ticker":"KXHIGHNY-26JUN24-T82",'
        '"market_id":"0445cdcb","price_dollars":"0.1000","delta_fp":"7.00","side":"yes",'
        '"ts":"2026-06-24T15:49:55.033836Z","ts_ms":1782316195033}}'
    )
    ticker = '{"type":"ticker","sid":4,"msg":{"market_ticker":"M","price":0,"x":null}}'
    assert parse_head(delta) == FrameHead(
        "orderbook_delta",
        sid=1,
        seq=2,
        channel="orderbook_delta",
        market_ticker="KXHIGHNY-26JUN24-T82",
    )
    assert parse_head(TRADE).market_ticker == "KXHIGHCHI-25OCT02-B80.5"
    assert parse_head(ticker) == FrameHead("ticker", sid=4, channel="ticker", market_ticker="M")
    assert calls == []
    assert parse_head(SNAPSHOT).seq == 2  # nested arrays: decoded
    assert parse_head('{"type":"trade","sid":1,"seq":3,"msg":{"market_ticker":"A\\"B"}}') == (
        FrameHead("trade", sid=1, seq=3, channel="trade", market_ticker='A"B')
    )
    assert len(calls) == 2


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
