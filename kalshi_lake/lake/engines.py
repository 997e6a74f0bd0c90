"""Query engines over a lake: the one offline DuckDB connection set-up.

Every DuckDB connection kalshi-lake opens (the SQL views, ``kalshi-lake sql``, the transform's
raw-page reader) starts here: extension auto-install and auto-load are off, so nothing is ever
downloaded and a locked-down machine behaves like CI, and the lake's own fsspec filesystem is
registered for non-local lakes (:meth:`Lake.duckdb_register`), so DuckDB reads ``s3://`` with
the lake's credentials and endpoint and never needs httpfs. Callers add their own settings on
top (the SQL layer its bundled extensions and UTC, the transform its memory limit and spill
folder).

Every connection is bounded: a memory limit (:data:`DEFAULT_MEMORY_LIMIT`), with the spill
folder in the system temp directory (:func:`spill_directory`). DuckDB's own default for an in-memory database is ``.tmp`` in the
*current* directory, which once filled a user's disk from wherever they ran ``validate``.
A caller's ``config`` overrides each of these.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from typing import Any

import duckdb

from kalshi_lake.lake.storage import Lake

#: DuckDB configuration of every connection: never fetch or auto-load extensions.
OFFLINE_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}

#: DuckDB's memory limit unless the caller sets one (its own default is 80% of the machine's
#: RAM, shared with everything else running). Beyond it, DuckDB spills to the temp folder.
DEFAULT_MEMORY_LIMIT = "2GB"


def spill_directory(prefix: str = "kalshi-lake-duckdb") -> str:
    """A fresh, not yet existing folder in the system temp directory for one connection's spill.

    DuckDB creates it only if it spills and removes it when the connection closes; one folder
    per connection keeps concurrent processes from sharing spill files.
    """
    return os.path.join(tempfile.gettempdir(), f"{prefix}-{secrets.token_hex(6)}")


def bounded_config(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """:data:`OFFLINE_CONFIG`, the default memory limit and a fresh spill folder, then
    ``config`` on top (a ``None`` value there keeps the default)."""
    cfg: dict[str, Any] = {
        **OFFLINE_CONFIG,
        "memory_limit": DEFAULT_MEMORY_LIMIT,
        "temp_directory": spill_directory(),
    }
    cfg.update({k: v for k, v in (config or {}).items() if v is not None})
    return cfg


def duckdb_connect(
    database: str = ":memory:",
    *,
    lake: Lake | None = None,
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An offline, bounded DuckDB connection (:func:`bounded_config` with ``config``) that can
    read ``lake``'s URLs when a lake is given."""
    con = duckdb.connect(database, read_only=read_only, config=bounded_config(config))
    if lake is not None:
        lake.duckdb_register(con)
    return con
