"""Malformed answers are reported (file and page) and end the transform with exit 3; they never
become NULLs, strings or silently dropped rows. Legitimate variations stay accepted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from transform_helpers import market, page, read_curated, trade, trades_page, write

from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.transform import (
    TransformCorruptError,
    TransformSchemaError,
    run_transform,
    trades,
)

EV = "KXHIGHCHI-26OCT05"
TK = f"{EV}-B80.5"


def _rel(lake_dir: Path, path: str) -> str:
    return path.replace(str(lake_dir) + "/", "")


def _t(i: int, **kw: Any) -> dict[str, Any]:
    return trade(f"id-{i:02d}", TK, f"2026-10-04T15:{i:02d}:00Z", **kw)


# --- pages are named by their row in the file and their number in their walk ------------------


def test_pages_of_several_walks_in_one_file_are_reported_apart(
    lake_dir: Path, settings: Settings
) -> None:
    # One file holds the first page of three walks (three markets' trades): page_number is 0
    # for each. Before the fix both bad pages were merged into one "page 0 (2 items)" problem.
    no_id = {k: v for k, v in _t(1).items() if k != "trade_id"}
    other = [f"{EV}-B82.5", f"{EV}-B84.5"]
    pages = [
        trades_page([_t(0)]),
        trades_page([{**no_id, "ticker": other[0]}], params={"ticker": other[0]}),
        trades_page([{**no_id, "ticker": other[1]}], params={"ticker": other[1]}),
    ]
    [path] = write(lake_dir, pages)
    rel = _rel(lake_dir, path)
    with pytest.raises(TransformSchemaError) as err:
        run_transform(settings)
    problems = err.value.summary.problems
    assert [(p.page, p.items) for p in problems] == [(0, 1), (0, 1)]  # not one "page 0 (2 items)"
    assert sorted((p.path, p.row, p.page, p.items) for p in problems) == [
        (rel, 1, 0, 1),
        (rel, 2, 0, 1),
    ]
    text = err.value.summary.render()
    assert f"{rel} row 1 (page 0 of its walk): a trade has no trade_id" in text
    assert f"{rel} row 2 (page 0 of its walk): a trade has no trade_id" in text


def test_a_later_page_of_a_walk_is_named_by_its_walk_page_and_row(
    lake_dir: Path, settings: Settings
) -> None:
    # Rows and walk pages differ: the file holds another walk's page first.
    no_id = {k: v for k, v in _t(3).items() if k != "trade_id"}
    other = f"{EV}-B82.5"
    pages = [
        trades_page([trade("x-0", other, "2026-10-04T15:00:00Z")], params={"ticker": other}),
        trades_page([_t(0), _t(1)], page_number=0),
        trades_page([_t(2), no_id], page_number=1),
    ]
    [path] = write(lake_dir, pages)
    with pytest.raises(TransformSchemaError) as err:
        run_transform(settings)
    [p] = err.value.summary.problems
    assert (p.path, p.row, p.page) == (_rel(lake_dir, path), 2, 1)
    assert str(p).startswith(f"{_rel(lake_dir, path)} row 2 (page 1 of its walk): ")


# --- markets and events of the wrong shape ------------------------------------------------------


def _markets_lake(lake_dir: Path, bad: dict[str, Any], *, endpoint: str = "markets") -> str:
    """A markets page (walk page 1, file row 1) with two good markets and ``bad``."""
    good = [market(f"{EV}-B80.5"), market(f"{EV}-B82.5", floor=82, cap=83)]
    first = page(endpoint, {"cursor": "c", "markets": [market(f"{EV}-B78.5", floor=78, cap=79)]})
    second = page(endpoint, {"cursor": "", "markets": [*good, bad]}, page_number=1)
    [path] = write(lake_dir, [first, second])
    return _rel(lake_dir, path)


BAD = f"{EV}-T86"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"floor_strike": "abc"}, 'a market\'s floor_strike is "abc", not a number'),
        ({"cap_strike": {"value": 86}}, 'a market\'s cap_strike is {"value":86}, not a number'),
        ({"floor_strike": True}, "a market's floor_strike is true, not a number"),
        ({"volume_fp": "12x"}, 'a market\'s volume_fp is "12x", not a number'),
        ({"volume": "12x"}, 'a market\'s volume is "12x", not a number'),
        ({"open_interest_fp": [1]}, "a market's open_interest_fp is [1], not a number"),
        ({"status": 7}, "a market's status is 7, not a string"),
        ({"result": {"value": "no"}}, 'a market\'s result is {"value":"no"}, not a string'),
        ({"event_ticker": 5}, "a market's event_ticker is 5, not a string"),
        ({"strike_type": ["greater"]}, 'a market\'s strike_type is ["greater"], not a string'),
        ({"yes_sub_title": {"a": 1}}, 'a market\'s yes_sub_title is {"a":1}, not a string'),
        ({"ticker": 7}, "a market's ticker is 7, not a string"),
        ({"close_time": "soon"}, 'a market\'s close_time is "soon", not a time'),
        ({"open_time": 1759586400}, "a market's open_time is 1759586400, not a string"),
        ({"expiration_value": "hot"}, 'a market\'s expiration_value is "hot", not a number'),
        (
            {"settlement_value_dollars": "one"},
            'a market\'s settlement_value_dollars is "one", not a price',
        ),
        (
            {"settlement_value": {"c": 100}},
            'a market\'s settlement_value is {"c":100}, not a price',
        ),
        ({"settlement_bounds_type": 1}, "a market's settlement_bounds_type is 1, not a string"),
        (
            {"settlement_floor_dollars": 0.25},
            "a market's settlement_floor_dollars is 0.25, not a string",
        ),
        (
            {"settlement_floor_dollars": "a quarter"},
            'a market\'s settlement_floor_dollars is "a quarter", not a price',
        ),
        (
            {"settlement_floor_dollars": "123456.00"},
            'a market\'s settlement_floor_dollars is "123456.00", not a price',
        ),
    ],
)
def test_a_market_field_of_the_wrong_type_is_reported_not_nulled(
    lake_dir: Path, settings: Settings, change: dict[str, Any], message: str
) -> None:
    bad = {**market(BAD, strike_type="greater", floor=85, cap=None), **change}
    rel = _markets_lake(lake_dir, bad)
    with pytest.raises(TransformSchemaError) as err:
        run_transform(settings)
    assert err.value.exit_code == 3
    [p] = err.value.summary.problems
    assert (p.path, p.row, p.page, p.message) == (rel, 1, 1, message)
    # The other markets, on this page and the one before, are all there; the bad one is not
    # there in any shape (no NULL strike, no "7" status).
    got = read_curated(lake_dir, "markets")
    assert sorted(got["market_ticker"]) == [f"{EV}-B78.5", f"{EV}-B80.5", f"{EV}-B82.5"]
    assert got["floor_strike"].null_count() == 0 and got["volume"].null_count() == 0


def test_legitimate_variations_are_accepted(lake_dir: Path, settings: Settings) -> None:
    variants = [
        market(f"{EV}-T79", strike_type="less", floor=None, cap=79),  # a bottom tail: no floor
        {**market(f"{EV}-T86", strike_type="greater", floor=85, cap=None), "cap_strike": None},
        {**market(f"{EV}-B80.5"), "floor_strike": "80", "cap_strike": "81.0"},  # strings
        {**market(f"{EV}-B82.5", floor=82.0, cap=83), "volume_fp": None, "volume": 35001},
        {**market(f"{EV}-B84.5", floor=84, cap=85), "expiration_value": "", "result": ""},
        {**market(f"{EV}-B76.5", floor=76, cap=77), "settlement_value": 100, "status": ""},
        {**market(f"{EV}-B74.5", floor=74, cap=75), "settlement_ts": None, "strike_type": None},
        {
            **market(f"{EV}-B72.5", floor=72, cap=73),
            "open_interest_fp": "1e2",
            "expiration_value": 79,
        },
    ]
    write(lake_dir, [page("markets", {"cursor": "", "markets": variants})])
    summary = run_transform(settings)
    assert summary.ok, summary.problems
    got = read_curated(lake_dir, "markets")
    assert got.height == len(variants)
    row = got.filter(got["market_ticker"] == f"{EV}-B80.5").row(0, named=True)
    assert str(row["floor_strike"]) == "80.0000" and str(row["cap_strike"]) == "81.0000"
    row = got.filter(got["market_ticker"] == f"{EV}-B82.5").row(0, named=True)
    assert str(row["volume"]) == "35001.00"
    row = got.filter(got["market_ticker"] == f"{EV}-B72.5").row(0, named=True)
    assert str(row["expiration_value"]) == "79.0000" and str(row["open_interest"]) == "100.00"
    row = got.filter(got["market_ticker"] == f"{EV}-T79").row(0, named=True)
    assert row["floor_strike"] is None and row["high_f"] == 78


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"series_ticker": "KXHIGHCHI"}, "an event has no event_ticker"),
        ({"event_ticker": 12, "series_ticker": "KXHIGHCHI"}, "an event's event_ticker is 12, not a string"),
        ({"event_ticker": "KXHIGHCHI-26OCT04", "series_ticker": {"s": 1}},
         "an event's series_ticker is {\"s\":1}, not a string"),
    ],
)  # fmt: skip
def test_an_event_without_a_usable_ticker_is_reported(
    lake_dir: Path, settings: Settings, event: dict[str, Any], message: str
) -> None:
    good = {"event_ticker": EV, "series_ticker": "KXHIGHCHI"}
    first = page("events", {"cursor": "c", "events": [good]}, date=dt.date(2026, 10, 5))
    second = page("events", {"cursor": "", "events": [good, event]}, page_number=1)
    mk = page("markets", {"cursor": "", "markets": [market(TK)]})
    [path, _] = sorted(write(lake_dir, [first, second, mk]))
    with pytest.raises(TransformSchemaError) as err:
        run_transform(settings)
    [p] = err.value.summary.problems
    assert (p.path, p.row, p.page, p.message) == (_rel(lake_dir, path), 1, 1, message)
    assert read_curated(lake_dir, "markets")["market_ticker"].to_list() == [TK]


def test_an_event_page_without_an_event_ticker_is_reported(
    lake_dir: Path, settings: Settings
) -> None:
    body = {"event": {"series_ticker": "KXHIGHCHI"}, "markets": [market(TK)]}
    [path] = write(lake_dir, [page("event", body, event_ticker=EV)])
    with pytest.raises(TransformSchemaError) as err:
        run_transform(settings)
    [p] = err.value.summary.problems
    assert (p.path, p.row, p.page, p.message) == (
        _rel(lake_dir, path),
        0,
        0,
        "an event has no event_ticker",
    )
    # The market stands on its own ticker and event ticker.
    assert read_curated(lake_dir, "markets")["market_ticker"].to_list() == [TK]


# --- one trade_id, two contents ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"yes": "0.5700"}, "yes price, no price"),
        ({"count": "11.00"}, "count"),
        ({"side": "no"}, "taker side"),
        ({"created": "2026-10-04T15:09:00Z"}, "created_time"),
    ],
    ids=["price", "count", "side", "time"],
)
def test_a_trade_id_with_two_contents_is_reported(
    lake_dir: Path, settings: Settings, change: dict[str, str], fields: str
) -> None:
    created = change.pop("created", "2026-10-04T15:01:00Z")
    twin = trade("id-01", TK, created, **change)
    later = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    [first] = write(lake_dir, [trades_page([_t(0), _t(1)]), trades_page([_t(2)], page_number=1)])
    [second] = write(
        lake_dir,
        [trades_page([trade("x", f"{EV}-B82.5", created)], fetched_at=later),
         trades_page([_t(3), twin], fetched_at=later, page_number=3)],
    )  # fmt: skip
    with pytest.raises(TransformCorruptError) as err:
        run_transform(settings)
    assert err.value.exit_code == 3
    [p] = err.value.summary.problems
    assert (p.kind, p.path, p.row, p.page) == ("conflict", _rel(lake_dir, second), 1, 3)
    assert p.message == (
        f"trade id-01 came twice with different contents ({fields}); the other copy is in "
        f"{_rel(lake_dir, first)} row 0 (page 0 of its walk)"
    )
    # Every trade is there once (the copy fetched last, as for any duplicate).
    ids = read_curated(lake_dir, "trades")["trade_id"].to_list()
    assert sorted(ids) == ["id-00", "id-01", "id-02", "id-03", "x"]


def test_identical_copies_are_deduplicated_silently(lake_dir: Path, settings: Settings) -> None:
    # The same trades from an overlapping live and historical walk, and a resumed walk: tier,
    # fetch time, page and file differ, the trade does not.
    later = dt.datetime(2026, 11, 21, tzinfo=dt.UTC)
    write(lake_dir, [trades_page([_t(0), _t(1)]), trades_page([_t(1), _t(2)], page_number=1)])
    write(lake_dir, [trades_page([_t(2), _t(0)], fetched_at=later, tier="historical")])
    summary = run_transform(settings)
    assert summary.ok and summary.duplicates == 3
    assert read_curated(lake_dir, "trades")["trade_id"].to_list() == ["id-00", "id-01", "id-02"]


def test_cli_exits_3_naming_the_page_of_a_bad_market(lake_dir: Path) -> None:
    rel = _markets_lake(lake_dir, {**market(BAD, strike_type="greater", floor=85, cap=None),
                                   "status": 7})  # fmt: skip
    result = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert result.exit_code == 3, result.output
    assert f"{rel} row 1 (page 1 of its walk): a market's status is 7, not a string" in (
        result.output
    )
    assert "Traceback" not in result.output


def test_a_field_one_copy_lacks_agrees_with_any_value() -> None:
    # An older payload (or the other tier) without no_price / is_block_trade is the same trade.
    base = {"part": 0, "trade_id": "t", "market_ticker": TK, "city": "chicago",
            "date": dt.date(2026, 10, 5), "traded_at": dt.datetime(2026, 10, 4, tzinfo=dt.UTC),
            "yes_u": 560_000, "no_u": 440_000, "count_c": 1000, "taker_side": "yes",
            "is_block_trade": False, "tier": "live", "page_event_ticker": EV,
            "fetched_at": dt.datetime(2026, 11, 20, tzinfo=dt.UTC), "fid": 0, "row": 0,
            "page_number": 0, "idx": 0}  # fmt: skip
    older = {**base, "no_u": None, "is_block_trade": None, "taker_side": None, "fid": 1}
    other = {**base, "yes_u": 570_000, "fid": 2, "row": 4, "page_number": 2}
    seen: list[pl.DataFrame] = []
    rows = pl.DataFrame([base, older], infer_schema_length=None)
    assert trades.build_trades(rows, on_conflict=seen.append).height == 1 and not seen
    rows = pl.DataFrame([base, older, other], infer_schema_length=None)
    assert trades.build_trades(rows, on_conflict=seen.append).height == 1
    [bad] = seen
    assert bad.select("fid", "row", "page_number", "first_fid", "fields").rows() == [
        (2, 4, 2, 0, "yes price")
    ]
