"""The options the commands share, and the parsers behind them: dates, instants, durations,
``--city`` lists, ``--lake`` after the command name, and the Settings a command runs with.

A parser raises :class:`click.BadParameter` (click prints usage and exits 2) or a
:class:`~kalshi_lake.errors.KalshiLakeError` of the usage kind (one line, exit 2).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click

from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError

if TYPE_CHECKING:
    from kalshi_lake.cities import City


def parse_date(_ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def parse_instant(
    _ctx: click.Context, _param: click.Parameter, value: str | None
) -> dt.datetime | None:
    """Parse an ISO 8601 instant; a naive one is taken as UTC."""
    if value is None or value == "":
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time; use ISO 8601, e.g. 2026-11-21T15:00Z"
        ) from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def check_range(start: dt.date | None, end: dt.date | None) -> None:
    if start and end and start > end:
        raise BadDateError(f"--start {start} is after --end {end}")


def settings_of(ctx: click.Context, **flags: Any) -> Settings:
    obj = ctx.find_root().obj or {}
    return Settings.load(lake=obj.get("lake"), **flags)


def writing_settings(ctx: click.Context, **flags: Any) -> Settings:
    """:func:`settings_of` for a command that writes the lake: one that cannot be written (a
    path under a file, a read-only folder) is a ConfigError now, not a traceback later."""
    from kalshi_lake.lake.storage import Lake

    settings = settings_of(ctx, **flags)
    Lake.of(settings).check_writable()
    return settings


LAKE_HELP = "Lake location: a local folder or s3://bucket/prefix. [env KALSHI_LAKE; default: lake]"


def _lake_after_command(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:  # closer to the command than a --lake before it, so it wins
        ctx.find_root().ensure_object(dict)["lake"] = value


def lake_option(command: Any) -> Any:
    """``--lake`` after the command name too: ``kalshi-lake status --lake X``."""
    return click.option(
        "--lake",
        metavar="URL",
        default=None,
        expose_value=False,
        callback=_lake_after_command,
        help=LAKE_HELP,
    )(command)


CITIES_HELP = (
    "City name or alias (see `kalshi-lake cities`); several: a comma list (chicago,nyc), the "
    "option repeated, or 'all'."
)


def cities_of(values: tuple[str, ...]) -> list[City]:
    """The cities named by repeated ``--city`` options, each a name, a comma list or ``all``.

    Aliases resolve to their city, duplicates are dropped (first mention kept); an unknown name
    is an :class:`~kalshi_lake.errors.UnknownCityError` (exit 2) listing the valid ones.
    """
    from kalshi_lake.cities import CITIES, get_city

    found: dict[str, City] = {}
    for value in values:
        for name in value.split(","):
            if not name.strip():
                continue
            picked = list(CITIES) if name.strip().lower() == "all" else [get_city(name)]
            for city in picked:
                found.setdefault(city.name, city)
    if not found:
        from kalshi_lake.errors import UsageError

        raise UsageError(f"--city {','.join(values)!r} names no city")
    return list(found.values())


def city_scope(values: tuple[str, ...]) -> list[str] | None:
    """The canonical names of the cities ``--city`` names (parsed as :func:`cities_of` does);
    None when none is given or ``all`` is among them: the whole lake, every city in it."""
    if not values:
        return None
    cities = cities_of(values)
    if any(n.strip().lower() == "all" for v in values for n in v.split(",")):
        return None
    return [c.name for c in cities]


def parse_duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
    """``--for``: ``90s``, ``10m``, ``2h``, ``1d`` or plain seconds."""
    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    scale = units.get(text[-1:])
    number = text[:-1] if scale is not None else text
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a duration such as 90s, 10m, 2h or 1d"
        ) from None
    if not seconds > 0 or seconds == float("inf"):
        raise click.BadParameter(f"{value!r} is not a positive duration")
    return seconds


#: ``--city`` of a command that needs at least one city.
cities_option = click.option("--city", "city", multiple=True, required=True, help=CITIES_HELP)


def family_option(verb: str) -> Any:
    """``--family high,low``: the market families to ``verb`` (None: every family)."""
    return click.option(
        "--family",
        "family",
        metavar="high,low",
        default=None,
        help=f"Comma-separated market families to {verb} (high, low). [every family of each city]",
    )


#: The options of a command that fetches from the API.
api_url_option = click.option("--api-url", metavar="URL", help="API base URL. [env KALSHI_API_URL]")
concurrency_option = click.option(
    "--concurrency", type=int, help="Requests in flight. [env KALSHI_CONCURRENCY]"
)
