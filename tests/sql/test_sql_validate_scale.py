"""``validate`` at scale: bounded memory and spill outside the caller's folder, check selection
(``--check``/``--skip``) and a prompt stop on Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sql_lakefactory import NOW

from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.checks import run_checks
from kalshi_lake.sql.connection import connect
from kalshi_lake.transform import run_transform

#: A query that sorts ~200 MB of strings: it must spill under a 100 MB memory limit.
_SPILLING = (
    "SELECT count(*) FROM (SELECT range::VARCHAR || repeat('x', 40) AS s FROM range(4000000) "
    "ORDER BY s DESC)"
)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(the current directory, the system temp directory), both fresh and empty."""
    cwd, systmp = tmp_path / "cwd", tmp_path / "systmp"
    cwd.mkdir()
    systmp.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setattr(tempfile, "tempdir", str(systmp))
    return cwd, systmp


def test_sql_connection_spills_to_the_system_temp_never_the_current_folder(
    clean_lake: Lake, dirs: tuple[Path, Path]
) -> None:
    cwd, systmp = dirs
    con = connect(clean_lake, memory_limit="100MB")
    try:
        assert con.sql(_SPILLING).fetchall() == [(4_000_000,)]
        spill = con.sql("SELECT current_setting('temp_directory')").fetchall()[0]
        assert spill is not None and Path(spill[0]).parent == systmp
        assert Path(spill[0]).is_dir()  # it did spill, there
        assert not (cwd / ".tmp").exists()
        assert list(cwd.iterdir()) == []
    finally:
        con.close()
    assert list(systmp.iterdir()) == []  # DuckDB removes its spill folder on close


def test_sql_connection_is_bounded_by_default_and_overridable(
    clean_lake: Lake, dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    _, systmp = dirs
    con = connect(clean_lake)
    settings = con.sql(
        "SELECT current_setting('memory_limit'), current_setting('temp_directory'), "
        "current_setting('max_temp_directory_size')"
    ).fetchall()[0]
    con.close()
    assert settings is not None
    memory, spill, cap = settings
    assert memory.endswith("GiB") and float(memory.split()[0]) < 2.0  # 2GB, not 80% of RAM
    assert Path(spill).parent == systmp
    assert cap.endswith("GiB") and float(cap.split()[0]) < 8.0

    mine = tmp_path / "spill-here"
    con = connect(clean_lake, temp_directory=mine, memory_limit="100MB")
    try:
        con.sql(_SPILLING).fetchall()
        assert mine.is_dir()
    finally:
        con.close()


def test_validate_from_any_folder_leaves_nothing_there(
    clean_lake: Lake, dirs: tuple[Path, Path]
) -> None:
    cwd, _ = dirs
    res = CliRunner().invoke(
        cli, ["--lake", clean_lake.root, "validate", "--as-of", NOW.isoformat()]
    )
    assert res.exit_code == 0, res.output
    assert list(cwd.iterdir()) == []


@pytest.fixture(scope="module")
def traded_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A raw layer of ~116k trades in ~120 pages (2% fetched twice), transformed."""
    lake = Lake(str(tmp_path_factory.mktemp("traded") / "lake"))
    generate_raw(lake, SynthSpec(seed=1, days=20, trades_per_market=1000, candles=False))
    run_transform(Settings(lake=lake.root, progress=False))
    return lake


@pytest.mark.slow
def test_every_check_runs_in_128mb_of_memory_and_50mb_of_spill(traded_lake: Lake) -> None:
    # The "nothing lost" check used to carry every raw page's JSON body along with each of its
    # trades: on this lake it needed more than 50 MB of spill (15 GB for 1M trades). 128 MB, not
    # 100: at 100 MB the streaming anti join's peak (88 of 95 MiB) ran out once in four runs on
    # a loaded 2-core machine, depending on how its two threads interleaved.
    con = connect(traded_lake, memory_limit="128MB", max_temp_directory_size="50MB")
    try:
        results = run_checks(con)
    finally:
        con.close()
    assert {r.name: r.error for r in results if r.error} == {}
    missing = next(r for r in results if r.name == "raw_trade_missing_from_curated")
    assert missing.passed


def _report(lake: Lake, *args: str) -> tuple[int, dict[str, object] | str]:
    res = CliRunner().invoke(
        cli, ["--lake", lake.root, "validate", "--json", "--as-of", NOW.isoformat(), *args]
    )
    if res.exit_code != 0:
        return res.exit_code, res.output
    return 0, json.loads(res.output)


def _names(report: dict[str, object] | str) -> list[str]:
    assert isinstance(report, dict)
    checks = report["checks"]
    assert isinstance(checks, list)
    return [c["name"] for c in checks]


def test_validate_check_and_skip_select_checks(clean_lake: Lake) -> None:
    every = [c.name for c in sqlfiles.load("checks")]
    code, one = _report(clean_lake, "--check", "trade_duplicate_id")
    assert code == 0 and _names(one) == ["trade_duplicate_id"]
    code, two = _report(
        clean_lake, "--check", "trade_duplicate_id", "--check", "market_duplicate_ticker"
    )
    assert code == 0 and _names(two) == ["market_duplicate_ticker", "trade_duplicate_id"]
    code, rest = _report(
        clean_lake, "--skip", "raw_trade_missing_from_curated", "--skip", "trade_duplicate_id"
    )
    assert code == 0
    assert _names(rest) == [
        n for n in every if n not in ("raw_trade_missing_from_curated", "trade_duplicate_id")
    ]
    code, both = _report(
        clean_lake, "--check", "trade_duplicate_id", "--skip", "trade_duplicate_id"
    )
    assert code == 0 and _names(both) == []


@pytest.mark.parametrize("flag", ["--check", "--skip"])
def test_validate_unknown_check_name_is_a_usage_error(clean_lake: Lake, flag: str) -> None:
    res = CliRunner().invoke(cli, ["--lake", clean_lake.root, "validate", flag, "trade_dup"])
    assert res.exit_code == 2
    line = res.output.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "unknown check trade_dup" in line
    assert all(c.name in line for c in sqlfiles.load("checks"))  # lists the valid names


def _queries_with(tmp_path: Path, checks: dict[str, str]) -> Path:
    """A copy of queries/ whose checks/ holds only ``checks`` (name -> SELECT)."""
    queries = tmp_path / "queries"
    src = sqlfiles.queries_dir()
    for kind in ("views", "backtest"):
        (queries / kind).mkdir(parents=True)
        for f in (src / kind).glob("*.sql"):
            (queries / kind / f.name).write_text(f.read_text())
    (queries / "checks").mkdir()
    for name, body in checks.items():
        (queries / "checks" / f"{name}.sql").write_text(
            f"-- check: {name}\n-- level: error\n-- Invariant: none (a test check).\n{body};\n"
        )
    return queries


def _interrupt_when_a_check_runs(started: float) -> None:
    """SIGINT to this process once a check's worker thread has run for 0.5 s (or after 10 s)."""
    while time.monotonic() - started < 10:
        if any(t.name == "kalshi-lake-check" for t in threading.enumerate()):
            time.sleep(0.5)
            break
        time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals need the main thread"
)
def test_ctrl_c_stops_validate_promptly(
    clean_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A check that runs for about 20 s on one core (a 4 * 10^9-row join), after a quick one:
    # long enough to tell a prompt stop from a stop when the query is over.
    slow = (
        "SELECT s FROM (SELECT sum(a.range * b.range) AS s FROM range(100000) AS a, "
        "range(40000) AS b) WHERE s < 0"
    )
    queries = _queries_with(tmp_path, {"a_quick": "SELECT 1 AS x WHERE false", "b_slow": slow})
    monkeypatch.setenv("KALSHI_QUERIES_DIR", str(queries))
    started = time.monotonic()
    killer = threading.Thread(target=_interrupt_when_a_check_runs, args=(started,), daemon=True)
    killer.start()
    res = CliRunner().invoke(cli, ["--lake", clean_lake.root, "validate"])
    elapsed = time.monotonic() - started
    killer.join()
    assert res.exit_code == 130, res.output
    assert elapsed < 8, elapsed
    assert res.output.strip() == "interrupted; validation stopped, the lake was not changed"
