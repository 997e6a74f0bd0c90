"""The live progress display (rich, on stderr, only when it is a terminal)."""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)


class ProgressDisplay:
    """Events done of total, requests/s, 429s, retries, failures and an ETA.

    Disabled (every method a no-op) unless ``enabled`` and stderr is a TTY, so logs, pipes and
    CI output stay clean.
    """

    def __init__(self, enabled: bool, description: str) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._progress: Progress | None = None
        self._task: Any = None
        self.description = description

    def __enter__(self) -> ProgressDisplay:
        if self.enabled:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(bar_width=16),
                MofNCompleteColumn(),
                TextColumn("ev"),
                TextColumn("{task.fields[stats]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(compact=True),
                console=Console(stderr=True),
                transient=False,
                refresh_per_second=4,
            )
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=None, stats="discovering")
        return self

    def update(
        self,
        *,
        events_done: int,
        events_total: int | None,
        requests: int,
        rate: float,
        rate_limited: int,
        retries: int,
        failures: int,
        phase: str = "",
    ) -> None:
        """Refresh the numbers."""
        if self._progress is None:
            return
        stats = (
            f"{requests} req {rate:4.1f}/s 429s {rate_limited} retries {retries}"
            + (f" [red]failed {failures}[/red]" if failures else "")
            + (f" {phase}" if phase else "")
        )
        self._progress.update(self._task, completed=events_done, total=events_total, stats=stats)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
