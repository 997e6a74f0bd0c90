"""The query benchmark's synthetic lake is a real curated lake, and quick mode yields figures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

import kalshi_lake
from kalshi_lake.bench import queries as bench
from kalshi_lake.cities import get_city
from kalshi_lake.lake.storage import Lake


def test_synthetic_lake_has_the_curated_layout_and_answers_the_backtest_views(
    tmp_path: Path,
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    counts = bench.build_synthetic_lake(
        lake,
        cities=[get_city("chicago"), get_city("phoenix")],
        start=dt.date(2026, 1, 30),
        days=4,
        trades_per_market=20,
        api_candles_per_market=15,
    )
    assert counts["markets"] == 2 * 4 * 6 and counts["trades"] > 0
    months = sorted(p.name for p in Path(lake.path("curated/trades/city=chicago")).iterdir())
    assert months == ["month=2026-01", "month=2026-02"]
    con = kalshi_lake.connect(lake)
    n, quoted = con.execute(
        "SELECT count(*), count(quote_at) FROM decision_quotes_for('phoenix', DATE '2026-01-30', DATE '2026-02-02')"
    ).fetchall()[0]
    assert n == 2 * 4 * 6 and quoted > 0
    winners = con.execute("SELECT count(*) FROM event_ladder WHERE is_winner").fetchall()[0][0]
    assert winners == 2 * 2 * 4  # one per event and instant


@pytest.mark.slow
def test_quick_run_yields_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KALSHI_BENCH_DIR", str(tmp_path))
    monkeypatch.setitem(bench._QUICK, "days", 70)
    monkeypatch.setitem(bench._QUICK, "trades_per_market", 4)
    monkeypatch.setitem(bench._QUICK, "api_candles_per_market", 4)
    figs = list(bench.run(quick=True))
    names = {f["name"] for f in figs}
    assert {"queries.decision_quotes", "queries.event_ladder", "queries.quotes_at"} <= names
    for f in figs:
        assert f["unit"] == "ms" and float(f["value"]) > 0  # type: ignore[arg-type]
        assert int(f["rows"]) > 0  # type: ignore[call-overload]
