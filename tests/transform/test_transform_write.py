"""How curated partitions are cut and encoded: the fast paths change bytes, never values.

- a batch's frames are split into partitions by zero-copy slices when sorted by ``part``, and
  by ``partition_by`` otherwise, with the same pieces either way;
- the files use the cheaper encodings (delta lengths for trade ids, delta integers for candle
  times, no compression for empty columns) and read back in the curated schema
  (``kalshi_lake.schemas``), with the same rows, through pyarrow, polars and DuckDB.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
from transform_helpers import trade, trades_page, write

from kalshi_lake.config import Settings
from kalshi_lake.schemas import TABLES
from kalshi_lake.transform import pipeline, run_transform
from kalshi_lake.transform.fastpaths import split_parts


def _reference(df: pl.DataFrame) -> dict[int, pl.DataFrame]:
    return {int(k[0]): v for k, v in df.partition_by("part", as_dict=True).items()}  # type: ignore[call-overload]


def test_split_parts_equals_partition_by() -> None:
    df = pl.DataFrame({"part": [0, 0, 2, 2, 2, 5], "x": ["a", "b", "c", "d", "e", "f"]})
    got = split_parts(df)
    assert list(got) == [0, 2, 5]
    for k, piece in _reference(df).items():
        assert got[k].equals(piece)
    unsorted = df.reverse()
    got = split_parts(unsorted)
    for k, piece in _reference(unsorted).items():
        assert got[k].equals(piece)
    assert split_parts(df.clear()) == {}


def _encodings(path: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    rg = pq.ParquetFile(path).metadata.row_group(0)
    return {
        rg.column(i).path_in_schema: (rg.column(i).compression, rg.column(i).encodings)
        for i in range(rg.num_columns)
    }


def test_curated_files_encode_cheaply_and_read_back_exactly(
    synth_copy: Callable[[str], Path],
) -> None:
    lake = synth_copy("lake")
    run_transform(Settings(lake=str(lake), progress=False), full=True)
    trades = sorted((lake / "curated" / "trades").glob("city=*/month=*/part-0.parquet"))
    c1m = sorted((lake / "curated" / "candles_1m").glob("city=*/month=*/part-0.parquet"))
    assert trades and c1m

    enc = _encodings(trades[0])
    assert "DELTA_LENGTH_BYTE_ARRAY" in enc["trade_id"][1]
    assert enc["trade_id"][0] == "ZSTD"
    enc = _encodings(c1m[0])
    assert "DELTA_BINARY_PACKED" in enc["bucket_start"][1]
    assert enc["price_open"][0] == "ZSTD"
    # every partition here has Kalshi candles too, so no candle column is empty
    for f in c1m:
        assert {c for c, (codec, _) in _encodings(f).items() if codec != "ZSTD"} == set(), f

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table, files in (("trades", trades), ("candles_1m", c1m)):
        for f in files:
            # written without the Arrow schema: the Parquet types alone give the curated schema
            assert b"ARROW:schema" not in (pq.ParquetFile(f).metadata.metadata or {})
            arrow = pq.read_table(f)
            assert arrow.schema.equals(TABLES[table], check_metadata=False), f
            by_polars = pl.read_parquet(f)
            assert pl.from_arrow(arrow).equals(by_polars)  # type: ignore[union-attr]
            by_duckdb = con.sql(
                f"SELECT * FROM read_parquet('{f}', hive_partitioning = false)"
            ).pl()
            assert by_duckdb.equals(by_polars), f


def test_columns_without_values_are_stored_uncompressed(lake_dir: Path) -> None:
    # only trades, no Kalshi candles: trade candles have no book or open interest
    t = "KXHIGHCHI-26OCT05-B80.5"
    write(lake_dir, [trades_page([trade("a", t, "2026-10-05T14:00:01Z"),
                                  trade("b", t, "2026-10-05T14:03:00Z", yes="0.5800")])])  # fmt: skip
    run_transform(Settings(lake=str(lake_dir), progress=False))
    [f] = (lake_dir / "curated" / "candles_1m").glob("city=*/month=*/part-0.parquet")
    arrow, codecs = pq.read_table(f), {c: v[0] for c, v in _encodings(f).items()}
    empty = {c for c in arrow.column_names if arrow.column(c).null_count == arrow.num_rows}
    assert empty == {
        f"yes_{s}_{k}" for s in ("bid", "ask") for k in ("open", "high", "low", "close")
    } | {"open_interest"}
    assert {c for c, v in codecs.items() if v == "UNCOMPRESSED"} == empty
    assert {v for c, v in codecs.items() if c not in empty} == {"ZSTD"}
    assert arrow.schema.equals(TABLES["candles_1m"], check_metadata=False)
    got = duckdb.connect().sql(f"SELECT price_open, yes_bid_open FROM '{f}' ORDER BY 1").fetchall()
    assert [str(r[0]) for r in got] == ["0.560000", "0.580000"]
    assert {r[1] for r in got} == {None}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux's")
def test_write_threads_run_at_lower_priority_and_the_caller_does_not(
    synth_copy: Callable[[str], Path],
) -> None:
    seen: list[int] = []

    def probe() -> None:
        pipeline.lower_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen == [min(before + pipeline.WRITER_NICE, 19)]
    run_transform(Settings(lake=str(synth_copy("lake")), progress=False), full=True)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
