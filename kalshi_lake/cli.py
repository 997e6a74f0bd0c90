"""The `kalshi-lake` command line: a thin shell over the library.

Each command parses options, builds :class:`~kalshi_lake.config.Settings`, calls one library
function and maps :mod:`kalshi_lake.errors` to exit codes (0 ok, 1 validation failed, 2 usage or
configuration, 3 data that could not be fetched or parsed, 130 interrupted). Expected failures
print one line on stderr, never a traceback. SIGTERM and SIGHUP stop a command like Ctrl-C does.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from kalshi_lake import log
from kalshi_lake.allocators import tune_allocators
from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError, KalshiLakeError
from kalshi_lake.sim.config import PAYLOAD_FAULTS

if TYPE_CHECKING:
    from kalshi_lake.cities import City


class _Group(click.Group):
    """Turns every :class:`KalshiLakeError` into one stderr line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KalshiLakeError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted; what was fetched is kept and a re-run resumes", err=True)
            ctx.exit(130)


def _date(_ctx: click.Context, param: click.Parameter, value: str | None) -> dt.date | None:
    if value is None or value == "":
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


def _instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime | None:
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


def _check_range(start: dt.date | None, end: dt.date | None) -> None:
    if start and end and start > end:
        raise BadDateError(f"--start {start} is after --end {end}")


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    obj = ctx.find_root().obj or {}
    return Settings.load(lake=obj.get("lake"), **flags)


def _writing_settings(ctx: click.Context, **flags: Any) -> Settings:
    """:func:`_settings` for a command that writes the lake: one that cannot be written (a
    path under a file, a read-only folder) is a ConfigError now, not a traceback later."""
    from kalshi_lake.lake.storage import Lake

    settings = _settings(ctx, **flags)
    Lake.of(settings).check_writable()
    return settings


_LAKE_HELP = "Lake location: a local folder or s3://bucket/prefix. [env KALSHI_LAKE; default: lake]"


def _lake_after_command(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:  # closer to the command than a --lake before it, so it wins
        ctx.find_root().ensure_object(dict)["lake"] = value


def _lake_option(command: Any) -> Any:
    """``--lake`` after the command name too: ``kalshi-lake status --lake X``."""
    return click.option(
        "--lake",
        metavar="URL",
        default=None,
        expose_value=False,
        callback=_lake_after_command,
        help=_LAKE_HELP,
    )(command)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lake", metavar="URL", default=None, help=_LAKE_HELP)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="kalshi-lake")
@click.pass_context
def cli(ctx: click.Context, lake: str | None, verbose: int) -> None:
    """kalshi-lake: an exact, replayable history of Kalshi daily-high temperature markets.

    Pull pages from the Kalshi API into an append-only raw layer (backfill), build curated
    Parquet tables from it (transform), and query them with DuckDB (sql, views, validate).
    """
    log.configure(verbose)
    ctx.obj = {"lake": lake}


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def cities(as_json: bool) -> None:
    """List the cities and their daily temperature series: family (high, low), ticker, first event."""
    from kalshi_lake.cities import CITIES

    if as_json:
        rows = [
            {
                "name": c.name,
                "display_name": c.display_name,
                "series_ticker": c.series_ticker,
                "legacy_prefix": c.legacy_prefix,
                "tz": c.tz,
                "station": c.station_icao,
                "cli_code": c.cli_code,
                "first_event": c.first_event.isoformat(),
                "aliases": list(c.aliases),
                "families": {
                    f: {
                        "series_ticker": s.ticker,
                        "legacy_prefix": s.legacy_prefix,
                        "first_event": s.first_event.isoformat(),
                    }
                    for f, s in c.families.items()
                },
            }
            for c in CITIES
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    from kalshi_lake.console import Column, console, fit_table

    columns = [
        Column("name", wrap=False),
        Column("city", priority=7),
        Column("series", wrap=False, priority=9),
        Column("family", wrap=False, priority=8),
        Column("legacy", wrap=False, priority=3),
        Column("time zone", wrap=False, priority=6),
        Column("station", wrap=False, priority=4),
        Column("first event", wrap=False, priority=5),
        Column("aliases", priority=2),
    ]
    table_rows = [
        [
            c.name,
            c.display_name,
            s.ticker,
            s.family,
            s.legacy_prefix or "",
            c.tz,
            f"{c.station_icao} ({c.cli_code})",
            s.first_event.isoformat(),
            ", ".join(c.aliases),
        ]
        for c in CITIES
        for s in c.families.values()
    ]
    out = console()
    out.print(
        fit_table(
            columns,
            table_rows,
            width=out.width,
            title="Kalshi daily temperature series (high and low)",
            more="see them with --json",
        )
    )


_CITIES_HELP = (
    "City name or alias (see `kalshi-lake cities`); several: a comma list (chicago,nyc), the "
    "option repeated, or 'all'."
)


def _cities(values: tuple[str, ...]) -> list[City]:
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


def _city_scope(values: tuple[str, ...]) -> list[str] | None:
    """The canonical names of the cities ``--city`` names (parsed as :func:`_cities` does);
    None when none is given or ``all`` is among them: the whole lake, every city in it."""
    if not values:
        return None
    cities = _cities(values)
    if any(n.strip().lower() == "all" for v in values for n in v.split(",")):
        return None
    return [c.name for c in cities]


@cli.command()
@_lake_option
@click.option("--city", "city", multiple=True, required=True, help=_CITIES_HELP)
@click.option(
    "--family",
    "family",
    metavar="high,low",
    default=None,
    help="Comma-separated market families to fetch (high, low). [every family of each city]",
)
@click.option("--start", callback=_date, help="First event date, YYYY-MM-DD [city's first event].")
@click.option("--end", callback=_date, help="Last event date, YYYY-MM-DD [today, UTC].")
@click.option("--api-url", metavar="URL", help="API base URL. [env KALSHI_API_URL]")
@click.option("--rate", type=float, help="Requests per second. [env KALSHI_RATE; 10, or 20 signed]")
@click.option("--concurrency", type=int, help="Requests in flight. [env KALSHI_CONCURRENCY]")
@click.option("--refresh", is_flag=True, help="Fetch everything again, ignoring saved progress.")
@click.option(
    "--candle-window",
    type=click.Choice(["full", "trades"]),
    default="full",
    show_default=True,
    help="1-minute candles over the market's open-close window, or only the span with trades.",
)
@click.option("--no-transform", is_flag=True, help="Only fetch; do not rebuild curated tables.")
@click.pass_context
def backfill(
    ctx: click.Context,
    city: tuple[str, ...],
    family: str | None,
    start: dt.date | None,
    end: dt.date | None,
    api_url: str | None,
    rate: float | None,
    concurrency: int | None,
    refresh: bool,
    candle_window: str,
    no_transform: bool,
) -> None:
    """Pull cities' events, markets, trades and candles into the raw layer, then transform.

    Several cities run in one process over one rate limiter, interleaved; one city's failure
    does not stop the others (exit 3 at the end naming what is missing). Resumable: a re-run
    skips finished work and continues unfinished walks.
    """
    from kalshi_lake.backfill import run_backfill
    from kalshi_lake.cities import parse_families

    the_cities = _cities(city)
    families = parse_families(family)
    _check_range(start, end)
    settings = _writing_settings(ctx, api_url=api_url, rate=rate, concurrency=concurrency)
    if len(the_cities) > 1:
        _backfill_cities(
            settings, the_cities, start, end, families, refresh, candle_window, no_transform
        )
        return
    from kalshi_lake.errors import FetchIncompleteError

    the_city = the_cities[0]
    try:
        summary = run_backfill(
            settings,
            the_city,
            start,
            end,
            families=families,
            refresh=refresh,
            candle_window=candle_window,
        )
    except FetchIncompleteError as exc:
        click.echo(exc.summary.render())
        raise
    click.echo(summary.render())
    if no_transform:
        return
    _transform_after_fetch(settings, [the_city])


def _backfill_cities(
    settings: Settings,
    cities: list[City],
    start: dt.date | None,
    end: dt.date | None,
    families: tuple[str, ...] | None,
    refresh: bool,
    candle_window: str,
    no_transform: bool,
) -> None:
    """``backfill`` of several cities: fetch all, transform each city fetched whole, then exit
    3 if some city is incomplete, 2 if some city was skipped for another worker's lease."""
    from kalshi_lake.backfill import CitiesSummary, run_backfills
    from kalshi_lake.errors import FetchIncompleteError, LockedError

    incomplete: FetchIncompleteError | None = None
    try:
        summary = run_backfills(
            settings,
            cities,
            start,
            end,
            families=families,
            refresh=refresh,
            candle_window=candle_window,
        )
    except FetchIncompleteError as exc:
        assert isinstance(exc.summary, CitiesSummary)
        summary, incomplete = exc.summary, exc
    click.echo(summary.render())
    done = set(summary.complete_cities())
    if not no_transform and done:
        # An incomplete city is not transformed (as with one city): its re-run will be.
        _transform_after_fetch(settings, [c for c in cities if c.name in done])
    if incomplete is not None:
        raise incomplete
    if summary.locked:
        raise LockedError(
            f"{', '.join(summary.locked)} skipped: another worker holds the lease "
            f"({'; '.join(summary.skipped[c] for c in summary.locked)}); the other cities are "
            "done. Re-run the same command once that worker is done"
        )


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> float | None:
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


@cli.command()
@_lake_option
@click.option("--city", "city", multiple=True, required=True, help=_CITIES_HELP)
@click.option(
    "--family",
    "family",
    metavar="high,low",
    default=None,
    help="Comma-separated market families to follow (high, low). [every family of each city]",
)
@click.option(
    "--orderbook",
    type=click.Choice(["auto", "ws", "rest", "off"]),
    default="auto",
    show_default=True,
    help="Order books from the WebSocket, REST polling, or not at all; auto: ws with an API "
    "key, rest without.",
)
@click.option("--for", "duration", metavar="DURATION", callback=_duration, help="Stop after "
              "this long (90s, 10m, 2h, 1d). [until Ctrl-C or SIGTERM]")  # fmt: skip
@click.option("--api-url", metavar="URL", help="API base URL. [env KALSHI_API_URL]")
@click.option("--rate", type=float, help="REST requests per second. [env KALSHI_RATE]")
@click.option(
    "--journal",
    metavar="DIR",
    help="Local folder of the frame journal. [<lake>/_state/journal; for an S3 lake "
    "~/.cache/kalshi-lake/journal/<lake>]",
)
@click.pass_context
def follow(
    ctx: click.Context,
    city: tuple[str, ...],
    family: str | None,
    orderbook: str,
    duration: float | None,
    api_url: str | None,
    rate: float | None,
    journal: str | None,
) -> None:
    """Record live data of the cities' open markets until stopped: the lake kept current.

    With an API key (KALSHI_API_KEY_ID, KALSHI_PRIVATE_KEY_PATH) one WebSocket connection records
    order books, trades, ticker and lifecycle frames byte for byte (durable within a second,
    rolled into raw/ws every minute); without one, order books and trades are polled over REST.
    Every few minutes a REST catch-up (an incremental backfill of the current days) fills any gap,
    and every minute the followed cities' current curated partitions are transformed. Ctrl-C or
    SIGTERM stop it cleanly (exit 0 with a summary).
    """
    from kalshi_lake.cities import parse_families
    from kalshi_lake.live.follow import FollowOptions, run_follow

    the_cities = _cities(city)
    families = parse_families(family)
    settings = _writing_settings(ctx, api_url=api_url, rate=rate)
    options = FollowOptions(orderbook=orderbook, duration_s=duration, journal_dir=journal)

    def started(mode: Any) -> None:
        click.echo(f"follow: {mode.why}", err=True)

    summary = run_follow(settings, the_cities, families=families, options=options, on_start=started)
    click.echo(summary.render())


def _transform_after_fetch(settings: Settings, cities: list[City]) -> None:
    """The transform a backfill runs for each city it fetched; a city another worker is
    transforming is left to it. Exit 3 at the end if some city's raw pages could not be used."""
    from kalshi_lake.errors import LockedError
    from kalshi_lake.transform import TransformIncomplete, run_transform

    failed: TransformIncomplete | None = None
    for the_city in cities:
        try:
            # A plain incremental transform of the city, not one scoped to the fetched dates:
            # the listings it fetched (events, markets) hold markets of other months too, and
            # the curated tables must be what a plain or --full transform builds from the same
            # raw layer.
            result = run_transform(settings, city=the_city)
        except TransformIncomplete as exc:
            click.echo(exc.summary.render())
            failed = failed or exc
            continue
        except LockedError as exc:
            # The fetch succeeded and is durable; another worker is transforming this city right
            # now, so the curated tables are its job (a later transform picks up what it missed).
            click.echo(f"note: fetch done; transform left to the other worker: {exc}", err=True)
            continue
        click.echo(result.render())
    if failed is not None:
        raise failed


@cli.command()
@_lake_option
@click.option("--city", default=None, help="Only this city (name or alias). [all]")
@click.option("--api-url", metavar="URL", help="API base URL. [env KALSHI_API_URL]")
@click.option("--rate", type=float, help="Requests per second. [env KALSHI_RATE; 10, or 20 signed]")
@click.option("--concurrency", type=int, help="Requests in flight. [env KALSHI_CONCURRENCY]")
@click.pass_context
def repair(
    ctx: click.Context,
    city: str | None,
    api_url: str | None,
    rate: float | None,
    concurrency: int | None,
) -> None:
    """Find raw files that cannot be read, move them to <lake>/_quarantine/, fetch again.

    Every raw file of the city (or of all cities) is read whole. Each unreadable one is moved,
    bytes unchanged, to _quarantine/<run id>/<its path>; the saved progress its pages proved is
    reset and a backfill fetches them again, then the city is transformed. Exit 3 if the
    re-fetch is incomplete (re-run repair to finish); nothing unreadable: exit 0.
    """
    from kalshi_lake.cities import get_city
    from kalshi_lake.errors import RunIncomplete
    from kalshi_lake.repair import run_repair

    the_city = get_city(city) if city else None
    settings = _writing_settings(ctx, api_url=api_url, rate=rate, concurrency=concurrency)
    try:
        summary = run_repair(settings, the_city)
    except RunIncomplete as exc:
        click.echo(exc.summary.render())
        raise
    click.echo(summary.render())


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=int, default=0, show_default=True, help="Port (0: any free port).")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the simulated data.")
@click.option("--rate", type=float, help="Token-bucket rate limit, requests/s. [unlimited]")
@click.option("--burst", type=float, help="Token-bucket size in requests. [2 s of --rate]")
@click.option("--latency-ms", type=float, default=0.0, help="Latency added to every response.")
@click.option("--jitter-ms", type=float, default=0.0, help="Uniform +- jitter on the latency.")
@click.option("--fail-rate", type=float, default=0.0, help="Share of requests answered 5xx.")
@click.option("--drop-rate", type=float, default=0.0, help="Share of connections dropped.")
@click.option("--malformed-rate", type=float, default=0.0, help="Share of corrupt bodies.")
@click.option(
    "--payload-fault",
    "payload_faults",
    multiple=True,
    type=click.Choice(PAYLOAD_FAULTS),
    help="Serve hostile content (repeatable): events without tickers, wrong-typed market "
    "fields, a trade repeated with another price.",
)
@click.option(
    "--now", callback=_instant, help="Simulated now, ISO 8601 (UTC if no offset). [clock]"
)
@click.option(
    "--speed",
    type=float,
    help="Simulated seconds per real second: the clock advances from --now, so markets open, "
    "trade, close and settle while you watch. [frozen]",
)
@click.option(
    "--cutoff-lag-days", type=int, default=60, show_default=True, help="Historical cutoff lag."
)
def sim(now: dt.datetime | None, **options: Any) -> None:
    """Serve a deterministic Kalshi API simulator; prints its base URL first, Ctrl-C stops it."""
    from kalshi_lake.sim.config import SimConfig
    from kalshi_lake.sim.server import run_sim

    def announce(url: str) -> None:
        click.echo(url)
        sys.stdout.flush()

    config = SimConfig(now=now, **options)
    run_sim(config, announce)


# --- SQL layer: sql, views, validate, status, demo (kalshi_lake/sql, queries/) ----------------


@cli.command("sql")
@_lake_option
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as a JSON array of objects.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the rows as CSV.")
@click.option(
    "--max-rows",
    type=int,
    default=200,
    show_default=True,
    help="Rows shown as a table (JSON/CSV: all).",
)
@click.pass_context
def sql_command(ctx: click.Context, query: str, as_json: bool, as_csv: bool, max_rows: int) -> None:
    """Run one SQL QUERY over the lake's views (markets, trades, decision_quotes, ...) and print it.

    QUERY '-' reads the query from stdin.
    """
    from kalshi_lake.errors import UsageError
    from kalshi_lake.sql import access

    if as_json and as_csv:
        raise UsageError("--json and --csv cannot be combined")
    if query == "-":
        query = sys.stdin.read()
    result = access.run_sql(_settings(ctx), query, max_rows=None if as_json or as_csv else max_rows)
    if as_json:
        click.echo(access.to_json(result))
    elif as_csv:
        click.echo(access.to_csv(result), nl=False)
    elif result.columns:
        from kalshi_lake.console import console

        out = console()
        out.print(access.to_rich(result, width=out.width))
    else:
        click.echo("ok")


@cli.command()
@_lake_option
@click.pass_context
def views(ctx: click.Context) -> None:
    """Write <lake>/kalshi.duckdb: every view and macro, for the DuckDB CLI or any DuckDB client."""
    from kalshi_lake.sql import access

    where, notes = access.write_views_db(_writing_settings(ctx))
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {where}")
    if shutil.which("duckdb"):
        click.echo(
            f"open it with: duckdb {where}   then e.g.  SELECT * FROM event_ladder LIMIT 12;"
        )
    else:  # the duckdb Python package has no CLI; suggest what is installed
        click.echo(
            f"open it with any DuckDB client, e.g. in Python: duckdb.connect({where!r})"
            '.sql("SELECT * FROM event_ladder LIMIT 12")'
        )


@cli.command()
@_lake_option
@click.option("--city", "city", multiple=True, help=_CITIES_HELP + " [the whole lake]")
@click.option("--start", callback=_date, help="First event date, YYYY-MM-DD.")
@click.option("--end", callback=_date, help="Last event date, YYYY-MM-DD.")
@click.option("--as-of", callback=_instant, help="Treat this time as now (ISO 8601). [now]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON report instead of a table.")
@click.option(
    "--check",
    "only",
    multiple=True,
    metavar="NAME",
    help="Run only this check (repeatable; names as in queries/checks).",
)
@click.option("--skip", multiple=True, metavar="NAME", help="Do not run this check (repeatable).")
@click.pass_context
def validate(
    ctx: click.Context,
    city: tuple[str, ...],
    start: dt.date | None,
    end: dt.date | None,
    as_of: dt.datetime | None,
    as_json: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
) -> None:
    """Run the data-quality checks (all, or --check/--skip); exit 1 if an error-level check
    finds offending rows. Ctrl-C stops it (exit 130)."""
    from kalshi_lake.sql import checks

    names = _city_scope(city)
    _check_range(start, end)
    settings = _settings(ctx)
    try:
        results = checks.validate(
            settings, cities=names, start=start, end=end, as_of=as_of, only=only, skip=skip
        )
    except KeyboardInterrupt:
        # validate only reads, so the backfill's "what was fetched is kept" does not apply
        click.echo("interrupted; validation stopped, the lake was not changed", err=True)
        ctx.exit(130)
    scope = {
        "city": names[0] if names and len(names) == 1 else None,
        "cities": names,
        "start": start,
        "end": end,
        "as_of": as_of,
    }
    if as_json:
        click.echo(checks.results_json(results, settings.lake, scope))
    else:
        from kalshi_lake.console import console

        out = console()
        out.print(checks.render_table(results, title=f"validate {settings.lake}", width=out.width))
    checks.raise_if_failed(results)


@cli.command()
@_lake_option
@click.option("--city", "city", multiple=True, help=_CITIES_HELP + " [every city in the lake]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one line per city and family.")
@click.option(
    "--max-lag",
    "max_lag",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Exit 1 naming every followed market whose lag is over SECONDS (for cron).",
)
@click.pass_context
def status(
    ctx: click.Context, city: tuple[str, ...], as_json: bool, as_csv: bool, max_lag: float | None
) -> None:
    """Per city and family: event dates covered, markets, trades, candles, last fetch, gaps; and
    what `follow` is doing (mode, lag, gaps, resyncs, disconnects)."""
    import datetime as dt

    from kalshi_lake.errors import UsageError, ValidationFailed
    from kalshi_lake.sql import access, live_status

    if as_json and as_csv:
        raise UsageError("--json and --csv cannot be combined")
    names = _city_scope(city)
    settings = _settings(ctx)
    rows = access.lake_status(settings, names)
    now = dt.datetime.now(dt.UTC)
    live = live_status.live_status(settings.lake, names, now=now)
    stale = live_status.stale_markets(live, max_lag, names) if max_lag is not None else []
    if as_json:
        click.echo(access.status_json(rows, settings.lake, live=live, stale=stale))
    elif as_csv:
        click.echo(access.status_csv(rows), nl=False)
    else:
        from kalshi_lake.console import console

        out = console()
        out.print(access.status_table(rows, settings.lake, width=out.width))
        if live:
            out.print(live_status.live_table(live, now=now, width=out.width))
    if stale:
        shown = ", ".join(stale[:20]) + (f" and {len(stale) - 20} more" if len(stale) > 20 else "")
        raise ValidationFailed(f"{len(stale)} stale (lag over {max_lag:g} s): {shown}")


@cli.command()
@_lake_option
@click.option(
    "--cities", default="chicago,nyc", show_default=True, help="Comma-separated cities to backfill."
)
@click.option("--days", type=int, default=21, show_default=True, help="Event days to backfill.")
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the simulated data.")
@click.pass_context
def demo(ctx: click.Context, cities: str, days: int, seed: int) -> None:
    """Offline end to end: simulator, backfill, transform, validate, a sample of event_ladder."""
    from kalshi_lake.demo import run_demo

    names = [c.strip() for c in cities.split(",") if c.strip()]
    run_demo(_writing_settings(ctx), cities=names, days=days, seed=seed, echo=click.echo)


@cli.command()
@_lake_option
@click.option("--city", "city", multiple=True, help=_CITIES_HELP + " [every city in the lake]")
@click.option("--start", callback=_date, help="First event date YYYY-MM-DD (its whole month).")
@click.option("--end", callback=_date, help="Last event date YYYY-MM-DD (its whole month).")
@click.option("--full", is_flag=True, help="Rebuild every partition, not just changed ones.")
@click.pass_context
def transform(
    ctx: click.Context,
    city: tuple[str, ...],
    start: dt.date | None,
    end: dt.date | None,
    full: bool,
) -> None:
    """Rebuild curated tables from the raw layer (no network).

    Incremental: only city/month partitions whose raw input changed are rebuilt. With --start
    and --end only those months' raw folders are listed (what backfill runs after fetching), so
    the run does not slow down as the lake grows. Several cities are transformed one after the
    other; 'all' (or no --city) is one run over every city in the lake. Exit 3 if some raw
    pages could not be used (they are listed; everything else was built).
    """
    from kalshi_lake.cities import get_city
    from kalshi_lake.errors import RunIncomplete
    from kalshi_lake.transform import run_transform

    names = _city_scope(city)
    _check_range(start, end)
    the_cities: list[City | None] = [get_city(n) for n in names] if names else [None]
    settings = _writing_settings(ctx)
    failed: RunIncomplete | None = None
    for the_city in the_cities:
        # with several cities, each summary says whose it is
        label = f"{the_city.name}: " if the_city is not None and len(the_cities) > 1 else ""
        try:
            summary = run_transform(settings, city=the_city, start=start, end=end, full=full)
        except RunIncomplete as exc:
            click.echo(label + exc.summary.render())
            failed = failed or exc
            continue
        click.echo(label + summary.render())
    if failed is not None:
        raise failed


#: Signals that stop a command the way Ctrl-C does: ``kill``, ``systemctl stop``, ``timeout``
#: and container shutdowns send SIGTERM; a closed terminal or SSH session sends SIGHUP.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop_like_ctrl_c(_signum: int, frame: FrameType | None) -> None:
    """Handle SIGTERM/SIGHUP exactly as SIGINT is handled at this moment.

    Inside ``asyncio.run`` (a backfill) SIGINT's handler cancels the main task, so the run
    closes its run record as "interrupted" and releases its lease; elsewhere it is Python's
    default handler, which raises KeyboardInterrupt. Either way the command group prints the
    one "interrupted" line and exits 130.
    """
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (a background job of a script): still stop, as Ctrl-C would
        raise KeyboardInterrupt


def install_stop_signals() -> None:
    """Route SIGTERM and SIGHUP to :func:`_stop_like_ctrl_c` (main thread only).

    A signal the parent set to be ignored stays ignored: ``nohup kalshi-lake backfill`` must
    survive the terminal closing.
    """
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _stop_like_ctrl_c)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    tune_allocators()  # before any command imports polars, pyarrow or DuckDB
    install_stop_signals()
    cli.main(args=argv, prog_name="kalshi-lake")


if __name__ == "__main__":  # pragma: no cover
    main()
