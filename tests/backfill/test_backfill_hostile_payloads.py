"""A backfill against a simulator serving hostile content, then a transform: every malformed
item is reported with its file and page and the run exits 3; everything else is exactly what a
clean run gives."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from kalshi_lake.backfill import run_backfill, units
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.schemas import TABLES
from kalshi_lake.sim.config import MARKET_FAULTS
from kalshi_lake.transform import TransformCorruptError, TransformSummary, run_transform

CITY = get_city("chicago")
# Two days across the cutoff (2026-09-22): both tiers, every listing kind.
START, END = dt.date(2026, 9, 21), dt.date(2026, 9, 22)
HOSTILE = ("event_no_ticker", *MARKET_FAULTS, "trade_conflict")

#: The message each market fault's value gives (see sim.faults.PayloadFaults).
MARKET_MESSAGES: list[tuple[Callable[[dict[str, Any]], bool], str]] = [
    (lambda m: m.get("floor_strike") == "abc", "a market's floor_strike is \"abc\", not a number"),
    (lambda m: m.get("cap_strike") == "abc", "a market's cap_strike is \"abc\", not a number"),
    (lambda m: m.get("volume_fp") == "12x", "a market's volume_fp is \"12x\", not a number"),
    (lambda m: m.get("status") == 7, "a market's status is 7, not a string"),
    (lambda m: isinstance(m.get("result"), dict), "a market's result is {\"value\":"),
]  # fmt: skip


def _lake(tmp_path: Path, name: str) -> Path:
    return tmp_path / name / "lake"


def _run(sim: Any, lake: Path, settings_for: Callable[..., Any]) -> TransformSummary:
    settings = settings_for(sim, lake=str(lake))
    run_backfill(settings, CITY, START, END)
    try:
        return run_transform(settings)
    except TransformCorruptError as exc:
        return exc.summary


def _pages(lake: Path) -> list[tuple[str, int, int, dt.datetime, dict[str, Any], str]]:
    """Every raw page: (file, row in file, page number in its walk, fetched_at, body, endpoint)."""
    out = []
    for f in sorted(lake.glob("raw/*/city=*/date=*/*.parquet")):
        rel = str(f.relative_to(lake))
        for row, r in enumerate(pq.read_table(f).to_pylist()):
            out.append((rel, row, r["page_number"], r["fetched_at"], json.loads(r["body"]),
                        r["endpoint"]))  # fmt: skip
    return out


def _expected(lake: Path) -> tuple[set[tuple[str, int, int, str]], set[str], set[str]]:
    """From the raw layer alone: the problems a transform must report ((file, row, page,
    message start)), the spoiled market tickers and the trade ids that came with two contents."""
    want: set[tuple[str, int, int, str]] = set()
    spoiled: set[str] = set()
    copies: dict[str, list[tuple[Any, ...]]] = {}
    for rel, row, page, fetched, body, endpoint in _pages(lake):
        if endpoint == "events":
            for ev in body["events"]:
                if "event_ticker" not in ev:
                    want.add((rel, row, page, "an event has no event_ticker"))
        elif endpoint == "markets":
            for m in body["markets"]:
                for test, msg in MARKET_MESSAGES:
                    if test(m):
                        want.add((rel, row, page, msg))
                        spoiled.add(m["ticker"])
        elif endpoint == "trades":
            for idx, t in enumerate(body["trades"]):
                content = (t["yes_price_dollars"], t["count_fp"], t["created_time"])
                copies.setdefault(t["trade_id"], []).append((fetched, rel, row, idx, page, content))
    conflicted = set()
    for trade_id, seen in copies.items():
        seen.sort()
        first = seen[0]
        for _f, rel, row, _i, page, content in seen[1:]:
            if content != first[-1]:
                want.add((rel, row, page, f"trade {trade_id} came twice with different contents"))
                conflicted.add(trade_id)
    return want, spoiled, conflicted


def _table(lake: Path, table: str) -> pl.DataFrame:
    files = sorted((lake / "curated" / table).glob("city=*/month=*/*.parquet"))
    if not files:
        return pl.from_arrow(TABLES[table].empty_table())  # type: ignore[return-value]
    df = pl.concat([pl.read_parquet(f) for f in files])
    return df.drop("fetched_at", "first_seen_at", strict=False)


@pytest.mark.slow
def test_hostile_answers_are_reported_with_their_page_and_the_rest_matches_a_clean_run(
    sim_factory: Callable[..., Any],
    settings_for: Callable[..., Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Trade walks of 100 a page, so markets have several pages and the conflicting copy comes
    # on a later page of the same walk.
    monkeypatch.setattr(units, "TRADES_LIMIT", 100)
    clean_lake, bad_lake = _lake(tmp_path, "clean"), _lake(tmp_path, "hostile")
    clean = _run(sim_factory(), clean_lake, settings_for)
    assert clean.ok, clean.problems
    bad = _run(sim_factory(payload_faults=HOSTILE), bad_lake, settings_for)

    want, spoiled, conflicted = _expected(bad_lake)
    served = " | ".join(sorted({m for *_, m in want}))
    for fault in ("_strike is", "volume_fp", "status", "result", "event_ticker", "came twice"):
        assert fault in served, fault  # every fault was served
    # Several pages of one file (different walks) are told apart by their row.
    assert len({(f, r) for f, r, _p, _m in want}) > len({(f, p) for f, _r, p, _m in want})
    got = {(p.path, p.row, p.page, p.message) for p in bad.problems}
    assert len(got) == len(bad.problems)
    for path, row, page, start in want:
        hits = [g for g in got if g[:3] == (path, row, page) and g[3].startswith(start)]
        assert hits, (path, row, page, start)
        got -= set(hits[:1])
    assert not got, f"unexpected problems: {sorted(got)[:5]}"
    with pytest.raises(TransformCorruptError) as err:
        bad.raise_for_problems()
    assert err.value.exit_code == 3

    # Nothing malformed reached the curated tables; everything else is as in the clean run.
    c_mk, b_mk = _table(clean_lake, "markets"), _table(bad_lake, "markets")
    assert set(b_mk["market_ticker"]) == set(c_mk["market_ticker"]) - spoiled
    assert b_mk.sort("market_ticker").equals(
        c_mk.filter(~pl.col("market_ticker").is_in(spoiled)).sort("market_ticker")
    )
    c_tr, b_tr = _table(clean_lake, "trades"), _table(bad_lake, "trades")
    assert set(b_tr["trade_id"]) == set(c_tr["trade_id"])
    keep = ~pl.col("trade_id").is_in(conflicted)
    assert b_tr.filter(keep).equals(c_tr.filter(keep))
    hit = set(b_tr.filter(~keep)["market_ticker"])
    for table in ("candles_1m", "candles_5m"):
        mine = ~pl.col("market_ticker").is_in(hit) | (pl.col("source") == "api")
        assert _table(bad_lake, table).filter(mine).equals(_table(clean_lake, table).filter(mine))

    # The CLI says the same in one line and exits 3, run after run.
    result = CliRunner().invoke(cli, ["--lake", str(bad_lake), "transform", "--full"])
    assert result.exit_code == 3, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "came twice with different contents" in result.output
