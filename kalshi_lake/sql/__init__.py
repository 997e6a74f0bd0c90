"""The DuckDB SQL layer: views, backtest macros and data-quality checks over the lake.

The SQL itself lives in ``queries/`` (one object per file); this package finds it and runs it:

- :func:`connect` (also ``kalshi_lake.connect``): an offline DuckDB connection with every view;
- :func:`run_checks`: run ``queries/checks`` and return :class:`CheckResult` per check;
- :func:`run_sql`, :func:`write_views_db`, :func:`lake_status`: the ``sql``, ``views`` and
  ``status`` commands.
"""

from kalshi_lake.sql.access import lake_status, run_sql, write_views_db
from kalshi_lake.sql.checks import CheckResult, raise_if_failed, run_checks, validate
from kalshi_lake.sql.connection import attach_filesystem, connect

__all__ = [
    "CheckResult",
    "attach_filesystem",
    "connect",
    "lake_status",
    "raise_if_failed",
    "run_checks",
    "run_sql",
    "validate",
    "write_views_db",
]
