"""Raw page files: a writer whose temp file is swept away mid-write writes it again."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from kalshi_lake.lake import Lake, storage
from kalshi_lake.lake.raw import RawPage, write_pages


def _page() -> RawPage:
    return RawPage(
        endpoint="markets",
        tier="live",
        city="chicago",
        date=dt.date(2026, 12, 6),
        request_path="/trade-api/v2/markets",
        request_params={"series_ticker": "KXHIGHCHI"},
        body='{"markets":[],"cursor":""}',
        fetched_at=dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC),
        run_id="r1",
        series_ticker="KXHIGHCHI",
    )


def test_a_temp_file_swept_before_its_rename_is_written_again(
    lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    swept: list[str] = []

    def sweep_then_replace(src: str, dst: str) -> None:
        # what a backfill's start-up sweep does to a temp file older than its lease
        if not swept and str(src).endswith(".tmp"):
            swept.append(str(src))
            os.unlink(src)
        real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", sweep_then_replace)
    (path,) = write_pages(Lake(str(lake_dir)), [_page()])
    assert swept and Path(path).exists()
    files = list(lake_dir.glob("raw/markets/city=chicago/date=2026-12-06/*"))
    assert [f.name for f in files] == [Path(path).name]
