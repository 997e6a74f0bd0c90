"""`transform`: rebuild curated tables from the raw layer, with no network."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from kalshi_lake.cli.options import (
    CITIES_HELP,
    check_range,
    city_scope,
    lake_option,
    parse_date,
    writing_settings,
)

if TYPE_CHECKING:
    from kalshi_lake.cities import City


@click.command()
@lake_option
@click.option("--city", "city", multiple=True, help=CITIES_HELP + " [every city in the lake]")
@click.option("--start", callback=parse_date, help="First event date YYYY-MM-DD (its whole month).")
@click.option("--end", callback=parse_date, help="Last event date YYYY-MM-DD (its whole month).")
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

    names = city_scope(city)
    check_range(start, end)
    the_cities: list[City | None] = [get_city(n) for n in names] if names else [None]
    settings = writing_settings(ctx)
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
