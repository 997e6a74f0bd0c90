"""A transform paused past its lease's expiry stops without writing once it resumes.

The first transform (a child process with a short lease TTL) is stopped with SIGSTOP after it
has written its first partition; once its leases expire a second transform takes them over and
finishes the lake. The first is then resumed: it must stop with LockedError before its next
commit, leave every file as the second left it, and the lake must equal a clean build.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transform_helpers import assert_same, curated_files, curated_snapshot

from kalshi_lake.config import Settings
from kalshi_lake.lake.lock import read_lease
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.transform import run_transform

#: 2 cities x 2 months = 4 partitions; the paused transform writes one per batch.
SPEC = SynthSpec(
    seed=7,
    cities=("chicago", "nyc"),
    start=dt.date(2026, 9, 24),
    days=12,
    trades_per_market=25,
    page_size=20,
)
N_PARTITIONS = 4
TTL_S = 1.5

CHILD = """
import sys
from kalshi_lake.config import Settings
from kalshi_lake.errors import LockedError
from kalshi_lake.transform import TransformOptions, run_transform
try:
    run_transform(Settings(lake=sys.argv[1], progress=False), full=True,
                  options=TransformOptions(batch_bytes=1, lease_ttl_s=float(sys.argv[2])))
except LockedError as exc:
    print(f"LockedError: {exc}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.fixture(scope="module")
def raw_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lease") / "lake"
    generate_raw(Lake(str(root)), SPEC)
    return root


def _files(lake: Path) -> dict[str, tuple[int, int, int]]:
    """Every file of the lake but temp files and lease guards: (inode, mtime, size).

    A rename or rewrite changes the inode or the mtime, so two equal snapshots mean nothing
    was written in between.
    """
    out = {}
    for p in lake.rglob("*"):
        if p.is_file() and not p.name.endswith((".tmp", ".guard")):
            st = p.stat()
            out[str(p.relative_to(lake))] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return out


def _pause(proc: subprocess.Popen[str], lake: Path) -> None:
    """SIGSTOP ``proc`` at a moment it holds no lease guard lock.

    A lease's read-modify-write runs under ``flock`` for a millisecond or so; a process stopped
    right then would block every other lease user until it is resumed, which is not the pause
    this test is about.
    """
    guards = sorted((lake / "_state" / "locks" / "transform").glob("*.guard"))
    for _ in range(1000):
        os.kill(proc.pid, signal.SIGSTOP)
        fds = [os.open(g, os.O_RDWR) for g in guards]
        try:
            free = True
            for fd in fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    free = False
        finally:
            for fd in fds:
                os.close(fd)  # drops our flock
        if free:
            return
        os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the transform held a lease guard lock every time")


def test_paused_transform_stops_after_takeover_without_writing(
    raw_lake: Path, tmp_path: Path
) -> None:
    clean_lake = tmp_path / "clean"
    shutil.copytree(raw_lake, clean_lake)
    assert len(run_transform(Settings(lake=str(clean_lake), progress=False)).rebuilt) == 4
    lake = tmp_path / "lake"
    shutil.copytree(raw_lake, lake)

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(lake), str(TTL_S)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if list((lake / "curated").rglob("part-0.parquet")):
                break
            time.sleep(0.002)
        _pause(proc, lake)
        assert proc.poll() is None, "the transform finished before it could be paused"

        # The paused transform's leases expire; a second transform takes them over.
        lk = Lake(str(lake))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            held = [read_lease(lk, f"transform/{c}") for c in SPEC.cities]
            if all(info is None or info.expired() for info in held):
                break
            time.sleep(0.1)
        summary = run_transform(Settings(lake=str(lake), progress=False))
        assert summary.ok
        assert len(summary.rebuilt) + summary.skipped == N_PARTITIONS
        assert summary.rebuilt, "the paused transform had already built everything"
        finished = _files(lake)

        os.kill(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
            proc.wait()

    assert proc.returncode == 2, err
    assert "LockedError" in err and "was lost" in err, err
    assert _files(lake) == finished  # the resumed transform wrote nothing
    assert_same(curated_snapshot(clean_lake), curated_snapshot(lake))
    assert all(f.endswith("/part-0.parquet") for f in curated_files(lake))
    assert not list((lake / "_state" / "locks").glob("transform/*.json"))
