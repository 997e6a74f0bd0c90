"""The registry of Kalshi daily-high-temperature cities: series, time zone, settlement station.

One :class:`City` per series. Names are short lowercase words; aliases resolve to them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from kalshi_lake.errors import UnknownCityError

#: The last climate day that used the legacy ``HIGH*`` ticker prefix (inferred from recorded
#: tickers: about 2024-10-24 was the first ``KX`` day; Kalshi documents no date). Only the
#: simulator relies on it: the backfill takes whatever tickers the API returns under the ``KX``
#: series.
LEGACY_LAST_DATE = dt.date(2024, 10, 23)

#: First climate day settled by The Weather Company instead of the NWS climate report.
TWC_FIRST_DATE = dt.date(2026, 8, 14)


@dataclass(frozen=True)
class City:
    """One daily-high series."""

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
        return f"{self.prefix_for(date)}-{date.strftime('%y%b%d').upper()}"


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

_BY_KEY: dict[str, City] = {}
for _c in CITIES:
    for _key in (_c.name, _c.series_ticker.lower(), *_c.aliases):
        _BY_KEY[_key.lower()] = _c
    if _c.legacy_prefix:
        _BY_KEY[_c.legacy_prefix.lower()] = _c


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
    """The city whose series (or legacy prefix) starts an event or market ticker, if any."""
    prefix = ticker.split("-", 1)[0].upper()
    for c in CITIES:
        if prefix in (c.series_ticker, c.legacy_prefix):
            return c
    return None


def event_date(event_ticker: str) -> dt.date:
    """The climate date in an event (or market) ticker: ``KXHIGHCHI-25NOV20-B45.5`` -> 2025-11-20."""
    parts = event_ticker.split("-")
    if len(parts) < 2:
        raise ValueError(f"not an event ticker: {event_ticker!r}")
    return dt.datetime.strptime(parts[1].title(), "%y%b%d").date()
