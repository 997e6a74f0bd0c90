"""`kalshi-lake repair`: find unreadable raw files, set them aside, fetch their data again.

A raw file that cannot be read whole (truncated by a full disk, overwritten, bit rot) is a hole
the transform can only report. Per city, holding its backfill lease (``backfill/<city>``, so no
backfill runs meanwhile; held elsewhere: :class:`LockedError`, exit 2):

1. **Scan**: every raw file of the city (:meth:`Lake.walk_files`) is read whole with pyarrow,
   every column decoded; a file that fails, or lacks the columns the transform reads, is bad.
2. **Record** what is to be done (``_state/repair/city=<c>``, a :class:`StateStore`) before
   touching anything, so a run killed or cut short anywhere is finished by the next ``repair``.
3. **Quarantine**: each bad file is moved, bytes unchanged, to
   ``_quarantine/<run id>/<its path>`` inside the lake (nothing is deleted before its copy is
   written). The transform no longer sees it.
4. **Reset** exactly the saved backfill progress its pages proved
   (:func:`~kalshi_lake.backfill.keys.keys_covering`): a date-scoped file is filed under its
   event's climate date, so the trades or candles units of that date's markets and their
   events; a listing (``markets``, ``events``; filed under the fetch date) is the city's
   listing for the ranges of the backfill runs that were active when it was written, so the
   event records of those ranges (their markets are listed again).
5. **Re-fetch** through :func:`~kalshi_lake.backfill.run_backfill` over the span of the
   affected dates (finished events in it are skipped; its lease, limiter and summary as usual),
   then **transform** the city like ``backfill`` does.

Exit: 0 repaired (or nothing unreadable), 3 when the re-fetch or the transform was incomplete
(:class:`RepairIncomplete`; a re-run resumes from the saved record), 2 on usage errors.

Modules: :mod:`.scan` (find the files), :mod:`.held` (what their pages stood for),
:mod:`.summary` (what a run found and did), :mod:`.run` (the run, steps 2-5).
"""

from kalshi_lake.repair.run import QUARANTINE_DIR, run_repair
from kalshi_lake.repair.scan import RawFileRef
from kalshi_lake.repair.summary import BadFile, RepairIncomplete, RepairSummary

__all__ = [
    "QUARANTINE_DIR",
    "BadFile",
    "RawFileRef",
    "RepairIncomplete",
    "RepairSummary",
    "run_repair",
]
