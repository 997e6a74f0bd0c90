"""SIGTERM and SIGHUP stop a command the way Ctrl-C does (exit 130 after a clean stop)."""

from __future__ import annotations

import signal
from types import FrameType

#: Signals that stop a command the way Ctrl-C does: ``kill``, ``systemctl stop``, ``timeout``
#: and container shutdowns send SIGTERM; a closed terminal or SSH session sends SIGHUP.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _stop_like_ctrl_c(_signum: int, frame: FrameType | None) -> None:
    """Handle SIGTERM/SIGHUP exactly as SIGINT is handled at this moment.

    Inside ``asyncio.run`` (a backfill) SIGINT's handler cancels the main task, so the run
    closes its run record as "interrupted" and releases its lease; elsewhere it is Python's
    default handler, which raises KeyboardInterrupt. Either way the command group prints the
    one "interrupted" line and exits 130.
    """
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (a background job of a script): still stop, as Ctrl-C would
        raise KeyboardInterrupt


def install_stop_signals() -> None:
    """Route SIGTERM and SIGHUP to :func:`_stop_like_ctrl_c` (main thread only).

    A signal the parent set to be ignored stays ignored: ``nohup kalshi-lake backfill`` must
    survive the terminal closing.
    """
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _stop_like_ctrl_c)
