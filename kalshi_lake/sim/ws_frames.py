"""The simulator's WebSocket frames: pure builders of the JSON text Kalshi sends.

Shapes follow the current fixed-point era of https://docs.kalshi.com/websockets (prices as
4-decimal ``*_dollars`` strings, counts as 2-decimal ``*_fp`` strings, no integer cents) and the
key order of frames captured on the wire, which differs from the documentation's examples:
envelopes start with ``type`` (``{"type","id","sid","seq","msg"}``, absent keys left out), a
lifecycle ``msg`` ends with ``event_type``, a ticker ``msg`` starts with ``market_id``. Nothing
here is sorted: the text is built in that order, byte for byte the same for the same inputs.

Timestamps: ``ts`` of trades and tickers and every lifecycle ``*_ts`` are integer seconds,
``ts_ms`` integer milliseconds, an order book delta's ``ts`` and a ticker's ``time`` RFC 3339
with six fractional digits; snapshots carry none.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from kalshi_lake.sim.model import US, Event, Market, count_fp, dollars

__all__ = [
    "ERROR_MESSAGES",
    "encode",
    "envelope",
    "error",
    "event_created_msg",
    "lifecycle_created_msg",
    "lifecycle_determined_msg",
    "lifecycle_settled_msg",
    "list_ok",
    "market_id",
    "ok",
    "orderbook_delta_msg",
    "orderbook_snapshot_msg",
    "rfc3339_us",
    "subscribed",
    "ticker_msg",
    "trade_msg",
    "unsubscribed",
]

#: Error codes and their texts (https://docs.kalshi.com/websockets/websocket-connection).
ERROR_MESSAGES: dict[int, str] = {
    1: "Unable to process message",
    2: "Params required",
    3: "Channels required",
    4: "Subscription IDs required",
    5: "Unknown command",
    6: "Already subscribed",
    7: "Unknown subscription ID",
    8: "Unknown channel name",
    9: "Authentication required",
    10: "Channel error",
    11: "Invalid parameter",
    12: "Exactly one subscription ID is required",
    13: "Unsupported action",
    14: "Market Ticker required",
    15: "Action required",
    16: "Market not found",
    17: "Internal error",
    25: (
        "Subscription buffer overflow: the subscription's event buffer overflowed during a "
        "message burst"
    ),
}


def encode(obj: Mapping[str, Any]) -> str:
    """Compact JSON in the object's own key order (never sorted), UTF-8 text."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def envelope(
    type_: str,
    *,
    cmd_id: int | None = None,
    sid: int | None = None,
    seq: int | None = None,
    msg: Any = None,
) -> dict[str, Any]:
    """A server frame's outer object, keys in wire order, absent ones left out."""
    d: dict[str, Any] = {"type": type_}
    if cmd_id:
        d["id"] = cmd_id  # id 0 means "no id" (the docs)
    if sid is not None:
        d["sid"] = sid
    if seq is not None:
        d["seq"] = seq
    if msg is not None:
        d["msg"] = msg
    return d


def subscribed(cmd_id: int | None, channel: str, sid: int) -> str:
    """``subscribed``: one per channel of a ``subscribe``, no ``seq``."""
    return encode(envelope("subscribed", cmd_id=cmd_id, msg={"channel": channel, "sid": sid}))


def ok(cmd_id: int | None, sid: int, seq: int, tickers: Sequence[str] | None) -> str:
    """``ok`` on a sid (update_subscription, a repeated subscribe): it consumes a ``seq``.

    ``tickers`` is the subscription's whole list after the change (None: left out, as with
    ``skip_ticker_ack`` or a subscription without a market list).
    """
    msg: dict[str, Any] = {} if tickers is None else {"market_tickers": list(tickers)}
    return encode(envelope("ok", cmd_id=cmd_id, sid=sid, seq=seq, msg=msg))


def list_ok(cmd_id: int | None, subs: Iterable[tuple[str, int]]) -> str:
    """``list_subscriptions``'s reply: an ``ok`` whose ``msg`` is an array of channel and sid."""
    items = [{"channel": channel, "sid": sid} for channel, sid in subs]
    return encode(envelope("ok", cmd_id=cmd_id, msg=items))


def unsubscribed(cmd_id: int | None, sid: int, seq: int) -> str:
    """``unsubscribed``: one per sid, consuming that sid's next ``seq``."""
    return encode(envelope("unsubscribed", cmd_id=cmd_id, sid=sid, seq=seq))


def error(
    cmd_id: int | None,
    code: int,
    *,
    sid: int | None = None,
    seq: int | None = None,
    market_ticker: str | None = None,
) -> str:
    """``error``; one about an existing subscription carries its ``sid`` and consumes a ``seq``."""
    msg: dict[str, Any] = {"code": code, "msg": ERROR_MESSAGES.get(code, "Error")}
    if market_ticker is not None:
        msg["market_ticker"] = market_ticker
    return encode(envelope("error", cmd_id=cmd_id, sid=sid, seq=seq, msg=msg))


# ---------------------------------------------------------------------------------------------
# data messages (the ``msg`` objects; the session wraps them with sid and seq)


@lru_cache(maxsize=1 << 14)
def market_id(ticker: str) -> str:
    """A market's stable UUID (the REST payloads carry none, so any fixed value per ticker)."""
    return str(uuid.UUID(bytes=hashlib.md5(ticker.encode()).digest(), version=4))


def rfc3339_us(us: int) -> str:
    """RFC 3339 UTC with exactly six fractional digits: ``2026-06-24T15:49:55.033836Z``."""
    s, frac = divmod(us, US)
    return f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(s))}.{frac:06d}Z"


def trade_msg(
    trade_id: int, ticker: str, ts_us: int, price_c: int, count_cc: int, yes: bool, block: bool
) -> dict[str, Any]:
    """A ``trade`` message; ``trade_id`` is the REST trade's 128-bit id, so both sources agree."""
    side = "yes" if yes else "no"
    return {
        "trade_id": str(uuid.UUID(int=trade_id, version=4)),
        "market_ticker": ticker,
        "yes_price_dollars": dollars(price_c),
        "no_price_dollars": dollars(100 - price_c),
        "count_fp": count_fp(count_cc),
        "taker_side": side,
        "taker_outcome_side": side,
        "taker_book_side": "bid" if yes else "ask",
        "is_block_trade": block,
        "ts": ts_us // US,
        "ts_ms": ts_us // 1000,
    }


def ticker_msg(
    ticker: str,
    ts_us: int,
    *,
    last_c: int | None,
    bid_c: int,
    ask_c: int,
    bid_cc: int,
    ask_cc: int,
    volume_cc: int,
    oi_cc: int,
    notional: int,
    last_cc: int,
) -> dict[str, Any]:
    """A ``ticker`` message (full state). An empty side is ``"0.0000"``/``"1.0000"`` with size
    ``"0.00"``; ``notional`` is the sum of cents x hundredths over every trade so far."""
    return {
        "market_id": market_id(ticker),
        "market_ticker": ticker,
        "price_dollars": dollars(last_c or 0),
        "yes_bid_dollars": dollars(bid_c),
        "yes_ask_dollars": dollars(ask_c),
        "volume_fp": count_fp(volume_cc),
        "open_interest_fp": count_fp(oi_cc),
        "dollar_volume": notional // 10_000,
        "dollar_open_interest": oi_cc * (last_c or 0) // 10_000,
        "yes_bid_size_fp": count_fp(bid_cc),
        "yes_ask_size_fp": count_fp(ask_cc),
        "last_trade_size_fp": count_fp(last_cc),
        "ts": ts_us // US,
        "ts_ms": ts_us // 1000,
        "time": rfc3339_us(ts_us),
    }


def _ladder(levels: Mapping[int, int], flip: bool) -> list[list[str]]:
    prices = sorted((100 - p if flip else p, size) for p, size in levels.items())
    return [[dollars(p), count_fp(size)] for p, size in prices]


def orderbook_snapshot_msg(
    ticker: str, yes: Mapping[int, int], no: Mapping[int, int], use_yes_price: bool
) -> dict[str, Any]:
    """An ``orderbook_snapshot``: both bid ladders ascending (best YES bid last), an empty side
    omitted. ``yes``/``no`` map cents on the side's own leg to hundredths of a contract; with
    ``use_yes_price`` the NO levels are reported on the YES scale (100 - p), still ascending."""
    msg: dict[str, Any] = {"market_ticker": ticker, "market_id": market_id(ticker)}
    if yes:
        msg["yes_dollars_fp"] = _ladder(yes, False)
    if no:
        msg["no_dollars_fp"] = _ladder(no, use_yes_price)
    return msg


def orderbook_delta_msg(
    ticker: str, ts_us: int, side: str, price_c: int, delta_cc: int, use_yes_price: bool
) -> dict[str, Any]:
    """An ``orderbook_delta``: a signed size change at one level (``price_c`` on the side's leg)."""
    price = 100 - price_c if use_yes_price and side == "no" else price_c
    sign = "-" if delta_cc < 0 else ""
    return {
        "market_ticker": ticker,
        "market_id": market_id(ticker),
        "price_dollars": dollars(price),
        "delta_fp": sign + count_fp(abs(delta_cc)),
        "side": side,
        "ts": rfc3339_us(ts_us),
        "ts_ms": ts_us // 1000,
    }


_PRICE_RANGES = [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}]


def lifecycle_created_msg(market: Market) -> dict[str, Any]:
    """``market_lifecycle_v2`` ``created``: times, price grid and the market's texts."""
    meta: dict[str, Any] = {
        "name": market.subtitle,
        "title": market.title,
        "yes_sub_title": market.subtitle,
        "no_sub_title": market.subtitle,
        "rules_primary": market.rules_primary,
        "rules_secondary": market.rules_secondary,
        "can_close_early": True,
        "event_ticker": market.event_ticker,
        "expected_expiration_ts": market.expected_expiration_us // US,
        "strike_type": market.strike_type,
    }
    if market.floor_strike is not None:
        meta["floor_strike"] = market.floor_strike
    if market.cap_strike is not None:
        meta["cap_strike"] = market.cap_strike
    return {
        "market_ticker": market.ticker,
        "exchange_index": 0,
        "open_ts": market.open_us // US,
        "close_ts": market.close_us // US,
        "price_level_structure": "linear_cent",
        "price_ranges": [dict(r) for r in _PRICE_RANGES],
        "additional_metadata": meta,
        "event_type": "created",
    }


def lifecycle_determined_msg(market: Market, determined_us: int) -> dict[str, Any]:
    """``determined``: the result and the settlement value as a dollar string."""
    return {
        "market_ticker": market.ticker,
        "determination_ts": determined_us // US,
        "result": market.result,
        "settlement_value": "1.0000" if market.result == "yes" else "0.0000",
        "event_type": "determined",
    }


def lifecycle_settled_msg(market: Market) -> dict[str, Any]:
    """``settled`` (REST shows the market ``finalized`` from then on)."""
    return {
        "market_ticker": market.ticker,
        "settled_ts": market.settlement_us // US,
        "event_type": "settled",
    }


def event_created_msg(event: Event, title: str, subtitle: str) -> dict[str, Any]:
    """An ``event_lifecycle`` message, sent once when the event is created."""
    return {
        "event_ticker": event.event_ticker,
        "exchange_index": 0,
        "title": title,
        "subtitle": subtitle,
        "collateral_return_type": "",
        "series_ticker": event.series_ticker,
        "strike_date": event.strike_date_us // US,
    }
