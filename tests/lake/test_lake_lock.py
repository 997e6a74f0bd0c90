"""Leases on a local and an S3 lake: one holder at a time, dead holders expire, no split brain."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kalshi_lake.errors import LockedError
from kalshi_lake.lake import Lake
from kalshi_lake.lake.lock import Lease, LeaseInfo, hold_all, read_lease

pytestmark = pytest.mark.s3

HOLDER = """
import sys
from kalshi_lake.lake import Lake
from kalshi_lake.lake.lock import Lease
lease = Lease(Lake(sys.argv[1]), sys.argv[2], ttl_s=float(sys.argv[3]), purpose="test holder")
lease.acquire()
print("held", flush=True)
sys.stdin.read()
lease.release()
print("released", flush=True)
"""


@pytest.fixture(params=["local", pytest.param("s3", marks=pytest.mark.slow)])
def lake_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty local lake, or of one on the moto S3 server."""
    if request.param == "local":
        return str(tmp_path / "lake")
    return str(request.getfixturevalue("s3_url")())


@pytest.fixture
def holder(lake_url: str) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Factory: a separate process holding a lease until its stdin closes."""
    procs: list[subprocess.Popen[str]] = []

    def start(name: str = "backfill/chicago", ttl_s: float = 60.0) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, lake_url, name, str(ttl_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=60)


def test_acquire_release(lake_url: str) -> None:
    lake = Lake(lake_url)
    with Lease(lake, "transform/chicago", purpose="transform") as lease:
        info = read_lease(lake, "transform/chicago")
        assert info is not None and info.owner == lease.owner and info.pid == os.getpid()
        assert lake.exists("_state/locks/transform/chicago.json")
        lease.ensure()
    assert read_lease(lake, "transform/chicago") is None
    with Lease(lake, "transform/chicago"):  # free again
        pass


@pytest.mark.slow
def test_second_process_gets_locked_error(
    lake_url: str, holder: Callable[..., subprocess.Popen[str]]
) -> None:
    proc = holder()
    with pytest.raises(LockedError) as info:
        Lease(Lake(lake_url), "backfill/chicago").acquire()
    msg = str(info.value)
    assert f"pid {proc.pid}" in msg and "(test holder)" in msg and "\n" not in msg
    assert "locked by" in msg and "expires" in msg and info.value.exit_code == 2
    # Other names are independent: workers on other cities never clash.
    with Lease(Lake(lake_url), "backfill/miami"):
        pass
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.close()
    assert proc.stdout.readline().strip() == "released"
    with Lease(Lake(lake_url), "backfill/chicago"):
        pass


@pytest.mark.slow
def test_killed_holder_on_this_machine_is_taken_over_at_once(
    lake_url: str, holder: Callable[..., subprocess.Popen[str]]
) -> None:
    proc = holder(ttl_s=3.0)
    lake = Lake(lake_url)
    # The live holder's heartbeat keeps the lease well past one TTL.
    while True:
        info = read_lease(lake, "backfill/chicago")
        assert info is not None
        if info.renewed >= info.started + dt.timedelta(seconds=4):
            break
        threading.Event().wait(0.2)
    with pytest.raises(LockedError):
        Lease(lake, "backfill/chicago").acquire()
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    # Same kernel and pid namespace, pid gone: no need to wait for the expiry.
    with Lease(lake, "backfill/chicago", ttl_s=3600) as lease:
        assert lease.taken_over is not None and lease.taken_over.pid == proc.pid
        assert read_lease(lake, "backfill/chicago").owner == lease.owner  # type: ignore[union-attr]


def test_killed_holder_not_yet_reaped_is_taken_over_at_once(tmp_path: Path) -> None:
    """A SIGKILLed holder whose parent has not reaped it (a zombie) blocks nobody."""
    lake_url = str(tmp_path / "lake")
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, lake_url, "backfill/chicago", "3600"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        os.kill(proc.pid, signal.SIGKILL)  # not proc.wait(): the child stays a zombie
        stat = Path(f"/proc/{proc.pid}/stat")
        for _ in range(200):
            if stat.read_text().rpartition(")")[2].split()[0] == "Z":
                break
            threading.Event().wait(0.05)
        else:
            pytest.fail("the killed holder never became a zombie")
        with Lease(Lake(lake_url), "backfill/chicago") as lease:  # no wait_s: at once
            assert lease.taken_over is not None and lease.taken_over.pid == proc.pid
    finally:
        proc.kill()
        proc.wait(timeout=60)


def test_silent_remote_holder_is_taken_over_after_expiry(lake_url: str) -> None:
    """A holder on another machine that stops renewing blocks others until its expiry."""
    lake = Lake(lake_url)
    now = dt.datetime.now(dt.UTC)
    remote = LeaseInfo(
        "backfill/chicago",
        "remote",
        "worker-7",
        4242,
        now,
        now,
        now + dt.timedelta(seconds=2),
        purpose="backfill chicago",
        host_id="another-boot/pid:[1]",
    )
    lake.write_bytes(remote.to_json(), "_state/locks/backfill/chicago.json")
    with pytest.raises(
        LockedError, match=re.escape("locked by worker-7 pid 4242 (backfill chicago)")
    ):
        Lease(lake, "backfill/chicago").acquire()
    with Lease(lake, "backfill/chicago", wait_s=120) as lease:
        assert lease.taken_over == remote


def _race(lake_url: str, n: int = 4) -> list[Lease | LockedError]:
    barrier = threading.Barrier(n)
    out: list[Lease | LockedError] = []

    def attempt() -> None:
        lease = Lease(Lake(lake_url), "transform/all", heartbeat=False)
        barrier.wait()
        try:
            out.append(lease.acquire())
        except LockedError as exc:
            out.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return out


def test_racers_for_a_free_lease_one_wins(lake_url: str) -> None:
    out = _race(lake_url)
    winners = [o for o in out if isinstance(o, Lease)]
    assert len(out) == 4 and len(winners) == 1
    assert read_lease(Lake(lake_url), "transform/all").owner == winners[0].owner  # type: ignore[union-attr]


def test_racers_for_an_expired_lease_one_wins(lake_url: str) -> None:
    lake = Lake(lake_url)
    past = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    dead = LeaseInfo("transform/all", "dead", "gone-host", 1, past, past, past)
    lake.write_bytes(dead.to_json(), "_state/locks/transform/all.json")
    out = _race(lake_url)
    winners = [o for o in out if isinstance(o, Lease)]
    assert len(out) == 4 and len(winners) == 1
    assert winners[0].taken_over is not None and winners[0].taken_over.owner == "dead"


def test_lost_lease_is_reported_and_not_deleted(lake_url: str) -> None:
    lake = Lake(lake_url)
    slow = Lease(lake, "transform/chicago", ttl_s=0.2, heartbeat=False).acquire()
    while not read_lease(lake, "transform/chicago").expired():  # type: ignore[union-attr]
        threading.Event().wait(0.05)
    fresh = Lease(Lake(lake_url), "transform/chicago").acquire()
    try:
        with pytest.raises(LockedError, match="was lost"):
            slow.renew()
        with pytest.raises(LockedError, match="was lost"):
            slow.ensure()
        slow.release()
        assert read_lease(lake, "transform/chicago").owner == fresh.owner  # type: ignore[union-attr]
    finally:
        fresh.release()
    assert read_lease(lake, "transform/chicago") is None


def test_hold_all_is_all_or_nothing(lake_url: str) -> None:
    lake = Lake(lake_url)
    with Lease(lake, "transform/miami"):
        names = ["transform/nyc", "transform/miami", "transform/austin"]
        with pytest.raises(LockedError, match="transform/miami"), hold_all(Lake(lake_url), names):
            pass
        assert read_lease(lake, "transform/austin") is None  # released again
    with hold_all(lake, ["transform/nyc", "transform/miami"]) as leases:
        assert [le.name for le in leases] == ["transform/miami", "transform/nyc"]


def test_bad_names_rejected(tmp_path: Path) -> None:
    for bad in ("../x", "a//b", "", "a b"):
        with pytest.raises(ValueError):
            Lease(Lake(str(tmp_path)), bad)
