"""A full disk mid-run: one line, exit 3, the summary of what was kept; a re-run finishes.

The lake lives on a small tmpfs (tests run as root; ``chmod`` does not stop root's writes, a
full file system does). The backfill fills it part-way, the write fails with ``ENOSPC``; then
the tmpfs grows (space is back) and the same command resumes and completes.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.errors import FetchIncompleteError, StorageError
from kalshi_lake.sim import SimServer

pytestmark = pytest.mark.slow  # real tmpfs mounts and whole backfills: `make test` only

CITY = get_city("chicago")
#: 36 days of the simulator's Chicago, highs and lows: ~7.5 MB of raw Parquet. A 4 MB tmpfs
#: fills about half-way, when 20-30 events have finished (2 MB: 0-3, too few to count on).
START, END = dt.date(2026, 10, 1), dt.date(2026, 11, 5)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An empty 4 MB tmpfs as the lake folder (skipped where mounting is not allowed)."""
    d = tmp_path / "small-disk"
    d.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(d)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)


def _grow(disk: Path) -> None:
    """Space is back: the tmpfs grows to hold the whole run."""
    subprocess.run(["mount", "-o", "remount,size=128m", str(disk)], check=True)


@pytest.mark.timeout(120)
def test_a_full_disk_ends_the_run_with_its_summary_and_a_rerun_completes(
    sim: SimServer, small_disk: Path, settings_for: Callable[..., Any]
) -> None:
    # Small, frequent flushes: some pages are durable before the disk fills.
    settings = settings_for(sim, lake=str(small_disk), flush_pages=4, flush_seconds=0.1)
    with pytest.raises(FetchIncompleteError) as err:
        run_backfill(settings, CITY, START, END)
    assert err.value.exit_code == 3
    assert isinstance(err.value.__cause__, StorageError)
    assert "No space left on device" in str(err.value) and "\n" not in str(err.value)
    kept = err.value.summary
    assert kept.status == "failed" and kept.pages > 0, kept.render()
    _grow(small_disk)
    done = run_backfill(settings, CITY, START, END)
    assert done.status == "ok"
    # Resumed: the events finished before the disk filled are not fetched again.
    assert done.events_skipped > 0, done.render()
    assert done.events_skipped + done.events_done == done.events


@pytest.mark.timeout(120)
def test_the_cli_prints_the_summary_and_one_line_then_exits_3(
    sim: SimServer, small_disk: Path
) -> None:
    args = ["--lake", str(small_disk), "backfill", "--city", "chicago", "--start", str(START),
            "--end", str(END), "--api-url", sim.base_url, "--rate", "2000", "--no-transform"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert f"backfill chicago {START}..{END}" in result.output and ": failed" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    assert errors[0] == result.output.strip().splitlines()[-1]
    assert errors[0].startswith("error: could not write to the lake: No space left on device")
    assert "re-run the same command" in errors[0]
    _grow(small_disk)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    assert ": ok" in again.output
