"""kalshi-lake: an exact, replayable history of Kalshi market data in a Parquet lake.

Notebook use::

    import kalshi_lake
    con = kalshi_lake.connect("lake")          # or "s3://bucket/prefix"
    con.sql("SELECT * FROM event_ladder LIMIT 5").show()
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    import duckdb


def connect(lake: str = "lake", **kwargs: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with every view of the lake registered (local or ``s3://``)."""
    from kalshi_lake.sql.connection import connect as _connect

    return _connect(lake, **kwargs)


__all__ = ["__version__", "connect"]
