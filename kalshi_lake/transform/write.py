"""Curated partitions out: the Parquet options of each table, and publishing or removing one
partition (``curated/<table>/city=<c>/month=<m>/part-0.parquet``) through :class:`Lake`.

Each file published is recorded (:func:`publish` returns it, the state keeps it): its size,
its change stamp (:class:`~kalshi_lake.lake.storage.FileStat`) and the SHA-256 of the bytes
written, so a later run notices a curated file that was truncated or overwritten
(:func:`~kalshi_lake.transform.plan.plan_partitions`) without reading the curated layer.
"""

from __future__ import annotations

import hashlib

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.lake.storage import PARQUET_KW, PARTITION_FILE, Check, Lake
from kalshi_lake.schemas import TABLES
from kalshi_lake.transform import frames
from kalshi_lake.transform.plan import Key

#: Parquet options of each curated table (on top of the lake's zstd defaults). Dictionary
#: encoding only where values repeat (ids and prices would just cost time), statistics on the
#: columns queries filter on, and zstd level 1: curated files are rebuilt often and are
#: derived data, so encoding speed wins over the last ~6% of size (PERF: half the CPU).
_DICT = {
    "markets": ("event_ticker", "series_ticker", "date", "strike_type", "status", "result",
                "settlement_source", "tier", "settlement_bounds_type"),
    "trades": ("market_ticker", "event_ticker", "date", "taker_side", "is_block_trade", "tier",
               "fetched_at", "first_seen"),
    "candles_1m": ("market_ticker", "event_ticker", "date", "source", "period_minutes"),
    "candles_5m": ("market_ticker", "event_ticker", "date", "source", "period_minutes"),
    "market_events": ("market_ticker", "event_ticker", "date", "event_type", "result",
                      "conn_id"),
    "book_deltas": ("market_ticker", "event_ticker", "family", "date", "source", "conn_id",
                    "side", "is_snapshot"),
    "book_snapshots": ("market_ticker", "event_ticker", "family", "date", "kind", "conn_id",
                       "side"),
    "quotes": ("market_ticker", "event_ticker", "family", "date", "source", "conn_id"),
    "decision_points": ("event_ticker", "family", "date", "decision_label", "result", "status",
                        "strike_type", "book_source"),
}  # fmt: skip
_STATS = {
    "markets": ("market_ticker", "event_ticker", "series_ticker", "date", "close_time"),
    "trades": ("market_ticker", "event_ticker", "date", "traded_at"),
    "candles_1m": ("market_ticker", "event_ticker", "date", "source", "bucket_start"),
    "candles_5m": ("market_ticker", "event_ticker", "date", "source", "bucket_start"),
    "market_events": ("market_ticker", "event_ticker", "date", "event_type", "recv_at"),
    "book_deltas": ("market_ticker", "event_ticker", "date", "recv_at", "conn_id", "frame_no"),
    "book_snapshots": ("market_ticker", "event_ticker", "date", "snapshot_at", "kind"),
    "quotes": ("market_ticker", "event_ticker", "date", "quote_at"),
    "decision_points": ("market_ticker", "event_ticker", "date", "decision_at"),
}
#: Encodings (Parquet v2, read by DuckDB, polars, pyarrow, Spark and Trino) where they are both
#: faster and smaller than PLAIN: the 36-byte trade ids (the bulk of a trades file) skip the
#: per-value lengths (PERF: 45% less encode CPU for the column, 6% smaller), and candle bucket
#: times and counts are near-sorted integers that delta-encode into half the bytes.
_ENCODING = {
    "markets": {},
    "trades": {"trade_id": "DELTA_LENGTH_BYTE_ARRAY"},
    "candles_1m": {"bucket_start": "DELTA_BINARY_PACKED", "trade_count": "DELTA_BINARY_PACKED"},
    "candles_5m": {"bucket_start": "DELTA_BINARY_PACKED", "trade_count": "DELTA_BINARY_PACKED"},
    "market_events": {},
    "book_deltas": {"recv_at": "DELTA_BINARY_PACKED", "frame_no": "DELTA_BINARY_PACKED"},
    "book_snapshots": {},
    "quotes": {"quote_at": "DELTA_BINARY_PACKED"},
    "decision_points": {},
}
WRITE_OPTIONS: dict[str, dict[str, object]] = {
    t: {
        "use_dictionary": list(_DICT[t]),
        "write_statistics": list(_STATS[t]),
        "compression_level": 1,
        # No Arrow schema in the footer: the Parquet types alone read back as the curated
        # schema (UTC timestamps, decimals, int16, date32, strings) in pyarrow, polars and
        # DuckDB, and the string-view columns we write (frames.to_arrow) read as plain strings.
        "store_schema": False,
        **({"column_encoding": _ENCODING[t]} if _ENCODING[t] else {}),
    }
    for t in TABLES
}


def write_options(table: str, arrow: pa.Table) -> dict[str, object]:
    """:data:`WRITE_OPTIONS` of ``table`` for the rows of ``arrow``: a column with no values
    (book sides of trade candles, say) is stored uncompressed. It holds only its null levels,
    a few bytes, so zstd would add a compressor setup per column and save nothing."""
    empty = {c for c, col in zip(arrow.column_names, arrow.columns, strict=True)
             if col.null_count == len(col)}  # fmt: skip
    opts = dict(WRITE_OPTIONS[table])
    if empty and arrow.num_rows:
        opts["compression"] = {c: "none" if c in empty else "zstd" for c in arrow.column_names}
        opts["compression_level"] = {
            c: opts["compression_level"] for c in arrow.column_names if c not in empty
        }
    return opts


def curated_file(key: Key, table: str) -> str:
    """The live file of ``table``'s partition ``key`` (relative to the lake root)."""
    return f"curated/{table}/city={key[0]}/month={key[1]}/{PARTITION_FILE}"


def publish(
    lake: Lake, key: Key, table: str, df: pl.DataFrame | None, check: Check
) -> dict[str, object] | None:
    """Make ``table``'s partition ``key`` hold exactly ``df``'s rows (none or no frame: remove
    it), swapped in atomically; ``check`` (the city lease's ``ensure``) runs just before.
    Returns the file's record (``size``, ``stamp``, ``sha256``), or None if it was removed.

    Runs while holding the city's transform lease, so temp files a killed transform left in
    the folder are removed too, and an emptied folder goes.
    """
    folder = f"curated/{table}/city={key[0]}/month={key[1]}"
    record: dict[str, object] | None = None
    if df is None or df.height == 0:
        lake.drop_partition(folder, check=check)
    else:
        arrow = frames.to_arrow(df, table, string_views=True)
        # Encoded in memory (a partition is tens of MB at most) so the bytes are hashed as
        # they are written, not read back.
        sink = pa.BufferOutputStream()
        pq.write_table(arrow, sink, **{**PARQUET_KW, **write_options(table, arrow)})
        del arrow
        buf = sink.getvalue()
        sha = hashlib.sha256(memoryview(buf)).hexdigest()
        lake.replace_partition(folder, buf.to_pybytes(), check=check)
        del buf
        st = lake.stat(folder, PARTITION_FILE)
        record = {"size": st.size, "stamp": st.stamp, "sha256": sha}
    lake.clear_temp_files(folder)
    if df is None or df.height == 0:
        lake.remove_empty_folder(folder)
    return record
