"""Status and the fetched-days check per family on a lake the real backfill wrote.

Chicago's highs are backfilled over one window and its lows over another that overlaps it
(the CLI against the simulator, each run with its transform step). What was fetched is per
family: the highs cover their window only and the lows theirs, although the city has both on
the overlapping days, and every raw trades and candle file names the family of its pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from kalshi_lake.cities import family_for_ticker
from kalshi_lake.cli import cli
from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

WINDOWS = {"high": ("2026-05-01", "2026-05-04"), "low": ("2026-05-03", "2026-05-06")}


def _cli(lake: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, ["--lake", str(lake), *args])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("families") / "lake"
    server = SimServer(SimConfig(seed=FIXTURE_SEED, now=FIXTURE_NOW)).start()
    try:
        for family, (start, end) in WINDOWS.items():
            result = _cli(
                root, "backfill", "--city", "chicago", "--family", family, "--start", start,
                "--end", end, "--api-url", server.base_url, "--rate", "2000",
            )  # fmt: skip
            assert result.exit_code == 0, result.output
    finally:
        server.stop()
    yield root


@pytest.mark.slow
def test_status_covers_each_family_with_its_own_window(lake: Path) -> None:
    result = _cli(lake, "status", "--json", "--city", "chicago")
    assert result.exit_code == 0, result.output
    rows = {r["family"]: r for r in json.loads(result.output)["cities"]}
    assert list(rows) == ["high", "low"]
    for family, (start, end) in WINDOWS.items():
        row = rows[family]
        assert (row["first_date"], row["last_date"]) == (start, end), family
        assert (row["event_dates"], row["missing_days"], row["gaps"]) == (4, 0, []), family
        assert row["markets"] > 0 and row["trades"] > 0, family
        assert row["last_run"].startswith("backfill ok"), family
    # neither family's listed days outside its window count as fetched
    check = _cli(lake, "validate", "--json", "--check", "market_day_not_fetched")
    assert check.exit_code == 0, check.output
    assert json.loads(check.output)["checks"][0]["offending"] == 0


@pytest.mark.slow
def test_every_raw_trades_and_candle_file_names_its_family(lake: Path) -> None:
    files = [
        f
        for endpoint in ("trades", "candlesticks", "event_candlesticks", "batch_candlesticks")
        for f in lake.glob(f"raw/{endpoint}/city=chicago/date=*/*.parquet")
    ]
    assert files
    seen = set()
    for f in files:
        family = f.name.split(".")[1]
        seen.add(family)
        for r in pq.read_table(f, columns=["event_ticker", "market_ticker"]).to_pylist():
            ticker = r["event_ticker"] or r["market_ticker"]
            assert family_for_ticker(ticker) == family, (f, ticker)
    assert seen == {"high", "low"}
    lows_only = {f.name.split(".")[1] for f in files if "date=2026-05-06" in str(f)}
    assert lows_only == {"low"}
