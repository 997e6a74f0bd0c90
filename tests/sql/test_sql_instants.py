"""Decision instants you choose: ``instants := ['D-1 10:05', 'D 09:00']`` on decision_quotes_for
and event_ladder_for (parsed by the decision_instants macro), checked against a plain Python
computation on a lake with an Eastern-time city, whose markets open at exactly its D-1 10:00.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from sql_lakefactory import MINUTE, NOW, LakeData, build, c2, d6, decision_instants

import kalshi_lake
from kalshi_lake.cities import get_city
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql.checks import run_checks

UTC = dt.UTC
COVERAGE = "api_candle_coverage_at_decision"

#: New York around both DST changes of 2026 and on a plain day, Chicago beside it.
EVENTS: tuple[tuple[str, dt.date], ...] = (
    ("nyc", dt.date(2026, 3, 8)),  # DST starts on D: D-1 is EST, D is EDT
    ("nyc", dt.date(2026, 11, 1)),  # DST ends on D: D-1 is EDT, D is EST
    ("nyc", dt.date(2026, 11, 10)),
    ("chicago", dt.date(2026, 3, 8)),
    ("chicago", dt.date(2026, 11, 10)),
)
COMPARED = [
    "market_ticker",
    "city",
    "date",
    "decision_label",
    "decision_at",
    "yes_bid",
    "yes_ask",
    "mid",
    "quote_at",
    "last_trade_price",
    "last_trade_at",
]
_DATA = build(events=EVENTS)


@pytest.fixture
def data() -> LakeData:
    """A fresh copy of the two-city fixture rows (mutate freely)."""
    return copy.deepcopy(_DATA)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The two-city fixture lake, written once (read-only for tests)."""
    return copy.deepcopy(_DATA).write(tmp_path_factory.mktemp("instants") / "lake")


def rows(lake: Lake, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    """Query result as dicts."""
    con = kalshi_lake.connect(lake)
    try:
        cur = con.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def local_instant(city: str, date: dt.date, offset: int, at: dt.time) -> dt.datetime:
    """The UTC instant of local time ``at`` on ``date + offset`` in the city's zone, by zoneinfo."""
    return dt.datetime.combine(
        date + dt.timedelta(days=offset), at, get_city(city).zone
    ).astimezone(UTC)


def expected(data: LakeData, instants: dict[str, tuple[int, dt.time]]) -> list[dict[str, Any]]:
    """The as-of quotes at ``instants`` (label -> (day offset, local time)), computed plainly."""
    out = []
    for m in data.markets:
        candles = data.api_1m(m["market_ticker"])
        trades = sorted(
            data.trades_of(m["market_ticker"]), key=lambda t: (t["traded_at"], t["trade_id"])
        )
        for label, (offset, clock) in instants.items():
            at = local_instant(m["city"], m["date"], offset, clock)
            q = [c for c in candles if c["bucket_start"] + MINUTE <= at]
            t = [x for x in trades if x["traded_at"] <= at]
            bid = q[-1]["yes_bid_close"] if q else None
            ask = q[-1]["yes_ask_close"] if q else None
            out.append(
                {
                    "market_ticker": m["market_ticker"],
                    "city": m["city"],
                    "date": m["date"],
                    "decision_label": label,
                    "decision_at": at,
                    "yes_bid": bid,
                    "yes_ask": ask,
                    "mid": (bid + ask) / 2 if bid is not None and ask is not None else None,
                    "quote_at": q[-1]["bucket_start"] + MINUTE if q else None,
                    "last_trade_price": t[-1]["yes_price"] if t else None,
                    "last_trade_at": t[-1]["traded_at"] if t else None,
                }
            )
    return sorted(out, key=lambda r: (r["market_ticker"], r["decision_at"]))


def chosen(lake: Lake, instants: list[str], city: str | None = None) -> list[dict[str, Any]]:
    """decision_quotes_for at ``instants`` (passed as a query parameter), compared columns only."""
    got = rows(
        lake,
        "SELECT * FROM decision_quotes_for(city := ?, instants := ?) "
        "ORDER BY market_ticker, decision_at",
        [city, instants],
    )
    return [{k: r[k] for k in COMPARED} for r in got]


# --- defaults ---------------------------------------------------------------------------------


def test_default_instants_give_the_rows_of_the_default_views(lake: Lake) -> None:
    order = " ORDER BY market_ticker, decision_at"
    default = rows(lake, "SELECT * FROM decision_quotes" + order)
    assert len(default) == 2 * len(_DATA.markets)
    for given in ("['D-1 10:00', 'D 10:00']", "['D 10:00', 'D-1 10:00', 'D 10:00']", "NULL"):
        assert rows(lake, f"SELECT * FROM decision_quotes_for(instants := {given})" + order) == (
            default
        )
    ladder = rows(lake, "SELECT * FROM event_ladder")
    assert rows(lake, "SELECT * FROM event_ladder_for(instants := ['D-1 10:00', 'D 10:00'])") == (
        ladder
    )
    assert rows(lake, "SELECT * FROM decision_instants() ORDER BY day_offset") == [
        {"decision_label": "D-1 10:00", "day_offset": -1, "local_time": dt.time(10)},
        {"decision_label": "D 10:00", "day_offset": 0, "local_time": dt.time(10)},
    ]


# --- the Eastern-time open ----------------------------------------------------------------------


def test_an_eastern_city_is_empty_at_d_minus_1_1000_and_quoted_at_1005(lake: Lake) -> None:
    # New York's D-1 10:00 is the listing instant (10:00 ET): no candle has ended yet
    default = rows(lake, "SELECT * FROM decision_quotes_for('nyc')")
    d_minus_1 = [r for r in default if r["decision_label"] == "D-1 10:00"]
    assert d_minus_1 and all(r["quote_at"] is None and r["mid"] is None for r in d_minus_1)
    # five minutes later every market has its listing quote
    later = chosen(lake, ["D-1 10:05"], city="nyc")
    assert len(later) == len(d_minus_1)
    assert all(r["quote_at"] is not None and r["decision_label"] == "D-1 10:05" for r in later)
    assert sum(r["mid"] is not None for r in later) > len(later) // 2


def test_chosen_instants_equal_python_reference(lake: Lake) -> None:
    instants = {
        "D-1 10:05": (-1, dt.time(10, 5)),
        "D 09:00": (0, dt.time(9)),
        "D 16:45:30": (0, dt.time(16, 45, 30)),
        "D+1 00:30": (1, dt.time(0, 30)),
    }
    # spelled loosely on purpose: the labels come back normalised
    got = chosen(lake, ["D-1 10:05", "D 9:00", " d 16:45:30 ", "D + 1 00:30"])
    assert got == expected(_DATA, instants)
    assert {r["city"] for r in got} == {"nyc", "chicago"}


def test_event_ladder_at_chosen_instants_uses_the_same_quotes(lake: Lake) -> None:
    dq = {
        (r["market_ticker"], r["decision_label"]): r for r in chosen(lake, ["D-1 10:05", "D 09:00"])
    }
    ladder = rows(
        lake,
        "SELECT * FROM event_ladder_for('nyc', DATE '2026-11-01', DATE '2026-11-10', "
        "instants := ['D-1 10:05', 'D 09:00'])",
    )
    assert len(ladder) == 2 * 2 * 6  # two events, two instants, six brackets
    for r in ladder:
        q = dq[(r["market_ticker"], r["decision_label"])]
        assert (r["decision_at"], r["mid"], r["quote_at"]) == (
            q["decision_at"],
            q["mid"],
            q["quote_at"],
        )
    assert all(r["n_quoted"] >= 1 for r in ladder if r["decision_label"] == "D-1 10:05")


# --- no look-ahead ------------------------------------------------------------------------------


def _after(data: LakeData, offset: int, clock: dt.time) -> None:
    """Add, for every market, candles and trades dated just after its (offset, clock) instant."""
    seq = 0
    for m in list(data.markets):
        at = local_instant(m["city"], m["date"], offset, clock)
        ref = {k: m[k] for k in ("market_ticker", "event_ticker", "date", "city")}
        # a candle whose minute ends one second after the instant, and one starting at it
        for start in (at - MINUTE + dt.timedelta(seconds=1), at):
            data.candles_1m.append(
                {
                    **ref,
                    "source": "api",
                    "bucket_start": start,
                    "period_minutes": 1,
                    **{f"yes_bid_{k}": d6("0.5") for k in ("open", "high", "low", "close")},
                    **{f"yes_ask_{k}": d6("0.52") for k in ("open", "high", "low", "close")},
                    "volume": c2(0),
                }
            )
        for micros in (1, 1_000_000):
            seq += 1
            data.trades.append(
                {
                    **ref,
                    "trade_id": f"zz-late-{seq:06d}",
                    "traded_at": at + dt.timedelta(microseconds=micros),
                    "yes_price": d6("0.77"),
                    "no_price": d6("0.23"),
                    "count": c2(5),
                    "taker_side": "yes",
                    "is_block_trade": False,
                    "tier": "live",
                    "fetched_at": NOW,
                }
            )


@pytest.mark.parametrize(
    ("instant", "offset", "clock", "later"),
    [("D-1 10:05", -1, dt.time(10, 5), "D-1 10:06"), ("D 09:00", 0, dt.time(9), "D 09:01")],
)
def test_no_look_ahead_at_a_chosen_instant(
    data: LakeData,
    lake: Lake,
    tmp_path: Path,
    instant: str,
    offset: int,
    clock: dt.time,
    later: str,
) -> None:
    before = chosen(lake, [instant])
    _after(data, offset, clock)
    late_lake = data.write(tmp_path / "late")
    assert chosen(late_lake, [instant]) == before
    assert len(before) == len(data.markets)
    assert all(r["quote_at"] is None or r["quote_at"] <= r["decision_at"] for r in before)
    # the added rows are there, and a later instant sees them
    seen = chosen(late_lake, [later])
    assert all(r["last_trade_price"] == d6("0.77") for r in seen)
    assert all(r["yes_ask"] == d6("0.52") for r in seen)


# --- time zones and DST -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("city", "date", "instant", "utc"),
    [
        # New York, DST starts on 2026-03-08: D-1 is EST (UTC-5), D is EDT (UTC-4)
        ("nyc", dt.date(2026, 3, 8), "D-1 10:05", "2026-03-07T15:05:00+00:00"),
        ("nyc", dt.date(2026, 3, 8), "D 09:00", "2026-03-08T13:00:00+00:00"),
        # DST ends on 2026-11-01: D-1 is EDT, D is EST
        ("nyc", dt.date(2026, 11, 1), "D-1 10:05", "2026-10-31T14:05:00+00:00"),
        ("nyc", dt.date(2026, 11, 1), "D 09:00", "2026-11-01T14:00:00+00:00"),
        # Chicago's own clock on the same days (CST UTC-6, CDT UTC-5)
        ("chicago", dt.date(2026, 3, 8), "D-1 10:05", "2026-03-07T16:05:00+00:00"),
        ("chicago", dt.date(2026, 3, 8), "D 09:00", "2026-03-08T14:00:00+00:00"),
        # the hour skipped when DST starts: read with the offset before the change (EST)
        ("nyc", dt.date(2026, 3, 8), "D 02:30", "2026-03-08T07:30:00+00:00"),
        # the hour repeated when DST ends: its second, standard-time occurrence (EST)
        ("nyc", dt.date(2026, 11, 1), "D 01:30", "2026-11-01T06:30:00+00:00"),
        # a day offset that crosses the change: D+1 00:30 after the spring-forward day is EDT
        ("nyc", dt.date(2026, 3, 8), "D+1 00:30", "2026-03-09T04:30:00+00:00"),
    ],
)
def test_chosen_instants_are_city_local_and_dst_correct(
    lake: Lake, city: str, date: dt.date, instant: str, utc: str
) -> None:
    got = rows(
        lake,
        "SELECT DISTINCT decision_label, decision_at FROM decision_quotes_for(?, ?, ?, instants := ?)",
        [city, date, date, [instant]],
    )
    assert got == [{"decision_label": instant, "decision_at": dt.datetime.fromisoformat(utc)}]


def test_two_labels_naming_one_instant_keep_a_row_each(lake: Lake) -> None:
    # the day DST starts in New York: 02:30 does not exist and is read with the offset before
    # the change (EST), so it is 03:30 EDT, the same UTC instant: still one row per label
    day = dt.date(2026, 3, 8)
    got = rows(
        lake,
        "SELECT * FROM decision_quotes_for('nyc', ?, ?, instants := ['D 02:30', 'D 03:30']) "
        "ORDER BY market_ticker, decision_label",
        [day, day],
    )
    markets = {r["market_ticker"] for r in got}
    assert markets and len(got) == 2 * len(markets)
    assert {r["decision_at"] for r in got} == {dt.datetime(2026, 3, 8, 7, 30, tzinfo=dt.UTC)}
    for first, second in zip(got[::2], got[1::2], strict=True):
        assert (first["decision_label"], second["decision_label"]) == ("D 02:30", "D 03:30")
        assert {k: v for k, v in first.items() if k != "decision_label"} == {
            k: v for k, v in second.items() if k != "decision_label"
        }


def test_dst_instants_agree_with_zoneinfo_outside_the_changed_hour(lake: Lake) -> None:
    got = chosen(lake, ["D-1 10:05", "D 09:00", "D 10:00"])
    for r in got:
        offset, clock = {
            "D-1 10:05": (-1, dt.time(10, 5)),
            "D 09:00": (0, dt.time(9)),
            "D 10:00": (0, dt.time(10)),
        }[r["decision_label"]]
        assert r["decision_at"] == local_instant(r["city"], r["date"], offset, clock)
    # the default D 10:00 is the same instant as the defaults' own (sql_lakefactory's zoneinfo)
    for r in got:
        if r["decision_label"] == "D 10:00":
            assert r["decision_at"] == dict(decision_instants(r["city"], r["date"]))["D 10:00"]


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["D-1 25:00", "D 10:60", "tomorrow 10:00", "D-1 10", "D-1T10:00"])
def test_a_malformed_instant_is_an_error_naming_it(lake: Lake, bad: str) -> None:
    with pytest.raises(duckdb.InvalidInputException, match=f"decision instant '{bad}'"):
        rows(lake, "SELECT * FROM decision_quotes_for('nyc', instants := ?)", [[bad]])


def test_an_empty_list_gives_no_rows(lake: Lake) -> None:
    assert rows(lake, "SELECT * FROM decision_quotes_for('nyc', instants := [])") == []


# --- the coverage check -------------------------------------------------------------------------


def _drop_api_candles_before(data: LakeData, ticker: str, until: dt.datetime) -> None:
    """The candle fetch of ``ticker`` started at ``until``: its earlier api candles are gone."""
    first = data.api_1m(ticker)[0]
    data.candles_1m = [
        c
        for c in data.candles_1m
        if not (c["market_ticker"] == ticker and c["source"] == "api" and c["bucket_start"] < until)
    ]
    data.candles_1m.append(dict(first, bucket_start=until + 120 * MINUTE))


def test_coverage_check_counts_an_instant_only_once_the_market_was_open_before_it(
    data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    quiet = [
        m
        for m in data.markets
        if m["status"] == "finalized" and not data.trades_of(m["market_ticker"])
    ]
    # New York: D-1 10:00 is the open itself; Chicago: opened at D-1 10:00 sharp, and 30 s
    # before it (the first minute's candle had not ended at the instant)
    nyc = next(m for m in quiet if m["city"] == "nyc")
    chi_at, chi_30s = (m for m in quiet if m["city"] == "chicago")
    for m, open_before in ((chi_at, dt.timedelta(0)), (chi_30s, dt.timedelta(seconds=30))):
        m["open_time"] = decision_instants(m["city"], m["date"])[0][1] - open_before
    for m in (nyc, chi_at, chi_30s):
        d = decision_instants(m["city"], m["date"])[1][1]
        _drop_api_candles_before(data, m["market_ticker"], d)
    got = run_checks(write_lake(data), as_of=NOW, only=[COVERAGE])[0]
    assert not got.passed
    # only D 10:00 of each: the D-1 10:00 instants at (or within a minute of) the open are not
    # missing data
    assert got.offending == 3
    assert {(r["market_ticker"], r["decision_label"]) for r in got.sample} == {
        (m["market_ticker"], "D 10:00") for m in (nyc, chi_at, chi_30s)
    }


def test_coverage_check_passes_on_a_lake_with_an_eastern_city(lake: Lake) -> None:
    assert run_checks(lake, as_of=NOW, only=[COVERAGE])[0].passed


def test_decision_instants_is_registered_before_its_users(tmp_path: Path) -> None:
    # an empty lake still connects and the macros bind (typed, empty)
    (tmp_path / "empty").mkdir()
    got = rows(
        Lake(str(tmp_path / "empty")),
        "SELECT * FROM decision_quotes_for(instants := ['D-1 10:05'])",
    )
    assert got == []


def test_readme_instants_examples_run_as_written(lake: Lake) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    [sql] = [b for b in re.findall(r"```sql\n(.*?)```", readme, re.DOTALL) if "instants :=" in b]
    [py] = [b for b in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if "instants :=" in b]
    con = kalshi_lake.connect(lake)
    try:
        ladder = con.sql(sql.strip().rstrip(";")).fetchall()
        assert len(ladder) == 2 * 2 * 6  # nyc 11-01 and 11-10, two instants, six brackets
        frame = eval(py.strip(), {"con": con})
        assert isinstance(frame, pl.DataFrame)
        assert set(frame["decision_label"]) == {"D-1 10:05", "D 09:00"}
        assert frame["quote_at"].null_count() == 0
    finally:
        con.close()
