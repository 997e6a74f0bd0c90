"""The report's coverage grid: one cell per city, market family and event date, with a status.

A cell is what the lake holds of one event (a city's high or low of one climate date):

- ``complete``: its trades and its candles were fetched (the raw layer holds their pages, or
  the curated tables hold its trades and api candles), it has markets, and every market has an
  api quote at both decision instants (``D-1 10:00`` and ``D 10:00`` city-local) wherever
  ``validate``'s ``api_candle_coverage_at_decision`` expects one (the instant has passed, the
  market had been open a minute, the lake has seen that far);
- ``partial``: some of that, not all (trades without candles or the reverse, no markets, or a
  market without a quote at a decision instant it should have one);
- ``missing``: neither its trades nor its candles: never fetched, or deleted;
- ``not listed``: a date before the family's first event, or after the last one Kalshi can have
  listed by now (events list at 10:00 ET the day before), without data of its own.

The grid spans each family's first to last fetched date in the lake (days only a listing
names, outside that span, are not holes: as in ``status``), for every city in the lake (or those
asked for). Fetched days come from raw file names (``fetched_days_in``) and the counts
from the curated tables, one grouped query each, so the cost is a scan of the curated keys.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import duckdb

from kalshi_lake.cities import get_city
from kalshi_lake.errors import UnknownCityError, UnknownFamilyError
from kalshi_lake.sql.sqlfiles import sql_literal

#: The statuses of a cell, best first: the heatmap's legend order and colours follow it.
STATUSES = ("complete", "partial", "missing", "not listed")

_ET = ZoneInfo("America/New_York")

# One row per (city, family, date) the lake knows of: what was fetched (raw file names), the
# curated counts, and the decision instants that lack a quote (the rule of the check
# api_candle_coverage_at_decision; a market without any api candle counts only once closed).
# No as-of join is needed: an instant has a quote exactly when the market's first api candle
# ended at or before it, so one scan of the candles' keys (first and last candle per market)
# answers for every instant of the lake.
_CELLS = """
WITH fetched AS (
    SELECT f.city, f.family, f.date, f.trades_fetched, f.candles_fetched
    FROM fetched_days_in({fetched_args}) AS f
    WHERE {city_filter_f}
),
kc AS (
    SELECT
        k.market_ticker,
        min(k.bucket_start) + INTERVAL 1 MINUTE AS first_candle_end,
        max(k.bucket_start) + INTERVAL 1 MINUTE AS last_candle_end,
        count(*) AS api_candles
    FROM candles_1m AS k
    WHERE k.source = 'api' AND {city_filter_k}
    GROUP BY k.market_ticker
),
mq AS (
    SELECT m.city, m.family, m.date, m.open_time, m.close_time, m.status, m.fetched_at, kc.*
    FROM markets AS m
    LEFT JOIN kc ON kc.market_ticker = m.market_ticker
    WHERE {city_filter_m}
),
points AS (
    SELECT mq.*, timezone(c.tz, (mq.date + i.day_offset) + i.local_time) AS decision_at
    FROM mq
    JOIN cities AS c ON c.city = mq.city
    CROSS JOIN decision_instants() AS i
),
holes AS (
    SELECT p.city, p.family, p.date, count(*) AS quote_holes
    FROM points AS p
    WHERE (p.first_candle_end IS NULL OR p.first_candle_end > p.decision_at)
      AND p.decision_at <= $now
      AND p.decision_at >= p.open_time + INTERVAL 1 MINUTE
      AND p.decision_at <= p.close_time
      AND p.decision_at <= CASE
            WHEN p.status IN ('closed', 'finalized', 'settled', 'determined', 'amended')
                THEN p.close_time
            ELSE p.last_candle_end
          END
    GROUP BY ALL
),
mk AS (
    SELECT mq.city, mq.family, mq.date, count(*) AS markets,
           sum(coalesce(mq.api_candles, 0)) AS api_candles, max(mq.fetched_at) AS fetched_at
    FROM mq
    GROUP BY ALL
),
tr AS (
    SELECT t.city, t.family, t.date, count(*) AS trades, max(t.fetched_at) AS fetched_at
    FROM trades AS t
    WHERE {city_filter_t}
    GROUP BY ALL
),
keys AS (
    SELECT city, family, date FROM fetched
    UNION SELECT city, family, date FROM mk
    UNION SELECT city, family, date FROM tr
)
SELECT
    x.city,
    x.family,
    x.date,
    coalesce(f.trades_fetched, false) OR coalesce(t.trades, 0) > 0 AS has_trades,
    coalesce(f.candles_fetched, false) OR coalesce(m.api_candles, 0) > 0 AS has_candles,
    coalesce(m.markets, 0) AS markets,
    coalesce(t.trades, 0) AS trades,
    coalesce(m.api_candles, 0) AS api_candles,
    coalesce(h.quote_holes, 0) AS quote_holes,
    greatest(m.fetched_at, t.fetched_at) AS last_fetch
FROM keys AS x
LEFT JOIN fetched AS f USING (city, family, date)
LEFT JOIN mk AS m USING (city, family, date)
LEFT JOIN tr AS t USING (city, family, date)
LEFT JOIN holes AS h USING (city, family, date)
"""


@dataclass(frozen=True)
class Cell:
    """One event's coverage: a city's family on one climate date."""

    city: str
    family: str
    date: dt.date
    status: str
    markets: int = 0
    trades: int = 0
    api_candles: int = 0
    quote_holes: int = 0
    note: str = ""
    last_fetch: dt.datetime | None = None  # the latest fetch of its markets or trades


def last_listable(now: dt.datetime) -> dt.date:
    """The last climate date Kalshi can have listed at ``now``: events list at 10:00 ET the day
    before their date, so after 10:00 ET tomorrow's event is listed, before it today's."""
    local = now.astimezone(_ET)
    return local.date() + dt.timedelta(days=1 if local.hour >= 10 else 0)


def _first_event(city: str, family: str) -> dt.date | None:
    """The family's first event in ``city`` (None: not in the registry, or no such series)."""
    try:
        return get_city(city).series(family).first_event
    except (UnknownCityError, UnknownFamilyError):
        return None


def _status(has_trades: bool, has_candles: bool, markets: int, holes: int) -> tuple[str, str]:
    if not has_trades and not has_candles:
        return "missing", "trades and candles not fetched"
    lacks = []
    if not has_trades:
        lacks.append("trades not fetched")
    if not has_candles:
        lacks.append("candles not fetched")
    if markets == 0:
        lacks.append("no markets")
    if holes:
        lacks.append(f"{holes} decision instant(s) without an api quote")
    return ("partial", "; ".join(lacks)) if lacks else ("complete", "")


def coverage_cells(
    con: duckdb.DuckDBPyConnection,
    cities: Sequence[str] | None = None,
    *,
    now: dt.datetime | None = None,
) -> list[Cell]:
    """Every cell of the grid (see the module docstring), sorted by family, city and date.

    ``con`` is a connection from :func:`kalshi_lake.connect`; ``cities`` (canonical names)
    narrows the grid to those cities, each shown over its families' span even with no data.
    """
    now = now or dt.datetime.now(dt.UTC)
    in_list = ", ".join(sql_literal(c) for c in cities or ())
    filters = {
        f"city_filter_{a}": (f"{a}.city IN ({in_list})" if cities else "true")
        for a in ("f", "m", "t", "k")
    }
    # one city: list only its raw folders (the filter below keeps the rest right anyway)
    fetched_args = f"city := {sql_literal(cities[0])}" if cities and len(cities) == 1 else ""
    sql = _CELLS.format(fetched_args=fetched_args, **filters)
    rows = con.execute(sql, {"now": now}).fetchall()
    known: dict[tuple[str, str, dt.date], Cell] = {}
    for city, family, date, has_t, has_c, markets, trades, api, holes, fetched in rows:
        status, note = _status(bool(has_t), bool(has_c), int(markets), int(holes))
        known[(city, family, date)] = Cell(
            city,
            family,
            date,
            status,
            int(markets),
            int(trades),
            int(api),
            int(holes),
            note,
            fetched,
        )
    return _grid(known, cities, last_listable(now))


def _grid(
    known: dict[tuple[str, str, dt.date], Cell],
    cities: Sequence[str] | None,
    listable: dt.date,
) -> list[Cell]:
    """The known cells plus a cell for every other date of each family's span and city."""
    families = sorted({f for _c, f, _d in known}, key=lambda f: (f != "high", f))
    names = sorted(set(cities or ()) | {c for c, _f, _d in known})
    has_data = {(c, f) for c, f, _d in known}
    out: list[Cell] = []
    for family in families:
        # the span is what was fetched: listings name markets of days on either side of any
        # backfilled range, and those are not holes (as in `status`)
        dates = [k[2] for k, cell in known.items() if k[1] == family and cell.status != "missing"]
        if not dates:
            continue
        first, last = min(dates), max(dates)
        for city in names:
            start = _first_event(city, family)
            if start is None and (city, family) not in has_data:
                continue  # a city without that series (most have no lows): no row at all
            day = first
            while day <= last:
                cell = known.get((city, family, day))
                if cell is None:
                    if (start is not None and day < start) or day > listable:
                        cell = Cell(city, family, day, "not listed", note="no event listed")
                    else:
                        cell = Cell(city, family, day, "missing", note="nothing in the lake")
                out.append(cell)
                day += dt.timedelta(days=1)
    return out
