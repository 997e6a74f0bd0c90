"""The progress display on stderr and its ETA.

On a terminal it is a live rich bar. When stderr is not a terminal (cron, nohup, systemd, a
pipe) it is one plain line every ``interval_s`` seconds (30 by default), so an unattended run's
log shows it is alive and how far it got, without a redraw per quarter second.

The ETA is an estimate only once it can be an honest one: events already complete (skipped in
an instant) do not count towards the rate, nothing is estimated before the number of events is
known and a few have been fetched over some seconds, and the rate is taken over the last minute
so the first wave of events (which all finish together) or a slow archive listing fades out.
Until then the display says "estimating…".
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections import deque
from types import TracebackType
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
)


class EtaEstimator:
    """Seconds left, from the rate at which events were *fetched* over a recent window.

    ``min_events`` fetched events and ``min_seconds`` of fetching are needed before any estimate;
    the rate is measured over the last ``window_s`` seconds.
    """

    def __init__(
        self, *, min_events: int = 5, min_seconds: float = 15.0, window_s: float = 60.0
    ) -> None:
        self.min_events = min_events
        self.min_seconds = min_seconds
        self.window_s = window_s
        self._start: tuple[float, int] | None = None
        self._samples: deque[tuple[float, int]] = deque()
        self._done = 0
        self._remaining: int | None = None

    def observe(self, now: float, *, fetched: int, skipped: int, total: int | None) -> None:
        """Record the counts at ``now`` (monotonic seconds); ``total`` None while unknown."""
        if total is None:
            self._remaining = None
            return
        self._remaining = max(0, total - skipped - fetched)
        if self._start is None:
            self._start = (now, fetched)
        self._done = fetched
        self._samples.append((now, fetched))
        # Keep one sample at or before the window's start to measure from.
        while len(self._samples) > 1 and self._samples[1][0] <= now - self.window_s:
            self._samples.popleft()

    def eta(self, now: float) -> float | None:
        """Seconds left, or None while no honest estimate can be given."""
        if self._remaining is None or self._start is None:
            return None
        if self._remaining == 0:
            return 0.0
        t0, done0 = self._start
        if self._done - done0 < self.min_events or now - t0 < self.min_seconds:
            return None
        base_t, base_done = self._samples[0]
        if now <= base_t or self._done <= base_done:
            return None  # nothing finished within the window: no rate to go by
        rate = (self._done - base_done) / (now - base_t)
        return self._remaining / rate


def format_eta(seconds: float | None) -> str:
    """``ETA 4:05`` / ``ETA 1:02:05``, or ``ETA estimating…`` when there is no estimate."""
    if seconds is None:
        return "ETA estimating…"
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"ETA {h}:{m:02d}:{s:02d}" if h else f"ETA {m}:{s:02d}"


#: Seconds between two progress lines when stderr is not a terminal.
LINE_INTERVAL_S = 30.0


class ProgressDisplay:
    """Events done of total, requests/s, 429s, retries, failures and an ETA.

    With ``enabled`` False every method is a no-op. Otherwise a live bar when ``stream``
    (stderr) is a TTY, else one line every ``interval_s`` seconds (the first after one
    interval, so short runs print only their summary).
    """

    def __init__(
        self,
        enabled: bool,
        description: str,
        *,
        interval_s: float = LINE_INTERVAL_S,
        stream: IO[str] | None = None,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        tty = self.stream.isatty()
        self.enabled = enabled and tty
        self.lines = enabled and not tty
        self.interval_s = max(0.0, float(interval_s))
        self._progress: Progress | None = None
        self._task: Any = None
        self.description = description
        self.eta = EtaEstimator()
        self._next_line = time.monotonic() + self.interval_s

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=16),
                MofNCompleteColumn(),
                TextColumn("ev"),
                TextColumn("{task.fields[stats]}"),
                TextColumn("{task.fields[eta]}"),
                console=Console(stderr=True),
                transient=False,
                refresh_per_second=4,
            )
            self._progress.start()
            self._task = self._progress.add_task(
                self.description, total=None, stats="discovering", eta=format_eta(None)
            )
        return self

    def update(
        self,
        *,
        events_done: int,
        events_skipped: int,
        events_total: int | None,
        requests: int,
        rate: float,
        rate_limited: int,
        retries: int,
        failures: int,
        phase: str = "",
    ) -> None:
        """Refresh the numbers: ``events_done`` fetched by this run, ``events_skipped`` found
        already complete."""
        if self.lines:
            now = time.monotonic()
            self.eta.observe(now, fetched=events_done, skipped=events_skipped, total=events_total)
            if now >= self._next_line:
                self._next_line = now + self.interval_s
                done = events_done + events_skipped
                total = "?" if events_total is None else str(events_total)
                line = (
                    f"{self.description}: events {done}/{total}, {requests} requests "
                    f"({rate:.1f}/s), 429s {rate_limited}, retries {retries}"
                    + (f", failed {failures}" if failures else "")
                    + f", {format_eta(self.eta.eta(now))}"
                    + (f" ({phase})" if phase else "")
                )
                with contextlib.suppress(OSError, ValueError):  # a closed pipe stops nothing
                    print(line, file=self.stream, flush=True)
            return
        if self._progress is None:
            return
        now = time.monotonic()
        self.eta.observe(now, fetched=events_done, skipped=events_skipped, total=events_total)
        stats = (
            f"{requests} req {rate:4.1f}/s 429s {rate_limited} retries {retries}"
            + (f" [red]failed {failures}[/red]" if failures else "")
            + (f" {phase}" if phase else "")
        )
        self._progress.update(
            self._task,
            completed=events_done + events_skipped,
            total=events_total,
            stats=stats,
            eta=format_eta(self.eta.eta(now)),
        )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
