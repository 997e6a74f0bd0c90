"""The simulator's data model: pure functions of (seed, series, climate date).

This module holds the static part (events, ladders, markets, texts); :mod:`kalshi_lake.sim.tape`
the dynamic part (quote paths, trade tapes, candles).

One :class:`Event` per series and climate day: a daily high drawn from a seasonal climate (and,
for the ``low`` family, the same day's low below it), a 6-market :func:`ladder` placed around a
noisy forecast of the settled value, lifecycle times
(https://docs.kalshi.com/getting_started/market_lifecycle) and rules text by settlement-source
era (the NWS climate report, then The Weather Company from ``cities.TWC_FIRST_DATE``). Its
:class:`Tape` per market is a quote path (best bid/ask changes) and a trade tape: a latent
temperature estimate drifts from the forecast to the settled value (a Brownian bridge with shrinking
uncertainty), each bracket's fair value follows from it, market makers quote around the fair
value and takers cross the spread. Everything else the server shows (volume, open interest, last
price, candles) is derived from the tape, so it is self-consistent by construction.

Times are integer microseconds since the Unix epoch (``*_us``); prices are integer cents; counts
are integer hundredths of a contract (``cc``), so nothing here ever touches a float price.
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import random
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from zoneinfo import ZoneInfo

from kalshi_lake.cities import TWC_FIRST_DATE, City, get_city

US = 1_000_000
MINUTE_US = 60 * US
HOUR_US = 3600 * US
DAY_US = 86400 * US
UTC = dt.UTC
ET = ZoneInfo("America/New_York")

#: Climate days from this one close at 04:59Z (11:59 PM EST) year-round; before, 11:59 PM civil ET.
CLOSE_0459Z_FROM = dt.date(2026, 3, 18)
#: Non-integer trade counts appear on the tape from this climate day.
FRACTIONAL_FROM = dt.date(2026, 4, 9)
#: ``is_block_trade`` exists from this day; earlier trades are never block trades.
BLOCK_TRADES_FROM = dt.date(2026, 5, 29)
#: Settlement "first 7:00 or 8:00 AM ET" from this climate day; "first 10:00 AM ET" before.
EARLY_SETTLE_FROM = dt.date(2024, 9, 4)

#: Per-city climate of the daily high in °F: (annual mean, seasonal amplitude, peak day of year,
#: day-to-day noise). Rough normals; only plausibility matters.
CLIMATE: dict[str, tuple[float, float, int, float]] = {
    "nyc": (62, 22, 200, 6.0),
    "chicago": (59, 26, 198, 8.0),
    "miami": (84, 7, 210, 2.5),
    "austin": (81, 17, 215, 5.5),
    "denver": (65, 23, 195, 9.0),
    "philadelphia": (64, 22, 200, 6.0),
    "la": (71, 6, 240, 4.0),
    "seattle": (60, 17, 210, 5.0),
    "sf": (65, 6, 260, 5.0),
    "dc": (67, 22, 200, 6.0),
    "lasvegas": (80, 25, 198, 4.0),
    "neworleans": (79, 14, 205, 4.5),
    "minneapolis": (56, 31, 200, 8.0),
    "atlanta": (73, 18, 205, 5.5),
    "phoenix": (87, 21, 195, 4.0),
    "boston": (59, 23, 205, 7.0),
    "dallas": (77, 21, 210, 7.0),
    "sanantonio": (81, 17, 215, 6.0),
    "okc": (72, 23, 205, 8.0),
    "houston": (79, 16, 210, 5.0),
}

#: Mean gap between a day's high and its low in °F (its day-to-day sd is 4 °F); dry and
#: inland cities swing more than coastal ones. Rough; only plausibility matters.
DIURNAL: dict[str, float] = {
    "miami": 10.0,
    "la": 12.0,
    "sf": 13.0,
    "denver": 26.0,
    "lasvegas": 22.0,
    "phoenix": 22.0,
}
DEFAULT_DIURNAL = 17.0
#: The lowest ladder strike a lows event lists (tickers carry no sign, so no tail below 1 °F).
MIN_LOW_STRIKE = 1

#: Expected trades per event once a series is mature (before the era ramp and per-day noise).
ACTIVITY: dict[str, float] = {
    "nyc": 1400.0,
    "chicago": 1000.0,
    "miami": 700.0,
    "austin": 700.0,
    "la": 600.0,
    "denver": 500.0,
    "philadelphia": 500.0,
}
DEFAULT_ACTIVITY = 300.0

#: NWS forecast office per city, for the CLI product URL in NWS-era ``settlement_sources``.
WFO: dict[str, str] = {
    "nyc": "OKX",
    "chicago": "LOT",
    "miami": "MFL",
    "austin": "EWX",
    "denver": "BOU",
    "philadelphia": "PHI",
    "la": "LOX",
    "seattle": "SEW",
    "sf": "MTR",
    "dc": "LWX",
    "lasvegas": "VEF",
    "neworleans": "LIX",
    "minneapolis": "MPX",
    "atlanta": "FFC",
    "phoenix": "PSR",
    "boston": "BOX",
    "dallas": "FWD",
    "sanantonio": "EWX",
    "okc": "OUN",
    "houston": "HGX",
}

#: Relative trading intensity by local (standard-time) hour of day.
HOUR_WEIGHTS = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 0.9, 1.0, 1.1, 1.2,
    1.3, 1.4, 1.5, 1.5, 1.4, 1.2, 1.0, 0.9, 0.8, 0.6, 0.4, 0.25,
)  # fmt: skip

TWC_SOURCE = {"name": "The Weather Company", "url": "https://weather.com/kalshi"}


# ---------------------------------------------------------------------------------------------
# time and number formatting


def to_us(t: dt.datetime) -> int:
    """An aware datetime as integer microseconds since the epoch."""
    return calendar.timegm(t.utctimetuple()) * US + t.microsecond


def from_us(us: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC datetime."""
    return dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(microseconds=us)


def fmt_ts(us: int) -> str:
    """RFC 3339 UTC like Kalshi: microseconds with trailing zeros trimmed, none when zero."""
    s, frac = divmod(us, US)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
    if frac == 0:
        return base + "Z"
    return f"{base}.{f'{frac:06d}'.rstrip('0')}Z"


_DOLLARS = tuple(f"{c // 100}.{c % 100:02d}00" for c in range(101))


def dollars(cents: int) -> str:
    """Integer cents (0..100) as a 4-decimal dollar string: 7 -> ``"0.0700"``."""
    return _DOLLARS[cents]


def dollars4(ten_thousandths: int) -> str:
    """Integer 1/10000 dollars as a 4-decimal dollar string: 25 -> ``"0.0025"``."""
    return f"{ten_thousandths // 10000}.{ten_thousandths % 10000:04d}"


def count_fp(cc: int) -> str:
    """Integer hundredths of a contract as a FixedPointCount string: 13600 -> ``"136.00"``."""
    return f"{cc // 100}.{cc % 100:02d}"


def _local_us(day: dt.date, hour: int, minute: int, tz: ZoneInfo) -> int:
    return to_us(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz))


@lru_cache(maxsize=64)
def standard_offset_us(tz: str) -> int:
    """The zone's standard-time UTC offset (the NWS climate day runs in local standard time)."""
    off = ZoneInfo(tz).utcoffset(dt.datetime(2026, 1, 15))
    assert off is not None
    return int(off.total_seconds()) * US


def long_date(d: dt.date) -> str:
    """``August 12, 2026``."""
    return f"{d:%B} {d.day}, {d.year}"


def short_date(d: dt.date) -> str:
    """``Aug 12, 2026``."""
    return f"{d:%b} {d.day}, {d.year}"


# ---------------------------------------------------------------------------------------------
# static data: events and markets


@dataclass(frozen=True, slots=True)
class Bracket:
    """One rung of a daily-high ladder: ticker suffix, strikes and the texts derived from them.

    ``floor``/``cap`` are the API's ``floor_strike``/``cap_strike``; ``lo``/``hi`` the lowest and
    highest settled whole-degree temperature that resolves yes (None: unbounded).
    """

    suffix: str  # "T45", "B46.5", "T53"
    strike_type: str  # "less", "between" or "greater"
    floor: int | None
    cap: int | None
    lo: int | None
    hi: int | None
    subtitle: str  # "44° or below", "46° to 47°", "54° or above"
    short: str  # "<45°", "46-47°", ">53°" (as in market titles)
    cond: str  # "less than 45°", "between 46-47°", "greater than 53°" (as in rules)

    def resolves_yes(self, temp: int) -> bool:
        """Whether a settled whole-degree ``temp`` resolves this bracket yes."""
        return (self.lo is None or temp >= self.lo) and (self.hi is None or temp <= self.hi)


@lru_cache(maxsize=256)
def ladder(low: int) -> tuple[Bracket, ...]:
    """The six brackets of a daily-high ladder whose low tail is "below ``low``" °F.

    A low tail ``T{low}`` (``low - 1`` or below), four two-degree brackets ``B{a}.5``
    (``a`` to ``a + 1``, from ``a = low``) and a high tail ``T{low + 7}`` (``low + 8`` or
    above), as Kalshi's daily-high events list them (e.g. ``KXHIGHCHI-26NOV21-B46.5``); see
    https://docs.kalshi.com/api-reference/events/get-event for an event's nested markets.
    """
    out = [
        Bracket(
            f"T{low}", "less", None, low, None, low - 1, f"{low - 1}° or below",
            f"<{low}°", f"less than {low}°",
        )
    ]  # fmt: skip
    for k in range(4):
        a = low + 2 * k
        out.append(
            Bracket(
                f"B{a}.5", "between", a, a + 1, a, a + 1, f"{a}° to {a + 1}°",
                f"{a}-{a + 1}°", f"between {a}-{a + 1}°",
            )
        )  # fmt: skip
    top = low + 7
    out.append(
        Bracket(
            f"T{top}", "greater", top, None, top + 1, None, f"{top + 1}° or above",
            f">{top}°", f"greater than {top}°",
        )
    )  # fmt: skip
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Market:
    """One bracket of a ladder: identity, strikes, texts and lifecycle times."""

    ticker: str
    event_ticker: str
    series_ticker: str
    index: int
    strike_type: str
    floor_strike: int | None
    cap_strike: int | None
    lo: int | None  # lowest settled temperature that resolves yes (None: no lower bound)
    hi: int | None  # highest settled temperature that resolves yes (None: no upper bound)
    subtitle: str
    title: str
    rules_primary: str
    rules_secondary: str
    early_close_condition: str
    result: str
    created_us: int
    open_us: int
    close_us: int
    settlement_us: int
    expected_expiration_us: int
    expiration_us: int
    occurrence_us: int
    updated_open_us: int
    updated_settle_us: int

    def status(self, now_us: int) -> str:
        """Lifecycle status at ``now``.

        See https://docs.kalshi.com/getting_started/market_lifecycle.
        """
        if now_us < self.open_us:
            return "initialized"
        if now_us < self.close_us:
            return "active"
        if now_us < self.settlement_us:
            return "closed"
        return "finalized"

    def resolves_yes(self, temp: int) -> bool:
        """Whether a settled whole-degree ``temp`` resolves this bracket yes."""
        return (self.lo is None or temp >= self.lo) and (self.hi is None or temp <= self.hi)


@dataclass(frozen=True, slots=True)
class Event:
    """One city's climate day: the ladder plus the hidden truth behind it."""

    event_ticker: str
    series_ticker: str
    city: City
    date: dt.date
    high: int  # the day's high (the settled value of a ``high`` event)
    forecast: float
    low_strike: int
    source: str  # "nws" or "twc"
    created_us: int
    strike_date_us: int
    resolve_us: int  # when the value is essentially known (17:00 LST on D; lows 09:00)
    expected_trades: float
    markets: list[Market] = field(default_factory=list)
    family: str = "high"
    low: int | None = None  # the day's low (set for ``low`` events)

    @property
    def value(self) -> int:
        """The settled temperature: the day's high or, for a ``low`` event, its low."""
        return self.low if self.family == "low" and self.low is not None else self.high

    @property
    def open_us(self) -> int:
        """When trading opens (all markets share it)."""
        return self.markets[0].open_us

    @property
    def close_us(self) -> int:
        """When trading closes (all markets share it)."""
        return self.markets[0].close_us

    @property
    def settlement_us(self) -> int:
        """When the event settled (all markets share it)."""
        return self.markets[0].settlement_us

    def status(self, now_us: int) -> str:
        """The lifecycle status its markets share at ``now``."""
        return self.markets[0].status(now_us)


def climate_normal(city: City, day: dt.date) -> tuple[float, float]:
    """(normal daily high, day-to-day noise sd) for a city and date, in °F."""
    mean, amp, peak, sd = CLIMATE.get(city.name, (65, 18, 200, 6.0))
    doy = day.timetuple().tm_yday
    return mean + amp * math.cos(2 * math.pi * (doy - peak) / 365.25), sd


def _era_factor(day: dt.date) -> float:
    # Markets were thin in 2021 and grew steadily; ramp linearly to full activity by early 2026.
    frac = (day - dt.date(2021, 8, 1)).days / 1650
    return 0.08 + 0.92 * min(1.0, max(0.0, frac))


def short_name(city: City) -> str:
    """The city as Kalshi's titles name it (``NYC`` for New York)."""
    return "NYC" if city.name == "nyc" else city.display_name


def series_view(city: City, family: str) -> City:
    """The city as one of its series sees it: the flat series fields are that family's.

    The high view is the registry's city itself; the low view is a copy whose
    ``series_ticker``/``legacy_prefix``/``first_event`` are the ``KXLOWT*`` series' (the
    simulator keys its events by these views, so one code path serves every family).
    """
    if family == "high":
        return city
    s = city.series(family)
    return replace(
        city, series_ticker=s.ticker, legacy_prefix=s.legacy_prefix, first_event=s.first_event
    )


def day_temperatures(seed: int, city: City, day: dt.date) -> tuple[int, int]:
    """(high, low) of a city's climate day; the low is always at least 1 °F below the high.

    The high is the first draw of the high event's own generator, so both families of a day
    agree with each other.
    """
    high_ticker = get_city(city.name).series_ticker
    rng = random.Random(f"kalshi-sim|{seed}|{high_ticker}|{day.isoformat()}|event")
    normal, sd = climate_normal(city, day)
    high = round(normal + rng.gauss(0.0, sd))
    swing = random.Random(f"kalshi-sim|{seed}|{high_ticker}|{day.isoformat()}|diurnal")
    spread = max(3, round(swing.gauss(DIURNAL.get(city.name, DEFAULT_DIURNAL), 4.0)))
    low = high - spread
    if low < MIN_LOW_STRIKE + 8:
        # Keep a cold night's ladder above 0 °F (see MIN_LOW_STRIKE), and still below the high.
        low = min(high - 1, MIN_LOW_STRIKE + 8)
    return high, low


_WORDS = {"high": ("maximum", "highest", "high"), "low": ("minimum", "lowest", "low")}


def _rules(
    city: City, day: dt.date, source: str, cond: str, family: str = "high"
) -> tuple[str, str]:
    extreme, most, _ = _WORDS[family]
    if source == "twc":
        primary = (
            f"If the {extreme} temperature recorded at {city.display_name} ({city.cli_code}) for "
            f"{short_date(day)}, is {cond} fahrenheit according to The Weather Company, then the "
            "market resolves to Yes."
        )
        secondary = (
            "Not all weather data is the same. While checking a source like Google or your "
            "phone's weather app may provide a general idea of the temperature, the official and "
            f"final value used to determine this market is the {extreme} temperature as reported by "
            "The Weather Company (https://weather.com/kalshi), which utilizes NWS as its primary "
            "underlying source. Preliminary reporting may be subject to underlying rounding and "
            "conversion nuances."
        )
    else:
        primary = (
            f"If the {most} temperature recorded in {city.station_label} for {long_date(day)} as "
            "reported by the National Weather Service's Climatological Report (Daily), is "
            f"{cond}, then the market resolves to Yes."
        )
        secondary = (
            "Not all weather data is the same. While checking a source like Google or your "
            "phone's weather app may provide a general idea of the temperature, the official and "
            f"final value used to determine this market is the {most} temperature as reported by "
            "the corresponding NWS Climatological Report (Daily) linked in the rules above. "
            "Preliminary NWS reporting and measurement methods may be subject to underlying "
            "rounding and conversion nuances."
        )
    return primary, secondary


def _early_close(day: dt.date) -> str:
    when = "7:00 or 8:00\nAM ET" if day >= EARLY_SETTLE_FROM else "10:00 AM ET"
    d = long_date(day)
    return (
        f"The Last Trading Time will be 11:59 PM ET on {d} regardless of any data releases or "
        f"events occurring. Expiration will occur on the sooner of the first {when} following "
        f"the release of the data for {d}, or one week after {d}."
    )


def settlement_sources(city: City, source: str) -> list[dict[str, str]]:
    """The ``settlement_sources`` list for an event (or series) settled by ``source``."""
    if source == "twc":
        return [dict(TWC_SOURCE)]
    wfo = WFO.get(city.name, "OKX")
    url = (
        "https://forecast.weather.gov/product.php?"
        f"site={wfo}&product=CLI&issuedby={city.cli_code[3:]}"
    )
    return [{"name": "National Weather Service", "url": url}]


def make_event(seed: int, city: City, day: dt.date, family: str = "high") -> Event:
    """The event of ``city``'s ``family`` series on climate day ``day`` (cheap: no tape).

    ``city`` is the registry's city or its :func:`series_view` for ``family``.
    """
    city = series_view(get_city(city.name), family)
    rng = random.Random(f"kalshi-sim|{seed}|{city.series_ticker}|{day.isoformat()}|event")
    normal, sd = climate_normal(city, day)
    day_low: int | None = None
    if family == "high":
        high = value = round(normal + rng.gauss(0.0, sd))
    else:
        high, day_low = day_temperatures(seed, city, day)
        value = day_low
    forecast = value + rng.gauss(0.0, 2.2)
    low = round(forecast - 3.5 + rng.uniform(-1.5, 1.5))
    if family == "low":
        low = max(MIN_LOW_STRIKE, low)
    source = "twc" if day >= TWC_FIRST_DATE else "nws"
    event_ticker = city.event_ticker(day)
    std = standard_offset_us(city.tz)
    prev_day = day - dt.timedelta(days=1)
    next_day = day + dt.timedelta(days=1)

    open_us = _local_us(prev_day, 10, 0, ET)
    if day >= CLOSE_0459Z_FROM:
        close_us = to_us(
            dt.datetime(next_day.year, next_day.month, next_day.day, 4, 59, tzinfo=UTC)
        )
    else:
        close_us = _local_us(day, 23, 59, ET)
    settle_hour = 8 if day >= EARLY_SETTLE_FROM else 10
    settlement_us = _local_us(next_day, settle_hour, 0, ET) + int(rng.uniform(60, 720) * US)
    created_us = open_us - 4 * HOUR_US - int(rng.uniform(0, 3600) * US)
    expected_exp_us = _local_us(next_day, 10, 0, ET)
    expiration_us = _local_us(day + dt.timedelta(days=7), 10, 0, ET)
    occurrence_us = _local_us(day, 10, 0, ET)
    midnight_utc = to_us(dt.datetime(next_day.year, next_day.month, next_day.day, tzinfo=UTC))
    strike_date_us = midnight_utc - std
    # 17:00 local standard time on the climate day, when the high is known; a low is mostly
    # known after dawn (09:00).
    resolve_us = strike_date_us - (15 if family == "low" else 7) * HOUR_US

    noise = rng.lognormvariate(0.0, 0.9) / math.exp(0.9**2 / 2)
    expected = ACTIVITY.get(city.name, DEFAULT_ACTIVITY) * _era_factor(day) * noise

    name = short_name(city)
    when = short_date(day)
    early = _early_close(day)
    markets = []
    for i, b in enumerate(ladder(low)):
        primary, secondary = _rules(city, day, source, b.cond, family)
        m_created = created_us + int(rng.uniform(0, 2) * US)
        markets.append(
            Market(
                ticker=f"{event_ticker}-{b.suffix}",
                event_ticker=event_ticker,
                series_ticker=city.series_ticker,
                index=i,
                strike_type=b.strike_type,
                floor_strike=b.floor,
                cap_strike=b.cap,
                lo=b.lo,
                hi=b.hi,
                subtitle=b.subtitle,
                title=f"Will the **{_WORDS[family][2]} temp in {name}** be {b.short} on {when}?",
                rules_primary=primary,
                rules_secondary=secondary,
                early_close_condition=early,
                result="yes" if b.resolves_yes(value) else "no",
                created_us=m_created,
                open_us=open_us,
                close_us=close_us,
                settlement_us=settlement_us + int(rng.uniform(0, 0.05) * US),
                expected_expiration_us=expected_exp_us,
                expiration_us=expiration_us,
                occurrence_us=occurrence_us,
                updated_open_us=open_us + int(rng.uniform(0.5, 2.5) * US),
                updated_settle_us=settlement_us + int(rng.uniform(0.1, 1.5) * US),
            )
        )
    return Event(
        event_ticker=event_ticker,
        series_ticker=city.series_ticker,
        city=city,
        date=day,
        high=high,
        forecast=forecast,
        low_strike=low,
        source=source,
        created_us=min(m.created_us for m in markets),
        strike_date_us=strike_date_us,
        resolve_us=resolve_us,
        expected_trades=expected,
        markets=markets,
        family=family,
        low=day_low,
    )
