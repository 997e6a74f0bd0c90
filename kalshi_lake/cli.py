"""The `kalshi-lake` command line: a thin shell over the library.

Each command parses options, builds :class:`~kalshi_lake.config.Settings`, calls one library
function and maps :mod:`kalshi_lake.errors` to exit codes (0 ok, 1 validation failed, 2 usage or
configuration, 3 data that could not be fetched or parsed). Expected failures print one line on
stderr, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from kalshi_lake import log
from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError, KalshiLakeError


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


def _check_range(start: dt.date | None, end: dt.date | None) -> None:
    if start and end and start > end:
        raise BadDateError(f"--start {start} is after --end {end}")


def _settings(ctx: click.Context, **flags: Any) -> Settings:
    obj = ctx.find_root().obj or {}
    return Settings.load(lake=obj.get("lake"), **flags)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--lake",
    metavar="URL",
    default=None,
    help="Lake location: a local folder or s3://bucket/prefix. [env KALSHI_LAKE; default: lake]",
)
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
    """List the daily-high cities: series ticker, legacy prefix, time zone, station."""
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
            }
            for c in CITIES
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Kalshi daily-high temperature series")
    for col in (
        "name",
        "city",
        "series",
        "legacy",
        "time zone",
        "station",
        "first event",
        "aliases",
    ):
        table.add_column(col)
    for c in CITIES:
        table.add_row(
            c.name,
            c.display_name,
            c.series_ticker,
            c.legacy_prefix or "",
            c.tz,
            f"{c.station_icao} ({c.cli_code})",
            c.first_event.isoformat(),
            ", ".join(c.aliases),
        )
    Console(width=160).print(table)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    cli.main(args=argv, prog_name="kalshi-lake")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
