"""A factory of small curated lakes for the SQL tests, built directly with pyarrow + schemas.py.

Ladders and market lifecycle times come from the simulator (:func:`kalshi_lake.sim.model.ladder`,
:mod:`kalshi_lake.sim.curated`); what is test-specific stays here: every row as a plain dict that
a test can edit, and the reference computations the SQL is checked against.

``LakeData`` holds every curated row (and the raw trade pages) as plain dicts, derived from one
seeded "truth" the same way the transform derives them (trade candles from trades, 5m from 1m,
api candles with a quote in the first minute and a candle for every traded minute). Tests
mutate the rows to seed exactly one defect, then ``write()`` the lake.

The calendar covers the DST change days of 2026 for Chicago (03-08 and 11-01) and Phoenix (no
DST), spans three month partitions, and ends at ``NOW`` with settled, live and not-yet-decided
events.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from kalshi_lake import schemas
from kalshi_lake.cities import family_for_ticker, get_city
from kalshi_lake.lake.raw import RawPage, page_family, write_pages
from kalshi_lake.lake.storage import Lake, unique_name
from kalshi_lake.sim.curated import close_time, open_time
from kalshi_lake.sim.model import ladder

UTC = dt.UTC
#: The lake's "now": settled events up to 11-19, a live event for 11-21 and 11-22.
NOW = dt.datetime(2026, 11, 21, 16, 30, tzinfo=UTC)
MINUTE = dt.timedelta(minutes=1)
CENT = Decimal("0.01")
SETTLED = ("finalized", "settled", "determined", "amended")

#: (city, event date) of the fixture events.
EVENTS: tuple[tuple[str, dt.date], ...] = (
    ("chicago", dt.date(2026, 3, 7)),
    ("chicago", dt.date(2026, 3, 8)),  # DST starts: D-1 10:00 CST = 16:00Z, D 10:00 CDT = 15:00Z
    ("chicago", dt.date(2026, 3, 9)),
    ("chicago", dt.date(2026, 10, 31)),
    ("chicago", dt.date(2026, 11, 1)),  # DST ends: D-1 10:00 CDT = 15:00Z, D 10:00 CST = 16:00Z
    ("chicago", dt.date(2026, 11, 2)),
    ("phoenix", dt.date(2026, 3, 8)),  # no DST: always 17:00Z
    ("phoenix", dt.date(2026, 11, 1)),
    ("chicago", dt.date(2026, 11, 21)),  # live, both instants passed
    ("chicago", dt.date(2026, 11, 22)),  # live, D-1 10:00 (16:00Z) passed, D 10:00 not
    ("phoenix", dt.date(2026, 11, 22)),  # live, no instant passed yet (17:00Z)
)


def d6(x: Decimal | int | str) -> Decimal:
    """A price as the schema stores it (6 decimals)."""
    return Decimal(x).quantize(Decimal("0.000001"))


def c2(x: Decimal | int | str) -> Decimal:
    """A contract count as the schema stores it (2 decimals)."""
    return Decimal(x).quantize(Decimal("0.01"))


def decision_instants(city: str, date: dt.date) -> list[tuple[str, dt.datetime]]:
    """(label, UTC instant) of D-1 10:00 and D 10:00 in the city's own zone, by zoneinfo."""
    zone = get_city(city).zone
    return [
        (
            label,
            dt.datetime.combine(date - dt.timedelta(days=back), dt.time(10), zone).astimezone(UTC),
        )
        for label, back in (("D-1 10:00", 1), ("D 10:00", 0))
    ]


def _floor(ts: dt.datetime, minutes: int) -> dt.datetime:
    epoch = int(ts.timestamp()) // (60 * minutes) * (60 * minutes)
    return dt.datetime.fromtimestamp(epoch, UTC)


@dataclass
class LakeData:
    """All rows of a fixture lake; mutate them, then :meth:`write`."""

    markets: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    candles_1m: list[dict[str, Any]] = field(default_factory=list)
    candles_5m: list[dict[str, Any]] | None = None  # None: rolled up from candles_1m at write
    raw_trades: list[dict[str, Any]] = field(default_factory=list)  # API trade objects + city/date
    raw_extra_pages: list[RawPage] = field(default_factory=list)
    now: dt.datetime = NOW
    #: Write each event's candle pages (and a trades page for days without trades), as a
    #: backfill leaves them: the days ``lake_status`` counts as fetched.
    fetched_pages: bool = True
    #: (city, date) days, or (city, date, family) days of one family, whose candle and empty
    #: trades pages are not written (listed only).
    unfetched: set[tuple[str, dt.date] | tuple[str, dt.date, str]] = field(default_factory=set)

    # --- lookups used by tests --------------------------------------------------------------
    def market(self, ticker: str) -> dict[str, Any]:
        """The markets row of ``ticker``."""
        return next(m for m in self.markets if m["market_ticker"] == ticker)

    def event_markets(self, event_ticker: str) -> list[dict[str, Any]]:
        """Markets of one event in strike order."""
        return [m for m in self.markets if m["event_ticker"] == event_ticker]

    def trades_of(self, ticker: str) -> list[dict[str, Any]]:
        """Trades of one market."""
        return [t for t in self.trades if t["market_ticker"] == ticker]

    def api_1m(self, ticker: str) -> list[dict[str, Any]]:
        """The api 1m candles of one market, in time order."""
        rows = [c for c in self.candles_1m if c["market_ticker"] == ticker and c["source"] == "api"]
        return sorted(rows, key=lambda c: c["bucket_start"])

    def derive_5m(self) -> None:
        """Roll the 1m candles up to 5m now (tests that mutate 5m call this first)."""
        self.candles_5m = rollup_5m(self.candles_1m)

    # --- writing ----------------------------------------------------------------------------
    def write(self, root: Path | str) -> Lake:
        """Write the curated tables and raw trade pages under ``root``; returns the Lake."""
        lake = Lake(str(root))
        tables = {
            "markets": self.markets,
            "trades": self.trades,
            "candles_1m": self.candles_1m,
            "candles_5m": self.candles_5m
            if self.candles_5m is not None
            else rollup_5m(self.candles_1m),
            "market_events": _determined_events(self.markets),
        }
        for name, rows in tables.items():
            write_rows(lake, name, rows)
        pages = raw_pages(self.raw_trades) + list(self.raw_extra_pages)
        if self.fetched_pages:
            listed = [
                m
                for m in self.markets
                if (m["city"], m["date"]) not in self.unfetched
                and (m["city"], m["date"], family_for_ticker(m["event_ticker"]))
                not in self.unfetched
            ]
            pages += fetched_day_pages(
                listed, {(p.city, p.date, page_family(p) or "high") for p in pages}
            )
        if pages:
            write_pages(lake, pages)
        return lake


def _with_family(row: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The row's schema columns; ``family`` from its ticker's series unless the row has one."""
    out = {k: row.get(k) for k in names}
    if "family" in out and "family" not in row:
        out["family"] = family_for_ticker(row.get("event_ticker") or row["market_ticker"])
    return out


def _determined_events(markets: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A ``determined`` lifecycle row per settled market (the market_events table)."""
    rows = []
    for i, m in enumerate(m for m in markets if m.get("result") is not None):
        at = m["close_time"]
        rows.append({
            "city": m["city"], "date": m["date"], "market_ticker": m["market_ticker"],
            "event_ticker": m["event_ticker"], "event_type": "determined", "event_at": at,
            "result": m["result"], "settlement_value": m["settlement_value"], "recv_at": at,
            "conn_id": "fixture-1", "frame_no": i,
        })  # fmt: skip
    return rows


def write_rows(lake: Lake, table: str, rows: Iterable[dict[str, Any]]) -> list[str]:
    """Write rows of a curated table, one new file per (city, month) partition.

    A row's partition is its ``city`` and its date's month unless it carries ``__city`` or
    ``__month`` (to seed partition defects).
    """
    schema = schemas.TABLES[table]
    parts: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        city = r.get("__city", r["city"])
        month = r.get("__month", r["date"].strftime("%Y-%m"))
        parts[(city, month)].append(r)
    written = []
    for (city, month), part in sorted(parts.items()):
        keys = schemas.SORT_KEYS[table]
        part = sorted(part, key=lambda r: tuple(r[k] for k in keys))
        tbl = pa.Table.from_pylist([_with_family(r, schema.names) for r in part], schema=schema)
        written.append(
            lake.write_table(tbl, f"curated/{table}/city={city}/month={month}/{unique_name()}")
        )
    return written


def raw_pages(raw_trades: list[dict[str, Any]]) -> list[RawPage]:
    """One raw trades page per market (current API shape), under the event's date."""
    by_market: dict[tuple[str, dt.date, str], list[dict[str, Any]]] = defaultdict(list)
    for t in raw_trades:
        by_market[(t["city"], t["date"], t["ticker"])].append(t)
    pages = []
    for (city, date, ticker), trades in sorted(by_market.items()):
        objs = [{k: v for k, v in t.items() if k not in ("city", "date")} for t in trades]
        objs.sort(key=lambda o: o["created_time"], reverse=True)  # the API serves newest first
        pages.append(
            RawPage(
                endpoint="trades",
                tier="live",
                city=city,
                date=date,
                request_path="/trade-api/v2/markets/trades",
                request_params={"ticker": ticker, "limit": 1000},
                body=json.dumps({"trades": objs, "cursor": ""}),
                fetched_at=NOW,
                run_id="fixture",
                market_ticker=ticker,
                series_ticker=get_city(city).series(family_for_ticker(ticker) or "high").ticker,
            )
        )
    return pages


def fetched_day_pages(
    markets: list[dict[str, Any]], with_trades: set[tuple[str, dt.date, str]]
) -> list[RawPage]:
    """An (empty) live event-candlesticks page per event of ``markets``, and an empty trades
    page per (city, date, family) not in ``with_trades``: the raw pages that mark a day of a
    family as fetched."""
    events = sorted({(m["city"], m["date"], m["event_ticker"]) for m in markets})
    pages = []
    for city, date, event in events:
        family = family_for_ticker(event) or "high"
        series = get_city(city).series(family).ticker
        pages.append(
            RawPage(
                endpoint="event_candlesticks",
                tier="live",
                city=city,
                date=date,
                request_path=f"/trade-api/v2/series/{series}/events/{event}/candlesticks",
                request_params={"period_interval": 1},
                body=json.dumps({"market_tickers": [], "market_candlesticks": []}),
                fetched_at=NOW,
                run_id="fixture",
                event_ticker=event,
                series_ticker=series,
            )
        )
        if (city, date, family) not in with_trades:
            with_trades.add((city, date, family))
            pages.append(
                RawPage(
                    endpoint="trades",
                    tier="live",
                    city=city,
                    date=date,
                    request_path="/trade-api/v2/markets/trades",
                    request_params={"ticker": f"{event}-none", "limit": 1000},
                    body=json.dumps({"trades": [], "cursor": ""}),
                    fetched_at=NOW,
                    run_id="fixture",
                    event_ticker=event,
                    series_ticker=series,
                )
            )
    return pages


def _api_trade(t: dict[str, Any]) -> dict[str, Any]:
    return {
        "trade_id": t["trade_id"],
        "ticker": t["market_ticker"],
        "count_fp": str(t["count"]),
        "yes_price_dollars": f"{t['yes_price']:.4f}",
        "no_price_dollars": f"{t['no_price']:.4f}",
        "taker_outcome_side": t["taker_side"],
        "taker_side": t["taker_side"],
        "created_time": t["traded_at"].isoformat().replace("+00:00", "Z"),
        "is_block_trade": False,
        "city": t["city"],
        "date": t["date"],
    }


def trade_candles_1m(trades: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """1m candles from trades (source 'trades'), as the transform builds them."""
    groups: dict[tuple[str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for t in sorted(trades, key=lambda t: (t["market_ticker"], t["traded_at"], t["trade_id"])):
        groups[(t["market_ticker"], _floor(t["traded_at"], 1))].append(t)
    out = []
    for (_ticker, start), ts in groups.items():
        prices = [t["yes_price"] for t in ts]
        volume = sum((t["count"] for t in ts), Decimal(0))
        notional = sum((t["yes_price"] * t["count"] for t in ts), Decimal(0))
        out.append(
            _candle(
                ts[0],
                "trades",
                start,
                1,
                price_open=prices[0],
                price_high=max(prices),
                price_low=min(prices),
                price_close=prices[-1],
                price_vwap=d6((notional / volume).quantize(Decimal("0.000001"), ROUND_HALF_UP)),
                trade_count=len(ts),
                volume=c2(volume),
            )
        )
    return out


def _candle(
    ref: dict[str, Any], source: str, start: dt.datetime, minutes: int, **values: Any
) -> dict[str, Any]:
    row = {
        "market_ticker": ref["market_ticker"],
        "event_ticker": ref["event_ticker"],
        "date": ref["date"],
        "city": ref["city"],
        "source": source,
        "bucket_start": start,
        "period_minutes": minutes,
    }
    for col in schemas.CANDLES.names:
        row.setdefault(col, None)
    row.update(values)
    return row


def rollup_5m(c1: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """5m candles from 1m candles of the same source (first/last/extremes/sums)."""
    groups: dict[tuple[str, str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for c in sorted(c1, key=lambda c: (c["market_ticker"], c["source"], c["bucket_start"])):
        groups[(c["market_ticker"], c["source"], _floor(c["bucket_start"], 5))].append(c)
    out = []

    def nn(rows: list[dict[str, Any]], col: str) -> list[Any]:
        return [r.get(col) for r in rows if r.get(col) is not None]

    for (_ticker, source, start), rows in groups.items():
        vals: dict[str, Any] = {}
        po, pc = nn(rows, "price_open"), nn(rows, "price_close")
        vals["price_open"] = po[0] if po else None
        vals["price_close"] = pc[-1] if pc else None
        ph, pl_ = nn(rows, "price_high"), nn(rows, "price_low")
        vals["price_high"] = max(ph) if ph else None
        vals["price_low"] = min(pl_) if pl_ else None
        vols = nn(rows, "volume")
        vals["volume"] = c2(sum(vols, Decimal(0))) if vols else None
        counts = nn(rows, "trade_count")
        vals["trade_count"] = sum(counts) if counts else None
        weighted = [
            (r["price_vwap"], r["volume"])
            for r in rows
            if r.get("price_vwap") is not None and r.get("volume")
        ]
        w = sum((v for _p, v in weighted), Decimal(0))
        vals["price_vwap"] = (
            d6(
                (sum((p * v for p, v in weighted), Decimal(0)) / w).quantize(
                    Decimal("0.000001"), ROUND_HALF_UP
                )
            )
            if w
            else None
        )
        for side in ("yes_bid", "yes_ask"):
            vals[f"{side}_open"] = rows[0].get(f"{side}_open")
            vals[f"{side}_close"] = rows[-1].get(f"{side}_close")
            hs, ls = nn(rows, f"{side}_high"), nn(rows, f"{side}_low")
            vals[f"{side}_high"] = max(hs) if hs else None
            vals[f"{side}_low"] = min(ls) if ls else None
        oi = nn(rows, "open_interest")
        vals["open_interest"] = oi[-1] if oi else None
        out.append(_candle(rows[0], source, start, 5, **vals))
    return out


def build(
    seed: int = 7,
    events: Iterable[tuple[str, dt.date] | tuple[str, dt.date, str]] = EVENTS,
    now: dt.datetime = NOW,
) -> LakeData:
    """A clean, self-consistent lake: every check passes on it (as of ``now``). An event is
    ``(city, date)`` (daily highs) or ``(city, date, family)``."""
    rng = random.Random(seed)
    data = LakeData(now=now)
    trade_seq = 0
    for city_name, date, *family in events:
        city = get_city(city_name)
        ev = city.series(family[0] if family else "high").event_ticker(date)
        base = 30 + rng.randrange(50)
        op, cl = open_time(date), close_time(date)
        settled = now >= cl + dt.timedelta(hours=8)
        winner = rng.randrange(5)  # never the high tail, which stays a quiet no-trade market
        for k, rung in enumerate(ladder(base)):
            ticker = f"{ev}-{rung.suffix}"
            ref = {"market_ticker": ticker, "event_ticker": ev, "date": date, "city": city.name}
            end = min(cl, now)
            # trades: none on the high tail; a few elsewhere, some sharing a timestamp
            mtrades: list[dict[str, Any]] = []
            n = 0 if k == 5 else rng.randrange(4, 14)
            span = int((end - op).total_seconds() * 1e6) if end > op else 0
            for _ in range(n if span > 0 else 0):
                if mtrades and rng.random() < 0.2:
                    at = mtrades[-1]["traded_at"]  # one order filling against two makers
                else:
                    at = op + dt.timedelta(microseconds=rng.randrange(60_000_000, span))
                cents = rng.randrange(3, 97)
                trade_seq += 1
                mtrades.append(
                    {
                        **ref,
                        "trade_id": f"{rng.getrandbits(64):016x}-{trade_seq:06d}",
                        "traded_at": at,
                        "yes_price": d6(Decimal(cents) / 100),
                        "no_price": d6(Decimal(100 - cents) / 100),
                        "count": c2(rng.randrange(1, 500)),
                        "taker_side": rng.choice(["yes", "no"]),
                        "is_block_trade": False,
                        "tier": "live",
                        "fetched_at": now,
                    }
                )
            data.trades.extend(mtrades)
            data.raw_trades.extend(_api_trade(t) for t in mtrades)
            # api candles: the listing minute, every traded minute, some quote changes
            minutes = {op}
            minutes |= {_floor(t["traded_at"], 1) for t in mtrades}
            total_minutes = int((end - op).total_seconds() // 60)
            for _ in range(rng.randrange(3, 10) if total_minutes > 2 else 0):
                minutes.add(op + MINUTE * rng.randrange(1, total_minutes))
            bid = rng.randrange(5, 80)
            traded = defaultdict(list)
            for t in mtrades:
                traded[_floor(t["traded_at"], 1)].append(t)
            oi = Decimal(0)
            for start in sorted(m for m in minutes if m + MINUTE <= end or m == op):
                bid = min(max(bid + rng.randrange(-3, 4), 1), 95)
                ask = bid + rng.randrange(1, 4)
                empty_bid = rng.random() < 0.1
                b = None if empty_bid else d6(Decimal(bid) / 100)
                a = d6(Decimal(ask) / 100)
                ts = sorted(traded.get(start, []), key=lambda t: (t["traded_at"], t["trade_id"]))
                vol = sum((t["count"] for t in ts), Decimal(0))
                oi += vol
                prices = [t["yes_price"] for t in ts]
                data.candles_1m.append(
                    _candle(
                        ref,
                        "api",
                        start,
                        1,
                        price_open=prices[0] if prices else None,
                        price_high=max(prices) if prices else None,
                        price_low=min(prices) if prices else None,
                        price_close=prices[-1] if prices else None,
                        price_vwap=None,
                        trade_count=None,
                        volume=c2(vol),
                        yes_bid_open=b,
                        yes_bid_high=b,
                        yes_bid_low=b,
                        yes_bid_close=b,
                        yes_ask_open=a,
                        yes_ask_high=a,
                        yes_ask_low=a,
                        yes_ask_close=a,
                        open_interest=c2(oi),
                    )
                )
            data.candles_1m.extend(trade_candles_1m(mtrades))
            volume = c2(sum((t["count"] for t in mtrades), Decimal(0)))
            data.markets.append(
                {
                    **ref,
                    "series_ticker": city.series_ticker,
                    "strike_type": rung.strike_type,
                    "floor_strike": None if rung.floor is None else Decimal(rung.floor),
                    "cap_strike": None if rung.cap is None else Decimal(rung.cap),
                    "low_f": rung.lo,
                    "high_f": rung.hi,
                    "yes_sub_title": rung.subtitle,
                    "status": "finalized" if settled else "active",
                    "result": ("yes" if k == winner else "no") if settled else None,
                    "settlement_value": d6(1 if k == winner else 0) if settled else None,
                    "expiration_value": Decimal(base + 2 * winner) if settled else None,
                    "open_time": op,
                    "close_time": cl,
                    "settlement_ts": cl + dt.timedelta(hours=7) if settled else None,
                    "volume": volume,
                    "open_interest": volume,
                    "settlement_source": "twc",
                    "tier": "live",
                    "fetched_at": now,
                }
            )
    # a page that is not JSON must be skipped by the raw parser, not crash it
    data.raw_extra_pages.append(
        RawPage(
            endpoint="trades",
            tier="live",
            city="chicago",
            date=dt.date(2026, 3, 8),
            request_path="/trade-api/v2/markets/trades",
            request_params={"ticker": "broken"},
            body="<html>bad gateway</html>",
            fetched_at=NOW,
            run_id="fixture",
            http_status=200,
        )
    )
    return data


# --- reference computation ------------------------------------------------------------------


def expected_decision_quotes(data: LakeData) -> list[dict[str, Any]]:
    """decision_quotes computed the straightforward way, in Python, from the fixture rows."""
    out = []
    for m in data.markets:
        candles = data.api_1m(m["market_ticker"])
        trades = sorted(
            data.trades_of(m["market_ticker"]), key=lambda t: (t["traded_at"], t["trade_id"])
        )
        for label, at in decision_instants(m["city"], m["date"]):
            q = [c for c in candles if c["bucket_start"] + MINUTE <= at]
            last_q = q[-1] if q else None
            t = [x for x in trades if x["traded_at"] <= at]
            last_t = t[-1] if t else None
            bid = last_q["yes_bid_close"] if last_q else None
            ask = last_q["yes_ask_close"] if last_q else None
            out.append(
                {
                    "market_ticker": m["market_ticker"],
                    "event_ticker": m["event_ticker"],
                    "family": family_for_ticker(m["event_ticker"]),
                    "city": m["city"],
                    "date": m["date"],
                    "decision_label": label,
                    "decision_at": at,
                    "yes_bid": bid,
                    "yes_ask": ask,
                    "mid": (bid + ask) / 2 if bid is not None and ask is not None else None,
                    "quote_at": last_q["bucket_start"] + MINUTE if last_q else None,
                    "last_trade_price": last_t["yes_price"] if last_t else None,
                    "last_trade_at": last_t["traded_at"] if last_t else None,
                    "result": m["result"],
                }
            )
    return sorted(out, key=lambda r: (r["market_ticker"], r["decision_at"]))
