"""Writing the raw-layer generator's pages (:mod:`kalshi_lake.sim.rawgen`): Arrow tables in
:data:`~kalshi_lake.lake.raw.RAW_SCHEMA` from page frames, one file per run of pages of the same
(city, date, family), named by family like the backfill's own files
(:func:`~kalshi_lake.lake.raw.raw_file_name`), written in a thread pool without fsync.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kalshi_lake.cities import family_prefixes
from kalshi_lake.lake.raw import RAW_SCHEMA, partition_dir, raw_file_name
from kalshi_lake.lake.storage import PARQUET_KW, Lake

if TYPE_CHECKING:
    from kalshi_lake.sim.rawgen import SynthSpec, SynthStats

# Raw bodies are large unique strings: dictionary-encoding them only costs time.
_WRITE_KW = {"use_dictionary": [f.name for f in RAW_SCHEMA if f.name != "body"]}


def raw_table(
    spec: SynthSpec,
    endpoint: str,
    pages: pl.DataFrame,
    bodies: pa.Array,
    fetched: pl.Expr,
    run_id: str,
    path: pl.Expr,
    params: pl.Expr,
    cursor_in: pl.Expr,
    cursor_out: pl.Expr,
    page_number: pl.Expr,
) -> tuple[pl.DataFrame, pa.Table]:
    """(group keys city/date/family per page, the pages in RAW_SCHEMA; body_sha256 filled
    later)."""
    meta = pages.select(
        "city",
        "date",
        endpoint=pl.lit(endpoint),
        tier=pl.lit(spec.tier),
        series_ticker=pl.col("series"),
        event_ticker=pl.col("event_ticker"),
        market_ticker=pl.col("market_ticker"),
        request_path=path,
        request_params=params,
        cursor_in=cursor_in,
        cursor_out=cursor_out,
        page_number=page_number.cast(pl.Int32),
        http_status=pl.lit(200, pl.Int16),
        fetched_at=fetched,
        run_id=pl.lit(run_id),
    )
    cols = {}
    arrow_meta = meta.drop("city", "date").to_arrow(compat_level=pl.CompatLevel.oldest())
    for f in RAW_SCHEMA:
        if f.name == "body":
            cols[f.name] = bodies
        elif f.name == "body_sha256":
            cols[f.name] = pa.nulls(len(bodies), pa.string())
        else:
            cols[f.name] = arrow_meta.column(f.name).cast(f.type)
    keys = meta.select(
        "city",
        "date",
        family=pl.col("series_ticker").replace_strict(
            family_prefixes(), default=None, return_dtype=pl.String
        ),
    )
    return keys, pa.table(cols, schema=RAW_SCHEMA.remove_metadata())


def _groups(keys: pl.DataFrame) -> Iterator[tuple[str, dt.date, str | None, int, int]]:
    """(city, date, family, offset, length) of each run of consecutive equal (city, date,
    family) rows: one file each (rows come grouped, so that is one file per partition)."""
    runs = (
        keys.with_row_index("i")
        .with_columns(run=pl.struct("city", "date", "family").rle_id())
        .group_by("run", maintain_order=True)
        .agg(
            city=pl.col("city").first(),
            date=pl.col("date").first(),
            family=pl.col("family").first(),
            off=pl.col("i").min(),
            n=pl.len(),
        )
    )
    for _, city, date, family, off, n in runs.iter_rows():
        yield city, date, family, int(off), int(n)


def _with_sha(table: pa.Table) -> pa.Table:
    body = table.column("body").combine_chunks()
    offs = pa.Array.from_buffers(
        pa.int64(), len(body) + 1, [None, body.buffers()[1]], offset=body.offset
    )
    data = body.buffers()[2]
    o = offs.to_pylist()
    sha = [hashlib.sha256(memoryview(data)[o[i] : o[i + 1]]).hexdigest() for i in range(len(body))]
    i = table.schema.get_field_index("body_sha256")
    return table.set_column(i, RAW_SCHEMA.field("body_sha256"), pa.array(sha, pa.string()))


def write_groups(
    lake: Lake,
    pool: ThreadPoolExecutor,
    endpoint: str,
    keys: pl.DataFrame,
    table: pa.Table,
    stats: SynthStats,
) -> list[Future[str]]:
    futures: list[Future[str]] = []

    def write(city: str, date: dt.date, family: str | None, off: int, n: int) -> str:
        piece = _with_sha(table.slice(off, n))
        folder = partition_dir(endpoint, city, date)
        rel = f"{folder}/{raw_file_name(family)}"
        # Test data needs no fsync (the lake's own writers make every file durable); write
        # beside and rename, so a reader never sees a partial file anyway.
        lake.fs.makedirs(lake.path(folder), exist_ok=True)
        tmp = lake.path(folder, f".{secrets.token_hex(6)}.tmp")
        with lake.fs.open(tmp, "wb") as f:
            pq.write_table(piece, f, **{**PARQUET_KW, **_WRITE_KW})
        lake.fs.mv(tmp, lake.path(rel))
        return rel

    for city, date, family, off, n in _groups(keys):
        futures.append(pool.submit(write, city, date, family, off, n))
        stats.files += 1
        stats.bytes += int(
            pc.sum(pc.binary_length(table.column("body").slice(off, n))).as_py() or 0
        )
    return futures
