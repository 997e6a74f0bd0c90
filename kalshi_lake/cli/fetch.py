"""`backfill` and `repair`: fetch from the Kalshi API into the raw layer, then transform what
was fetched."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from kalshi_lake.cli.options import (
    api_url_option,
    check_range,
    cities_of,
    cities_option,
    concurrency_option,
    family_option,
    lake_option,
    parse_date,
    writing_settings,
)
from kalshi_lake.config import Settings

if TYPE_CHECKING:
    from kalshi_lake.cities import City


@click.command()
@lake_option
@cities_option
@family_option("fetch")
@click.option(
    "--start", callback=parse_date, help="First event date, YYYY-MM-DD [city's first event]."
)
@click.option("--end", callback=parse_date, help="Last event date, YYYY-MM-DD [today, UTC].")
@api_url_option
@click.option("--rate", type=float, help="Requests per second. [env KALSHI_RATE; 10, or 20 signed]")
@concurrency_option
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

    the_cities = cities_of(city)
    families = parse_families(family)
    check_range(start, end)
    settings = writing_settings(ctx, api_url=api_url, rate=rate, concurrency=concurrency)
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


@click.command()
@lake_option
@click.option("--city", default=None, help="Only this city (name or alias). [all]")
@api_url_option
@click.option("--rate", type=float, help="Requests per second. [env KALSHI_RATE; 10, or 20 signed]")
@concurrency_option
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
    settings = writing_settings(ctx, api_url=api_url, rate=rate, concurrency=concurrency)
    try:
        summary = run_repair(settings, the_city)
    except RunIncomplete as exc:
        click.echo(exc.summary.render())
        raise
    click.echo(summary.render())
