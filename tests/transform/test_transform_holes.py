"""A hole never hides: an unreadable raw file keeps the last good curated version and is named
by every transform until it is gone or reads; a damaged curated file is rebuilt."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from transform_helpers import assert_same, curated_snapshot

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.transport import SimTransport
from kalshi_lake.transform import TransformCorruptError, run_transform
from kalshi_lake.transform.summary import KEPT

#: Two months of one city: listings feed both.
DAYS = (dt.date(2026, 10, 28), dt.date(2026, 11, 3))


def _settings(lake: Path) -> Settings:
    return Settings(lake=str(lake), api_url=SimTransport.base_url, progress=False)


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulator backfill's raw layer (not transformed)."""
    root = tmp_path_factory.mktemp("holes") / "lake"
    transport = SimTransport(seed=FIXTURE_SEED, now=FIXTURE_NOW)
    run_backfill(_settings(root), get_city("chicago"), *DAYS, transport=transport)
    assert not (root / "curated").exists()
    return root


@pytest.fixture
def copy_of(raw_lake: Path, tmp_path: Path) -> Callable[[str], Path]:
    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(raw_lake, dest)
        return dest

    return copy


def _raw(lake: Path, endpoint: str) -> Path:
    return sorted((lake / "raw" / endpoint).rglob("*.parquet"))[0]


def _rel(lake: Path, p: Path) -> str:
    return str(p.relative_to(lake))


def _truncate(p: Path) -> bytes:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    return data


def _clean_build(lake: Path, tmp: Path) -> dict[str, object]:
    """The curated tables a fresh transform builds from ``lake``'s raw layer."""
    dest = tmp / "clean"
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(lake / "raw", dest / "raw")
    run_transform(_settings(dest))
    return curated_snapshot(dest)  # type: ignore[return-value]


def _fails_naming(lake: Path, rel: str, full: bool = False) -> TransformCorruptError:
    with pytest.raises(TransformCorruptError) as err:
        run_transform(_settings(lake), full=full)
    assert err.value.exit_code == 3
    assert rel in str(err.value) and "kalshi-lake repair --city chicago" in str(err.value)
    assert rel in err.value.summary.render()
    return err.value


@pytest.mark.parametrize("endpoint", ["markets", "events"])
def test_an_unreadable_listing_keeps_the_last_good_curated_version_until_it_reads(
    copy_of: Callable[[str], Path], endpoint: str
) -> None:
    lake = copy_of("lake")
    run_transform(_settings(lake))
    good = curated_snapshot(lake)
    assert good["markets"].height and good["markets"]["month"].n_unique() == 2
    listing = _raw(lake, endpoint)
    rel = _rel(lake, listing)
    data = _truncate(listing)
    # today: --full rebuilt both months without the listing (markets shrank or vanished)
    err = _fails_naming(lake, rel, full=True)
    assert_same(curated_snapshot(lake), good)
    kept = sorted(str(p) for p in err.summary.problems if p.kind == KEPT)
    assert kept == [
        f"{rel}: kept the last good version of chicago {m}: this input is unreadable"
        for m in ("2026-10", "2026-11")
    ]
    assert err.summary.rebuilt == []
    assert_same(curated_snapshot(lake), good)
    # every later plain run names it again (today: exit 0, the hole hidden)
    _fails_naming(lake, rel)
    _fails_naming(lake, rel)
    assert_same(curated_snapshot(lake), good)
    listing.write_bytes(data)  # readable again
    summary = run_transform(_settings(lake))
    assert sorted(summary.rebuilt) == [("chicago", "2026-10"), ("chicago", "2026-11")]
    assert_same(curated_snapshot(lake), good)
    assert run_transform(_settings(lake)).rebuilt == []


def test_a_listing_unreadable_before_its_first_transform_is_named_by_every_run(
    copy_of: Callable[[str], Path], tmp_path: Path
) -> None:
    lake = copy_of("lake")
    clean = _clean_build(lake, tmp_path)
    listing = _raw(lake, "markets")
    rel = _rel(lake, listing)
    data = _truncate(listing)
    _fails_naming(lake, rel)
    # today the next run said "0 rebuilt" and exit 0 while every market row was missing
    _fails_naming(lake, rel)
    listing.write_bytes(data)
    run_transform(_settings(lake))
    assert_same(curated_snapshot(lake), clean)  # type: ignore[arg-type]


def test_an_unreadable_trades_file_keeps_the_last_good_partition_until_it_is_removed(
    copy_of: Callable[[str], Path], tmp_path: Path
) -> None:
    lake = copy_of("lake")
    run_transform(_settings(lake))
    good = curated_snapshot(lake)
    trades = _raw(lake, "trades")
    rel = _rel(lake, trades)
    _truncate(trades)
    # a plain run notices (the partition's raw bytes changed) and keeps the good version
    err = _fails_naming(lake, rel)
    assert_same(curated_snapshot(lake), good)
    assert [p.kind for p in err.summary.problems] == ["corrupt_file", KEPT]
    _fails_naming(lake, rel, full=True)
    assert_same(curated_snapshot(lake), good)
    _fails_naming(lake, rel)
    trades.unlink()  # gone: the partition is rebuilt from what is left, like a clean run
    run_transform(_settings(lake))
    assert_same(curated_snapshot(lake), _clean_build(lake, tmp_path))  # type: ignore[arg-type]


def test_a_partition_with_no_good_version_is_built_from_the_rest_and_stays_dirty(
    copy_of: Callable[[str], Path], tmp_path: Path
) -> None:
    lake = copy_of("lake")
    clean = _clean_build(lake, tmp_path)
    trades = _raw(lake, "trades")
    rel = _rel(lake, trades)
    data = _truncate(trades)
    err = _fails_naming(lake, rel)
    month = trades.parent.name[len("date=") : len("date=YYYY-MM")]
    assert ("chicago", month) in err.summary.rebuilt  # built from the good input
    assert not [p for p in err.summary.problems if p.kind == KEPT]
    # today the next run rebuilt nothing and exited 0 with the file's trades missing
    assert ("chicago", month) in _fails_naming(lake, rel).summary.rebuilt
    trades.write_bytes(data)
    run_transform(_settings(lake))
    assert_same(curated_snapshot(lake), clean)  # type: ignore[arg-type]


def test_damaged_curated_files_are_found_and_rebuilt_by_a_plain_transform(
    copy_of: Callable[[str], Path],
) -> None:
    lake = copy_of("lake")
    run_transform(_settings(lake))
    good = curated_snapshot(lake)
    part = "city=chicago/month={}/part-0.parquet"
    cur = lake / "curated"
    # truncated
    _truncate(cur / "trades" / part.format("2026-10"))
    # overwritten by another valid Parquet file of different content
    shutil.copyfile(
        cur / "markets" / part.format("2026-10"), cur / "markets" / part.format("2026-11")
    )
    # same-size garbage, the modification time moved on
    victim = cur / "candles_1m" / part.format("2026-10")
    size = victim.stat().st_size
    victim.write_bytes(b"\0" * size)
    os.utime(victim, ns=(victim.stat().st_atime_ns, victim.stat().st_mtime_ns + 10**9))
    summary = run_transform(_settings(lake))
    assert sorted(summary.rebuilt) == [("chicago", "2026-10"), ("chicago", "2026-11")]
    text = summary.render()
    assert "rebuilt chicago 2026-10: curated " in text and "changed since it was written" in text
    assert "rebuilt chicago 2026-11: curated markets file changed since it was written" in text
    assert_same(curated_snapshot(lake), good)
    assert run_transform(_settings(lake)).rebuilt == []


def test_a_curated_file_touched_but_not_changed_is_not_rebuilt(
    copy_of: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = copy_of("lake")
    run_transform(_settings(lake))
    f = lake / "curated" / "trades" / "city=chicago/month=2026-10/part-0.parquet"
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 10**9))
    shutil.copy2(f, f.with_name("copy"))  # same bytes, new inode ...
    os.replace(f.with_name("copy"), f)
    hashed: list[tuple[str, ...]] = []
    sha256 = Lake.sha256

    def spy(self: Lake, *parts: str) -> str:
        hashed.append(parts)
        return sha256(self, *parts)

    monkeypatch.setattr(Lake, "sha256", spy)
    summary = run_transform(_settings(lake))
    assert summary.rebuilt == [] and summary.notes == []
    assert hashed == [("curated/trades/city=chicago/month=2026-10/part-0.parquet",)]
    # the new stamp was recorded: the next run hashes nothing
    assert run_transform(_settings(lake)).rebuilt == [] and len(hashed) == 1


def test_a_damaged_curated_object_on_s3_is_rebuilt(
    raw_lake: Path, s3_url: Callable[..., str]
) -> None:
    url = s3_url()
    lake = Lake(url)
    for f in sorted((raw_lake / "raw" / "trades").rglob("*.parquet"))[:3]:
        lake.write_bytes(f.read_bytes(), _rel(raw_lake, f))
    settings = Settings(lake=url, progress=False)
    [key] = run_transform(settings).rebuilt
    rel = f"curated/trades/city=chicago/month={key[1]}/part-0.parquet"
    good = lake.read_bytes(rel)
    assert run_transform(settings).rebuilt == []  # stamps (ETags) as recorded: nothing read
    lake.write_bytes(bytes(len(good)), rel)  # same size, other bytes: a new ETag
    summary = run_transform(settings)
    assert summary.rebuilt == [key] and "changed since it was written" in summary.render()
    assert lake.read_bytes(rel) == good


def test_the_cli_exits_3_naming_the_file_and_the_fix_on_every_run(
    copy_of: Callable[[str], Path],
) -> None:
    lake = copy_of("lake")
    run_transform(_settings(lake))
    listing = _raw(lake, "markets")
    _truncate(listing)
    for args in (["transform", "--full"], ["transform"], ["transform"]):
        result = CliRunner().invoke(cli, ["--lake", str(lake), *args])
        assert result.exit_code == 3, result.output
        assert _rel(lake, listing) in result.output
        assert "kept the last good version of chicago 2026-10" in result.output
        assert "kalshi-lake repair --city chicago" in result.output


def test_a_listing_an_older_transform_recorded_as_empty_is_read_again(
    copy_of: Callable[[str], Path],
) -> None:
    lake = copy_of("lake")
    listing = _raw(lake, "markets")
    rel = _rel(lake, listing)
    data = _truncate(listing)
    _fails_naming(lake, rel)
    # what the transform before listings_format 2 saved: the unreadable file, with no months
    state_file = lake / "_state" / "transform" / "chicago.json"
    doc = json.loads(state_file.read_text())
    doc["listings"][rel] = []
    doc.pop("listings_format", None)
    state_file.write_text(json.dumps(doc))
    _fails_naming(lake, rel)
    listing.write_bytes(data)
    summary = run_transform(_settings(lake))
    assert sorted(summary.rebuilt) == [("chicago", "2026-10"), ("chicago", "2026-11")]
    assert json.loads(state_file.read_text())["listings"][rel] == ["2026-10", "2026-11"]
