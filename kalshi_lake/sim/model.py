"""The simulator's data model: pure functions of (seed, series, climate date).

One :class:`Event` per city and climate day: a daily high drawn from a seasonal climate, a
6-market :func:`ladder` placed around a noisy forecast, lifecycle times
(https://docs.kalshi.com/getting_started/market_lifecycle) and rules text by settlement-source
era (the NWS climate report, then The Weather Company from ``cities.TWC_FIRST_DATE``). Its
:class:`Tape` per market is a quote path (best bid/ask changes) and a trade tape: a latent
temperature estimate drifts from the forecast to the real high (a Brownian bridge with shrinking
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
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache
from statistics import NormalDist
from zoneinfo import ZoneInfo

from kalshi_lake.cities import TWC_FIRST_DATE, City

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


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x * 0.7071067811865476))


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
    high: int
    forecast: float
    low_strike: int
    source: str  # "nws" or "twc"
    created_us: int
    strike_date_us: int
    resolve_us: int  # when the high is essentially known (17:00 local standard time on D)
    expected_trades: float
    markets: list[Market] = field(default_factory=list)

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


def _rules(city: City, day: dt.date, source: str, cond: str) -> tuple[str, str]:
    if source == "twc":
        primary = (
            f"If the maximum temperature recorded at {city.display_name} ({city.cli_code}) for "
            f"{short_date(day)}, is {cond} fahrenheit according to The Weather Company, then the "
            "market resolves to Yes."
        )
        secondary = (
            "Not all weather data is the same. While checking a source like Google or your "
            "phone's weather app may provide a general idea of the temperature, the official and "
            "final value used to determine this market is the maximum temperature as reported by "
            "The Weather Company (https://weather.com/kalshi), which utilizes NWS as its primary "
            "underlying source. Preliminary reporting may be subject to underlying rounding and "
            "conversion nuances."
        )
    else:
        primary = (
            f"If the highest temperature recorded in {city.station_label} for {long_date(day)} as "
            "reported by the National Weather Service's Climatological Report (Daily), is "
            f"{cond}, then the market resolves to Yes."
        )
        secondary = (
            "Not all weather data is the same. While checking a source like Google or your "
            "phone's weather app may provide a general idea of the temperature, the official and "
            "final value used to determine this market is the highest temperature as reported by "
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


def make_event(seed: int, city: City, day: dt.date) -> Event:
    """The event for ``city`` on climate day ``day`` (cheap: no tape)."""
    rng = random.Random(f"kalshi-sim|{seed}|{city.series_ticker}|{day.isoformat()}|event")
    normal, sd = climate_normal(city, day)
    high = round(normal + rng.gauss(0.0, sd))
    forecast = high + rng.gauss(0.0, 2.2)
    low = round(forecast - 3.5 + rng.uniform(-1.5, 1.5))
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
    resolve_us = strike_date_us - 7 * HOUR_US  # 17:00 local standard time on the climate day

    noise = rng.lognormvariate(0.0, 0.9) / math.exp(0.9**2 / 2)
    expected = ACTIVITY.get(city.name, DEFAULT_ACTIVITY) * _era_factor(day) * noise

    name = short_name(city)
    when = short_date(day)
    early = _early_close(day)
    markets = []
    for i, b in enumerate(ladder(low)):
        primary, secondary = _rules(city, day, source, b.cond)
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
                title=f"Will the **high temp in {name}** be {b.short} on {when}?",
                rules_primary=primary,
                rules_secondary=secondary,
                early_close_condition=early,
                result="yes" if b.resolves_yes(high) else "no",
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
    )


# ---------------------------------------------------------------------------------------------
# dynamic data: the tape


@dataclass(slots=True)
class Tape:
    """Quote changes and trades of one market, oldest first.

    ``q_*``: each entry is a change of the best bid/ask (cents; bid 0 / ask 100 = empty side) and
    the sizes shown there (cc). The last entry, just after close, empties the book. ``t_*``: one
    entry per trade; ``t_px`` is the YES price in cents, ``t_yes`` the taker's outcome side,
    ``t_oi`` open interest after the trade, ``t_cum`` cumulative count (``t_cum[k]`` = sum of the
    first ``k`` counts).
    """

    q_us: list[int] = field(default_factory=list)
    q_bid: list[int] = field(default_factory=list)
    q_ask: list[int] = field(default_factory=list)
    q_bsz: list[int] = field(default_factory=list)
    q_asz: list[int] = field(default_factory=list)
    t_us: list[int] = field(default_factory=list)
    t_px: list[int] = field(default_factory=list)
    t_cc: list[int] = field(default_factory=list)
    t_yes: list[bool] = field(default_factory=list)
    t_block: list[bool] = field(default_factory=list)
    t_id: list[int] = field(default_factory=list)
    t_oi: list[int] = field(default_factory=list)
    t_cum: list[int] = field(default_factory=lambda: [0])

    def quote_at(self, now_us: int) -> tuple[int, int, int, int]:
        """(bid, ask, bid size, ask size) in effect at ``now`` ((0, 100, 0, 0) before the first)."""
        j = bisect_right(self.q_us, now_us) - 1
        if j < 0:
            return 0, 100, 0, 0
        return self.q_bid[j], self.q_ask[j], self.q_bsz[j], self.q_asz[j]

    def n_trades_until(self, now_us: int) -> int:
        """How many trades happened at or before ``now``."""
        return bisect_right(self.t_us, now_us)


class _Fair:
    """Fair YES probability of each bracket over time, from a latent temperature estimate."""

    def __init__(self, event: Event, rng: random.Random) -> None:
        self.event = event
        self.t0 = event.open_us
        self.t1 = max(event.resolve_us, self.t0 + HOUR_US)
        step = 900 * US
        n = max(2, math.ceil((self.t1 - self.t0) / step))
        self.step = (self.t1 - self.t0) / n
        w = [0.0]
        for _ in range(n):
            w.append(w[-1] + rng.gauss(0.0, math.sqrt(1.0 / n)))
        self.m: list[float] = []
        self.s: list[float] = []
        for k in range(n + 1):
            tau = k / n
            bridge = w[k] - tau * w[n]
            self.m.append(event.forecast + (event.high - event.forecast) * tau + 1.6 * bridge)
            self.s.append(0.35 + 2.6 * math.sqrt(1.0 - tau))
        self.n = n

    def at(self, t_us: int) -> tuple[float, float]:
        """(mean, sd) of the market's belief about the settled high at ``t``."""
        if t_us >= self.t1:
            # After the afternoon peak only the report's rounding is uncertain, and less so
            # every hour.
            decay = max(0.08, 1.0 - (t_us - self.t1) / (6 * HOUR_US))
            return float(self.event.high), 0.35 * decay
        x = (t_us - self.t0) / self.step
        k = min(self.n - 1, max(0, int(x)))
        f = x - k
        return (
            self.m[k] + (self.m[k + 1] - self.m[k]) * f,
            self.s[k] + (self.s[k + 1] - self.s[k]) * f,
        )

    @staticmethod
    def prob(market: Market, mean: float, sd: float) -> float:
        """P(settled high in the bracket) under N(mean, sd) rounded to whole degrees."""
        upper = 1.0 if market.hi is None else _phi((market.hi + 0.5 - mean) / sd)
        lower = 0.0 if market.lo is None else _phi((market.lo - 0.5 - mean) / sd)
        return max(0.0, upper - lower)


def _trade_buckets(event: Event) -> tuple[list[int], list[float]]:
    """15-minute buckets over the trading window and their cumulative trading intensity."""
    std = standard_offset_us(event.city.tz)
    day_start = event.strike_date_us - DAY_US  # local-standard midnight starting the climate day
    starts: list[int] = []
    cum: list[float] = []
    total = 0.0
    t = event.open_us
    step = 900 * US
    while t < event.close_us:
        local_hour = ((t + std) // HOUR_US) % 24
        w = HOUR_WEIGHTS[local_hour] * (1.6 if t >= day_start else 1.0)
        total += w
        starts.append(t)
        cum.append(total)
        t += step
    return starts, cum


def simulate_tapes(seed: int, event: Event) -> list[Tape]:
    """Quote paths and trade tapes of every market of ``event``, deterministic in (seed, event)."""
    rng = random.Random(f"kalshi-sim|{seed}|{event.series_ticker}|{event.date.isoformat()}|tape")
    fair = _Fair(event, rng)
    m0, s0 = fair.at(event.open_us)
    priors = [_Fair.prob(m, m0, s0) for m in event.markets]
    shares = [
        p * (1 - p) + 0.02 + (0.15 if m.result == "yes" else 0.0)
        for p, m in zip(priors, event.markets, strict=True)
    ]
    total_share = sum(shares)
    starts, cum = _trade_buckets(event)
    fractional = event.date >= FRACTIONAL_FROM
    blocks = event.date >= BLOCK_TRADES_FROM
    close_us = event.close_us
    bucket_us = 900 * US
    tapes = []
    for market, share in zip(event.markets, shares, strict=True):
        n_trades = int(event.expected_trades * share / total_share * rng.uniform(0.6, 1.4))
        tape = Tape()
        _simulate_quotes(rng, fair, market, tape, n_trades, close_us)
        _simulate_trades(rng, tape, n_trades, starts, cum, bucket_us, close_us, fractional, blocks)
        tapes.append(tape)
    return tapes


def _simulate_quotes(
    rng: random.Random, fair: _Fair, market: Market, tape: Tape, n_trades: int, close_us: int
) -> None:
    quiet = n_trades < 30
    mean_gap_us = MINUTE_US / (0.02 + min(0.5, n_trades / 3000))
    rand = rng.random
    log = math.log
    erf = math.erf
    lo = None if market.lo is None else market.lo - 0.5
    hi = None if market.hi is None else market.hi + 0.5
    t = market.open_us + int(rng.uniform(0.2, 50.0) * US)
    half_bid, half_ask = 1, 1
    prev_bid, prev_ask = 0, 100
    q_us, q_bid, q_ask, q_bsz, q_asz = tape.q_us, tape.q_bid, tape.q_ask, tape.q_bsz, tape.q_asz
    at = fair.at
    while t < close_us:
        mean, sd = at(t)
        k = 0.7071067811865476 / sd
        upper = 1.0 if hi is None else 0.5 * (1.0 + erf((hi - mean) * k))
        lower = 0.0 if lo is None else 0.5 * (1.0 + erf((lo - mean) * k))
        c = int((upper - lower) * 100 + 0.5)
        c = 1 if c < 1 else 99 if c > 99 else c
        if rand() < 0.3:
            # Market makers re-price their spread now and then; quiet books are wider.
            widen = int(rand() * 6) if quiet else 0
            half_bid = 1 + (rand() < 0.35) + (rand() < 0.1) + widen
            half_ask = 1 + (rand() < 0.35) + (rand() < 0.1) + widen
        bid = c - half_bid
        ask = c + half_ask
        if bid < 0:
            bid = 0
        if ask > 100:
            ask = 100
        if quiet and rand() < 0.05:
            bid = 0  # thin books lose their bid side now and then
        if bid != prev_bid or ask != prev_ask:
            q_us.append(t)
            q_bid.append(bid)
            q_ask.append(ask)
            q_bsz.append(0 if bid == 0 else (int(rand() * 800) + 1) * 100)
            q_asz.append(0 if ask == 100 else (int(rand() * 800) + 1) * 100)
            prev_bid, prev_ask = bid, ask
        t += int(-log(1.0 - rand()) * mean_gap_us) + 1
    # Resting orders are cancelled at the close: the book empties just after it.
    q_us.append(close_us + int(rng.uniform(0.05, 20.0) * US))
    q_bid.append(0)
    q_ask.append(100)
    q_bsz.append(0)
    q_asz.append(0)


def _size_table(n: int = 4096) -> tuple[float, ...]:
    # Quantiles of a lognormal(2.3, 1.4) trade size (median ~10 contracts, a long tail), so a
    # draw costs one uniform instead of a Box-Muller pair.
    nd = NormalDist(2.3, 1.4)
    return tuple(min(25000.0, math.exp(nd.inv_cdf((i + 0.5) / n))) for i in range(n))


SIZES = _size_table()
_NSIZES = len(SIZES)


def _simulate_trades(
    rng: random.Random,
    tape: Tape,
    n_trades: int,
    starts: list[int],
    cum: list[float],
    bucket_us: int,
    close_us: int,
    fractional: bool,
    blocks: bool,
) -> None:
    if not starts or n_trades <= 0:
        return
    total = cum[-1]
    rand = rng.random
    last_bucket = len(starts) - 1
    times = []
    for _ in range(n_trades):
        b = bisect_left(cum, rand() * total)
        if b > last_bucket:
            b = last_bucket
        t = starts[b] + int(rand() * bucket_us)
        times.append(t if t < close_us else close_us - 1)
    times.sort()
    q_us, q_bid, q_ask = tape.q_us, tape.q_bid, tape.q_ask
    nq = len(q_us)
    j = -1
    oi = 0
    running = 0
    sizes = SIZES
    nsizes = _NSIZES
    bits = rng.getrandbits
    t_us, t_px, t_cc, t_yes = tape.t_us, tape.t_px, tape.t_cc, tape.t_yes
    t_block, t_id, t_oi, t_cum = tape.t_block, tape.t_id, tape.t_oi, tape.t_cum
    next_q = q_us[0] if nq else close_us
    bid = 0
    ask = 100
    for t in times:
        while t >= next_q:
            j += 1
            bid, ask = q_bid[j], q_ask[j]
            next_q = q_us[j + 1] if j + 1 < nq else close_us + 1
        if j < 0 or (bid == 0 and ask == 100):
            continue
        if bid == 0:
            yes = True
        elif ask == 100:
            yes = False
        else:
            yes = rand() < 0.5
        size = sizes[int(rand() * nsizes)]
        # From 2026-04-09 some fills are fractional (hundredths of a contract).
        frac = fractional and rand() < 0.3
        cc = (int(size * 100) or 1) if frac else (int(size + 0.5) or 1) * 100
        block = blocks and rand() < 0.002
        if oi == 0 or rand() < 0.6:
            oi += cc
        else:
            oi = oi - cc if cc < oi else 0
        running += cc
        t_us.append(t)
        t_px.append(ask if yes else bid)
        t_cc.append(cc)
        t_yes.append(yes)
        t_block.append(block)
        t_id.append(bits(128))
        t_oi.append(oi)
        t_cum.append(running)


# ---------------------------------------------------------------------------------------------
# candles


@dataclass(frozen=True, slots=True)
class CandleRow:
    """One emitted period: quote OHLC, trade OHLC (None when no trade), VWAP parts, volume, OI."""

    end_s: int
    bid: tuple[int, int, int, int]  # open, high, low, close (cents)
    ask: tuple[int, int, int, int]
    price: tuple[int, int, int, int] | None
    notional: int  # sum of price cents * count cc over the period's trades
    volume_cc: int
    previous: int | None  # last trade price before the period
    oi_cc: int


def _daily_ends(open_us: int, close_us: int) -> list[int]:
    """Daily candle boundaries (local midnight America/New_York) around a market's life, in s."""
    first = from_us(open_us).astimezone(ET).date() - dt.timedelta(days=1)
    last = from_us(close_us).astimezone(ET).date() + dt.timedelta(days=3)
    ends = []
    d = first
    while d <= last:
        ends.append(to_us(dt.datetime(d.year, d.month, d.day, tzinfo=ET)) // US)
        d += dt.timedelta(days=1)
    return ends


def candle_rows(
    tape: Tape, period_min: int, now_s: int, open_us: int, close_us: int
) -> list[CandleRow]:
    """Aggregate a tape into candles of ``period_min`` minutes, emitted only where something
    changed (a trade or a best bid/ask change), completed periods only (end <= ``now_s``).

    A period ends at ``end_period_ts`` inclusive: an event at exactly a boundary belongs to the
    period ending there. Daily periods end at local midnight America/New_York.
    """
    q_us, q_bid, q_ask = tape.q_us, tape.q_bid, tape.q_ask
    t_us, t_px, t_cc, t_oi = tape.t_us, tape.t_px, tape.t_cc, tape.t_oi
    nq, nt = len(q_us), len(t_us)
    inf = 1 << 62
    daily = _daily_ends(open_us, close_us) if period_min == 1440 else None
    p_us = period_min * MINUTE_US
    rows: list[CandleRow] = []
    qi = ti = 0
    bid, ask = 0, 100
    last_px: int | None = None
    oi = 0
    while qi < nq or ti < nt:
        tq = q_us[qi] if qi < nq else inf
        tt = t_us[ti] if ti < nt else inf
        first = tq if tq <= tt else tt
        if daily is not None:
            k = bisect_left(daily, -(-first // US))
            end_s = daily[k]
        else:
            end_s = -(-first // p_us) * p_us // US
        if end_s > now_s:
            break
        end_us = end_s * US
        b_o = b_h = b_l = bid
        a_o = a_h = a_l = ask
        p_o = p_h = p_l = p_c = -1
        prev = last_px
        vol = 0
        notional = 0
        while True:
            tq = q_us[qi] if qi < nq else inf
            tt = t_us[ti] if ti < nt else inf
            if tq <= tt and tq <= end_us:
                # A quote change at the same instant as a trade comes first: the trade printed
                # at the quote in effect at its time.
                bid, ask = q_bid[qi], q_ask[qi]
                b_h = max(b_h, bid)
                b_l = min(b_l, bid)
                a_h = max(a_h, ask)
                a_l = min(a_l, ask)
                qi += 1
            elif tt <= end_us:
                px, cc = t_px[ti], t_cc[ti]
                if p_o < 0:
                    p_o = p_h = p_l = px
                else:
                    p_h = max(p_h, px)
                    p_l = min(p_l, px)
                p_c = px
                vol += cc
                notional += px * cc
                oi = t_oi[ti]
                ti += 1
            else:
                break
        if p_c >= 0:
            last_px = p_c
        rows.append(
            CandleRow(
                end_s=end_s,
                bid=(b_o, b_h, b_l, bid),
                ask=(a_o, a_h, a_l, ask),
                price=(p_o, p_h, p_l, p_c) if p_o >= 0 else None,
                notional=notional,
                volume_cc=vol,
                previous=prev,
                oi_cc=oi,
            )
        )
    return rows


def vwap_ten_thousandths(notional: int, volume_cc: int) -> int:
    """Volume-weighted mean price in 1/10000 dollars, rounded half up.

    ``notional`` is sum(cents * cc); dividing by sum(cc) gives cents, times 100 gives 1/10000 $.
    """
    return (notional * 200 + volume_cc) // (2 * volume_cc)
