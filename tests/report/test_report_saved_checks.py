"""`validate` saves its results in the lake; `report` shows them while the lake is unchanged
and runs the checks again (saving them) once a backfill, transform, follow or reconcile
changed it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.lake.saved_checks import (
    clock_checks,
    current_checks,
    lake_fingerprint,
    load_checks,
    save_checks,
    saved_path,
)
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.checks import CheckResult

PLANTED = 424242


def _write(root: Path, rel: str, data: bytes = b"x") -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def test_fingerprint_follows_what_the_checks_read(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    curated = _write(tmp_path, "curated/trades/city=chicago/month=2026-11/part.parquet")
    _write(tmp_path, "_state/partitions/chicago.json", b"{}")
    first = lake_fingerprint(lake)
    assert lake_fingerprint(lake) == first  # a listing, stable

    # run state, the saved results and the report page are not what the checks read
    _write(tmp_path, "_state/runs/r1.json", b"{}")
    _write(tmp_path, "_state/live/chicago.json", b"{}")
    save_checks(
        lake,
        [],
        cities=None,
        fingerprint=first,
        ran_at=dt.datetime.now(dt.UTC),
        saved_by="validate",
    )
    _write(tmp_path, "report.html", b"<html>")
    assert lake_fingerprint(lake) == first

    changes = [
        lambda: _write(tmp_path, "raw/trades/city=chicago/date=2026-11-14/p.parquet"),  # backfill
        lambda: _write(tmp_path, "raw/ws/city=chicago/date=2026-11-14/f.parquet"),  # follow
        lambda: _write(tmp_path, "raw/daily_reports/city=chicago/date=2026-11-14/m.parquet"),
        lambda: _write(tmp_path, "_state/partitions/chicago.json", b'{"v": 2}'),  # transform
        lambda: curated.write_bytes(b"y"),  # a curated file rewritten in place, same size
    ]
    seen = {first}
    for change in changes:
        change()
        fp = lake_fingerprint(lake)
        assert fp not in seen
        seen.add(fp)


def test_saved_results_round_trip_per_scope(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path))
    result = CheckResult(
        "trade_duplicate_id",
        "error",
        "no trade twice",
        3,
        [{"at": dt.datetime(2026, 11, 14, 12, tzinfo=dt.UTC), "price": 0.5, "n": 2}],
    )
    at = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    save_checks(
        lake, [result], cities=["nyc", "chicago"], fingerprint="f", ran_at=at, saved_by="validate"
    )
    assert saved_path(["nyc", "chicago"]) == "_state/checks/latest.chicago+nyc.json"
    raw = json.loads((tmp_path / "_state/checks/latest.chicago+nyc.json").read_text())
    assert raw["checks"][0]["sample"] == [{"at": "2026-11-14T12:00:00+00:00", "price": 0.5, "n": 2}]
    assert raw["checks"][0]["status"] == "FAIL" and raw["cities"] == ["chicago", "nyc"]
    # another scope has nothing saved; a set of checks that is not today's is not used
    assert load_checks(lake, None) is None
    assert load_checks(lake, ["chicago", "nyc"]) is None

    every = [
        CheckResult(f.name, f.level or "error", f.description, 0)
        for f in sqlfiles.load("checks")
        if f.name != result.name
    ]
    save_checks(lake, [result, *every], cities=None, fingerprint="f", ran_at=at, saved_by="report")
    back = load_checks(lake, None)
    assert back is not None and back.ran_at == at and back.saved_by == "report"
    assert back.cities is None and back.fingerprint == "f"
    assert back.results[0].offending == 3 and back.results[0].status == "FAIL"
    assert back.results[0].sample == [{"at": "2026-11-14T12:00:00+00:00", "price": 0.5, "n": 2}]
    assert current_checks(lake, None, "f") is not None
    assert current_checks(lake, None, "another") is None


@pytest.fixture
def own_lake(sim_lake: Path, tmp_path: Path) -> Path:
    """A copy of the report tests' simulator lake this test may change."""
    dst = tmp_path / "lake"
    shutil.copytree(sim_lake, dst, ignore=shutil.ignore_patterns("_state/checks", "report.html"))
    shutil.rmtree(dst / "_state" / "checks", ignore_errors=True)
    return dst


def _report(lake: Path, out: Path, *args: str) -> str:
    res = CliRunner().invoke(cli, ["--lake", str(lake), "report", "--out", str(out), *args])
    assert res.exit_code == 0, res.output
    return out.read_text(encoding="utf-8")


def _plant(lake: Path, name: str = "latest.json", *, clock: bool = False) -> None:
    """Make one saved result say something no check run produces: of a check that reads the
    clock (``clock``), or of one that does not."""
    path = lake / "_state" / "checks" / name
    doc = json.loads(path.read_text())
    rerun = set(clock_checks())
    check = next(c for c in doc["checks"] if (c["name"] in rerun) == clock)
    check.update(offending=PLANTED, sample=[{"planted_marker": "from-the-saved-file"}])
    path.write_text(json.dumps(doc))


@pytest.mark.slow
def test_report_shows_saved_results_until_the_lake_changes(own_lake: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["--lake", str(own_lake), "validate", "--json"])
    assert res.exit_code in (0, 1), res.output
    saved = json.loads((own_lake / "_state/checks/latest.json").read_text())
    assert saved["saved_by"] == "validate" and saved["cities"] is None
    assert [c["name"] for c in saved["checks"]] == [
        c["name"] for c in json.loads(res.stdout)["checks"]
    ]
    _plant(own_lake)

    out = tmp_path / "r.html"
    page = _report(own_lake, out)
    assert f"{PLANTED:,}" in page and "from-the-saved-file" in page  # reused, not run
    assert "Saved by kalshi-lake validate at" in page

    # a check that reads the clock is run again even so: its answer may have changed since
    _plant(own_lake, clock=True)
    page = _report(own_lake, out)
    assert page.count(f"{PLANTED:,}") == 1 and page.count("from-the-saved-file") == 1

    # a transform (here: a curated file rewritten) makes them stale: run again and saved
    curated = next((own_lake / "curated" / "trades").rglob("*.parquet"))
    curated.write_bytes(curated.read_bytes())
    page = _report(own_lake, out)
    assert f"{PLANTED:,}" not in page and "from-the-saved-file" not in page
    assert "Run for this report at" in page and "the lake changed since" in page
    again = json.loads((own_lake / "_state/checks/latest.json").read_text())
    assert again["saved_by"] == "report" and again["fingerprint"] != saved["fingerprint"]

    # the report's own results are reused by the next report
    _plant(own_lake)
    page = _report(own_lake, out)
    assert "from-the-saved-file" in page and "Saved by an earlier report" in page


@pytest.mark.slow
def test_only_whole_runs_are_saved_and_scopes_do_not_mix(own_lake: Path, tmp_path: Path) -> None:
    def validate(*args: str) -> None:
        res = CliRunner().invoke(cli, ["--lake", str(own_lake), "validate", "--json", *args])
        assert res.exit_code in (0, 1), res.output

    checks_dir = own_lake / "_state" / "checks"
    validate("--check", "trade_duplicate_id")
    validate("--start", "2026-11-14", "--end", "2026-11-15")
    assert not checks_dir.exists()  # partial runs are not what the report shows

    validate("--city", "nyc")
    assert sorted(os.listdir(checks_dir)) == ["latest.nyc.json"]
    _plant(own_lake, "latest.nyc.json")
    out = tmp_path / "r.html"
    assert "from-the-saved-file" in _report(own_lake, out, "--city", "nyc")
    # the whole lake's report does not take nyc's results for everyone's
    page = _report(own_lake, out)
    assert "from-the-saved-file" not in page and "no saved results" in page
    assert sorted(os.listdir(checks_dir)) == ["latest.json", "latest.nyc.json"]

    # a damaged file is ignored (the checks run again and replace it)
    (checks_dir / "latest.json").write_text("{not json")
    page = _report(own_lake, out)
    assert "Run for this report at" in page
    assert json.loads((checks_dir / "latest.json").read_text())["saved_by"] == "report"


@pytest.mark.slow
def test_no_checks_says_so(own_lake: Path, tmp_path: Path) -> None:
    page = _report(own_lake, tmp_path / "r.html", "--no-checks")
    assert "Checks not run" in page
    assert not (own_lake / "_state" / "checks").exists()
