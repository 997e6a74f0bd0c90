"""This process's resident memory and its pinning to one core, for the benchmarks that report
either (the journal and the recorder)."""

from __future__ import annotations

import os
import resource


def pin_one_core() -> str:
    """Pin this process to the lowest CPU it may run on; returns ``cpu<N>`` or ``unpinned``
    where affinity cannot be set (a figure per core must say which it got)."""
    try:
        cpu = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"cpu{cpu}"
    except (AttributeError, OSError):
        return "unpinned"


def rss_mb() -> float:
    """This process's resident memory now, in MiB (``/proc/self/statm``; where there is no
    ``/proc``, the peak so far from ``getrusage``)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
