"""Prices and counts come out exact: every cent, sub-cent ticks, cents-era integers (property tests)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_lake.transform import frames, parse, trades

UTC = dt.UTC
T0 = dt.datetime(2026, 10, 4, 15, 0, tzinfo=UTC)


def curated_trades(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trade objects -> curated trade rows (parse, build, Arrow decimals), in trade_id order."""
    con = duckdb.connect()
    row = {
        "fid": 0, "city": "chicago", "date": dt.date(2026, 10, 5), "endpoint": "trades",
        "tier": "live", "page_number": 0, "fetched_at": T0, "request_params": "{}",
        "http_status": 200, "body": json.dumps({"trades": objs, "cursor": ""}),
    }  # fmt: skip
    con.register("pages", parse.pages_table([row]))
    good, problems = parse.split_problems(parse.parse_trades(con, "pages"))
    assert problems.height == 0, problems
    good = parse.with_pages(good, parse.parse_pages(con, "pages"))
    built = trades.build_trades(good.with_columns(part=pl.lit(0, pl.Int32)))
    built = built.with_columns(first_seen=pl.lit("rest"), first_seen_at=pl.col("fetched_at"))
    out = frames.to_arrow(built, "trades").to_pylist()
    return sorted(out, key=lambda r: r["trade_id"])


def obj(i: int, **fields: Any) -> dict[str, Any]:
    base = {
        "trade_id": f"t{i:06d}",
        "ticker": "KXHIGHCHI-26OCT05-B80.5",
        "created_time": (T0 + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "taker_outcome_side": "yes",
    }
    return {**base, **fields}


def test_every_cent_is_exact_in_both_eras() -> None:
    cents = list(range(1, 100))
    current = [
        obj(
            c,
            yes_price_dollars=f"0.{c:02d}00",
            no_price_dollars=f"0.{100 - c:02d}00",
            count_fp="1.00",
        )
        for c in cents
    ]
    legacy = [obj(1000 + c, yes_price=c, no_price=100 - c, count=1) for c in cents]
    rows = curated_trades(current + legacy)
    assert len(rows) == 2 * 99
    for r in rows:
        c = int(r["trade_id"][1:]) % 1000
        assert r["yes_price"] == Decimal(c) / 100
        assert r["no_price"] == Decimal(100 - c) / 100
        assert r["yes_price"] + r["no_price"] == 1
        assert r["count"] == Decimal("1.00")
        assert r["yes_price"].as_tuple().exponent == -6  # DECIMAL(10,6)


ticks = st.integers(min_value=1, max_value=999_999)  # micro-dollars strictly inside (0, 1)
places = st.integers(min_value=2, max_value=6)


@st.composite
def price_string(draw: st.DrawFn) -> tuple[str, Decimal]:
    """A fixed-point dollar string with 2-6 decimals and its exact value."""
    p = draw(places)
    unit = 10 ** (6 - p)
    micro = max(unit, draw(ticks) // unit * unit)
    value = Decimal(micro) / 1_000_000
    return f"{value:.{p}f}", value


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(price_string(), st.integers(min_value=1, max_value=10**9)),
        min_size=1,
        max_size=60,
    )
)
def test_sub_cent_prices_and_fractional_counts_are_exact(
    values: list[tuple[tuple[str, Decimal], int]],
) -> None:
    objs = []
    for i, ((text, value), centi) in enumerate(values):
        no = Decimal(1) - value
        objs.append(
            obj(
                i,
                yes_price_dollars=text,
                no_price_dollars=f"{no:.6f}",
                count_fp=f"{Decimal(centi) / 100:.2f}",
            )
        )
    rows = curated_trades(objs)
    for r, ((_text, value), centi) in zip(rows, values, strict=True):
        assert r["yes_price"] == value
        assert r["no_price"] == Decimal(1) - value
        assert r["count"] == Decimal(centi) / 100


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=50))
def test_cents_era_integers_divide_exactly(cents: list[int]) -> None:
    rows = curated_trades([obj(i, yes_price=c, count=c + 1) for i, c in enumerate(cents)])
    assert [r["yes_price"] for r in rows] == [Decimal(c) / 100 for c in cents]
    assert [r["no_price"] for r in rows] == [None] * len(cents)  # absent stays absent
    assert [r["count"] for r in rows] == [Decimal(c + 1) for c in cents]
