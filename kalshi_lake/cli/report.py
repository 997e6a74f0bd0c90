"""`report`: the lake at a glance as one self-contained HTML file (kalshi_lake/report)."""

from __future__ import annotations

import click

from kalshi_lake.cli.options import CITIES_HELP, city_scope, lake_option, settings_of


@click.command()
@lake_option
@click.option("--city", "city", multiple=True, help=CITIES_HELP + " [every city in the lake]")
@click.option(
    "--out",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="The HTML file to write. [<lake>/report.html; ./report.html for a lake on S3]",
)
@click.option(
    "--no-checks",
    is_flag=True,
    help="Leave the check results out (on a big lake they take most of the time).",
)
@click.pass_context
def report(ctx: click.Context, city: tuple[str, ...], out: str | None, no_checks: bool) -> None:
    """Write one HTML file, viewable offline: coverage heatmap (city x date per family), a row
    per city, check results, reconciliation, live freshness. Prints its path."""
    from kalshi_lake.errors import ConfigError
    from kalshi_lake.report import build_report, default_target, write_report

    settings = settings_of(ctx)
    target = out or default_target(settings)
    data = build_report(settings, city_scope(city), checks=not no_checks)
    try:
        path = write_report(data, target)
    except OSError as exc:
        raise ConfigError(f"cannot write the report to {target}: {exc.strerror or exc}") from None
    counts = ", ".join(f"{n:,} {s}" for s, n in data.counts().items())
    click.echo(f"events: {counts}", err=True)
    click.echo(str(path))
