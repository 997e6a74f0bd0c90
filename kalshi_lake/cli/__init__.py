"""The `kalshi-lake` command line: a thin shell over the library.

Each command parses options, builds :class:`~kalshi_lake.config.Settings`, calls one library
function and maps :mod:`kalshi_lake.errors` to exit codes (0 ok, 1 validation failed, 2 usage or
configuration, 3 data that could not be fetched or parsed, 130 interrupted). Expected failures
print one line on stderr, never a traceback. SIGTERM and SIGHUP stop a command like Ctrl-C does.

The commands live in one module per area (fetch, live, transform, query, offline); this module
holds the group that turns errors into exit codes and registers them.
"""

from __future__ import annotations

from typing import Any

import click

from kalshi_lake import log
from kalshi_lake.allocators import tune_allocators
from kalshi_lake.cli import fetch, live, offline, query, reconcile, report, transform
from kalshi_lake.cli.options import LAKE_HELP
from kalshi_lake.cli.signals import install_stop_signals
from kalshi_lake.errors import KalshiLakeError


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--lake", metavar="URL", default=None, help=LAKE_HELP)
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="kalshi-lake")
@click.pass_context
def cli(ctx: click.Context, lake: str | None, verbose: int) -> None:
    """kalshi-lake: an exact, replayable history of Kalshi's daily temperature markets
    (highs and lows).

    Pull pages from the Kalshi API into an append-only raw layer (backfill) and
    live (follow), build curated Parquet tables from it (transform), and query them with
    DuckDB (sql, views, validate, status).
    """
    log.configure(verbose)
    ctx.obj = {"lake": lake}


# `--help` lists them by name; a new command is one more line here.
for _command in (
    fetch.backfill,
    live.follow,
    fetch.repair,
    transform.transform,
    query.sql_command,
    query.views,
    query.validate,
    query.status,
    reconcile.reconcile,
    report.report,
    offline.cities,
    offline.sim,
    offline.demo,
):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    tune_allocators()  # before any command imports polars, pyarrow or DuckDB
    install_stop_signals()
    cli.main(args=argv, prog_name="kalshi-lake")
