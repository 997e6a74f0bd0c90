"""Child process for the journal's kill -9 tests.

Usage::

    python journal_child.py append JOURNAL_DIR CONN_ID
        append a frame every ~2 ms forever; after each append print its frame_no (flushed), so
        the parent knows what was appended when;
    python journal_child.py roll-then-die JOURNAL_DIR LAKE_DIR
        roll every segment into LAKE_DIR and SIGKILL itself right after the first segment's raw
        files are written, before that segment is deleted from the journal.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from kalshi_lake.lake import Lake
from kalshi_lake.live import Journal
from kalshi_lake.live import journal as journal_mod
from kalshi_lake.live.records import FrameRecord

CITIES = ("chicago", "nyc", "miami")


def frame(conn_id: str, i: int) -> FrameRecord:
    """The i-th frame of a connection: trades of three cities and, every 10th, a command."""
    if i % 10 == 0:
        body = f'{{"id":{i},"cmd":"subscribe","params":{{"channels":["trade"]}}}}'
        return FrameRecord(
            time.time_ns() // 1000,
            conn_id,
            i,
            "out",
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            body,
        )
    city = CITIES[i % 3]
    ticker = f"KXHIGH{city.upper()}-26DEC06-B{40 + i % 6}.5"
    body = f'{{"type":"trade","sid":1,"seq":{i},"msg":{{"market_ticker":"{ticker}","n":"é{i}"}}}}'
    return FrameRecord(
        time.time_ns() // 1000, conn_id, i, "in", "trade", "trade", 1, i, ticker, city, None, body
    )


def append(folder: str, conn_id: str) -> None:
    journal = Journal(folder)
    i = 0
    while True:
        journal.append(frame(conn_id, i))
        sys.stdout.write(f"{i}\n")
        sys.stdout.flush()
        i += 1
        time.sleep(0.002)


def roll_then_die(folder: str, lake_dir: str) -> None:
    journal = Journal(folder)

    def die(path: str | os.PathLike[str]) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    # The segment's raw files are written and published; deleting it is where we die.
    journal_mod.os.unlink = die  # type: ignore[assignment]
    journal.roll(Lake(lake_dir), older_than_s=0)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "append":
        append(sys.argv[2], sys.argv[3])
    elif mode == "roll-then-die":
        roll_then_die(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode}")
