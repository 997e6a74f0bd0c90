from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pyarrow as pa
import pytest

from kalshi_lake.errors import ConfigError
from kalshi_lake.lake import Lake
from kalshi_lake.lake.raw import RAW_SCHEMA, RawPage, partition_dir, write_pages


def _page(**kw: object) -> RawPage:
    base: dict[str, object] = {
        "endpoint": "trades",
        "tier": "live",
        "city": "chicago",
        "date": dt.date(2026, 11, 20),
        "request_path": "/trade-api/v2/markets/trades",
        "request_params": {"ticker": "KXHIGHCHI-26NOV20-B45.5", "limit": 1000},
        "body": '{"trades":[],"cursor":""}',
        "fetched_at": dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC),
        "run_id": "r1",
    }
    base.update(kw)
    return RawPage(**base)  # type: ignore[arg-type]


def test_relative_path_becomes_absolute_file_url(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    lake = Lake("lake")
    assert lake.is_local and lake.root == str(tmp_path / "lake")
    assert lake.uri("raw") == str(tmp_path / "lake" / "raw")


def test_bad_scheme_is_config_error() -> None:
    with pytest.raises(ConfigError, match="unsupported lake URL"):
        Lake("ftp://example/lake")
    with pytest.raises(ConfigError, match="no bucket"):
        Lake("s3://")


def test_atomic_write_leaves_no_tmp_on_failure(lake_dir: Path) -> None:
    lake = Lake(str(lake_dir))
    with pytest.raises(RuntimeError), lake.open_atomic("a/b.bin") as f:
        f.write(b"partial")
        raise RuntimeError("crash mid-write")
    assert not list((lake_dir / "a").iterdir())
    lake.write_bytes(b"whole", "a/b.bin")
    assert (lake_dir / "a" / "b.bin").read_bytes() == b"whole"
    assert [p.name for p in (lake_dir / "a").iterdir()] == ["b.bin"]


def test_raw_pages_round_trip_byte_for_byte(lake_dir: Path) -> None:
    lake = Lake(str(lake_dir))
    body = '{"trades": [{"trade_id": "x", "yes_price_dollars": "0.1200"}], "cursor": "abc"}'
    paths = write_pages(lake, [_page(body=body, cursor_out="abc"), _page(page_number=1)])
    assert len(paths) == 1
    assert paths[0].startswith(lake.path(partition_dir("trades", "chicago", dt.date(2026, 11, 20))))
    table = lake.read_table(paths[0])
    assert table.schema.equals(RAW_SCHEMA)
    rows = table.to_pylist()
    assert rows[0]["body"] == body
    assert rows[0]["request_params"] == '{"limit":1000,"ticker":"KXHIGHCHI-26NOV20-B45.5"}'
    assert rows[0]["fetched_at"] == dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert len(rows[0]["body_sha256"]) == 64


def test_unique_names_never_collide(lake_dir: Path) -> None:
    lake = Lake(str(lake_dir))
    paths = {write_pages(lake, [_page()])[0] for _ in range(20)}
    assert len(paths) == 20
    assert len(lake.glob("raw/trades/*/*/*.parquet")) == 20


def test_memory_lake_write_and_glob() -> None:
    lake = Lake("memory://lake-test")
    lake.write_table(pa.table({"x": [1, 2]}), "t/a.parquet")
    assert lake.glob("t/*.parquet") == [lake.path("t/a.parquet")]
    assert lake.read_table(lake.path("t/a.parquet")).num_rows == 2


def test_rejects_unknown_endpoint_and_tier() -> None:
    with pytest.raises(ValueError):
        _page(endpoint="nope")
    with pytest.raises(ValueError):
        _page(tier="cold")
