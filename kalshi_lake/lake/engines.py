"""Query engines over a lake: the one offline DuckDB connection set-up.

Every DuckDB connection kalshi-lake opens (the SQL views, ``kalshi-lake sql``, the transform's
raw-page reader) starts here: extension auto-install and auto-load are off, so nothing is ever
downloaded and a locked-down machine behaves like CI, and the lake's own fsspec filesystem is
registered for non-local lakes (:meth:`Lake.duckdb_register`), so DuckDB reads ``s3://`` with
the lake's credentials and endpoint and never needs httpfs. Callers add their own settings on
top (the SQL layer its bundled extensions and UTC, the transform its memory limit and spill
folder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb

from kalshi_lake.lake.storage import Lake

#: DuckDB configuration of every connection: never fetch or auto-load extensions.
OFFLINE_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}


def duckdb_connect(
    database: str = ":memory:",
    *,
    lake: Lake | None = None,
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An offline DuckDB connection (:data:`OFFLINE_CONFIG` plus ``config``) that can read
    ``lake``'s URLs when a lake is given."""
    con = duckdb.connect(database, read_only=read_only, config={**OFFLINE_CONFIG, **(config or {})})
    if lake is not None:
        lake.duckdb_register(con)
    return con
