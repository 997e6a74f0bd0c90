"""`sql`, `views`, `validate` and `status`: read the lake through its DuckDB views and checks."""

from __future__ import annotations

import datetime as dt
import shutil
import sys

import click

from kalshi_lake.cli.options import (
    CITIES_HELP,
    check_range,
    city_scope,
    lake_option,
    parse_date,
    parse_instant,
    settings_of,
    writing_settings,
)


@click.command("sql")
@lake_option
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
    result = access.run_sql(
        settings_of(ctx), query, max_rows=None if as_json or as_csv else max_rows
    )
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


@click.command()
@lake_option
@click.pass_context
def views(ctx: click.Context) -> None:
    """Write <lake>/kalshi.duckdb: every view and macro, for the DuckDB CLI or any DuckDB client."""
    from kalshi_lake.sql import access

    where, notes = access.write_views_db(writing_settings(ctx))
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


@click.command()
@lake_option
@click.option("--city", "city", multiple=True, help=CITIES_HELP + " [the whole lake]")
@click.option("--start", callback=parse_date, help="First event date, YYYY-MM-DD.")
@click.option("--end", callback=parse_date, help="Last event date, YYYY-MM-DD.")
@click.option("--as-of", callback=parse_instant, help="Treat this time as now (ISO 8601). [now]")
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
    from kalshi_lake.lake import saved_checks
    from kalshi_lake.lake.storage import Lake
    from kalshi_lake.sql import checks

    names = city_scope(city)
    check_range(start, end)
    settings = settings_of(ctx)
    # Every check over whole cities is what `report` shows: those results are saved in the
    # lake with the lake state they saw (taken before they run).
    save = not (only or skip or start or end or as_of)
    lake = Lake.of(settings)
    fingerprint = saved_checks.lake_fingerprint(lake) if save else ""
    ran_at = dt.datetime.now(dt.UTC)
    try:
        results = checks.validate(
            settings, cities=names, start=start, end=end, as_of=as_of, only=only, skip=skip
        )
    except KeyboardInterrupt:
        # validate only reads, so the backfill's "what was fetched is kept" does not apply
        click.echo("interrupted; validation stopped, the lake was not changed", err=True)
        ctx.exit(130)
    if save:
        saved_checks.save_checks(
            lake,
            results,
            cities=names,
            fingerprint=fingerprint,
            ran_at=ran_at,
            saved_by="validate",
        )
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


@click.command()
@lake_option
@click.option("--city", "city", multiple=True, help=CITIES_HELP + " [every city in the lake]")
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
    names = city_scope(city)
    settings = settings_of(ctx)
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
