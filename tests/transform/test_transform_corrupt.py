"""Corrupt input is reported (file, page) and skipped; everything good is still used; exit 3."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from transform_helpers import page, read_curated, trade, trades_page, write

from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.errors import CorruptFileError, SchemaError
from kalshi_lake.transform import TransformCorruptError, TransformSchemaError, run_transform
from kalshi_lake.transform.build import TransformOptions

TK = "KXHIGHCHI-26OCT05-B80.5"


def _t(i: int) -> dict[str, object]:
    return trade(f"id-{i:02d}", TK, f"2026-10-04T15:{i:02d}:00Z")


def _corrupt_lake(lake_dir: Path) -> tuple[str, str]:
    """One file with pages 0 (good), 1 (corrupt body), 2 (good); another good file; a file that
    is not Parquet at all; all in the same partition."""
    good = trades_page([_t(0), _t(1)], page_number=0)
    bad = page("trades", '{"cursor": "x", "trades": [{"trade_id": "id-09", "ticker"', page_number=1)
    also_good = trades_page([_t(2)], page_number=2)
    [mixed] = write(lake_dir, [good, bad, also_good])
    write(lake_dir, [trades_page([_t(3)], fetched_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC))])
    junk = Path(mixed).parent / "20261121T000000000000Z-deadbeefdeadbeef.parquet"
    junk.write_bytes(b"PAR1 this is not a parquet file")
    root = str(lake_dir) + "/"
    return mixed.replace(root, ""), str(junk).replace(root, "")


def test_corrupt_page_and_file_are_reported_and_the_rest_is_used(
    lake_dir: Path, settings: Settings
) -> None:
    mixed, junk = _corrupt_lake(lake_dir)
    with pytest.raises(TransformCorruptError) as err:
        run_transform(settings)
    assert isinstance(err.value, CorruptFileError) and err.value.exit_code == 3
    summary = err.value.summary
    problems = sorted((p.kind, p.path, p.page) for p in summary.problems)
    assert problems == [("corrupt_file", junk, None), ("corrupt_page", mixed, 1)]
    text = summary.render()
    assert f"{mixed} row 1 (page 1 of its walk): corrupt body" in text
    assert f"{junk}: unreadable Parquet file" in text
    assert str(err.value).startswith(
        "transform finished, but 1 unreadable file(s), 1 corrupt page(s)"
    )
    # the good pages of the same file, and the other file, made it
    trades = read_curated(lake_dir, "trades")
    assert trades["trade_id"].to_list() == ["id-00", "id-01", "id-02", "id-03"]
    assert summary.rebuilt == [("chicago", "2026-10")]
    # the partition had no good version, so it was built from the good input; until the bad
    # file is gone every plain re-run tries it again and names it (the hole never hides)
    with pytest.raises(TransformCorruptError) as again:
        run_transform(settings)
    assert junk in {p.path for p in again.value.summary.problems}
    Path(lake_dir, junk).unlink()
    with pytest.raises(TransformCorruptError) as rebuilt:  # the corrupt page is still there
        run_transform(settings)
    assert rebuilt.value.summary.rebuilt == [("chicago", "2026-10")]
    assert [p.path for p in rebuilt.value.summary.problems] == [mixed]
    assert run_transform(settings).rebuilt == []


def test_schema_problems_end_with_a_schema_error(lake_dir: Path, settings: Settings) -> None:
    no_id = {k: v for k, v in _t(5).items() if k != "trade_id"}
    write(
        lake_dir,
        [trades_page([_t(4), no_id], page_number=7), page("trades", {"cursor": ""}, page_number=8)],
    )
    with pytest.raises(TransformSchemaError) as err:
        run_transform(settings)
    assert isinstance(err.value, SchemaError) and err.value.exit_code == 3
    msgs = sorted(str(p).split(": ", 1)[1] for p in err.value.summary.problems)
    assert msgs == ["a trade has no trade_id", "no 'trades' in body"]
    assert [p.page for p in sorted(err.value.summary.problems, key=lambda p: p.page or 0)] == [7, 8]
    assert read_curated(lake_dir, "trades")["trade_id"].to_list() == ["id-04"]


def test_cli_prints_the_problems_and_exits_3(lake_dir: Path) -> None:
    mixed, _junk = _corrupt_lake(lake_dir)
    result = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert result.exit_code == 3, result.output
    assert "PROBLEMS  2 piece(s) of raw input could not be used" in result.output
    assert f"{mixed} row 1 (page 1 of its walk)" in result.output
    assert "error: transform finished, but" in result.output
    again = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform", "--full"])
    assert again.exit_code == 3  # a full rebuild meets the same bad input again


#: More result rows than one Arrow batch of a streamed parser query (256 Ki rows), so the
#: corrupt file below is reached while the result streams out, after its first batch.
_BIG_FILES, _BIG_PAGES, _PER_PAGE = 6, 50, 1000


def _late_corrupt_lake(lake_dir: Path, how: str) -> tuple[str, set[str]]:
    """Two small months (each its own batch with a small ``batch_bytes``), then October with
    300,000 trades in six files, the last of which (in path order) is damaged ``how``:
    ``overwrite`` garbles bytes in the middle of its data pages (the footer still reads, a page
    does not decompress), ``truncate`` cuts it in half. Returns the damaged file and the trade
    ids of every good file."""
    good_ids: set[str] = set()
    for month in (1, 2):
        tk = f"KXHIGHCHI-26{('JAN', 'FEB')[month - 1]}05-B80.5"
        ts = [trade(f"m{month}-{i}", tk, f"2026-{month:02d}-04T15:00:{i:02d}Z") for i in range(3)]
        write(lake_dir, [trades_page(ts, date=dt.date(2026, month, 5))])
        good_ids |= {str(t["trade_id"]) for t in ts}
    files: list[tuple[str, set[str]]] = []
    for k in range(_BIG_FILES):
        pages, ids = [], set()
        for p in range(_BIG_PAGES):
            ts = [
                trade(f"o{k}-{p}-{i}", TK, f"2026-10-{1 + k:02d}T15:{i % 60:02d}:{i // 60:02d}Z")
                for i in range(_PER_PAGE)
            ]
            ids |= {str(t["trade_id"]) for t in ts}
            pages.append(trades_page(ts, date=dt.date(2026, 10, 1 + k), page_number=p))
        [path] = write(lake_dir, pages)
        files.append((path, ids))
    files.sort()
    bad, _ = files[-1]
    for _path, ids in files[:-1]:
        good_ids |= ids
    data = bytearray(Path(bad).read_bytes())
    if how == "overwrite":
        mid = len(data) // 2
        data[mid : mid + 2000] = b"Z" * 2000
    else:
        del data[len(data) // 2 :]
    Path(bad).write_bytes(bytes(data))
    return bad.replace(str(lake_dir) + "/", ""), good_ids


@pytest.mark.slow
@pytest.mark.parametrize("how", ["overwrite", "truncate"])
def test_a_file_unreadable_after_the_first_result_batch_is_skipped_like_any_other(
    lake_dir: Path, settings: Settings, how: str
) -> None:
    # Before the fix, the overwritten file failed inside pyarrow's stream (an OSError, not a
    # duckdb.Error) and escaped the transform as a traceback.
    bad, good_ids = _late_corrupt_lake(lake_dir, how)
    with pytest.raises(TransformCorruptError) as err:
        run_transform(settings, options=TransformOptions(batch_bytes=1))
    assert err.value.exit_code == 3
    problems = [(p.kind, p.path) for p in err.value.summary.problems]
    assert problems == [("corrupt_file", bad)]
    assert sorted(err.value.summary.rebuilt) == [
        ("chicago", "2026-01"),
        ("chicago", "2026-02"),
        ("chicago", "2026-10"),
    ]
    assert set(read_curated(lake_dir, "trades")["trade_id"].to_list()) == good_ids


@pytest.mark.slow
def test_cli_exits_3_naming_a_file_unreadable_after_the_first_result_batch(
    lake_dir: Path,
) -> None:
    bad, _good = _late_corrupt_lake(lake_dir, "overwrite")
    result = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert result.exit_code == 3, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and bad in errors[0], result.output
