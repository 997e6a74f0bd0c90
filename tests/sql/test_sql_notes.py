"""The notes a connection gives about empty sources: a lake never followed is not told to follow."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kalshi_lake.lake import Lake
from kalshi_lake.sql.connection import register_views


def _notes(lake_dir: Path) -> list[str]:
    con = duckdb.connect()
    try:
        return register_views(con, Lake(str(lake_dir)))
    finally:
        con.close()


def test_a_lake_never_followed_gets_no_note_about_follow(lake_dir: Path) -> None:
    notes = _notes(lake_dir)
    assert notes, "an empty lake is told what to run"
    assert not any("follow" in n or "market_events" in n for n in notes), notes


def test_a_followed_lake_is_told_what_its_live_sources_lack(lake_dir: Path) -> None:
    beat = lake_dir / "_state" / "live" / "chicago.high.json"
    beat.parent.mkdir(parents=True)
    beat.write_text('{"city": "chicago", "family": "high"}')
    notes = _notes(lake_dir)
    assert any("raw/ws/" in n and "kalshi-lake follow" in n for n in notes), notes
