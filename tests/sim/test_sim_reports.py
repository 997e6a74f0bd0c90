"""The simulator's public daily reports: formats by era, timing, rewrite, consistency with its world."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections import Counter
from decimal import Decimal
from pathlib import Path

import fsspec
import pytest

from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.model import ET
from kalshi_lake.sim.reports import (
    OTHER_SERIES,
    REWRITE_AFTER,
    market_rows,
    publish_reports,
    published_at,
    report_file_rows,
    report_key,
    trade_rows,
)
from kalshi_lake.sim.world import SERIES, World

CHI = [s for s in SERIES if s.series_ticker == "KXHIGHCHI"]
TWO = [s for s in SERIES if s.series_ticker in ("KXHIGHCHI", "KXLOWTNYC")]
DAY = dt.date(2026, 8, 3)


@pytest.fixture(scope="module")
def world() -> World:
    return World(FIXTURE_SEED, FIXTURE_NOW, 60)


def _read(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    out = json.loads(data)
    assert isinstance(out, list)
    return out


def _ny_day(created: str) -> dt.date:
    t = dt.datetime.fromisoformat(created.replace("Z", "+00:00"))
    return t.astimezone(ET).date()


def test_trade_rows_are_the_worlds_trades_of_the_new_york_day(world: World) -> None:
    rows = trade_rows(world, DAY, CHI)
    got = Counter(
        (r["ticker_name"], r["create_ts"], r["contracts_traded"], r["price"]) for r in rows
    )
    want: Counter[tuple[object, ...]] = Counter()
    for d in (DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1)):
        ev = world.event("chicago", d)
        assert ev is not None
        for m in ev.markets:
            for t in world.trades(m.ticker):
                if _ny_day(t["created_time"]) != DAY:
                    continue
                when = dt.datetime.fromisoformat(t["created_time"].replace("Z", "+00:00"))
                stamp = when.replace(microsecond=0).astimezone(ET).isoformat(sep=" ")
                cc = int(Decimal(t["count_fp"]) * 100)
                px = int(Decimal(t["yes_price_dollars"]) * 100)
                want[(m.ticker, stamp, cc, px)] += 1
    assert got == want
    assert sum(want.values()) > 100
    # Trades of the climate days on either side print on this New York day too.
    assert len({str(r["ticker_name"]).split("-")[1] for r in rows}) >= 2
    assert all(r["date"] == DAY.isoformat() and r["report_ticker"] == "KXHIGHCHI" for r in rows)


def test_market_rows_agree_with_the_trades_and_the_worlds_open_interest(world: World) -> None:
    trades = trade_rows(world, DAY, CHI)
    end = dt.datetime(2026, 8, 4, tzinfo=ET)
    at_end = World(FIXTURE_SEED, end - dt.timedelta(microseconds=1), 60)
    rows = market_rows(world, DAY, CHI)
    assert rows
    for r in rows:
        mine = [t for t in trades if t["ticker_name"] == r["ticker_name"]]
        assert r["daily_volume"] == sum(int(t["contracts_traded"]) for t in mine)
        prices = [int(t["price"]) for t in mine]
        assert (r["high"], r["low"]) == ((max(prices), min(prices)) if prices else (0, 0))
        m = at_end.market(str(r["ticker_name"]))
        assert m is not None
        assert r["open_interest"] == at_end.summary(m).oi_cc
        assert r["status"] == ("finalized" if m.settlement_us < at_end.now_us else "active")
    # Every market that traded has its row.
    assert {t["ticker_name"] for t in trades} <= {r["ticker_name"] for r in rows}


def test_files_by_era_plain_json_then_gzip_integers_then_strings(
    world: World, tmp_path: Path
) -> None:
    fs = fsspec.filesystem("file")
    days = [dt.date(2025, 12, 31), dt.date(2026, 7, 29), dt.date(2026, 7, 30)]
    for d in days:
        publish_reports(fs, str(tmp_path), world, d, d, series=CHI)
    assert report_key("trade_data", days[1]) == "reporting/trade_data_2026-07-29.json"
    assert report_key("market_data", days[2]) == "reporting/market_data_2026-07-30.json.gz"
    old = _read(tmp_path / report_key("trade_data", days[0]))
    assert old and all(isinstance(r["price"], int) for r in old)
    assert all(isinstance(r["contracts_traded"], int) for r in old)
    assert list(old[0]) == [
        "ticker_name", "report_ticker", "date", "create_ts", "contracts_traded", "price",
    ]  # fmt: skip
    for d in days[1:]:
        new = _read(tmp_path / report_key("trade_data", d))
        assert new and all(isinstance(r["price"], str) for r in new)
        markets = _read(tmp_path / report_key("market_data", d))
        assert list(markets[0]) == [
            "date", "ticker_name", "report_ticker", "payout_type", "open_interest",
            "daily_volume", "block_volume", "high", "low", "status",
        ]  # fmt: skip
        assert all(isinstance(r["open_interest"], str) for r in markets)
    # 2026 files carry fractional counts as decimal strings.
    fractional = [r for r in _read(tmp_path / report_key("trade_data", days[2])) if "." in str(r["contracts_traded"])]  # fmt: skip
    assert fractional


def test_other_series_are_mixed_in(world: World) -> None:
    rows = report_file_rows(world, "trade_data", DAY, CHI)
    series = Counter(r["report_ticker"] for r in rows)
    assert series["KXHIGHCHI"] > 0
    assert {s for s, *_ in OTHER_SERIES} <= set(series)
    assert [r["create_ts"] for r in rows] == sorted(r["create_ts"] for r in rows)


def test_a_day_is_published_the_next_morning(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    at = published_at(FIXTURE_SEED, DAY)
    assert (
        dt.datetime(2026, 8, 4, 6, tzinfo=dt.UTC) <= at < dt.datetime(2026, 8, 4, 8, tzinfo=dt.UTC)
    )
    before = World(FIXTURE_SEED, at - dt.timedelta(seconds=1), 60)
    assert publish_reports(fs, str(tmp_path), before, DAY, DAY, series=CHI) == []
    assert not (tmp_path / report_key("trade_data", DAY)).exists()
    after = World(FIXTURE_SEED, at, 60)
    written = publish_reports(fs, str(tmp_path), after, DAY, DAY, series=CHI)
    assert [(f.kind, f.day) for f in written] == [("market_data", DAY), ("trade_data", DAY)]


def test_the_rewritten_day_first_lacks_its_last_trade_then_is_complete(tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    at = published_at(FIXTURE_SEED, DAY)
    path = tmp_path / report_key("trade_data", DAY)
    early = World(FIXTURE_SEED, at + dt.timedelta(hours=1), 60)
    files = publish_reports(fs, str(tmp_path), early, DAY, DAY, series=TWO, rewrite_day=DAY)
    assert [f.first_version for f in files] == [False, True]
    first = _read(path)
    late = World(FIXTURE_SEED, at + REWRITE_AFTER, 60)
    files = publish_reports(fs, str(tmp_path), late, DAY, DAY, series=TWO, rewrite_day=DAY)
    assert [f.first_version for f in files] == [False, False]
    final = _read(path)
    ours = {"KXHIGHCHI", "KXLOWTNYC"}
    missing = Counter(json.dumps(r) for r in final) - Counter(json.dumps(r) for r in first)
    assert len(missing) == 1
    (row,) = [json.loads(k) for k in missing]
    assert row["report_ticker"] in ours
    assert row["create_ts"] == max(str(r["create_ts"]) for r in final if r["report_ticker"] in ours)


def test_the_same_world_writes_the_same_bytes(world: World, tmp_path: Path) -> None:
    fs = fsspec.filesystem("file")
    publish_reports(fs, str(tmp_path / "a"), world, DAY, DAY, series=CHI)
    publish_reports(fs, str(tmp_path / "b"), world, DAY, DAY, series=CHI)
    for kind in ("market_data", "trade_data"):
        key = report_key(kind, DAY)
        assert (tmp_path / "a" / key).read_bytes() == (tmp_path / "b" / key).read_bytes()
