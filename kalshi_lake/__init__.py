"""kalshi-lake: an exact, replayable history of Kalshi market data in a Parquet lake.

Notebook use::

    import kalshi_lake
    con = kalshi_lake.connect("lake")          # or "s3://bucket/prefix"
    con.sql("SELECT * FROM event_ladder LIMIT 5").show()
"""

from __future__ import annotations

import os as _os
from typing import TYPE_CHECKING, Any

# The transform frees and re-makes large buffers every batch. Let polars' and DuckDB's
# jemalloc and pyarrow's mimalloc keep freed pages for a few seconds instead of handing them
# back to the OS at once (PERF: polars + pyarrow halved the page faults and saved about 8% of
# the transform's CPU; DuckDB's cut the rest by another 25%, and sys time by 0.3 s per 10M
# trades). Read when those libraries load, so it only applies when kalshi_lake is imported
# first (as in the CLI); a value the user set is kept.
_os.environ.setdefault("_RJEM_MALLOC_CONF", "dirty_decay_ms:5000,muzzy_decay_ms:5000")
_os.environ.setdefault("DUCKDB_JE_MALLOC_CONF", "dirty_decay_ms:5000,muzzy_decay_ms:5000")
_os.environ.setdefault("MIMALLOC_PURGE_DELAY", "5000")

__version__ = "0.1.0"

if TYPE_CHECKING:
    import duckdb


def connect(lake: str = "lake", **kwargs: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with every view of the lake registered (local or ``s3://``)."""
    from kalshi_lake.sql.connection import connect as _connect

    return _connect(lake, **kwargs)


__all__ = ["__version__", "connect"]
