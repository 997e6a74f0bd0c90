"""The fill_cost benchmark's quick mode yields its figures over a lake with books."""

from __future__ import annotations

from pathlib import Path

import pytest

from kalshi_lake.bench import fill_cost as bench


@pytest.mark.slow
def test_quick_run_yields_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KALSHI_BENCH_DIR", str(tmp_path))
    monkeypatch.setitem(bench._QUICK, "mean_gap_s", 900.0)
    figs = {f["name"]: f for f in bench.run(quick=True)}
    assert set(figs) == {
        "fill_cost.decisions",
        "fill_cost.decision_quotes",
        "fill_cost.at_instant",
        "fill_cost.decision_quotes_without_books",
    }
    for f in figs.values():
        assert f["unit"] == "ms" and float(f["value"]) > 0  # type: ignore[arg-type]
        assert int(f["rows"]) > 0 and int(f["book_deltas"]) > 0  # type: ignore[call-overload]
    # ten event days of six markets at two instants; a book is known at nearly all of them
    assert figs["fill_cost.decision_quotes"]["rows"] == 120
    assert 100 <= int(figs["fill_cost.decisions"]["rows"]) <= 120  # type: ignore[call-overload]


@pytest.mark.slow
def test_books_month_figures_time_the_30_second_pass() -> None:
    """The month figures: a few days of frames transformed, then follow's pass after 30 more
    seconds of frames, which today rebuilds the month (every frame file read again)."""
    from kalshi_lake.bench import books

    figs = {f["name"]: f for f in books._month("chicago", quick=True)}
    assert set(figs) == {"books.transform_month", "books.transform_incremental"}
    month, inc = figs["books.transform_month"], figs["books.transform_incremental"]
    assert int(month["deltas"]) > 1000 and float(month["cpu_s"]) > 0  # type: ignore[call-overload,arg-type]
    assert inc["month_deltas"] == month["deltas"]
    # the pass saw the new connection's file and rebuilt the one month it touched
    assert inc["rebuilt"] == 1
    assert int(inc["raw_files"]) > 3  # type: ignore[call-overload]
    assert int(inc["book_deltas_rows"]) > int(month["deltas"])  # type: ignore[call-overload]
