"""The query benchmark's quick mode yields figures (its lake: tests/sim/test_sim_curated.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_lake.bench import queries as bench


@pytest.mark.slow
def test_quick_run_yields_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KALSHI_BENCH_DIR", str(tmp_path))
    monkeypatch.setitem(bench._QUICK, "days", 70)
    monkeypatch.setitem(bench._QUICK, "trades_per_market", 4)
    monkeypatch.setitem(bench._QUICK, "api_candles_per_market", 4)
    figs = list(bench.run(quick=True))
    names = {f["name"] for f in figs}
    assert {"queries.decision_quotes", "queries.event_ladder", "queries.quotes_at"} <= names
    rows = {f["name"]: f["rows"] for f in figs}
    # the plain views filtered in a WHERE clause give the rows of the _for forms
    assert rows["queries.decision_quotes_view"] == rows["queries.decision_quotes"]
    assert rows["queries.event_ladder_view"] == rows["queries.event_ladder"]
    for table in ("trades", "markets", "candles_1m"):  # each plain view and its scoped form
        assert rows[f"queries.{table}_view"] == rows[f"queries.{table}_in"] > 0, table
    for f in figs:
        assert f["unit"] == "ms" and float(f["value"]) > 0  # type: ignore[arg-type]
        assert int(f["rows"]) > 0  # type: ignore[call-overload]
