"""Every check fires on a lake seeded with exactly its defect and is silent on a clean lake;
``kalshi-lake validate`` exit codes and output."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from sql_lakefactory import MINUTE, NOW, LakeData, _api_trade, d6, decision_instants

from kalshi_lake.cli import cli
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.checks import CheckResult, run_checks

Defect = Callable[[LakeData], None]


def _settled_event(data: LakeData) -> str:
    return next(m["event_ticker"] for m in data.markets if m["status"] == "finalized")


def _traded_market(data: LakeData, settled: bool = True) -> dict[str, Any]:
    return next(
        m
        for m in data.markets
        if (m["status"] == "finalized") == settled and data.trades_of(m["market_ticker"])
    )


def _quiet_market(data: LakeData) -> dict[str, Any]:
    """A settled market without trades (the high tail of every fixture event)."""
    return next(
        m
        for m in data.markets
        if m["status"] == "finalized" and not data.trades_of(m["market_ticker"])
    )


def _api_candle(data: LakeData, with_volume: bool | None = None) -> dict[str, Any]:
    for c in data.candles_1m:
        if c["source"] != "api":
            continue
        if with_volume is None or bool(c["volume"]) == with_volume:
            return c
    raise AssertionError("no such candle")


def dup_trade_id(data: LakeData) -> None:
    m = _traded_market(data)
    t0, t1 = data.trades_of(m["market_ticker"])[:2]
    old = t1["trade_id"]
    t1["trade_id"] = t0["trade_id"]  # same id twice; volumes unchanged
    for r in data.raw_trades:
        if r["trade_id"] == old:
            r["trade_id"] = t0["trade_id"]


def trade_price_one(data: LakeData) -> None:
    t = data.trades[0]
    t["yes_price"], t["no_price"] = d6(1), d6(0)


def trade_no_price_off(data: LakeData) -> None:
    t = data.trades[0]
    t["no_price"] = t["no_price"] + Decimal("0.01")


def trade_before_open(data: LakeData) -> None:
    t = data.trades[0]
    t["traded_at"] = data.market(t["market_ticker"])["open_time"] - dt.timedelta(seconds=1)


def market_removed(data: LakeData) -> None:
    m = next(x for x in data.markets if x["result"] == "no" and data.trades_of(x["market_ticker"]))
    data.markets.remove(m)


def candle_bid_zero(data: LakeData) -> None:
    c = _api_candle(data)
    for k in ("open", "high", "low", "close"):
        c[f"yes_bid_{k}"] = d6(0)  # the API's "0.0000" empty bid stored as a price
    data.derive_5m()


def candle_high_below_low(data: LakeData) -> None:
    c = next(
        x for x in data.candles_1m if x["source"] == "trades" and x["price_low"] > Decimal("0.02")
    )
    c["price_high"] = c["price_low"] - Decimal("0.01")


def quote_crossed(data: LakeData) -> None:
    c = next(
        x for x in data.candles_1m if x["source"] == "api" and x["yes_ask_close"] < Decimal("0.95")
    )
    bid = c["yes_ask_close"] + Decimal("0.01")
    for k in ("open", "high", "low", "close"):
        c[f"yes_bid_{k}"] = bid
    data.derive_5m()


def seventh_market(data: LakeData) -> None:
    m = next(x for x in data.markets if x["status"] == "active" and x["city"] == "phoenix")
    extra = dict(
        m, market_ticker=m["event_ticker"] + "-B99.5", low_f=99, high_f=100, volume=Decimal(0)
    )
    data.markets.append(extra)


def two_winners(data: LakeData) -> None:
    m = next(x for x in data.event_markets(_settled_event(data)) if x["result"] == "no")
    m["result"], m["settlement_value"] = "yes", d6(1)


def settled_without_result(data: LakeData) -> None:
    data.event_markets(_settled_event(data))[0]["result"] = None


def drop_early_candles(data: LakeData) -> None:
    """The candle fetch of a settled, quiet market started after its decision instants."""
    m = _quiet_market(data)
    _label, at = decision_instants(m["city"], m["date"])[1]
    first = data.api_1m(m["market_ticker"])[0]
    data.candles_1m = [
        c
        for c in data.candles_1m
        if not (c["market_ticker"] == m["market_ticker"] and c["bucket_start"] + MINUTE <= at)
    ]
    data.candles_1m.append(dict(first, bucket_start=at + 120 * MINUTE))


def drop_api_candles_of_live_market(data: LakeData) -> None:
    # phoenix 11-22: listed at 15:00Z, traded since, no decision instant passed at NOW (17:00Z)
    m = next(
        x
        for x in data.markets
        if x["city"] == "phoenix"
        and x["date"] == dt.date(2026, 11, 22)
        and data.trades_of(x["market_ticker"])
    )
    data.candles_1m = [
        c
        for c in data.candles_1m
        if not (c["market_ticker"] == m["market_ticker"] and c["source"] == "api")
    ]


def trade_candle_volume_off(data: LakeData) -> None:
    data.derive_5m()
    assert data.candles_5m is not None
    c1 = next(c for c in data.candles_1m if c["source"] == "trades")
    c5 = next(
        c
        for c in data.candles_5m
        if c["source"] == "trades"
        and c["market_ticker"] == c1["market_ticker"]
        and c["bucket_start"] <= c1["bucket_start"] < c["bucket_start"] + 5 * MINUTE
    )
    c1["volume"] += 1
    c5["volume"] += 1


def api_candle_volume_off(data: LakeData) -> None:
    data.derive_5m()
    assert data.candles_5m is not None
    c1 = next(
        c
        for c in data.candles_1m
        if c["source"] == "api" and c["volume"] and c["city"] == "chicago"
    )
    c5 = next(
        c
        for c in data.candles_5m
        if c["source"] == "api"
        and c["market_ticker"] == c1["market_ticker"]
        and c["bucket_start"] <= c1["bucket_start"] < c["bucket_start"] + 5 * MINUTE
    )
    c1["volume"] += 1
    c5["volume"] += 1


def market_volume_off(data: LakeData) -> None:
    _traded_market(data)["volume"] += 1


def raw_trade_not_curated(data: LakeData) -> None:
    t = dict(data.trades[0], trade_id="ffffffff-lost", traded_at=data.trades[0]["traded_at"])
    data.raw_trades.append(_api_trade(t))  # fetched, but never reached curated trades


def trade_in_wrong_city_folder(data: LakeData) -> None:
    t = next(x for x in data.trades if x["city"] == "chicago")
    t["__city"] = "phoenix"


def market_twice(data: LakeData) -> None:
    m = next(x for x in data.markets if x["result"] == "no")
    data.markets.append(dict(m))


def candle_twice(data: LakeData) -> None:
    c = _api_candle(data, with_volume=False)
    data.derive_5m()
    data.candles_1m.append(dict(c))


def candle_off_the_minute(data: LakeData) -> None:
    data.derive_5m()
    c = next(
        x
        for x in data.candles_1m
        if x["source"] == "api" and not x["volume"] and x["bucket_start"].minute % 5 != 4
    )
    c["bucket_start"] += dt.timedelta(seconds=30)


def drop_a_5m_candle(data: LakeData) -> None:
    data.derive_5m()
    assert data.candles_5m is not None
    c5 = next(c for c in data.candles_5m if c["source"] == "api" and not c["volume"])
    data.candles_5m.remove(c5)


#: check -> (defect, other checks the same defect legitimately trips)
def day_listed_not_fetched(data: LakeData) -> None:
    """A day inside phoenix's fetched span whose markets came from a listing only: no trades or
    candle pages were fetched for it."""
    day = ("phoenix", dt.date(2026, 11, 1))
    data.unfetched.add(day)
    data.raw_trades = [t for t in data.raw_trades if (t["city"], t["date"]) != day]


DEFECTS: dict[str, tuple[Defect, set[str]]] = {
    "trade_duplicate_id": (dup_trade_id, set()),
    "trade_price_out_of_range": (trade_price_one, set()),
    "trade_yes_no_sum": (trade_no_price_off, set()),
    "trade_outside_market_window": (trade_before_open, set()),
    "trade_orphan_market": (market_removed, {"event_market_count"}),
    "candle_price_out_of_range": (candle_bid_zero, set()),
    "candle_ohlc_inconsistent": (candle_high_below_low, set()),
    "api_quote_crossed": (quote_crossed, set()),
    "event_market_count": (seventh_market, set()),
    "settled_event_settlement_sum": (two_winners, set()),
    "settled_market_without_result": (settled_without_result, set()),
    "api_candle_coverage_at_decision": (drop_early_candles, set()),
    "market_trades_without_api_candles": (drop_api_candles_of_live_market, set()),
    "trade_candle_volume_mismatch": (trade_candle_volume_off, set()),
    "api_candle_volume_mismatch": (api_candle_volume_off, set()),
    "market_volume_mismatch": (market_volume_off, set()),
    "raw_trade_missing_from_curated": (raw_trade_not_curated, set()),
    "partition_key_mismatch": (trade_in_wrong_city_folder, set()),
    "market_duplicate_ticker": (market_twice, {"event_market_count"}),
    "candle_duplicate_key": (candle_twice, set()),
    "candle_bucket_misaligned": (candle_off_the_minute, set()),
    "candles_5m_rollup_mismatch": (drop_a_5m_candle, set()),
    "market_day_not_fetched": (day_listed_not_fetched, set()),
}


def failing(results: list[CheckResult]) -> set[str]:
    return {r.name for r in results if not r.passed}


#: Checks of the live recorder's records, tested on a follower's history (test_sql_live_checks).
LIVE_CHECKS = {"live_gap_unrepaired", "live_heartbeat_stale"}
#: Checks of the order book tables, tested on lakes with books (test_book_checks).
BOOK_CHECKS = {
    "book_candle_mismatch",
    "book_crossed",
    "book_negative_level",
    "book_replay_mismatch",
}

#: Checks against Kalshi's daily reports, tested on a simulator lake (tests/reconcile).
RECONCILE_CHECKS = {"reconcile_trade_missing_from_lake", "reconcile_market_day_differs"}


def test_every_check_has_a_defect_test_and_a_level() -> None:
    names = {c.name for c in sqlfiles.load("checks")}
    assert names == set(DEFECTS) | LIVE_CHECKS | BOOK_CHECKS | RECONCILE_CHECKS
    for c in sqlfiles.load("checks"):
        assert c.level in ("error", "warn"), c.path
        assert c.description, c.path
        assert c.path.stem == c.name


def test_clean_lake_passes_every_check(clean_lake: Lake) -> None:
    results = run_checks(clean_lake, as_of=NOW)
    assert {r.name: (r.status, r.error) for r in results if not r.passed} == {}
    assert len(results) == len(DEFECTS) + len(LIVE_CHECKS) + len(BOOK_CHECKS) + len(
        RECONCILE_CHECKS
    )


@pytest.mark.slow
@pytest.mark.parametrize("check", sorted(DEFECTS))
def test_check_fires_on_exactly_its_defect(
    check: str, clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    defect, also = DEFECTS[check]
    defect(clean_data)
    lake = write_lake(clean_data)
    results = {r.name: r for r in run_checks(lake, as_of=NOW)}
    assert results[check].error is None, results[check].error
    assert results[check].offending >= 1
    assert results[check].sample
    assert failing(list(results.values())) == {check} | also


def test_coverage_ignores_instants_after_as_of(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    drop_early_candles(clean_data)
    lake = write_lake(clean_data)
    m = _quiet_market(clean_data)
    first_instant = decision_instants(m["city"], m["date"])[0][1]
    early = run_checks(
        lake,
        as_of=first_instant - dt.timedelta(seconds=1),
        only=["api_candle_coverage_at_decision"],
    )
    assert early[0].passed
    late = run_checks(lake, as_of=NOW, only=["api_candle_coverage_at_decision"])
    assert late[0].offending == 2  # both instants of that market


def test_scope_by_city_and_dates(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    two_winners(clean_data)  # on a chicago March event
    lake = write_lake(clean_data)
    name = "settled_event_settlement_sum"
    assert not run_checks(lake, city="chicago", only=[name])[0].passed
    assert run_checks(lake, city="phoenix", only=[name])[0].passed
    assert run_checks(lake, city="chicago", start=dt.date(2026, 10, 1), only=[name])[0].passed
    assert not run_checks(lake, start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), only=[name])[
        0
    ].passed


def test_validate_cli_exit_codes_and_table(
    clean_lake: Lake, clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["--lake", clean_lake.root, "validate", "--as-of", NOW.isoformat()])
    assert ok.exit_code == 0, ok.output
    assert "trade_duplicate_id" in ok.output and "FAIL" not in ok.output

    two_winners(clean_data)
    market_volume_off(clean_data)  # a warn-level finding too
    bad_lake = write_lake(clean_data)
    bad = runner.invoke(cli, ["--lake", bad_lake.root, "validate", "--as-of", NOW.isoformat()])
    assert bad.exit_code == 1
    assert "FAIL" in bad.output and "settled_event_settlement_sum" in bad.output
    assert "error: 1 error-level check(s) failed: settled_event_settlement_sum" in bad.output

    # the scope narrows the lake: phoenix has no defect
    phoenix = runner.invoke(
        cli, ["--lake", bad_lake.root, "validate", "--city", "phx", "--as-of", NOW.isoformat()]
    )
    assert phoenix.exit_code == 0, phoenix.output


def test_validate_cli_json(clean_data: LakeData, write_lake: Callable[[LakeData], Lake]) -> None:
    market_volume_off(clean_data)
    lake = write_lake(clean_data)
    res = CliRunner().invoke(
        cli, ["--lake", lake.root, "validate", "--json", "--as-of", NOW.isoformat()]
    )
    assert res.exit_code == 0, res.output  # a warn-level finding only
    report = json.loads(res.output)
    assert report["passed"] is True and report["errors"] == 0 and report["warnings"] == 1
    by_name = {c["name"]: c for c in report["checks"]}
    mv = by_name["market_volume_mismatch"]
    assert (mv["level"], mv["status"], mv["offending"]) == ("warn", "warn", 1)
    assert isinstance(mv["sample"][0]["market_volume"], str)  # exact decimal as text


def test_validate_cli_usage_errors(clean_lake: Lake) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["--lake", clean_lake.root, "validate", "--city", "atlantis"])
    assert res.exit_code == 2 and "unknown city 'atlantis'" in res.output
    res = runner.invoke(
        cli, ["--lake", clean_lake.root, "validate", "--start", "2026-03-05", "--end", "2026-03-01"]
    )
    assert res.exit_code == 2 and "is after" in res.output
    res = runner.invoke(cli, ["--lake", clean_lake.root, "validate", "--start", "yesterday"])
    assert res.exit_code == 2


def test_a_check_that_cannot_run_fails_validation(
    clean_lake: Lake, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queries = tmp_path / "queries"
    src = sqlfiles.queries_dir()
    for kind in ("views", "backtest"):
        (queries / kind).mkdir(parents=True)
        for f in (src / kind).glob("*.sql"):
            (queries / kind / f.name).write_text(f.read_text())
    (queries / "checks").mkdir()
    (queries / "checks" / "broken.sql").write_text(
        "-- check: broken\n-- level: error\n-- Invariant: none; refers to a missing table.\nSELECT * FROM nowhere;\n"
    )
    monkeypatch.setenv("KALSHI_QUERIES_DIR", str(queries))
    res = CliRunner().invoke(cli, ["--lake", clean_lake.root, "validate"])
    assert res.exit_code == 1
    assert "ERROR" in res.output and "nowhere" in res.output
