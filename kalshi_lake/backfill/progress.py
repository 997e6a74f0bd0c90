"""The progress display on stderr and its ETA.

On a terminal it is a live rich bar. When stderr is not a terminal (cron, nohup, systemd, a
pipe) it is one plain line every ``interval_s`` seconds (30 by default), so an unattended run's
log shows it is alive and how far it got, without a redraw per quarter second.

A run of several cities shows one row per city (:meth:`ProgressDisplay.row`) under the total
row: bars on a terminal, one line per row in each plain-text burst.

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
    interval, so short runs print only their summary). :meth:`update` sets the row named
    ``description``; :meth:`row` adds one more row (a city of a multi-city run), shown below it.
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
        self.description = description
        self._main = ProgressRow(self, description)
        self._rows: list[ProgressRow] = [self._main]
        self._next_line = time.monotonic() + self.interval_s

    @property
    def eta(self) -> EtaEstimator:
        """The main row's ETA estimator."""
        return self._main.eta

    def row(self, description: str) -> ProgressRow:
        """Add a row (shown below the earlier ones) and return it; update it like the display."""
        added = ProgressRow(self, description)
        self._rows.append(added)
        if self._progress is not None:
            added.attach(self._progress)
        return added

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
            for r in self._rows:
                r.attach(self._progress)
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
        """Refresh the main row: ``events_done`` fetched by this run, ``events_skipped`` found
        already complete."""
        self._main.update(
            events_done=events_done,
            events_skipped=events_skipped,
            events_total=events_total,
            requests=requests,
            rate=rate,
            rate_limited=rate_limited,
            retries=retries,
            failures=failures,
            phase=phase,
        )

    def _maybe_print(self, now: float) -> None:
        """Plain-text mode: every ``interval_s``, one line per row that has numbers."""
        if now < self._next_line:
            return
        self._next_line = now + self.interval_s
        lines = [r.line for r in self._rows if r.line]
        with contextlib.suppress(OSError, ValueError):  # a closed pipe stops nothing
            for line in lines:
                print(line, file=self.stream, flush=True)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class ProgressRow:
    """One row of a :class:`ProgressDisplay`: its numbers, its ETA and (on a TTY) its bar."""

    def __init__(self, display: ProgressDisplay, description: str) -> None:
        self.display = display
        self.description = description
        self.eta = EtaEstimator()
        #: The row's latest plain-text line ("" until its first update).
        self.line = ""
        self._task: Any = None

    def attach(self, progress: Progress) -> None:
        """Show this row on ``progress`` (a live display being started)."""
        self._task = progress.add_task(
            self.description, total=None, stats="discovering", eta=format_eta(None)
        )

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
        """Refresh this row's numbers (see :meth:`ProgressDisplay.update`)."""
        shown = self.display
        if not (shown.lines or shown.enabled):
            return
        now = time.monotonic()
        self.eta.observe(now, fetched=events_done, skipped=events_skipped, total=events_total)
        if shown.lines:
            done = events_done + events_skipped
            total = "?" if events_total is None else str(events_total)
            self.line = (
                f"{self.description}: events {done}/{total}, {requests} requests "
                f"({rate:.1f}/s), 429s {rate_limited}, retries {retries}"
                + (f", failed {failures}" if failures else "")
                + f", {format_eta(self.eta.eta(now))}"
                + (f" ({phase})" if phase else "")
            )
            shown._maybe_print(now)
            return
        progress = shown._progress
        if progress is None or self._task is None:
            return
        stats = (
            f"{requests} req {rate:4.1f}/s 429s {rate_limited} retries {retries}"
            + (f" [red]failed {failures}[/red]" if failures else "")
            + (f" {phase}" if phase else "")
        )
        progress.update(
            self._task,
            completed=events_done + events_skipped,
            total=events_total,
            stats=stats,
            eta=format_eta(self.eta.eta(now)),
        )
