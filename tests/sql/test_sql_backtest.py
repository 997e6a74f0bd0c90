"""decision_quotes, event_ladder and quotes_at: equal to a plain Python computation, no
look-ahead, DST-correct decision instants."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sql_lakefactory import (
    MINUTE,
    NOW,
    LakeData,
    c2,
    d6,
    decision_instants,
    expected_decision_quotes,
    write_rows,
)

import kalshi_lake
from kalshi_lake.lake.storage import Lake

UTC = dt.UTC
COLUMNS = [
    "market_ticker",
    "event_ticker",
    "family",
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
    "result",
]


def rows(lake: Lake, sql: str) -> list[dict[str, Any]]:
    """Query result as dicts."""
    con = kalshi_lake.connect(lake)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def decision_quotes(lake: Lake) -> list[dict[str, Any]]:
    got = rows(lake, "SELECT * FROM decision_quotes ORDER BY market_ticker, decision_at")
    return [{k: r[k] for k in COLUMNS} for r in got]


def test_decision_quotes_equal_python_reference(clean_lake: Lake, clean_data: LakeData) -> None:
    assert decision_quotes(clean_lake) == expected_decision_quotes(clean_data)


def test_decision_quotes_columns_and_types(clean_lake: Lake) -> None:
    con = kalshi_lake.connect(clean_lake)
    cur = con.execute("SELECT * FROM decision_quotes LIMIT 0")
    types = {d[0]: str(d[1]) for d in cur.description}
    assert list(types)[: len(COLUMNS)] == COLUMNS  # the README's order, extras after
    assert types["decision_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["quote_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["yes_bid"] == "DECIMAL(10,6)"
    assert types["mid"] == "DECIMAL(10,7)"  # exact: (bid + ask) / 2 needs one more digit
    assert types["last_trade_price"] == "DECIMAL(10,6)"
    # ages are seconds, a number every client reads (DuckDB exports INTERVAL as an Arrow
    # month-day-nano interval, which polars refuses)
    assert types["quote_age"] == "DOUBLE" and types["last_trade_age"] == "DOUBLE"


def test_two_rows_per_market_and_no_quote_or_trade_after_the_instant(clean_lake: Lake) -> None:
    got = rows(clean_lake, "SELECT * FROM decision_quotes")
    per_market: dict[str, list[str]] = {}
    for r in got:
        per_market.setdefault(r["market_ticker"], []).append(r["decision_label"])
        assert r["quote_at"] is None or r["quote_at"] <= r["decision_at"]
        assert r["last_trade_at"] is None or r["last_trade_at"] <= r["decision_at"]
        assert (r["mid"] is None) == (r["yes_bid"] is None or r["yes_ask"] is None)
        if r["quote_at"] is not None:
            assert r["quote_age"] == (r["decision_at"] - r["quote_at"]).total_seconds()
        if r["last_trade_at"] is not None:
            assert r["last_trade_age"] == (r["decision_at"] - r["last_trade_at"]).total_seconds()
    assert all(sorted(v) == ["D 10:00", "D-1 10:00"] for v in per_market.values())


@pytest.mark.parametrize(
    ("city", "date", "d_minus_1", "d"),
    [
        # DST starts on 2026-03-08 in Chicago: the day before is CST, the day itself CDT
        ("chicago", dt.date(2026, 3, 8), "2026-03-07T16:00:00+00:00", "2026-03-08T15:00:00+00:00"),
        # DST ends on 2026-11-01: the day before is CDT, the day itself CST
        ("chicago", dt.date(2026, 11, 1), "2026-10-31T15:00:00+00:00", "2026-11-01T16:00:00+00:00"),
        ("chicago", dt.date(2026, 3, 9), "2026-03-08T15:00:00+00:00", "2026-03-09T15:00:00+00:00"),
        ("chicago", dt.date(2026, 11, 2), "2026-11-01T16:00:00+00:00", "2026-11-02T16:00:00+00:00"),
        # Phoenix keeps MST all year
        ("phoenix", dt.date(2026, 3, 8), "2026-03-07T17:00:00+00:00", "2026-03-08T17:00:00+00:00"),
        ("phoenix", dt.date(2026, 11, 1), "2026-10-31T17:00:00+00:00", "2026-11-01T17:00:00+00:00"),
    ],
)
def test_decision_instants_are_dst_correct(
    clean_lake: Lake, city: str, date: dt.date, d_minus_1: str, d: str
) -> None:
    got = rows(
        clean_lake,
        f"SELECT DISTINCT decision_label, decision_at FROM decision_quotes_for('{city}', DATE '{date}', DATE '{date}')",
    )
    instants = {r["decision_label"]: r["decision_at"] for r in got}
    assert instants == {
        "D-1 10:00": dt.datetime.fromisoformat(d_minus_1),
        "D 10:00": dt.datetime.fromisoformat(d),
    }
    assert dict(decision_instants(city, date)) == instants  # and zoneinfo agrees


def _after_instant_rows(
    data: LakeData, label: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Candles and trades dated just after every market's ``label`` instant (invisible to it)."""
    candles: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    seq = 0
    for m in data.markets:
        for lab, at in decision_instants(m["city"], m["date"]):
            if lab != label:
                continue
            ref = {k: m[k] for k in ("market_ticker", "event_ticker", "date", "city")}
            # a candle whose period ends one second after the instant, and one starting at it
            for start in (at - MINUTE + dt.timedelta(seconds=1), at):
                price = d6("0.5")
                candles.append(
                    {
                        **ref,
                        "source": "api",
                        "bucket_start": start,
                        "period_minutes": 1,
                        **{
                            f"yes_{s}_{k}": price if s == "bid" else d6("0.52")
                            for s in ("bid", "ask")
                            for k in ("open", "high", "low", "close")
                        },
                        "volume": c2(0),
                    }
                )
            for micros in (1, 1_000_000):
                seq += 1
                trades.append(
                    {
                        **ref,
                        "trade_id": f"zz-late-{label}-{seq:06d}",
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
    return candles, trades


@pytest.mark.parametrize("label", ["D 10:00", "D-1 10:00"])
def test_no_look_ahead_adding_later_candles_and_trades_changes_nothing(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake], label: str
) -> None:
    lake = write_lake(clean_data)
    query = "SELECT * FROM decision_quotes ORDER BY market_ticker, decision_at"
    before = [r for r in rows(lake, query) if r["decision_label"] == label]
    candles, trades = _after_instant_rows(clean_data, label)
    # new files next to the existing ones, as a later transform run or a re-pull would add them
    write_rows(lake, "candles_1m", candles)
    write_rows(lake, "trades", trades)
    assert len(rows(lake, "SELECT * FROM trades WHERE trade_id LIKE 'zz-late-%'")) == len(trades)
    after = [r for r in rows(lake, query) if r["decision_label"] == label]
    assert len(before) == len(clean_data.markets)
    assert after == before
    if label == "D-1 10:00":  # the same rows are visible to the later instant
        later = rows(lake, "SELECT * FROM decision_quotes WHERE decision_label = 'D 10:00'")
        assert sum(r["last_trade_price"] == d6("0.77") for r in later) > 0


def test_a_candle_ending_exactly_at_the_instant_is_used(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    m = next(
        x for x in clean_data.markets if x["date"] == dt.date(2026, 3, 8) and x["city"] == "chicago"
    )
    _label, at = decision_instants("chicago", m["date"])[1]
    bid, ask = d6("0.41"), d6("0.44")
    clean_data.candles_1m.append(
        {
            "market_ticker": m["market_ticker"],
            "event_ticker": m["event_ticker"],
            "date": m["date"],
            "city": "chicago",
            "source": "api",
            "bucket_start": at - MINUTE,
            "period_minutes": 1,
            **{f"yes_bid_{k}": bid for k in ("open", "high", "low", "close")},
            **{f"yes_ask_{k}": ask for k in ("open", "high", "low", "close")},
            "volume": c2(0),
        }
    )
    clean_data.candles_1m = [
        c
        for c in clean_data.candles_1m
        if not (
            c["market_ticker"] == m["market_ticker"]
            and c["source"] == "api"
            and at - MINUTE < c["bucket_start"] < at
        )
    ]
    lake = write_lake(clean_data)
    got = rows(
        lake,
        f"SELECT * FROM decision_quotes WHERE market_ticker = '{m['market_ticker']}' AND decision_label = 'D 10:00'",
    )
    assert len(got) == 1
    assert (got[0]["yes_bid"], got[0]["yes_ask"], got[0]["quote_at"]) == (bid, ask, at)
    assert got[0]["mid"] == Decimal("0.425")
    assert got[0]["quote_age"] == 0.0


def test_trades_sharing_a_timestamp_resolve_to_the_highest_trade_id(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    m = next(x for x in clean_data.markets if x["date"] == dt.date(2026, 3, 9))
    _label, at = decision_instants(m["city"], m["date"])[1]
    t0 = at - dt.timedelta(seconds=5)
    base = {k: m[k] for k in ("market_ticker", "event_ticker", "date", "city")}
    for tid, cents in (("aaa", "0.11"), ("ccc", "0.33"), ("bbb", "0.22")):
        clean_data.trades.append(
            {
                **base,
                "trade_id": tid,
                "traded_at": t0,
                "yes_price": d6(cents),
                "no_price": d6(1 - Decimal(cents)),
                "count": c2(1),
                "taker_side": "yes",
                "is_block_trade": False,
                "tier": "live",
                "fetched_at": NOW,
            }
        )
    lake = write_lake(clean_data)
    got = rows(
        lake,
        f"SELECT last_trade_price, last_trade_at FROM decision_quotes "
        f"WHERE market_ticker = '{m['market_ticker']}' AND decision_label = 'D 10:00'",
    )
    assert got == [{"last_trade_price": d6("0.33"), "last_trade_at": t0}]


def test_decision_quotes_for_equals_the_view_for_its_scope(clean_lake: Lake) -> None:
    scoped = rows(
        clean_lake,
        "SELECT * FROM decision_quotes_for('chicago', DATE '2026-10-31', DATE '2026-11-21') "
        "ORDER BY market_ticker, decision_at",
    )
    filtered = rows(
        clean_lake,
        "SELECT * FROM decision_quotes WHERE city = 'chicago' AND date BETWEEN DATE '2026-10-31' "
        "AND DATE '2026-11-21' ORDER BY market_ticker, decision_at",
    )
    assert scoped == filtered
    assert {r["date"] for r in scoped} == {
        dt.date(2026, 10, 31),
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 21),
    }


@pytest.mark.slow
def test_quotes_at_matches_decision_quotes_at_decision_instants(clean_lake: Lake) -> None:
    dq = rows(clean_lake, "SELECT * FROM decision_quotes")
    instants = sorted({(r["city"], r["decision_at"]) for r in dq})
    assert len(instants) > 10
    for city, at in instants:
        got = rows(
            clean_lake, f"SELECT * FROM quotes_at(TIMESTAMPTZ '{at.isoformat()}', city := '{city}')"
        )
        expected = {
            r["market_ticker"]: r for r in dq if r["city"] == city and r["decision_at"] == at
        }
        assert got, f"no open markets at {at}"
        for g in got:
            assert g["as_of"] == at
            if g["market_ticker"] in expected:
                e = expected[g["market_ticker"]]
                for k in (
                    "yes_bid",
                    "yes_ask",
                    "mid",
                    "quote_at",
                    "last_trade_price",
                    "last_trade_at",
                ):
                    assert g[k] == e[k], (g["market_ticker"], at, k)
        # every market open at the instant is there, and only those
        markets = rows(
            clean_lake,
            f"SELECT market_ticker FROM markets WHERE city = '{city}' AND open_time <= TIMESTAMPTZ "
            f"'{at.isoformat()}' AND close_time >= TIMESTAMPTZ '{at.isoformat()}'",
        )
        assert {g["market_ticker"] for g in got} == {m["market_ticker"] for m in markets}


def test_quotes_at_accepts_text_and_all_cities(clean_lake: Lake) -> None:
    got = rows(clean_lake, "SELECT DISTINCT city FROM quotes_at('2026-11-21 16:20:00+00')")
    assert {r["city"] for r in got} == {"chicago", "phoenix"}


def test_event_ladder_orders_brackets_sums_mids_and_marks_the_winner(
    clean_lake: Lake, clean_data: LakeData
) -> None:
    ladder = rows(clean_lake, "SELECT * FROM event_ladder")
    dq = {
        (r["market_ticker"], r["decision_label"]): r
        for r in rows(clean_lake, "SELECT * FROM decision_quotes")
    }
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in ladder:
        groups.setdefault((r["event_ticker"], r["decision_label"]), []).append(r)
    assert len(groups) == 2 * len({m["event_ticker"] for m in clean_data.markets})
    for (event, _label), brackets in groups.items():
        brackets.sort(key=lambda r: r["bracket"])
        assert [r["bracket"] for r in brackets] == list(range(1, len(brackets) + 1))
        assert brackets[0]["low_f"] is None and brackets[-1]["high_f"] is None
        lows = [r["low_f"] for r in brackets[1:]]
        assert lows == sorted(lows)
        mids = [r["mid"] for r in brackets if r["mid"] is not None]
        assert all(r["sum_mid"] == (sum(mids) if mids else None) for r in brackets)
        assert all(
            r["n_quoted"] == len(mids) and r["n_brackets"] == len(brackets) for r in brackets
        )
        for r in brackets:
            q = dq[(r["market_ticker"], r["decision_label"])]
            assert (r["yes_bid"], r["yes_ask"], r["mid"]) == (q["yes_bid"], q["yes_ask"], q["mid"])
        results = {m["market_ticker"]: m["result"] for m in clean_data.event_markets(event)}
        if all(v is not None for v in results.values()):
            winners = [r for r in brackets if r["is_winner"]]
            assert len(winners) == 1
            assert winners[0]["market_ticker"] == next(t for t, v in results.items() if v == "yes")
            assert all(r["winner"] == winners[0]["market_ticker"] for r in brackets)
        else:
            assert all(r["is_winner"] is None and r["winner"] is None for r in brackets)
