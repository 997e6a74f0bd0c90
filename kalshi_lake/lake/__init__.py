"""The lake: storage behind one object made from a URL, raw page records, run state."""

from kalshi_lake.lake.storage import Lake

__all__ = ["Lake"]
