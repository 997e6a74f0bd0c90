"""Lake on s3:// against a real (moto) S3 server: every method, polars and DuckDB."""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pytest

from kalshi_lake.lake import Lake
from kalshi_lake.lake.raw import RAW_SCHEMA, RawPage, write_pages
from kalshi_lake.lake.storage import PARTITION_FILE
from kalshi_lake.schemas import TRADES
from kalshi_lake.testing.local_s3 import LocalS3

pytestmark = pytest.mark.s3


def _trades(n: int, price: str = "0.120000") -> pa.Table:
    t0 = dt.datetime(2026, 10, 1, 12, tzinfo=dt.UTC)
    rows = [
        {
            "trade_id": f"t{i:05d}",
            "market_ticker": "KXHIGHCHI-26OCT01-B45.5",
            "event_ticker": "KXHIGHCHI-26OCT01",
            "date": dt.date(2026, 10, 1),
            "traded_at": t0 + dt.timedelta(seconds=i),
            "yes_price": Decimal(price),
            "no_price": Decimal(1) - Decimal(price),
            "count": Decimal("3.00"),
            "taker_side": "yes",
            "is_block_trade": False,
            "tier": "live",
            "fetched_at": t0,
        }
        for i in range(n)
    ]
    return pa.Table.from_pylist(rows, schema=TRADES)


def test_paths_round_trip(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    bucket = lake.url.split("/")[2]
    assert lake.root == f"{bucket}/lake" and lake.bucket == bucket
    assert lake.uri("raw", "x.parquet") == f"s3://{bucket}/lake/raw/x.parquet"
    assert lake.rel(lake.uri("raw/x.parquet")) == "raw/x.parquet"
    assert lake.rel(lake.path("raw/x.parquet")) == "raw/x.parquet"
    assert not lake.is_local


def test_bytes_glob_ls_delete(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    p = lake.write_bytes(b"hello", "a/city=x/one.bin")
    lake.write_bytes(b"world", "a/city=y/two.bin")
    assert p == lake.path("a/city=x/one.bin")
    assert lake.read_bytes("a/city=x/one.bin") == b"hello"
    assert lake.exists("a/city=x/one.bin") and lake.exists("a/city=x")
    assert not lake.exists("a/city=z")
    assert lake.ls_dirs("a") == ["city=x", "city=y"]
    assert lake.ls_dirs("nope") == []
    assert lake.ls_files("a/city=x") == [p]
    assert lake.glob("a/*/*.bin") == [p, lake.path("a/city=y/two.bin")]
    lake.delete([p, lake.path("a/city=x/missing.bin")])
    assert lake.glob("a/*/*.bin") == [lake.path("a/city=y/two.bin")]


def test_glob_never_lists_tmp(s3_lake: Callable[[], Lake], aws_env: LocalS3) -> None:
    lake = s3_lake()
    lake.write_bytes(b"1", "t/a.parquet")
    bucket, _, key = lake.path("t/.a.parquet.beef.tmp").partition("/")
    aws_env.client().put_object(Bucket=bucket, Key=key, Body=b"half")
    assert lake.glob("t/*") == [lake.path("t/a.parquet")]
    assert lake.ls_files("t") == [lake.path("t/a.parquet")]


def test_open_atomic_publishes_only_on_success(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    with pytest.raises(RuntimeError), lake.open_atomic("a/b.bin") as f:
        f.write(b"partial")
        raise RuntimeError("crash mid-write")
    assert lake.glob("a/*") == []
    with lake.open_atomic("a/b.bin") as f:
        f.write(b"whole")
    assert lake.read_bytes("a/b.bin") == b"whole"


def test_tables_and_raw_pages(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    table = _trades(5)
    path = lake.write_table(table, "curated/trades/city=chicago/month=2026-10/x.parquet")
    assert lake.read_table(path).equals(table)
    assert lake.read_table(lake.uri("curated/trades/city=chicago/month=2026-10/x.parquet")).equals(
        table
    )
    assert lake.read_table(path, columns=["trade_id"]).num_rows == 5
    page = RawPage(
        endpoint="trades",
        tier="live",
        city="chicago",
        date=dt.date(2026, 10, 1),
        request_path="/trade-api/v2/markets/trades",
        request_params={"ticker": "KXHIGHCHI-26OCT01-B45.5"},
        body='{"trades":[],"cursor":""}',
        fetched_at=dt.datetime(2026, 10, 2, tzinfo=dt.UTC),
        run_id="r1",
    )
    (raw,) = write_pages(lake, [page])
    assert lake.glob("raw/trades/*/*/*.parquet") == [raw]
    assert lake.read_table(raw).schema.equals(RAW_SCHEMA)


def test_polars_reads_and_writes_with_storage_options(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    lake.write_table(_trades(4), "curated/trades/city=chicago/month=2026-10/a.parquet")
    lake.write_table(_trades(2), "curated/trades/city=miami/month=2026-10/a.parquet")
    so = lake.polars_storage_options()
    assert so is not None and so["aws_endpoint_url"].startswith("http://127.0.0.1:")
    df = (
        pl.scan_parquet(
            lake.uri("curated/trades/**/*.parquet"), storage_options=so, hive_partitioning=True
        )
        .group_by("city")
        .agg(pl.len(), pl.col("yes_price").sum())
        .sort("city")
        .collect()
    )
    assert df["city"].to_list() == ["chicago", "miami"]
    assert df["len"].to_list() == [4, 2]
    assert df["yes_price"].to_list() == [Decimal("0.48"), Decimal("0.24")]
    pl.DataFrame({"x": [1, 2, 3]}).write_parquet(lake.uri("w/x.parquet"), storage_options=so)
    assert lake.read_table("w/x.parquet").column("x").to_pylist() == [1, 2, 3]


def test_duckdb_reads_through_registered_fsspec(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    lake.write_table(_trades(7), "curated/trades/city=chicago/month=2026-10/a.parquet")
    glob = lake.uri("curated/trades/*/*/*.parquet")
    query = f"SELECT city, count(*), sum(yes_price) FROM read_parquet('{glob}') GROUP BY city"
    bare = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    # Without the registered filesystem DuckDB would need httpfs, which it may not fetch.
    with pytest.raises(duckdb.Error):
        bare.sql(query).fetchall()
    con = duckdb.connect()
    lake.duckdb_register(con)
    assert con.sql(query).fetchall() == [("chicago", 7, Decimal("0.840000"))]
    httpfs = con.sql(
        "SELECT loaded, installed FROM duckdb_extensions() WHERE extension_name = 'httpfs'"
    ).fetchall()
    assert httpfs in ([], [(False, False)])


def test_lakes_do_not_share_clients(s3_lake: Callable[[], Lake], aws_env: LocalS3) -> None:
    good = s3_lake()
    good.write_bytes(b"1", "x.bin")
    other = Lake(good.url, {"endpoint_url": "http://127.0.0.1:1"})
    assert good.fs is not other.fs
    assert good.read_bytes("x.bin") == b"1"


def test_replace_partition_swaps_whole(s3_lake: Callable[[], Lake], lake_dir: Path) -> None:
    for lake in (s3_lake(), Lake(str(lake_dir))):
        folder = "curated/trades/city=chicago/month=2026-10"
        lake.write_table(_trades(3), folder, "20261001T000000000000Z-old.parquet")
        live = lake.replace_partition(folder, _trades(5))
        assert live == lake.path(folder, PARTITION_FILE)
        assert lake.ls_files(folder) == [live]
        lake.replace_partition(folder, _trades(2, "0.500000"))
        assert lake.ls_files(folder) == [live]
        assert lake.read_table(live).equals(_trades(2, "0.500000"))
        lake.drop_partition(folder)
        assert lake.ls_files(folder) == []


@pytest.mark.parametrize("where", ["s3", "local"])
def test_reader_never_sees_a_mix_or_nothing(
    where: str, s3_lake: Callable[[], Lake], lake_dir: Path
) -> None:
    """A reader globbing the partition during many swaps sees one whole version each time."""
    lake = s3_lake() if where == "s3" else Lake(str(lake_dir))
    folder = "curated/trades/city=chicago/month=2026-10"
    versions = [_trades(10 + i, f"0.{i + 1:02d}0000") for i in range(6)]
    lake.replace_partition(folder, versions[0])
    reader = Lake(lake.url)  # a separate client, as another process would have
    done = threading.Event()
    seen: list[int] = []
    bad: list[str] = []

    def read_loop() -> None:
        while not done.is_set() or len(seen) < 5:
            files = reader.glob(f"{folder}/*.parquet")
            if len(files) != 1:
                bad.append(f"saw {len(files)} files")
                continue
            try:
                n = reader.read_table(files[0]).num_rows
            except FileNotFoundError:
                continue  # a listed old name replaced between list and read is not a mix
            seen.append(n)

    t = threading.Thread(target=read_loop, daemon=True)
    t.start()
    for v in versions[1:] * 3:
        lake.replace_partition(folder, v)
    done.set()
    t.join(timeout=120)
    assert not t.is_alive() and len(seen) >= 5, f"the reader read {len(seen)} versions"
    assert not bad
    assert set(seen) <= {v.num_rows for v in versions}


def test_duckdb_sees_a_swapped_partition_at_once(s3_lake: Callable[[], Lake]) -> None:
    """The engine filesystem remembers file info, but each glob refreshes it."""
    lake = s3_lake()
    folder = "curated/trades/city=chicago/month=2026-10"
    lake.replace_partition(folder, _trades(3))
    con = duckdb.connect()
    lake.duckdb_register(con)
    query = f"SELECT count(*) FROM read_parquet('{lake.uri('curated/trades/*/*/*.parquet')}')"
    assert con.sql(query).fetchall() == [(3,)]
    lake.replace_partition(folder, _trades(700, "0.310000"))
    assert con.sql(query).fetchall() == [(700,)]


def test_stats_and_hashes_of_s3_objects(s3_lake: Callable[[], Lake]) -> None:
    lake = s3_lake()
    lake.write_bytes(b"abc", "t/x/a.parquet")
    [(path, st)] = lake.walk_stats("t").items()
    assert lake.rel(path) == "t/x/a.parquet" and st.size == 3
    assert lake.stat("t/x/a.parquet") == st  # the ETag, from the listing and from a HEAD
    assert lake.sha256("t/x/a.parquet") == hashlib.sha256(b"abc").hexdigest()
    lake.write_bytes(b"xyz", "t/x/a.parquet")
    assert lake.stat("t/x/a.parquet").stamp != st.stamp
