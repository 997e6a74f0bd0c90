"""Live recording (issue "follow"): what the WebSocket recorder keeps, durably and verbatim.

- :mod:`~kalshi_lake.live.records`: :class:`FrameRecord`, one frame with its provenance, and its
  bytes in the journal;
- :mod:`~kalshi_lake.live.segments`: journal segment files, read back with a torn tail cut;
- :mod:`~kalshi_lake.live.journal`: :class:`Journal`, durable within half a second of append,
  replayed on restart;
- :mod:`~kalshi_lake.live.roll`: closed segments -> ``raw/ws/city=<c>/date=<d>/`` Parquet files,
  never twice.
"""

from kalshi_lake.live.journal import Journal, JournalStats
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.live.roll import RollResult

__all__ = ["FrameRecord", "Journal", "JournalStats", "RollResult"]
