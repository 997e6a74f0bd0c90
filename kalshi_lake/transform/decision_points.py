"""The decision_points table: the decision rows at the default instants, computed by the views' SQL.

``decision_points`` holds, per market and default decision instant (D-1 10:00 and D 10:00
city-local), every column ``market_quotes_for`` gives and the order book as of the instant
(``decision_books_computed_for``): the rows of the SQL macro ``decision_points_computed_for``.
The views read it instead of computing them (:func:`kalshi_lake.sql.connection.materialized`).

So that the table equals the computed form by construction, it is written with that very
macro, never a re-implementation: :class:`PointsEngine` is a DuckDB connection with every
view and macro of ``queries/`` on which the sources the macro reads (``markets_in``,
``candles_1m_in``, ``trades_in``, ``book_snapshots_in``, ``book_deltas_in``) read in-memory
Arrow tables instead of the lake. Every row of partition (city, M) depends only on partition
(city, M) of those tables (all are partitioned by the event's climate date) and on the static
``cities`` view, so

- the transform (:mod:`.build`) computes a batch's decision rows from the batch's own tables,
  before they are written, and publishes them with the rest of the partition (same state, same
  index update);
- a lake written by something else (the benchmarks' generators) gets them from its files
  through :func:`write_lake_points`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_lake import schemas
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.connection import (
    BOOK_SIDE,
    DECISION_INPUTS,
    SOURCES,
    create_objects,
    empty_book_side,
    new_connection,
    uses,
)
from kalshi_lake.transform import frames
from kalshi_lake.transform.plan import Key

TABLE = "decision_points"

#: The macro whose rows the table holds.
COMPUTED = "decision_points_computed_for"


#: The columns decision_points_computed_for reads of the big input tables (the rest are not
#: converted to Arrow for it; a column it starts to read fails loudly in the tests), and the
#: rows: only api candles give quotes.
_READ: dict[str, tuple[str, ...]] = {
    "candles_1m": ("market_ticker", "date", "source", "bucket_start", "yes_bid_close",
                   "yes_ask_close"),
    "trades": ("market_ticker", "date", "traded_at", "trade_id", "yes_price"),
}  # fmt: skip


def _source_sql(table: str) -> str:
    # the same filters as lake_curated_in over the in-memory rows of the batch
    return f"""CREATE OR REPLACE MACRO {table}_in(
    city := NULL, start_date := NULL, end_date := NULL
) AS TABLE
SELECT *
FROM _batch_{table} AS t
WHERE (city IS NULL OR t.city = city)
  AND (start_date IS NULL OR t.date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR t.date <= CAST(end_date AS DATE))"""


@cache
def _empty(table: str) -> pa.Table:
    schema = schemas.TABLES[table]
    if table in _READ:
        schema = pa.schema([f for f in schema if f.name in _READ[table]])
    return (
        schema.empty_table()
        .append_column("city", pa.array([], pa.string()))
        .append_column("month", pa.array([], pa.string()))
    )


class PointsEngine:
    """A DuckDB connection computing decision_points with the views' own SQL over Arrow tables.

    :meth:`compute` takes, per input table, its rows in the curated schema with the Hive keys
    ``city`` and ``month`` as columns, and returns ``decision_points_computed_for()`` over them.
    """

    def __init__(self, memory_limit: str = "1GB") -> None:
        self.con = new_connection(config={"memory_limit": memory_limit})
        self.con.execute("SET threads = 1")  # the transform's other work has the other core
        files = [*sqlfiles.load("views"), *sqlfiles.load("backtest")]
        # only what the macro needs (creating every view and macro costs ~0.5 s a run)
        needed = uses(files, COMPUTED) | set(SOURCES)
        create_objects(self.con, [f for f in files if f.name in needed], "memory")
        for table in DECISION_INPUTS:
            self.con.register(f"_batch_{table}", _empty(table))
            self.con.execute(_source_sql(table))
        by_name = {f.name: f for f in files}
        # the book lookup, real and as the empty macro connect() uses without book snapshots:
        # a batch without books (a backfill) does not plan a dozen joins over nothing
        self._books = by_name[BOOK_SIDE].render("memory")
        self._no_books = empty_book_side(self.con, by_name[BOOK_SIDE])
        self._has_books: bool | None = None

    def _book_side(self, has_books: bool) -> None:
        if has_books != self._has_books:
            self.con.execute(self._books if has_books else self._no_books)
            self._has_books = has_books

    def compute(self, tables: Mapping[str, pa.Table]) -> pa.Table:
        """The decision rows of the partitions in ``tables`` (input table -> its rows with
        ``city`` and ``month``; a table not given has none), as the table's schema plus
        ``city`` and ``month``, sorted by city, month and the table's sort key."""
        for table in DECISION_INPUTS:
            self.con.register(
                f"_batch_{table}", tables[table] if table in tables else _empty(table)
            )
        self._book_side("book_snapshots" in tables)
        try:
            names = [*schemas.DECISION_POINTS.names, "city", "month"]
            order = ", ".join(["city", "month", *schemas.SORT_KEYS[TABLE]])
            out = self.con.sql(
                f"SELECT {', '.join(names)} FROM {COMPUTED}() ORDER BY {order}"
            ).to_arrow_table()
        finally:
            for table in DECISION_INPUTS:  # never keep a batch's rows alive
                self.con.register(f"_batch_{table}", _empty(table))
        schema = schemas.DECISION_POINTS
        return out.cast(
            pa.schema([*schema, pa.field("city", pa.string()), pa.field("month", pa.string())])
        )

    def close(self) -> None:
        """Close the connection."""
        self.con.close()


def batch_points(
    engine: PointsEngine, outputs: Mapping[str, pl.DataFrame], keys: Sequence[Key]
) -> pl.DataFrame:
    """decision_points of a built batch: ``outputs`` are its curated tables (with ``part``, the
    index of each row's partition in ``keys``); the result has ``part`` too, sorted by it."""
    cities = pa.array([k[0] for k in keys], pa.string())
    months = pa.array([k[1] for k in keys], pa.string())
    tables: dict[str, pa.Table] = {}
    for table in DECISION_INPUTS:
        df = outputs.get(table)
        if df is None or df.height == 0:
            continue
        if table == "candles_1m":
            df = df.filter(pl.col("source") == "api")
        part = df["part"].cast(pl.Int32).to_arrow()
        arrow = frames.to_arrow(df, table, columns=_READ.get(table))
        tables[table] = arrow.append_column(
            "city", pa.DictionaryArray.from_arrays(part, cities).cast(pa.string())
        ).append_column("month", pa.DictionaryArray.from_arrays(part, months).cast(pa.string()))
    out = pl.from_arrow(engine.compute(tables))
    assert isinstance(out, pl.DataFrame)
    part_of = pl.DataFrame(
        {
            "city": [k[0] for k in keys],
            "month": [k[1] for k in keys],
            "part": pl.Series(range(len(keys)), dtype=pl.Int32),
        }
    )
    return (
        out.join(part_of, on=["city", "month"], how="left", maintain_order="left")
        .drop("city", "month")
        .sort("part", maintain_order=True)
    )


def write_lake_points(lake: Lake) -> int:
    """Write decision_points for every (city, month) of markets of a lake whose other curated
    tables were written by something other than the transform (a generator), from its files;
    returns the rows written. Re-index the lake afterwards
    (:func:`kalshi_lake.lake.curated_index.build`)."""
    from kalshi_lake.sql.connection import connect

    con = connect(lake)
    try:
        schema = schemas.DECISION_POINTS
        # the whole lake at once: a scoped call fails on a city without files of some table
        out = con.sql(
            f"SELECT {', '.join(schema.names)}, city, month FROM {COMPUTED}() "
            f"ORDER BY city, month, {', '.join(schemas.SORT_KEYS[TABLE])}"
        ).to_arrow_table()
    finally:
        con.close()
    keys = sorted(set(zip(out["city"].to_pylist(), out["month"].to_pylist(), strict=True)))
    for city, month in keys:
        keep = pc.and_(pc.equal(out["city"], city), pc.equal(out["month"], month))
        piece = out.filter(keep).drop(["city", "month"]).cast(schema)
        lake.replace_partition(f"curated/{TABLE}/city={city}/month={month}", piece)
    return out.num_rows


__all__ = ["COMPUTED", "TABLE", "PointsEngine", "batch_points", "write_lake_points"]
