from __future__ import annotations

import datetime as dt
import hashlib
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from kalshi_lake.errors import ConfigError, LockedError
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


def test_relative_path_becomes_absolute_file_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
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


@pytest.mark.parametrize("local", [True, False], ids=["local", "memory"])
def test_walk_files_lists_every_file_at_any_depth_but_temp_files(
    lake_dir: Path, local: bool
) -> None:
    lake = Lake(str(lake_dir)) if local else Lake(f"memory://walk-{os.getpid()}")
    lake.write_bytes(b"a", "t/x/a.parquet")
    lake.write_bytes(b"bb", "t/x/y/b.parquet")
    lake.write_bytes(b"ccc", "t/c.json")
    lake.write_bytes(b"t", "t/x/.a.parquet.0123.tmp")
    lake.write_bytes(b"o", "other/d.parquet")
    got = {lake.rel(p): n for p, n in lake.walk_files("t").items()}
    assert got == {"t/x/a.parquet": 1, "t/x/y/b.parquet": 2, "t/c.json": 3}
    assert lake.walk_files("nope") == {}
    assert lake.has_files("t/x") and lake.has_files("t", suffix=".json")
    assert not lake.has_files("t", suffix=".csv") and not lake.has_files("nope")
    assert not lake.has_files("t/x", suffix=".tmp")


def test_temp_files_and_empty_folders_are_removed_through_the_lake(lake_dir: Path) -> None:
    lake = Lake(str(lake_dir))
    folder = "curated/trades/city=x/month=2026-10"
    lake.replace_partition(folder, pa.table({"a": [1]}))
    (lake_dir / folder / ".part-0.parquet.beef.tmp").write_bytes(b"left by kill -9")
    lake.clear_temp_files(folder)
    assert [p.name for p in (lake_dir / folder).iterdir()] == ["part-0.parquet"]
    lake.remove_empty_folder(folder)  # not empty: kept
    assert (lake_dir / folder).is_dir()
    lake.drop_partition(folder)
    lake.remove_empty_folder(folder)
    assert not (lake_dir / folder).exists()
    lake.clear_temp_files(folder)  # a missing folder is fine
    lake.remove_empty_folder(folder)


@pytest.mark.parametrize("local", [True, False], ids=["local", "memory"])
def test_a_failing_commit_check_writes_nothing(lake_dir: Path, local: bool) -> None:
    lake = Lake(str(lake_dir)) if local else Lake(f"memory://check-{os.getpid()}")
    folder = "curated/trades/city=x/month=2026-10"
    lake.replace_partition(folder, pa.table({"a": [1]}))
    before = lake.read_bytes(folder, "part-0.parquet")

    def lost() -> None:
        raise LockedError("lease lost")

    with pytest.raises(LockedError):
        lake.replace_partition(folder, pa.table({"a": [2]}), check=lost)
    with pytest.raises(LockedError):
        lake.write_bytes(b"new", "s/state.json", check=lost)
    with pytest.raises(LockedError):
        lake.drop_partition(folder, check=lost)
    assert lake.read_bytes(folder, "part-0.parquet") == before
    assert not lake.exists("s/state.json")
    assert [lake.rel(p) for p in lake.walk_files("curated")] == [f"{folder}/part-0.parquet"]
    if local:
        assert [p.name for p in (lake_dir / folder).iterdir()] == ["part-0.parquet"]


@pytest.mark.parametrize("local", [True, False], ids=["local", "memory"])
def test_walk_stats_gives_each_file_a_size_and_a_stamp_that_moves_when_it_is_rewritten(
    lake_dir: Path, local: bool
) -> None:
    lake = Lake(str(lake_dir)) if local else Lake(f"memory://stats-{os.getpid()}")
    lake.write_bytes(b"abc", "t/x/a.parquet")
    lake.write_bytes(b"t", "t/x/.a.parquet.0123.tmp")
    [(path, st)] = lake.walk_stats("t").items()
    assert lake.rel(path) == "t/x/a.parquet" and st.size == 3
    assert lake.stat("t/x/a.parquet") == st
    assert lake.sha256("t/x/a.parquet") == hashlib.sha256(b"abc").hexdigest()
    time.sleep(0.01)
    lake.write_bytes(b"xyz", "t/x/a.parquet")  # same size, new bytes
    again = lake.stat("t/x/a.parquet")
    assert again.size == 3 and again.stamp != st.stamp
    assert lake.walk_stats("nope") == {}
