"""The raw-layer generator's events (:mod:`kalshi_lake.sim.rawgen`): each event's settled
temperature and six-bracket ladder (a day's low settling below its high), the market payloads,
and the ``event`` pages and ``markets`` listings built from them.

The draws are this generator's own (hashes of seed, city and day), not the simulator's market
model; a few payload details (key order, titles, a 14:00Z open) stay as they are so that a spec
keeps generating the same bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from kalshi_lake.cities import TWC_FIRST_DATE, City, Series
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.model import US, count_fp, fmt_ts, from_us, ladder, short_date, to_us
from kalshi_lake.sim.rawgen_write import raw_table, write_groups

if TYPE_CHECKING:
    from kalshi_lake.sim.rawgen import SynthSpec, SynthStats

#: One event to generate: (key index of its city and family, city, climate date, series).
Event = tuple[int, City, dt.date, Series]


def fetch_time(date: dt.date) -> dt.datetime:
    """When the synthetic backfill fetched an event's pages: two days after it, at noon UTC."""
    return dt.datetime.combine(date + dt.timedelta(days=2), dt.time(12), dt.UTC)


def temperatures(spec: SynthSpec, city: City, date: dt.date, family: str) -> tuple[int, int]:
    """(lowest ladder strike, settled temperature) of an event. The high's draws are what they
    were before lows existed; a low settles 3-22 °F below the same day's high."""
    h = hashlib.sha256(f"{spec.seed}/{city.name}/{date}".encode()).digest()
    base = 30 + h[0] % 60
    settled = base - 2 + h[1] % 12
    if family == "low":
        g = hashlib.sha256(f"{spec.seed}/{city.name}/{date}/low".encode()).digest()
        settled -= 3 + g[0] % 20
        base = settled - 2 + g[1] % 8
    return base, settled


def markets_frame(spec: SynthSpec, events: Sequence[Event]) -> pl.DataFrame:
    rows = []
    for ci, city, date, series in events:
        ordinal = date.toordinal()
        base, settled = temperatures(spec, city, date, series.family)
        ev = series.event_ticker(date)
        open_us = to_us(dt.datetime.combine(date - dt.timedelta(days=1), dt.time(14), dt.UTC))
        close_us = to_us(dt.datetime.combine(date + dt.timedelta(days=1), dt.time(4, 59), dt.UTC))
        for m, b in enumerate(ladder(base)):
            rows.append(
                {
                    "key": (ordinal * 64 + ci) * 8 + m,
                    "city": city.name,
                    "series": series.ticker,
                    "family": series.family,
                    "date": date,
                    "event_ticker": ev,
                    "market_ticker": f"{ev}-{b.suffix}",
                    "m": m,
                    "strike_type": b.strike_type,
                    "floor": b.floor,
                    "cap": b.cap,
                    "sub": b.subtitle,
                    "cond": b.cond,
                    "result": "yes" if b.resolves_yes(settled) else "no",
                    "settled": settled,
                    "open_us": open_us,
                    "window_us": close_us - open_us,
                    "twc": date >= TWC_FIRST_DATE,
                    "station": city.station_label,
                    "cli": city.cli_code,
                }
            )
    return pl.DataFrame(rows)


#: How the rules and titles name each family's temperature.
WORDS = {"high": ("maximum", "highest", "high"), "low": ("minimum", "lowest", "low")}


def market_payload(r: dict[str, object], volume_c: int, fetched: dt.datetime) -> dict[str, object]:
    date = r["date"]
    assert isinstance(date, dt.date)
    floor, cap, cond = r["floor"], r["cap"], r["cond"]
    when = short_date(date)
    extreme, most, word = WORDS[str(r["family"])]
    if r["twc"]:
        rules = (
            f"If the {extreme} temperature recorded at {r['station']} ({r['cli']}) for {when}, "
            f"is {cond} fahrenheit according to The Weather Company, then the market resolves to Yes."
        )
    else:
        rules = (
            f"If the {most} temperature recorded at {r['station']} for {when} as reported by the "
            f"National Weather Service's Climatological Report (Daily), is {cond}, then the "
            "market resolves to Yes."
        )
    open_us = int(r["open_us"])  # type: ignore[call-overload]
    close_us = open_us + int(r["window_us"])  # type: ignore[call-overload]
    settle_us = close_us + (7 * 3600 + 5 * 60 + int(r["m"])) * US  # type: ignore[call-overload]
    final = settle_us < to_us(fetched)
    payload: dict[str, object] = {
        "ticker": r["market_ticker"],
        "event_ticker": r["event_ticker"],
        "market_type": "binary",
        "title": f"Will the {word} temp be {cond} on {when}?",
        "subtitle": r["sub"],
        "yes_sub_title": r["sub"],
        "no_sub_title": r["sub"],
        "open_time": fmt_ts(open_us),
        "close_time": fmt_ts(close_us),
        "expected_expiration_time": fmt_ts(close_us + (9 * 3600 + 60) * US),
        "settlement_timer_seconds": 3600,
        "status": "finalized" if final else "closed",
        "result": r["result"] if final else "",
        "settlement_value_dollars": ("1.0000" if r["result"] == "yes" else "0.0000")
        if final
        else None,
        # Six fractional digits even when zero (the API trims them; kept for stable bytes).
        "settlement_ts": from_us(settle_us).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if final else None,
        "expiration_value": f"{r['settled']}.00" if final else "",
        "yes_bid_dollars": "0.0000",
        "yes_ask_dollars": "1.0000",
        "no_bid_dollars": "0.0000",
        "no_ask_dollars": "1.0000",
        "last_price_dollars": "0.0100",
        "volume_fp": count_fp(volume_c),
        "volume_24h_fp": "0.00",
        "open_interest_fp": count_fp(volume_c // 200 * 100),
        "notional_value_dollars": "1.0000",
        "liquidity_dollars": "0.0000",
        "strike_type": r["strike_type"],
        "rules_primary": rules,
        "rules_secondary": "",
        "price_level_structure": "linear_cent",
        "price_ranges": [{"start": "0.0000", "end": "1.0000", "step": "0.0100"}],
        "can_close_early": True,
    }
    if floor is not None:
        payload["floor_strike"] = floor
    if cap is not None:
        payload["cap_strike"] = cap
    return payload


def write_events(
    lake: Lake, pool: ThreadPoolExecutor, spec: SynthSpec, mkv: pl.DataFrame, stats: SynthStats
) -> list[Future[str]]:
    by_event: dict[tuple[str, dt.date, str, str], list[dict[str, object]]] = {}
    for r in mkv.iter_rows(named=True):
        by_event.setdefault((r["city"], r["date"], r["event_ticker"], r["series"]), []).append(r)
    pages = []
    for (city, date, ev, series), rows in by_event.items():
        fetched = fetch_time(date)
        most = WORDS[str(rows[0]["family"])][1].capitalize()
        body = {
            "event": {
                "event_ticker": ev,
                "series_ticker": series,
                "title": f"{most} temperature on {short_date(date)}",
                "sub_title": f"On {short_date(date)}",
                "mutually_exclusive": True,
                "strike_date": fmt_ts(
                    to_us(dt.datetime.combine(date + dt.timedelta(days=1), dt.time(5), dt.UTC))
                ),
                "markets": [market_payload(r, int(str(r["v"])), fetched) for r in rows],
            },
            "markets": [],
        }
        pages.append(
            {
                "city": city,
                "date": date,
                "series": series,
                "event_ticker": ev,
                "market_ticker": None,
                "body": json.dumps(body, separators=(",", ":")),
                "fetched": fetched,
                "path": f"/events/{ev}",
            }
        )
    df = pl.DataFrame(pages, schema_overrides={"market_ticker": pl.String})
    keys, table = raw_table(
        spec, "event", df, pa.array(df["body"].to_list(), pa.large_string()),
        pl.col("fetched"), f"synth-{spec.seed}-1", pl.col("path"),
        pl.lit('{"with_nested_markets":true}'), pl.lit(None, pl.String), pl.lit(None, pl.String),
        pl.lit(0),
    )  # fmt: skip
    return write_groups(lake, pool, "event", keys, table, stats)


def write_listing(
    lake: Lake,
    pool: ThreadPoolExecutor,
    spec: SynthSpec,
    listing: dict[tuple[str, str], list[str]],
    stats: SynthStats,
) -> list[Future[str]]:
    """``GET /markets?series_ticker=...`` pages per city and series, filed under the fetch
    date."""
    fetched = fetch_time(spec.dates[-1])
    rows = []
    for (city, series), objs in listing.items():
        for p in range(0, len(objs), 1000):
            more = p + 1000 < len(objs)
            cursor = f"m{p + 1000}" if more else ""
            body = '{"cursor":"' + cursor + '","markets":[' + ",".join(objs[p : p + 1000]) + "]}"
            rows.append(
                {
                    "city": city,
                    "date": fetched.date(),
                    "series": series,
                    "event_ticker": None,
                    "market_ticker": None,
                    "body": body,
                    "page": p // 1000,
                    "cursor_in": f"m{p}" if p else None,
                    "cursor_out": cursor,
                }
            )
    if not rows:
        return []
    df = pl.DataFrame(
        rows,
        schema_overrides={
            "event_ticker": pl.String,
            "market_ticker": pl.String,
            "cursor_in": pl.String,
        },
    )
    keys, table = raw_table(
        spec, "markets", df, pa.array(df["body"].to_list(), pa.large_string()),
        pl.lit(fetched), f"synth-{spec.seed}-1", pl.lit("/markets"),
        pl.concat_str([pl.lit('{"limit":1000,"series_ticker":"'), pl.col("series"), pl.lit('"}')]),
        pl.col("cursor_in"), pl.col("cursor_out"), pl.col("page"),
    )  # fmt: skip
    return write_groups(lake, pool, "markets", keys, table, stats)
