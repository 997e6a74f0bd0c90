"""A backfill into an S3 lake (moto on loopback): raw, state and resume all go through fsspec."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pyarrow.parquet as pq
import pytest

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.lake.state import StateStore, read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import SimServer
from kalshi_lake.testing.local_s3 import LocalS3

pytestmark = [pytest.mark.s3, pytest.mark.slow]


def test_backfill_into_s3_lands_pages_state_and_resumes(
    aws_env: LocalS3,
    sim: SimServer,
    settings_for: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    url = f"s3://{aws_env.create_bucket()}/lake"
    city = get_city("chicago")
    start, end = dt.date(2026, 11, 18), dt.date(2026, 11, 21)
    first = run_backfill(settings_for(sim, lake=url), city, start, end)
    lake = Lake(url)
    files = lake.glob("raw/*/city=chicago/date=*/*.parquet")
    assert files and all(f.startswith(lake.root) for f in files)
    trade_ids = set()
    for f in files:
        table = pq.read_table(lake.fs.open(f, "rb"))
        for r in table.to_pylist():
            if r["endpoint"] == "trades":
                trade_ids |= {t["trade_id"] for t in json.loads(r["body"])["trades"]}
    assert trade_ids == truth_of(sim.world, city, start, end).trades
    state = StateStore(lake, "backfill/city=chicago").load()
    assert [k for k, v in state.items("event/") if v["final"]]
    assert read_run_records(lake)[0]["status"] == "ok"
    # The re-run reads its progress back from S3 and skips the finished events.
    again = run_backfill(settings_for(sim, lake=url), city, start, end)
    assert again.events_skipped > 0 and again.requests < first.requests
