"""`reconcile`: the lake against Kalshi's public daily reports (market_data, trade_data)."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import click

from kalshi_lake.cli.options import (
    cities_of,
    cities_option,
    family_option,
    lake_option,
    parse_date,
    writing_settings,
)

#: Kalshi's report day is the New York calendar day.
_NEW_YORK = ZoneInfo("America/New_York")


def last_report_day(now: dt.datetime | None = None) -> dt.date:
    """The latest New York day whose reports can be out: yesterday in New York (a day's files
    appear the next morning)."""
    at = now or dt.datetime.now(dt.UTC)
    return at.astimezone(_NEW_YORK).date() - dt.timedelta(days=1)


@click.command()
@lake_option
@cities_option
@family_option("reconcile")
@click.option("--start", callback=parse_date, help="First New York report day YYYY-MM-DD. [--end]")
@click.option(
    "--end", callback=parse_date, help="Last New York report day YYYY-MM-DD. [yesterday, New York]"
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.pass_context
def reconcile(
    ctx: click.Context,
    city: tuple[str, ...],
    family: str | None,
    start: dt.date | None,
    end: dt.date | None,
    as_json: bool,
) -> None:
    """Compare the lake with Kalshi's public daily reports.

    Reads the market_data and trade_data files of the report days (New York calendar days)
    from Kalshi's public bucket anonymously, keeps the rows of the cities' series in the raw
    layer (raw/daily_reports, with file, ETag and fetch time; a file rewritten later is
    fetched again), then compares per market and day: trades (second, price, contracts),
    trade count, contracts, daily volume, high, low and open interest. Prints per city the days
    compared, the days pending (not published yet) and the markets flagged. Exit 1 if the
    report has trades the lake lacks (check reconcile_trade_missing_from_lake); other
    differences are warnings (reconcile_market_day_differs), shown by `validate` too.
    """
    from kalshi_lake.cities import parse_families
    from kalshi_lake.reconcile import ReconcileFailed, ReconcileSummary, run_reconcile

    cities = cities_of(city)
    families = parse_families(family)
    last = end or last_report_day()
    first = start or last  # a --start after --end: run_reconcile says so (exit 2)
    settings = writing_settings(ctx)

    def show(summary: ReconcileSummary) -> None:
        if as_json:
            click.echo(json.dumps(summary.as_dict(), indent=2))
        else:
            click.echo(summary.render())

    try:
        summary = run_reconcile(settings, cities, first, last, families)
    except ReconcileFailed as exc:
        show(exc.summary)
        raise
    show(summary)
