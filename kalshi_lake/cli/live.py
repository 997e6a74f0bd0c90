"""`follow`: the live recorder, run until stopped or for a given time."""

from __future__ import annotations

from typing import Any

import click

from kalshi_lake.cli.options import (
    api_url_option,
    cities_of,
    cities_option,
    family_option,
    lake_option,
    parse_duration,
    writing_settings,
)


@click.command()
@lake_option
@cities_option
@family_option("follow")
@click.option(
    "--orderbook",
    type=click.Choice(["auto", "ws", "rest", "off"]),
    default="auto",
    show_default=True,
    help="Order books from the WebSocket, REST polling, or not at all; auto: ws with an API "
    "key, rest without.",
)
@click.option("--for", "duration", metavar="DURATION", callback=parse_duration, help="Stop after "
              "this long (90s, 10m, 2h, 1d). [until Ctrl-C or SIGTERM]")  # fmt: skip
@api_url_option
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
    and every 30 seconds the followed cities' current curated partitions are transformed. Ctrl-C or
    SIGTERM stop it cleanly (exit 0 with a summary).
    """
    from kalshi_lake.cities import parse_families
    from kalshi_lake.live.follow import FollowOptions, run_follow

    the_cities = cities_of(city)
    families = parse_families(family)
    settings = writing_settings(ctx, api_url=api_url, rate=rate)
    options = FollowOptions(orderbook=orderbook, duration_s=duration, journal_dir=journal)

    def started(mode: Any) -> None:
        click.echo(f"follow: {mode.why}", err=True)

    summary = run_follow(settings, the_cities, families=families, options=options, on_start=started)
    click.echo(summary.render())
