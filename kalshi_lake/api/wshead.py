"""Frame heads: what the recorder reads of every server frame, cheaply and exactly.

The recorder needs a few fields of each frame (``type``, ``sid``, ``seq``, ``id``, and of ``msg``
its ``market_ticker``, ``event_ticker``, ``channel``, ``sid`` and ``code``), not the frame: the
text is kept verbatim and parsed again later by the transform. Decoding the whole JSON of every
frame to get them was the recorder's largest cost per frame.

:func:`parse_head` gives exactly what ``json.loads`` of the whole frame would give, two ways:

- **Data frames as Kalshi writes them, by one regular expression.** Deltas, trades, tickers and
  most lifecycle frames are ``{"type":…,"sid":…,"seq":…,"msg":{…}}`` in that order, compact,
  with a flat ``msg`` of plain values (https://docs.kalshi.com/websockets/orderbook-updates and
  its sibling pages). :data:`_SHAPE` matches the *whole* text against that grammar (JSON strings
  without escapes, JSON numbers, ``true``/``false``/``null``), so a match proves the frame is
  valid JSON of that shape, with no other top-level key. Without escapes no value holds a quote,
  so ``"market_ticker":`` in ``msg`` can only be that key: the last one is read (``json.loads``
  keeps the last of repeated keys). Possessive quantifiers: no backtracking, a failed match
  costs at most one pass over the text.
- **Everything else, by ``json.loads``**: replies (``subscribed``, ``ok``, ``error``), snapshots
  (nested arrays), lifecycle frames with metadata objects, escapes, whitespace, other key
  orders, non-JSON. A property test holds both ways to a full decode over generated frames.

Fields are read leniently: a frame that is not JSON, or lacks the usual keys, gets a head with
the fields it has (``type`` ``"unparseable"`` if it is not a JSON object) and is never dropped.

PERF (the bench's frame mix, on a loaded 2-core machine): 12 us a frame decoded whole, 6 us
read this way (2.5 us of it the match); with the head a named tuple rather than a frozen
dataclass, the recorder (``python -m kalshi_lake.bench --only recorder``) went from about
19,000 to about 23,000 frames per CPU second, run alternately at load 14 (at load 8 within the
runs' noise).
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple

#: The channel of each data frame type (replies name their channel through their sid).
CHANNEL_OF_TYPE = {
    "orderbook_snapshot": "orderbook_delta",
    "orderbook_delta": "orderbook_delta",
    "trade": "trade",
    "ticker": "ticker",
    "market_lifecycle_v2": "market_lifecycle_v2",
    "event_lifecycle": "market_lifecycle_v2",
    "event_fee_update": "market_lifecycle_v2",
}


class FrameHead(NamedTuple):
    """What the recorder needs to know about one server frame, read without trusting it.

    A named tuple: one is made per frame, and a frozen dataclass cost four times as much.
    """

    type: str
    sid: int | None = None
    seq: int | None = None
    id: int | None = None
    #: The frame's channel: from its type, or for ``subscribed`` from its ``msg``.
    channel: str | None = None
    market_ticker: str | None = None
    #: ``msg.event_ticker`` (lifecycle frames about an event)
    event_ticker: str | None = None
    #: ``msg.code`` of an ``error`` frame.
    code: int | None = None


# The grammar of the common shape. A JSON string without escapes or control characters (so
# without a quote inside), a JSON number, a literal; the flat object's pairs.
_STR = r'"[^"\\\x00-\x1f]*+"'
_NUM = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_PAIR = rf"{_STR}:(?:{_STR}|{_NUM}|true|false|null)"
_UINT = r"(0|[1-9][0-9]*+)"
#: A data frame as Kalshi writes it: type, sid, seq (not on tickers), then a flat msg, nothing
#: after. Possessive quantifiers: no backtracking, a failed match costs one pass at most.
_SHAPE = re.compile(
    rf'\{{"type":"([a-z0-9_]++)","sid":{_UINT}(?:,"seq":{_UINT})?+,'
    rf'"msg":\{{((?:{_PAIR}(?:,{_PAIR})*+)?+)\}}\}}'
)


def _msg_str(text: str, key: str, lo: int, hi: int) -> str | None:
    """The string value of ``key`` in a matched flat ``msg`` (``text[lo:hi]``), else None.

    Inside a match no value holds a quote, so ``"key":`` can only be that key; the last one
    counts, as in ``json.loads``.
    """
    i = text.rfind(key, lo, hi)
    if i < 0:
        return None
    j = i + len(key)
    return text[j + 1 : text.index('"', j + 1)] if text[j] == '"' else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_head(text: str | bytes) -> FrameHead:
    """The head of a server frame; never raises."""
    if type(text) is str:
        m = _SHAPE.fullmatch(text)
        if m is not None:
            kind = m[1]
            channel = CHANNEL_OF_TYPE.get(kind)
            if channel is not None:  # a data frame (replies carry fields read the slow way)
                lo, hi = m.span(4)
                seq = m[3]
                return FrameHead(
                    kind,
                    int(m[2]),
                    None if seq is None else int(seq),
                    None,
                    channel,
                    _msg_str(text, '"market_ticker":', lo, hi),
                    _msg_str(text, '"event_ticker":', lo, hi),
                    None,
                )
    try:
        obj = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return FrameHead("unparseable")
    if not isinstance(obj, dict):
        return FrameHead("unparseable")
    return _head(obj)


def _head(obj: dict[str, Any]) -> FrameHead:
    """The head of a frame decoded into ``obj``."""
    msg = obj.get("msg")
    kind = _str(obj.get("type"))
    kind = "unknown" if kind is None else kind
    channel = CHANNEL_OF_TYPE.get(kind)
    ticker = event = code = None
    sid = _int(obj.get("sid"))
    if isinstance(msg, dict):
        ticker = _str(msg.get("market_ticker"))
        event = _str(msg.get("event_ticker"))
        if kind == "subscribed":
            named = _str(msg.get("channel"))
            channel = channel if named is None else named
            if sid is None:
                sid = _int(msg.get("sid"))
        elif kind == "error":
            code = _int(msg.get("code"))
    return FrameHead(
        kind,
        sid=sid,
        seq=_int(obj.get("seq")),
        id=_int(obj.get("id")),
        channel=channel,
        market_ticker=ticker,
        event_ticker=event,
        code=code,
    )
