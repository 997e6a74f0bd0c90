"""The registry of Kalshi daily temperature cities: series per family, time zone, station.

One :class:`City` per city, with one :class:`Series` per family of daily temperature markets it
has (:data:`FAMILIES`: ``high``, the ``KXHIGH*``/``KXHIGHT*`` series with their legacy ``HIGH*``
prefixes, and ``low``, the ``KXLOWT*`` series). Names are short lowercase words; aliases resolve
to them. The flat ``series_ticker``/``legacy_prefix``/``first_event`` fields describe the ``high``
series.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from functools import cached_property
from zoneinfo import ZoneInfo

from kalshi_lake.errors import UnknownCityError, UnknownFamilyError

#: The families of daily temperature markets, in display order.
FAMILIES: tuple[str, ...] = ("high", "low")

#: The last climate day that used the legacy ``HIGH*`` ticker prefix (inferred from recorded
#: tickers: about 2024-10-24 was the first ``KX`` day; Kalshi documents no date). Only the
#: simulator relies on it: the backfill takes whatever tickers the API returns under the ``KX``
#: series.
LEGACY_LAST_DATE = dt.date(2024, 10, 23)

#: First climate day settled by The Weather Company instead of the NWS climate report.
TWC_FIRST_DATE = dt.date(2026, 8, 14)


def _ticker_date(date: dt.date) -> str:
    return date.strftime("%y%b%d").upper()


@dataclass(frozen=True)
class Series:
    """One daily temperature series of a city: its family, ticker and first climate day."""

    family: str
    ticker: str
    legacy_prefix: str | None
    first_event: dt.date

    def prefix_for(self, date: dt.date) -> str:
        """The ticker prefix markets for ``date`` were listed under."""
        if self.legacy_prefix and date <= LEGACY_LAST_DATE:
            return self.legacy_prefix
        return self.ticker

    def event_ticker(self, date: dt.date) -> str:
        """``KXLOWTCHI-26NOV20`` for the Chicago lows series on the 2026-11-20 climate day."""
        return f"{self.prefix_for(date)}-{_ticker_date(date)}"


@dataclass(frozen=True)
class City:
    """One city: its daily-high series (the flat fields), station, time zone, and a low series."""

    name: str
    display_name: str
    series_ticker: str
    legacy_prefix: str | None
    tz: str
    station_icao: str
    cli_code: str
    station_label: str
    first_event: dt.date
    aliases: tuple[str, ...] = ()
    low: Series | None = None

    @cached_property
    def families(self) -> dict[str, Series]:
        """Every daily temperature series of the city, by family, in :data:`FAMILIES` order."""
        out = {"high": Series("high", self.series_ticker, self.legacy_prefix, self.first_event)}
        if self.low is not None:
            out["low"] = self.low
        return out

    def series(self, family: str) -> Series:
        """The city's series of ``family``.

        Raises :class:`UnknownFamilyError` (exit 2) for a family that does not exist, or that
        this city does not have, listing the valid ones.
        """
        check_family(family)
        found = self.families.get(family)
        if found is None:
            raise UnknownFamilyError(
                f"{self.name} has no {family!r} series; its families: {', '.join(self.families)}"
            )
        return found

    @property
    def zone(self) -> ZoneInfo:
        """The city's IANA time zone."""
        return ZoneInfo(self.tz)

    def prefix_for(self, date: dt.date) -> str:
        """The ticker prefix markets for ``date`` were listed under."""
        if self.legacy_prefix and date <= LEGACY_LAST_DATE:
            return self.legacy_prefix
        return self.series_ticker

    def event_ticker(self, date: dt.date) -> str:
        """``KXHIGHCHI-26NOV20`` for Chicago's 2026-11-20 climate day."""
        return f"{self.prefix_for(date)}-{_ticker_date(date)}"


def _d(s: str) -> dt.date:
    return dt.date.fromisoformat(s)


CITIES: tuple[City, ...] = (
    City(
        "nyc",
        "New York",
        "KXHIGHNY",
        "HIGHNY",
        "America/New_York",
        "KNYC",
        "CLINYC",
        "Central Park, New York",
        _d("2021-08-06"),
        ("ny", "newyork", "new-york", "new_york"),
    ),
    City(
        "chicago",
        "Chicago",
        "KXHIGHCHI",
        "HIGHCHI",
        "America/Chicago",
        "KMDW",
        "CLIMDW",
        "Chicago Midway, Illinois",
        _d("2021-08-19"),
        ("chi",),
    ),
    City(
        "miami",
        "Miami",
        "KXHIGHMIA",
        "HIGHMIA",
        "America/New_York",
        "KMIA",
        "CLIMIA",
        "Miami International Airport, Florida",
        _d("2023-05-11"),
        ("mia",),
    ),
    City(
        "austin",
        "Austin",
        "KXHIGHAUS",
        "HIGHAUS",
        "America/Chicago",
        "KAUS",
        "CLIAUS",
        "Austin Bergstrom, Texas",
        _d("2023-05-11"),
        ("aus",),
    ),
    City(
        "denver",
        "Denver",
        "KXHIGHDEN",
        None,
        "America/Denver",
        "KDEN",
        "CLIDEN",
        "Denver International Airport, Colorado",
        _d("2024-11-20"),
        ("den",),
    ),
    City(
        "philadelphia",
        "Philadelphia",
        "KXHIGHPHIL",
        None,
        "America/New_York",
        "KPHL",
        "CLIPHL",
        "Philadelphia International Airport, Pennsylvania",
        _d("2024-11-20"),
        ("phil", "philly", "phl"),
    ),
    City(
        "la",
        "Los Angeles",
        "KXHIGHLAX",
        None,
        "America/Los_Angeles",
        "KLAX",
        "CLILAX",
        "Los Angeles Airport, California",
        _d("2025-01-05"),
        ("lax", "losangeles", "los-angeles", "los_angeles"),
    ),
    City(
        "seattle",
        "Seattle",
        "KXHIGHTSEA",
        None,
        "America/Los_Angeles",
        "KSEA",
        "CLISEA",
        "Seattle-Tacoma International Airport, Washington",
        _d("2026-01-14"),
        ("sea",),
    ),
    City(
        "sf",
        "San Francisco",
        "KXHIGHTSFO",
        None,
        "America/Los_Angeles",
        "KSFO",
        "CLISFO",
        "San Francisco International Airport, California",
        _d("2026-01-14"),
        ("sfo", "sanfrancisco", "san-francisco", "san_francisco"),
    ),
    City(
        "dc",
        "Washington DC",
        "KXHIGHTDC",
        None,
        "America/New_York",
        "KDCA",
        "CLIDCA",
        "Reagan National Airport, Washington DC",
        _d("2026-01-14"),
        ("washington", "washingtondc", "dca"),
    ),
    City(
        "lasvegas",
        "Las Vegas",
        "KXHIGHTLV",
        None,
        "America/Los_Angeles",
        "KLAS",
        "CLILAS",
        "Harry Reid International Airport, Nevada",
        _d("2026-01-14"),
        ("lv", "vegas", "las-vegas", "las_vegas", "las"),
    ),
    City(
        "neworleans",
        "New Orleans",
        "KXHIGHTNOLA",
        None,
        "America/Chicago",
        "KMSY",
        "CLIMSY",
        "Louis Armstrong International Airport, Louisiana",
        _d("2026-01-14"),
        ("nola", "new-orleans", "new_orleans", "msy"),
    ),
    City(
        "minneapolis",
        "Minneapolis",
        "KXHIGHTMIN",
        None,
        "America/Chicago",
        "KMSP",
        "CLIMSP",
        "Minneapolis-St Paul International Airport, Minnesota",
        _d("2026-02-04"),
        ("min", "msp", "minneapolis-st-paul"),
    ),
    City(
        "atlanta",
        "Atlanta",
        "KXHIGHTATL",
        None,
        "America/New_York",
        "KATL",
        "CLIATL",
        "Hartsfield-Jackson Atlanta International Airport, Georgia",
        _d("2026-02-04"),
        ("atl",),
    ),
    City(
        "phoenix",
        "Phoenix",
        "KXHIGHTPHX",
        None,
        "America/Phoenix",
        "KPHX",
        "CLIPHX",
        "Phoenix Sky Harbor International Airport, Arizona",
        _d("2026-02-04"),
        ("phx",),
    ),
    City(
        "boston",
        "Boston",
        "KXHIGHTBOS",
        None,
        "America/New_York",
        "KBOS",
        "CLIBOS",
        "Boston Logan International Airport, Massachusetts",
        _d("2026-02-05"),
        ("bos",),
    ),
    City(
        "dallas",
        "Dallas",
        "KXHIGHTDAL",
        None,
        "America/Chicago",
        "KDFW",
        "CLIDFW",
        "Dallas-Fort Worth International Airport, Texas",
        _d("2026-02-11"),
        ("dal", "dfw"),
    ),
    City(
        "sanantonio",
        "San Antonio",
        "KXHIGHTSATX",
        None,
        "America/Chicago",
        "KSAT",
        "CLISAT",
        "San Antonio International Airport, Texas",
        _d("2026-02-11"),
        ("satx", "san-antonio", "san_antonio", "sat"),
    ),
    City(
        "okc",
        "Oklahoma City",
        "KXHIGHTOKC",
        None,
        "America/Chicago",
        "KOKC",
        "CLIOKC",
        "Will Rogers World Airport, Oklahoma",
        _d("2026-02-11"),
        ("oklahomacity", "oklahoma-city", "oklahoma_city"),
    ),
    City(
        "houston",
        "Houston",
        "KXHIGHTHOU",
        None,
        "America/Chicago",
        "KHOU",
        "CLIHOU",
        "Houston Hobby Airport, Texas",
        _d("2026-02-11"),
        ("hou",),
    ),
)

#: The ``KXLOWT*`` daily-low series: city -> (series ticker, first climate day). Kalshi lists
#: lows for fewer cities than highs. The first days are estimates: recorded listings show the
#: first low series beginning 2025-12-13 and the rest 2026-04-03, without saying which city was
#: in which group; the cities with older high series are assumed to be the first group. Kalshi
#: documents no first dates; ``GET /series`` (category "Climate and Weather") lists the series.
_LOWS: dict[str, tuple[str, dt.date]] = {
    "nyc": ("KXLOWTNYC", _d("2025-12-13")),  # estimate
    "chicago": ("KXLOWTCHI", _d("2025-12-13")),  # estimate
    "miami": ("KXLOWTMIA", _d("2025-12-13")),  # estimate
    "la": ("KXLOWTLAX", _d("2025-12-13")),  # estimate
    "denver": ("KXLOWTDEN", _d("2025-12-13")),  # estimate
    "philadelphia": ("KXLOWTPHIL", _d("2025-12-13")),  # estimate
    "sf": ("KXLOWTSFO", _d("2026-04-03")),  # estimate
    "dc": ("KXLOWTDC", _d("2026-04-03")),  # estimate
    "houston": ("KXLOWTHOU", _d("2026-04-03")),  # estimate
    "lasvegas": ("KXLOWTLV", _d("2026-04-03")),  # estimate
    "sanantonio": ("KXLOWTSATX", _d("2026-04-03")),  # estimate
}

CITIES = tuple(
    replace(c, low=Series("low", _LOWS[c.name][0], None, _LOWS[c.name][1]))
    if c.name in _LOWS
    else c
    for c in CITIES
)

_BY_KEY: dict[str, City] = {}
#: Every series ticker and legacy prefix (upper case) -> (city, family).
_BY_PREFIX: dict[str, tuple[City, str]] = {}
for _c in CITIES:
    for _key in (_c.name, *_c.aliases):
        _BY_KEY[_key.lower()] = _c
    for _s in _c.families.values():
        _BY_KEY[_s.ticker.lower()] = _c
        _BY_PREFIX[_s.ticker] = (_c, _s.family)
        if _s.legacy_prefix:
            _BY_KEY[_s.legacy_prefix.lower()] = _c
            _BY_PREFIX[_s.legacy_prefix] = (_c, _s.family)


def check_family(family: str) -> str:
    """``family`` if it is one of :data:`FAMILIES`, else :class:`UnknownFamilyError` (exit 2)."""
    if family not in FAMILIES:
        raise UnknownFamilyError(
            f"unknown family {family!r}; valid families: {', '.join(FAMILIES)}"
        )
    return family


def parse_families(text: str | None) -> tuple[str, ...] | None:
    """``"high,low"`` -> ``("high", "low")`` (registry order, no repeats); None/empty -> None.

    Raises :class:`UnknownFamilyError` (exit 2) naming the valid families.
    """
    if text is None:
        return None
    asked = {check_family(p.strip().lower()) for p in text.split(",") if p.strip()}
    if not asked:
        return None
    return tuple(f for f in FAMILIES if f in asked)


def names() -> list[str]:
    """The canonical city names, in registry order."""
    return [c.name for c in CITIES]


def get_city(name: str) -> City:
    """Resolve a name, alias or series ticker (case-insensitive) to its :class:`City`.

    Raises :class:`UnknownCityError` (exit 2) listing the valid names.
    """
    key = name.strip().lower().replace(" ", "")
    city = _BY_KEY.get(key) or _BY_KEY.get(key.replace("-", "").replace("_", ""))
    if city is None:
        raise UnknownCityError(f"unknown city {name!r}; valid cities: {', '.join(names())}")
    return city


def city_for_ticker(ticker: str) -> City | None:
    """The city whose series (any family, or a legacy prefix) starts a ticker, if any."""
    found = _BY_PREFIX.get(ticker.split("-", 1)[0].upper())
    return found[0] if found else None


def family_for_ticker(ticker: str) -> str | None:
    """The family (``high``/``low``) of a series, event or market ticker, if registered."""
    found = _BY_PREFIX.get(ticker.split("-", 1)[0].upper())
    return found[1] if found else None


def family_prefixes() -> dict[str, str]:
    """Every registered series ticker and legacy prefix -> its family (for SQL and transforms)."""
    return {prefix: family for prefix, (_, family) in _BY_PREFIX.items()}


def event_date(event_ticker: str) -> dt.date:
    """The climate date in an event (or market) ticker: ``KXHIGHCHI-25NOV20-B45.5`` -> 2025-11-20."""
    parts = event_ticker.split("-")
    if len(parts) < 2:
        raise ValueError(f"not an event ticker: {event_ticker!r}")
    return dt.datetime.strptime(parts[1].title(), "%y%b%d").date()
