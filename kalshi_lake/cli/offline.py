"""The commands that need no Kalshi account: `cities` (the registry), `sim` (the simulator) and
`demo` (simulator, backfill, transform and validate, end to end)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

import click

from kalshi_lake.cli.options import (
    lake_option,
    parse_date,
    parse_instant,
    writing_settings,
)
from kalshi_lake.sim.config import PAYLOAD_FAULTS


@click.command()
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


@click.command()
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
    "--now", callback=parse_instant, help="Simulated now, ISO 8601 (UTC if no offset). [clock]"
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
@click.option(
    "--reports-to",
    help="Before serving, publish the simulated public daily reports (market_data, trade_data "
    "of every series) to this s3://bucket[/prefix] (the AWS variables; the bucket must exist) "
    "or folder, as published by the clock's now.",
)
@click.option(
    "--reports-from", callback=parse_date, help="First New York day of --reports-to. [now - 7 d]"
)
@click.option("--reports-until", callback=parse_date, help="Last day of --reports-to. [now - 1 d]")
@click.option(
    "--reports-rewrite",
    callback=parse_date,
    help="A day whose trade_data is first published without its last trade, then rewritten "
    "21 days later.",
)
def sim(
    now: dt.datetime | None,
    reports_to: str | None,
    reports_from: dt.date | None,
    reports_until: dt.date | None,
    reports_rewrite: dt.date | None,
    **options: Any,
) -> None:
    """Serve a deterministic Kalshi API simulator; prints its base URL first, Ctrl-C stops it."""
    from kalshi_lake.sim.config import SimConfig
    from kalshi_lake.sim.server import run_sim

    def announce(url: str) -> None:
        click.echo(url)
        sys.stdout.flush()

    config = SimConfig(now=now, **options)
    if reports_to:
        from kalshi_lake.sim.reports import publish_reports_to
        from kalshi_lake.sim.world import World

        world = World.from_config(config)
        today = world.now.date()
        first = reports_from or today - dt.timedelta(days=7)
        last = reports_until or today - dt.timedelta(days=1)
        files = publish_reports_to(reports_to, world, first, last, rewrite_day=reports_rewrite)
        click.echo(
            f"published {len(files)} daily report files ({first}..{last}) to {reports_to}",
            err=True,
        )
        # Serve the instant the reports were published at, not a later one.
        config = config.with_(now=world.now)
    run_sim(config, announce)


@click.command()
@lake_option
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
    run_demo(writing_settings(ctx), cities=names, days=days, seed=seed, echo=click.echo)
