"""The simulated exchange at a frozen "now": what exists, in which tier, and its JSON payloads.

:class:`World` wraps the pure model (:mod:`kalshi_lake.sim.model`) with the clock: which events
exist (created at or before ``now``), each market's status, which trades have printed, which
candle periods are complete, and where the historical cutoff splits live from archived data
(https://docs.kalshi.com/getting_started/historical_data). Payload builders return exactly the
JSON objects the server sends, in the current fixed-point shapes (``*_dollars`` / ``*_fp`` strings
only: https://docs.kalshi.com/getting_started/fixed_point_migration).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from kalshi_lake.cities import CITIES, TWC_FIRST_DATE, City, family_for_ticker, get_city
from kalshi_lake.cities import event_date as _parse_event_date
from kalshi_lake.errors import UnknownCityError
from kalshi_lake.sim.book import Book, BookChange, book_at, book_changes
from kalshi_lake.sim.candlejson import historical_candle, live_candle
from kalshi_lake.sim.model import (
    DAY_US,
    ET,
    US,
    Event,
    Market,
    count_fp,
    dollars,
    fmt_ts,
    from_us,
    make_event,
    series_view,
    settlement_sources,
    short_date,
    short_name,
    to_us,
)
from kalshi_lake.sim.tape import CandleRow, Tape, cached_tapes

__all__ = ["Event", "Market", "World"]

UTC = dt.UTC
PERIODS = (1, 60, 1440)
#: Every simulated series, as a :func:`~kalshi_lake.sim.model.series_view` of its city (the
#: ``high`` view is the registry's city itself): registry order, each city's families in order.
SERIES: tuple[City, ...] = tuple(series_view(c, family) for c in CITIES for family in c.families)
_SERIES = {c.series_ticker: c for c in SERIES}
#: Series ticker and legacy prefix -> (its series view, family).
_BY_PREFIX: dict[str, tuple[City, str]] = {}
for _view in SERIES:
    _family = family_for_ticker(_view.series_ticker) or "high"
    for _prefix in (_view.series_ticker, _view.legacy_prefix):
        if _prefix:
            _BY_PREFIX[_prefix] = (_view, _family)


#: Temperature series the simulator lists on ``GET /series`` that the registry lacks (Austin's
#: lows), so a backfill's registry check has one to report. No events: only the series record.
UNREGISTERED: tuple[City, ...] = (
    replace(
        get_city("austin"),
        series_ticker="KXLOWTAUS",
        legacy_prefix=None,
        first_event=dt.date(2026, 4, 3),
    ),
)


def view_for_ticker(ticker: str) -> tuple[City, str] | None:
    """(series view, family) of the series that starts a series, event or market ticker."""
    return _BY_PREFIX.get(ticker.split("-", 1)[0].upper())


_TITLE = {"high": "Highest", "low": "Lowest"}
_PRICE_RANGES = [{"end": "1.0000", "start": "0.0000", "step": "0.0100"}]

#: Payload eras of OpenAPI 3.31+ (https://docs.kalshi.com/changelog): events of climate days from
#: :data:`NO_BROKERS_FIRST_DATE` on are served without ``available_on_brokers``, markets from
#: :data:`BOUNDS_FIRST_DATE` on with ``settlement_bounds_type`` and without ``liquidity_dollars``;
#: older ones keep the shape they had, so both eras stay covered.
NO_BROKERS_FIRST_DATE = dt.date(2026, 9, 10)
BOUNDS_FIRST_DATE = dt.date(2026, 9, 24)


def settlement_bounds(ticker: str, day: dt.date) -> dict[str, str]:
    """The era fields of a market: ``liquidity_dollars`` before :data:`BOUNDS_FIRST_DATE`, then
    ``settlement_bounds_type`` (``floor`` with a ``settlement_floor_dollars`` on about a third
    of the markets, seeded by ticker; ``default`` on the rest)."""
    if day < BOUNDS_FIRST_DATE:
        return {"liquidity_dollars": "0.0000"}
    h = zlib.crc32(ticker.encode())
    if h % 3:
        return {"settlement_bounds_type": "default"}
    return {"settlement_bounds_type": "floor", "settlement_floor_dollars": dollars(h // 3 % 4 * 5)}


@dataclass(frozen=True, slots=True)
class Summary:
    """A market's trading state at ``now`` (and a day before, for the ``previous_*`` fields)."""

    volume_cc: int
    volume_24h_cc: int
    last_px: int | None
    oi_cc: int
    bid: int
    ask: int
    bid_size: int
    ask_size: int
    prev_bid: int
    prev_ask: int
    prev_px: int | None


def _expiration_value_blank(day: dt.date) -> bool:
    # Real recorded payloads carry "" for much of 2021-2024 and for Nov-Dec 2025.
    return day < dt.date(2025, 1, 1) or dt.date(2025, 11, 1) <= day <= dt.date(2025, 12, 31)


@lru_cache(maxsize=1 << 16)
def event_date(ticker: str) -> dt.date:
    """The climate date in an event ticker (cached :func:`kalshi_lake.cities.event_date`)."""
    return _parse_event_date(ticker)


@lru_cache(maxsize=1 << 16)
def _cached_event(seed: int, series_ticker: str, day: dt.date) -> Event:
    view, family = _BY_PREFIX[series_ticker]
    return make_event(seed, view, day, family)


def _cached_tapes(seed: int, series_ticker: str, day: dt.date) -> list[Tape]:
    # Tapes do not depend on "now", so every World in the process (tests start many servers
    # with the same seed) shares them.
    return cached_tapes(seed, _cached_event(seed, series_ticker, day))


class World:
    """The deterministic exchange state for one ``(seed, now, cutoff_lag_days)``.

    Thread-safe for reading (the caches are ``functools.lru_cache``); nothing here changes after
    construction.
    """

    def __init__(
        self, seed: int = 0, now: dt.datetime | None = None, cutoff_lag_days: int = 60
    ) -> None:
        if now is None:
            now = dt.datetime.now(UTC).replace(microsecond=0)
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.now_us = to_us(self.now)
        self.now_s = self.now_us // US
        cut_day = (self.now - dt.timedelta(days=cutoff_lag_days)).date()
        self.cutoff_us = to_us(dt.datetime(cut_day.year, cut_day.month, cut_day.day, tzinfo=UTC))
        cutoff_dt = from_us(self.cutoff_us)
        #: The historical cutoff timestamps (all equal, at midnight UTC), as datetimes.
        self.cutoff: dict[str, dt.datetime] = {
            "market_settled_ts": cutoff_dt,
            "trades_created_ts": cutoff_dt,
            "orders_updated_ts": cutoff_dt,
            "market_positions_last_updated_ts": cutoff_dt,
        }
        self._last_day = (self.now.astimezone(ET)).date() + dt.timedelta(days=2)
        self._summary_cache = lru_cache(maxsize=1 << 17)(self._make_summary)
        self._rows_cache = lru_cache(maxsize=512)(self._make_rows)
        self._trades_cache = lru_cache(maxsize=48)(self._make_trade_dicts)

    @classmethod
    def from_config(cls, config: Any) -> World:
        """A world for a :class:`~kalshi_lake.sim.config.SimConfig`."""
        return cls(config.seed, config.resolved_now(), config.cutoff_lag_days)

    # -----------------------------------------------------------------------------------------
    # existence and lookup

    def _event_cache(self, series_ticker: str, day: dt.date) -> Event:
        return _cached_event(self.seed, series_ticker, day)

    def _exists(self, event: Event) -> bool:
        return event.date >= event.city.first_event and event.created_us <= self.now_us

    def event(self, city: City | str, date: dt.date, family: str | None = None) -> Event | None:
        """The event of a series on climate day ``date``, or None if it does not exist at now.

        ``city`` is a city (name or registry object: its ``family`` series, ``high`` by default)
        or a series view from :data:`SERIES` (its own family).
        """
        c = city if isinstance(city, City) else get_city(city)
        if family is not None:
            c = _SERIES[c.series(family).ticker]
        if date < c.first_event or date > self._last_day:
            return None
        ev = self._event_cache(c.series_ticker, date)
        return ev if self._exists(ev) else None

    def event_by_ticker(self, event_ticker: str) -> Event | None:
        """The existing event with exactly this ticker, or None."""
        found = view_for_ticker(event_ticker)
        if found is None or event_ticker.count("-") != 1:
            return None
        city = found[0]
        try:
            day = event_date(event_ticker)
        except ValueError:
            return None
        if city.event_ticker(day) != event_ticker:
            return None  # wrong prefix for the era, lowercase month, ...
        return self.event(city, day)

    def market(self, ticker: str) -> Market | None:
        """The existing market with exactly this ticker, or None."""
        found = self.market_and_event(ticker)
        return found[0] if found else None

    def market_and_event(self, ticker: str) -> tuple[Market, Event] | None:
        """(market, its event) for an existing market ticker, or None."""
        parts = ticker.split("-")
        if len(parts) != 3:
            return None
        ev = self.event_by_ticker(f"{parts[0]}-{parts[1]}")
        if ev is None:
            return None
        for m in ev.markets:
            if m.ticker == ticker:
                return m, ev
        return None

    def series(self, series_ticker: str) -> City | None:
        """The series view of a (current, ``KX``) series ticker of any family, or None."""
        return _SERIES.get(series_ticker)

    def is_historical(self, market: Market | str) -> bool:
        """True when the market settled before ``market_settled_ts`` (served only by /historical)."""
        m = self.market(market) if isinstance(market, str) else market
        if m is None:
            return False
        return m.settlement_us <= self.now_us and m.settlement_us < self.cutoff_us

    def event_keys(
        self,
        cities: Iterable[City] | None = None,
        first: dt.date | None = None,
        last: dt.date | None = None,
    ) -> list[tuple[City, dt.date]]:
        """(series view, climate day) of existing events, newest day first, ties by event ticker.

        ``cities``: series views (:data:`SERIES`, the default: every family) or registry cities
        (their high series). Cheap: only the newest days, whose ladders may not be created yet
        at now, build an event.
        """
        chosen = list(cities) if cities is not None else list(SERIES)
        out: list[tuple[City, dt.date]] = []
        if not chosen:
            return out
        hi = min(last, self._last_day) if last else self._last_day
        lo_all = max(first or dt.date.min, min(c.first_event for c in chosen))
        # A ladder is created around 05:00 ET the day before its climate day, so every day up to
        # today's UTC date surely exists; later days are checked one by one.
        sure = self.now.date()
        day = hi
        one = dt.timedelta(days=1)
        while day >= lo_all:
            row = [c for c in chosen if day >= c.first_event]
            if day > sure:
                row = [c for c in row if self.event(c, day) is not None]
            row.sort(key=lambda c: c.event_ticker(day))
            out.extend((c, day) for c in row)
            day -= one
        return out

    def events(
        self,
        cities: Iterable[City] | None = None,
        first: dt.date | None = None,
        last: dt.date | None = None,
    ) -> list[Event]:
        """Existing events, newest climate day first (ties by event ticker)."""
        keys = self.event_keys(cities, first, last)
        return [self._event_cache(c.series_ticker, d) for c, d in keys]

    def live_window_first_day(self) -> dt.date:
        """The earliest climate day whose markets can still be live (settled after the cutoff)."""
        return from_us(self.cutoff_us).date() - dt.timedelta(days=3)

    def historical_window_last_day(self) -> dt.date:
        """The latest climate day whose markets can be archived (settled before the cutoff)."""
        return from_us(self.cutoff_us).date() + dt.timedelta(days=1)

    # -----------------------------------------------------------------------------------------
    # tapes and summaries

    def tape(self, market: Market) -> Tape:
        """The full quote path and trade tape of a market (including anything after now)."""
        day = event_date(market.event_ticker)
        return _cached_tapes(self.seed, market.series_ticker, day)[market.index]

    def _make_summary(self, ticker: str) -> Summary:
        found = self.market_and_event(ticker)
        assert found is not None
        m, _ = found
        tape = self.tape(m)
        now = self.now_us
        k = tape.n_trades_until(now)
        k24 = tape.n_trades_until(now - DAY_US)
        # The top of the order book (empty before the first quote and once the close emptied it).
        bid, ask, bsz, asz = tape.quote_at(now)
        then = now - DAY_US
        if m.open_us <= then < m.close_us:
            pb, pa, _, _ = tape.quote_at(then)
        else:
            pb, pa = 0, 0
        return Summary(
            volume_cc=tape.t_cum[k],
            volume_24h_cc=tape.t_cum[k] - tape.t_cum[k24],
            last_px=tape.t_px[k - 1] if k else None,
            oi_cc=tape.t_oi[k - 1] if k else 0,
            bid=bid,
            ask=ask,
            bid_size=bsz,
            ask_size=asz,
            prev_bid=pb,
            prev_ask=pa,
            prev_px=tape.t_px[k24 - 1] if k24 else None,
        )

    def summary(self, market: Market) -> Summary:
        """The market's trading state at now."""
        return self._summary_cache(market.ticker)

    # -----------------------------------------------------------------------------------------
    # payloads

    def market_payload(self, market: Market | str) -> dict[str, Any]:
        """The Market JSON object exactly as served (both tiers share the shape)."""
        m = self.market(market) if isinstance(market, str) else market
        if m is None:
            raise KeyError(f"no market {market!r} at {fmt_ts(self.now_us)}")
        s = self.summary(m)
        status = m.status(self.now_us)
        settled = status == "finalized"
        if self.now_us < m.open_us:
            updated = m.created_us + 700_000
        elif not settled:
            updated = m.updated_open_us
        else:
            updated = m.updated_settle_us
        if settled and not _expiration_value_blank(event_date(m.event_ticker)):
            ev = self._event_cache(m.series_ticker, event_date(m.event_ticker))
            expiration_value = f"{ev.value}.00"
        else:
            expiration_value = ""
        d: dict[str, Any] = {
            "can_close_early": True,
            "close_time": fmt_ts(m.close_us),
            "created_time": fmt_ts(m.created_us),
            "early_close_condition": m.early_close_condition,
            "event_ticker": m.event_ticker,
            "exchange_index": 0,
            "expected_expiration_time": fmt_ts(m.expected_expiration_us),
            "expiration_time": fmt_ts(m.expiration_us),
            "expiration_value": expiration_value,
            "last_price_dollars": dollars(s.last_px or 0),
            "latest_expiration_time": fmt_ts(m.expiration_us),
            "market_type": "binary",
            "no_ask_dollars": dollars(100 - s.bid),
            "no_bid_dollars": dollars(100 - s.ask),
            "no_sub_title": m.subtitle,
            "notional_value_dollars": "1.0000",
            "occurrence_datetime": fmt_ts(m.occurrence_us),
            "open_interest_fp": count_fp(s.oi_cc),
            "open_time": fmt_ts(m.open_us),
            "previous_price_dollars": dollars(s.prev_px or 0),
            "previous_yes_ask_dollars": dollars(s.prev_ask),
            "previous_yes_bid_dollars": dollars(s.prev_bid),
            "price_level_structure": "linear_cent",
            "price_ranges": [dict(r) for r in _PRICE_RANGES],
            "result": m.result if settled else "",
            "rules_primary": m.rules_primary,
            "rules_secondary": m.rules_secondary,
            "settlement_timer_seconds": 3600,
            "status": status,
            "strike_type": m.strike_type,
            "subtitle": m.subtitle,
            "ticker": m.ticker,
            "title": m.title,
            "updated_time": fmt_ts(updated),
            "volume_24h_fp": count_fp(s.volume_24h_cc),
            "volume_fp": count_fp(s.volume_cc),
            "yes_ask_dollars": dollars(s.ask),
            "yes_ask_size_fp": count_fp(s.ask_size),
            "yes_bid_dollars": dollars(s.bid),
            "yes_bid_size_fp": count_fp(s.bid_size),
            "yes_sub_title": m.subtitle,
        }
        if m.floor_strike is not None:
            d["floor_strike"] = m.floor_strike
        if m.cap_strike is not None:
            d["cap_strike"] = m.cap_strike
        if settled:
            d["settlement_ts"] = fmt_ts(m.settlement_us)
            d["settlement_value_dollars"] = "1.0000" if m.result == "yes" else "0.0000"
        d.update(settlement_bounds(m.ticker, event_date(m.event_ticker)))
        return d

    def event_payload(
        self, event: Event, markets: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The EventData JSON object; ``markets`` (when given and non-empty) is nested in it."""
        when = short_date(event.date)
        d: dict[str, Any] = {
            "category": "Climate and Weather",
            "collateral_return_type": "",
            "event_ticker": event.event_ticker,
            "exchange_index": 0,
            "last_updated_ts": fmt_ts(event.created_us),
            "mutually_exclusive": True,
            "series_ticker": event.series_ticker,
            "settlement_sources": settlement_sources(event.city, event.source),
            "strike_date": fmt_ts(event.strike_date_us),
            "sub_title": f"On {when}",
            "title": f"{_TITLE[event.family]} temperature in {short_name(event.city)} on {when}",
        }
        if event.date < NO_BROKERS_FIRST_DATE:
            d["available_on_brokers"] = False
        if markets:
            # Go's omitempty: an empty nested list is left out, not sent as [].
            d["markets"] = markets
        return d

    def live_markets(self, event: Event) -> list[Market]:
        """The event's markets still served by the live endpoints."""
        return [m for m in event.markets if not self.is_historical(m)]

    def series_payload(self, city: City, include_volume: bool = False) -> dict[str, Any]:
        """The Series JSON object for a series view's (``KX``) series, as of now."""
        found = view_for_ticker(city.series_ticker)
        family = found[1] if found else "low" if "LOW" in city.series_ticker else "high"
        twc = self.now.date() >= TWC_FIRST_DATE
        d: dict[str, Any] = {
            "additional_prohibitions": [
                "Persons who are employed by any of the Source Agencies are not permitted to "
                "trade on the Contract.",
                "Persons who hold any material, non-public information on the Underlying are not "
                "permitted to trade on the Contract.",
            ],
            "categories": ["Climate and Weather"],
            "category": "Climate and Weather",
            "contract_terms_url": "https://assets.kalshi.com/contract_terms/GLOBALTEMPERATURE.pdf",
            "contract_url": (
                "https://assets.kalshi.com/regulatory/product-certifications/GLOBALTEMPERATURE.pdf"
            ),
            "exchange_index": 0,
            "fee_multiplier": 1,
            "fee_type": "quadratic",
            "frequency": "daily",
            "last_updated_ts": "2026-08-13T13:14:20.095313Z"
            if twc
            else f"{city.first_event.isoformat()}T13:00:00Z",
            "settlement_sources": settlement_sources(city, "twc" if twc else "nws"),
            "tags": ["Daily temperature"],
            "ticker": city.series_ticker,
            "title": f"{_TITLE[family]} temperature in {short_name(city)}",
        }
        if twc:
            d["product_metadata"] = {
                "important_info": {
                    "id": "GLOBALTEMPERATURE-bulk-2026-08-13",
                    "markdown": (
                        "**Important information:** Effective Friday, August 14th, daily "
                        "temperature markets will transition their settlement source from the "
                        "National Weather Service (NWS) to The Weather Company. The Weather "
                        "Company utilizes NWS as its primary underlying source, and official "
                        "settlement data will be accessible at https://weather.com/kalshi."
                    ),
                    "message": "",
                    "title": "",
                }
            }
        if include_volume:
            total = 0
            for ev in self.events([city]):
                for m in ev.markets:
                    total += self.summary(m).volume_cc
            d["volume_fp"] = count_fp(total)
        return d

    # -----------------------------------------------------------------------------------------
    # trades

    def _make_trade_dicts(self, ticker: str) -> list[dict[str, Any]]:
        m = self.market(ticker)
        assert m is not None
        tape = self.tape(m)
        out = []
        for i in range(tape.n_trades_until(self.now_us)):
            px = tape.t_px[i]
            side = "yes" if tape.t_yes[i] else "no"
            out.append(
                {
                    "count_fp": count_fp(tape.t_cc[i]),
                    "created_time": fmt_ts(tape.t_us[i]),
                    "is_block_trade": tape.t_block[i],
                    "no_price_dollars": dollars(100 - px),
                    "taker_book_side": "bid" if tape.t_yes[i] else "ask",
                    "taker_outcome_side": side,
                    "taker_side": side,
                    "ticker": ticker,
                    "trade_id": str(uuid.UUID(int=tape.t_id[i], version=4)),
                    "yes_price_dollars": dollars(px),
                }
            )
        return out

    def trades(self, ticker: str) -> list[dict[str, Any]]:
        """Every trade of a market created at or before now, oldest first (both tiers)."""
        if self.market(ticker) is None:
            return []
        return list(self._trades_cache(ticker))

    def trade_dicts(self, ticker: str) -> list[dict[str, Any]]:
        """Like :meth:`trades` but the cached list itself (callers must not mutate it)."""
        return self._trades_cache(ticker)

    def trade_index_range(self, market: Market, lo_us: int, hi_us: int) -> tuple[int, int]:
        """Indices ``[i, j)`` of the market's trades with ``lo_us <= created <= hi_us`` and <= now."""
        tape = self.tape(market)
        hi = min(hi_us, self.now_us)
        if hi < lo_us:
            return 0, 0
        return bisect_left(tape.t_us, lo_us), bisect_right(tape.t_us, hi)

    # -----------------------------------------------------------------------------------------
    # candles

    def _make_rows(self, ticker: str, period: int) -> list[CandleRow]:
        from kalshi_lake.sim.tape import candle_rows

        m = self.market(ticker)
        assert m is not None
        return candle_rows(self.tape(m), period, self.now_s, m.open_us, m.close_us)

    def candle_rows(self, market: Market, period: int) -> list[CandleRow]:
        """Completed candle periods of a market (cached)."""
        if period not in PERIODS:
            raise ValueError(f"period must be one of {PERIODS}, got {period}")
        return self._rows_cache(market.ticker, period)

    def candles(self, ticker: str, period: int = 1) -> list[dict[str, Any]]:
        """Live-shape candle objects of a market, oldest first (completed periods only)."""
        m = self.market(ticker)
        if m is None:
            return []
        salt = zlib.crc32(ticker.encode())
        return [live_candle(r, salt) for r in self.candle_rows(m, period)]

    def historical_candles(self, ticker: str, period: int = 1) -> list[dict[str, Any]]:
        """Historical-shape (flat field names) candle objects of a market, oldest first."""
        m = self.market(ticker)
        if m is None:
            return []
        return [historical_candle(r) for r in self.candle_rows(m, period)]

    # -----------------------------------------------------------------------------------------
    # order book

    def book_changes(self, ticker: str, t0_us: int, t1_us: int) -> list[BookChange]:
        """:func:`kalshi_lake.sim.book.book_changes` of an existing market, in ``(t0, t1]``
        (not cut at now: a stream asks for the window its clock has reached). Unknown ticker:
        KeyError."""
        found = self.market_and_event(ticker)
        if found is None:
            raise KeyError(f"no market {ticker!r} at {fmt_ts(self.now_us)}")
        return book_changes(self.seed, found[1], ticker, t0_us, t1_us)

    def book_at(self, ticker: str, ts_us: int | None = None) -> Book:
        """:func:`kalshi_lake.sim.book.book_at` of an existing market at ``ts_us`` (default:
        now). Unknown ticker: KeyError."""
        found = self.market_and_event(ticker)
        if found is None:
            raise KeyError(f"no market {ticker!r} at {fmt_ts(self.now_us)}")
        return book_at(self.seed, found[1], ticker, self.now_us if ts_us is None else ts_us)


def city_or_none(name: str) -> City | None:
    """``get_city`` that returns None instead of raising."""
    try:
        return get_city(name)
    except UnknownCityError:
        return None
