"""Curated markets: latest state per ticker, bracket bounds, settlement source, series, dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from transform_helpers import FETCHED, market, page, read_curated, write

from kalshi_lake import schemas
from kalshi_lake.config import Settings
from kalshi_lake.transform import markets, run_transform


@pytest.mark.parametrize(
    ("strike_type", "floor", "cap", "low", "high"),
    [
        ("between", "80", "81", 80, 81),  # B80.5: 80-81 inclusive
        ("less", None, "80", None, 79),  # T80 less: 79 or below
        ("greater", "87", None, 88, None),  # T87 greater: 88 or above
        ("less_or_equal", None, "80", None, 80),
        ("greater_or_equal", "87", None, 87, None),
        ("between", "-5", "-4", -5, -4),  # sub-zero highs (Minneapolis in January)
        ("less", None, "-3", None, -4),
        ("greater", "-3", None, -2, None),
        ("between", "79.5", "81.5", 80, 81),  # non-integer strikes keep whole-degree meaning
        ("less", None, "80.5", None, 80),
        ("greater", "86.5", None, 87, None),
        (None, None, "64", None, 63),  # old markets without strike_type: cap only -> less
        (None, "70", None, 71, None),  # floor only -> greater
        (None, "70", "71", 70, 71),  # both -> between
        ("custom", None, None, None, None),
        ("functional", "1", "2", None, None),
    ],
)
def test_bracket_bounds(
    strike_type: str | None, floor: str | None, cap: str | None, low: int | None, high: int | None
) -> None:
    df = pl.DataFrame(
        {"strike_type": [strike_type], "floor_strike": [floor], "cap_strike": [cap]},
        schema={"strike_type": pl.String, "floor_strike": pl.String, "cap_strike": pl.String},
    ).with_columns(pl.col("floor_strike", "cap_strike").cast(pl.Decimal(10, 4)))
    lo, hi = markets.bracket_bounds()
    assert df.select(lo, hi).row(0) == (low, high)


@pytest.mark.parametrize(
    ("rules", "source"),
    [
        ("If the highest temperature recorded in Central Park, New York for May 11, 2026 as "
         "reported by the National Weather Service's Climatological Report (Daily), is greater "
         "than 69°, then the market resolves to Yes.", "nws"),
        ("If the maximum temperature recorded at Chicago (CLIMDW) for Sep 15, 2026, is greater "
         "than 87° fahrenheit according to The Weather Company, then the market resolves to Yes.",
         "twc"),
        ("... per the NWS CLI report ...", "nws"),
        ("If Elon Musk visits Mars before 2099, then the market resolves to Yes.", None),
        ("", None),
        (None, None),
    ],
)  # fmt: skip
def test_settlement_source_from_rules(rules: str | None, source: str | None) -> None:
    df = pl.DataFrame({"rules_primary": [rules]}, schema={"rules_primary": pl.String})
    assert df.select(markets.settlement_source()).item() == source


def test_ticker_dates() -> None:
    df = pl.DataFrame({"t": ["KXHIGHCHI-25NOV20-B45.5", "HIGHNY-21AUG06", "KXELONMARS-99", "X"]})
    assert df.select(markets.ticker_date("t")).to_series().to_list() == [
        dt.date(2025, 11, 20),
        dt.date(2021, 8, 6),
        None,
        None,
    ]


def test_latest_state_wins_across_endpoints_tiers_and_months(
    lake_dir: Path, settings: Settings
) -> None:
    t = "KXHIGHCHI-26OCT05-B80.5"
    ev = "KXHIGHCHI-26OCT05"
    early = FETCHED - dt.timedelta(days=30)
    late = FETCHED + dt.timedelta(days=2)
    write(
        lake_dir,
        [
            # an event page while trading was open (older)
            page("event", {"event": {"event_ticker": ev, "series_ticker": "KXHIGHCHI",
                                     "markets": [market(t, status="active", result="", volume="5.00")]}},
                 date=dt.date(2026, 10, 5), fetched_at=early, event_ticker=ev),
            # a single-market page of the historical tier (newest)
            page("market", {"market": market(t, result="yes", volume="123.45")},
                 date=dt.date(2026, 10, 5), fetched_at=late, tier="historical", market_ticker=t),
            # a listing filed under its November fetch date, with an in-between state, plus a
            # market of September (the listing spans months)
            page("markets", {"markets": [market(t, result="no", volume="99.00"),
                                         market("KXHIGHCHI-26SEP30-T70", strike_type="less",
                                                floor=None, cap=70)],
                             "cursor": ""},
                 date=dt.date(2026, 11, 20), fetched_at=FETCHED, series_ticker="KXHIGHCHI"),
        ],
    )  # fmt: skip
    run_transform(settings)
    mk = read_curated(lake_dir, "markets")
    assert mk.select("month", "market_ticker").rows() == [
        ("2026-09", "KXHIGHCHI-26SEP30-T70"),
        ("2026-10", t),
    ]
    oct_ = mk.row(1, named=True)
    assert (oct_["result"], oct_["volume"], oct_["tier"]) == (
        "yes",
        Decimal("123.45"),
        "historical",
    )
    assert oct_["fetched_at"] == late
    assert (oct_["low_f"], oct_["high_f"]) == (80, 81)
    assert oct_["settlement_source"] == "nws"
    assert oct_["series_ticker"] == "KXHIGHCHI"  # from the event page of the same event
    assert oct_["date"] == dt.date(2026, 10, 5)
    sep = mk.row(0, named=True)
    assert sep["date"] == dt.date(2026, 9, 30)  # from the ticker: the listing's folder is Nov
    assert (sep["low_f"], sep["high_f"]) == (None, 69)
    assert sep["series_ticker"] == "KXHIGHCHI"  # from the listing request
    assert not (lake_dir / "curated" / "markets" / "city=chicago" / "month=2026-11").exists()


def test_series_falls_back_to_the_city(lake_dir: Path, settings: Settings) -> None:
    t = "KXHIGHTDAL-26OCT05-T90"
    write(lake_dir, [page("market", {"market": market(t, strike_type="greater", floor=90, cap=None)},
                          city="dallas")])  # fmt: skip
    run_transform(settings)
    row = read_curated(lake_dir, "markets").row(0, named=True)
    assert (row["series_ticker"], row["event_ticker"], row["low_f"]) == (
        "KXHIGHTDAL",
        "KXHIGHTDAL-26OCT05",
        91,
    )


def test_settlement_bounds_are_kept_as_sent_and_null_when_absent(
    lake_dir: Path, settings: Settings
) -> None:
    # OpenAPI 3.34 payloads carry settlement_bounds_type (any text: new values may come) and,
    # for floor markets, settlement_floor_dollars; older ones carry neither (nor do they need
    # liquidity_dollars or an event's available_on_brokers). Absence is no problem.
    ev = "KXHIGHCHI-26OCT05"
    floor = {**market(f"{ev}-B80.5"), "settlement_bounds_type": "floor",
             "settlement_floor_dollars": "0.1250"}  # fmt: skip
    default = {**market(f"{ev}-B82.5", floor=82, cap=83), "settlement_bounds_type": "default",
               "settlement_floor_dollars": None}  # fmt: skip
    novel = {**market(f"{ev}-B84.5", floor=84, cap=85), "settlement_bounds_type": "ceiling"}
    old = {**market(f"{ev}-B86.5", floor=86, cap=87), "liquidity_dollars": "0.0000"}
    event = {"event_ticker": ev, "series_ticker": "KXHIGHCHI", "markets": [floor, default, novel]}
    write(lake_dir, [page("event", {"event": event}, event_ticker=ev),
                     page("markets", {"markets": [old], "cursor": ""})])  # fmt: skip
    summary = run_transform(settings)
    assert summary.ok and not summary.problems
    mk = read_curated(lake_dir, "markets")
    got = mk.select("market_ticker", "settlement_bounds_type", "settlement_floor").rows()
    assert got == [
        (f"{ev}-B80.5", "floor", Decimal("0.125000")),
        (f"{ev}-B82.5", "default", None),
        (f"{ev}-B84.5", "ceiling", None),
        (f"{ev}-B86.5", None, None),
    ]
    assert mk.schema["settlement_floor"] == pl.Decimal(10, 6)
    assert schemas.MARKETS.names[-2:] == ["settlement_bounds_type", "settlement_floor"]


def test_the_latest_copy_decides_the_settlement_bounds(lake_dir: Path, settings: Settings) -> None:
    # The floor rises while the market trades; the copy fetched last wins, even when it is the
    # one without the fields (it says nothing about them: NULL, not the older copy's value).
    t, u = "KXHIGHCHI-26OCT05-B80.5", "KXHIGHCHI-26OCT05-B82.5"
    later = FETCHED + dt.timedelta(days=1)

    def floor(ticker: str, value: str) -> dict[str, object]:
        return {**market(ticker), "settlement_bounds_type": "floor",
                "settlement_floor_dollars": value}  # fmt: skip

    write(lake_dir, [page("markets", {"markets": [floor(t, "0.0000"), floor(u, "0.3000")],
                                      "cursor": ""})])  # fmt: skip
    write(lake_dir, [page("markets", {"markets": [floor(t, "0.2500"), market(u)], "cursor": ""},
                          fetched_at=later)])  # fmt: skip
    run_transform(settings)
    mk = read_curated(lake_dir, "markets")
    assert mk.select("market_ticker", "settlement_bounds_type", "settlement_floor").rows() == [
        (t, "floor", Decimal("0.250000")),
        (u, None, None),
    ]
