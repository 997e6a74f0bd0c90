"""The fast paths of the build agree with the plain polars operations they replace.

- ``fastpaths.packed_order`` (one UInt64 arg-sort) gives exactly ``DataFrame.sort`` order, ties
  included, and steps aside (None) when the key would not fit 64 bits or has nulls;
- ``fastpaths.rollup``'s cumulative scans give exactly a group-by's max/min/sum/count, and the
  group-by fallback takes over when a scan could overflow.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_lake.transform import candles, fastpaths, trades

T0 = dt.datetime(2026, 10, 4, 14, 0, tzinfo=dt.UTC)
KEYS = ["part", "market_ticker", "traded_at", "trade_id"]


def frame(rows: list[tuple[int, str, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "part": [r[0] for r in rows],
            "market_ticker": [r[1] for r in rows],
            "traded_at": [T0 + dt.timedelta(microseconds=r[2]) for r in rows],
            "trade_id": [r[3] for r in rows],
            "n": list(range(len(rows))),
        },
        schema_overrides={"part": pl.Int32, "traded_at": pl.Datetime("us", "UTC")},
    )


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.sampled_from(["KXB-1", "KXA-2", "KXA-10", "Z", "KXHIGHCHI-26OCT05-B45.5"]),
            st.sampled_from([0, 1, 59_999_999, 60_000_000, 10**9, 10**12]),  # many ties
            st.text("abcdef0123", min_size=1, max_size=6),
        ),
        min_size=1,
        max_size=60,
        unique_by=lambda r: (r[0], r[3]),  # trade ids are unique per part after dedup
    )
)
def test_packed_sort_equals_plain_sort(rows: list[tuple[int, str, int, str]]) -> None:
    df = frame(rows)
    assert fastpaths.sort_by_ticker(df, KEYS).equals(df.sort(KEYS))
    perm = fastpaths.packed_order(df, ["part", "market_ticker"], "traded_at", "trade_id")
    assert perm is not None
    assert df[perm].equals(df.sort(KEYS))


def test_packed_sort_with_many_ties_and_parts() -> None:
    rng = random.Random(7)
    rows = [
        (rng.randint(0, 9), f"M{rng.randint(0, 300)}", rng.randint(0, 50) * 1_000_000, f"{i:x}")
        for i in range(20_000)
    ]
    df = frame(rows)
    assert fastpaths.sort_by_ticker(df, KEYS).equals(df.sort(KEYS))


def test_packed_sort_steps_aside_when_the_key_does_not_fit() -> None:
    # 300 groups (9 bits) over a 2^56-microsecond span would need 65 bits: plain sort
    far = [(0, f"M{i}", i, f"t{i}") for i in range(300)] + [(0, "A", 2**56, "x")]
    df = frame(far)
    assert fastpaths.packed_order(df, ["part", "market_ticker"], "traded_at", "trade_id") is None
    assert fastpaths.sort_by_ticker(df, KEYS).equals(df.sort(KEYS))
    with_null = df.with_columns(
        market_ticker=pl.when(pl.col("n") == 1).then(pl.col("market_ticker"))
    )
    assert fastpaths.packed_order(with_null, ["part", "market_ticker"], "traded_at") is None
    negative = frame([(-1, "A", 0, "x"), (0, "A", 1, "y")])
    assert fastpaths.packed_order(negative, ["part", "market_ticker"], "traded_at") is None
    assert fastpaths.sort_by_ticker(negative, KEYS).equals(negative.sort(KEYS))


def group_by_reference(df: pl.DataFrame) -> pl.DataFrame:
    return (
        df.group_by("g", maintain_order=True)
        .agg(
            _open=pl.col("x").first(),
            _close=pl.col("y").last(),
            hi=pl.col("x").max(),
            lo=pl.col("y").min(),
            s=pl.col("y").sum(),
            c=pl.len().cast(pl.Int32),
        )
        .select("g", "_open", "_close", "hi", "lo", "s", "c")
    )


def rollup(df: pl.DataFrame) -> pl.DataFrame:
    return fastpaths.rollup(
        df, ["g"], [], "x", "y", maxes={"hi": "x"}, mins={"lo": "y"}, sums={"s": pl.col("y")},
        count="c",
    )  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 6),
            st.integers(-(2**40), 2**40),
            st.integers(-(10**6), 10**6),
        ),
        min_size=1,
        max_size=80,
    )
)
def test_scan_aggregates_equal_group_by(values: list[tuple[int, int, int]]) -> None:
    df = pl.DataFrame(
        {"g": [v[0] for v in values], "x": [v[1] for v in values], "y": [v[2] for v in values]}
    ).sort("g", maintain_order=True)
    assert rollup(df).equals(group_by_reference(df))


@pytest.mark.parametrize(
    "x, y",
    [
        ([2**62, -(2**62), 5], [1, 2, 3]),  # max scan would overflow Int64
        ([1, 2, 3], [2**61, 2**61, -(2**61)]),  # running sum would overflow Int64
    ],
)
def test_scan_falls_back_to_group_by_near_int64_limits(x: list[int], y: list[int]) -> None:
    df = pl.DataFrame({"g": [0, 0, 1], "x": x, "y": y})
    assert rollup(df).equals(group_by_reference(df))


def test_scan_falls_back_with_nulls() -> None:
    df = pl.DataFrame({"g": [0, 0, 1], "x": [1, None, 3], "y": [4, 5, 6]})
    assert rollup(df).equals(group_by_reference(df))


@pytest.mark.parametrize(
    "num, den",
    [
        ([7, 5, -7, 0, 3], [2, 2, 2, 5, 0]),  # halves round up; den 0 gives null
        ([2**62, -(2**62), 1], [3, 7, 2**60]),  # 2 * (|num| + |den|) leaves Int64: wide path
        ([-(2**63), 1, 2], [1, 1, 1]),  # abs() of Int64's minimum would wrap: wide path
    ],
)
def test_round_div_narrow_and_wide_agree_with_decimal(num: list[int], den: list[int]) -> None:
    df = pl.DataFrame({"n": num, "d": den}, schema={"n": pl.Int64, "d": pl.Int64})
    narrow = fastpaths.fits_narrow(df, "n", "d")
    got = df.select(fastpaths.round_div(pl.col("n"), pl.col("d"), wide=not narrow)).to_series()
    want = [None if d <= 0 else (2 * n + d) // (2 * d) for n, d in zip(num, den, strict=True)]
    assert got.to_list() == want
    assert narrow == (num[0] == 7)  # only the small case runs in Int64


def test_candles_by_market_run_equal_candles_by_ticker() -> None:
    # the same tickers in two parts, several buckets, unsorted input: built trades carry the
    # market run number, and grouping by it gives exactly the ticker-keyed candles
    rng = random.Random(11)
    n = 3_000
    parsed = pl.DataFrame(
        {
            "fid": [0] * n,
            "row": [0] * n,
            "page_number": [0] * n,
            "idx": list(range(n)),
            "trade_id": [f"t{i}" for i in range(n)],
            "market_ticker": [rng.choice(["KXA-1", "KXA-2", "KXB-1"]) for _ in range(n)],
            "traded_at": [T0 + dt.timedelta(seconds=rng.randint(0, 3_600)) for _ in range(n)],
            "yes_u": [rng.randint(1, 99) * 10_000 for _ in range(n)],
            "no_u": [None] * n,
            "count_c": [rng.randint(1, 500) * 100 for _ in range(n)],
            "taker_side": ["yes"] * n,
            "is_block_trade": [False] * n,
            "part": [rng.randint(0, 1) for _ in range(n)],
            "city": ["chicago"] * n,
            "date": [dt.date(2026, 10, 4)] * n,
            "tier": ["live"] * n,
            "fetched_at": [T0] * n,
            "page_event_ticker": [None] * n,
        },
        schema_overrides={"part": pl.Int32, "no_u": pl.Int64, "page_event_ticker": pl.String},
    )
    built = trades.build_trades(parsed)
    assert built[trades.MARKET_RUN].n_unique() == 6  # 3 tickers x 2 parts
    by_run = candles.trade_candles(built)
    by_ticker = candles.trade_candles(built.drop(trades.MARKET_RUN))
    assert by_run[0].height > 100 and by_run[1].height > 20
    assert by_run[0].equals(by_ticker[0]) and by_run[1].equals(by_ticker[1])


def test_notional_dtype_widens_only_when_a_sum_could_overflow() -> None:
    price = pl.Series([999_999, 1], dtype=pl.Int64)  # micro-dollars
    assert fastpaths.notional_dtype(price, pl.Series([100, 2_500])) == pl.Int64
    assert fastpaths.notional_dtype(price, pl.Series([2**42, 2**42])) == pl.Int128
    assert fastpaths.notional_dtype(price, pl.Series([], dtype=pl.Int64)) == pl.Int64
