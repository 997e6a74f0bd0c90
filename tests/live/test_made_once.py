"""``follow_support.made_once_in``: one recording shared by the processes of a test session (the
xdist workers) is made by one of them, and a make that fails leaves nothing behind."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
from follow_support import made_once_in

#: Generous: the other process only has to start and reach its call.
WAIT_S = 60.0


def _make_when_both_ask(root: Path, log: Path) -> Callable[[Path], tuple[int, str]]:
    """A ``make`` that waits until both racers have asked (so that the other one asks while
    this one makes), logs its call and leaves a file in its folder: (its pid, the folder)."""

    def make(folder: Path) -> tuple[int, str]:
        deadline = time.monotonic() + WAIT_S
        while len(list(root.glob("asking-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)  # the other racer is waiting for the lock by now
        with log.open("a") as out:
            out.write(f"{os.getpid()}\n")
        (folder / "made.txt").write_text("made")
        return os.getpid(), str(folder)

    return make


def _race(root: Path, racer: int) -> tuple[int, str]:
    """One racer (a child process): say it is asking, then ask."""
    (root / f"asking-{racer}").touch()
    return made_once_in(root, "shared", _make_when_both_ask(root, root / "makes.log"))


def _die_while_making(root: Path) -> None:
    """A child process killed in the middle of its make, holding the lock."""

    def make(folder: Path) -> str:
        (folder / "half.txt").write_text("half")
        os._exit(9)

    made_once_in(root, "shared", make)


def _spawned(workers: int) -> ProcessPoolExecutor:
    # fresh interpreters, not forks of this one (which may hold threads and locks)
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def test_two_processes_asking_at_once_make_it_once_and_both_get_it(tmp_path: Path) -> None:
    with _spawned(2) as pool:
        results = list(pool.map(_race, [tmp_path, tmp_path], [1, 2], timeout=2 * WAIT_S))
    assert results[0] == results[1]
    maker, folder = results[0]
    assert (tmp_path / "makes.log").read_text().split() == [str(maker)]
    assert Path(folder) == tmp_path / "shared"
    assert (Path(folder) / "made.txt").read_text() == "made"
    # a later ask (another worker, later in the session) reads the same value, makes nothing
    assert made_once_in(tmp_path, "shared", _never) == (maker, folder)


def _never(folder: Path) -> tuple[int, str]:
    raise AssertionError("made twice")


def test_a_failing_make_leaves_no_result_and_the_next_ask_makes_it_again(
    tmp_path: Path,
) -> None:
    def fails(folder: Path) -> int:
        (folder / "half.txt").write_text("half")
        raise RuntimeError("the recording failed")

    with pytest.raises(RuntimeError, match="the recording failed"):
        made_once_in(tmp_path, "shared", fails)
    assert not (tmp_path / "shared.pickle").exists()

    def works(folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir())

    # made again, in a folder cleared of what the failed make left
    assert made_once_in(tmp_path, "shared", works) == []
    assert made_once_in(tmp_path, "shared", fails) == []  # now made: not called again


def test_a_process_killed_while_making_leaves_no_result(tmp_path: Path) -> None:
    with _spawned(1) as pool:
        dead = pool.submit(_die_while_making, tmp_path)
        with pytest.raises(Exception, match="terminated abruptly"):
            dead.result(timeout=WAIT_S)
    assert (tmp_path / "shared" / "half.txt").exists()
    # the lock died with the process; the next ask makes it afresh
    assert made_once_in(tmp_path, "shared", lambda folder: sorted(os.listdir(folder))) == []
