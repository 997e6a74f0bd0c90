"""Candles equal a plain Python reference computation over the same trades / api candles."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_lake.transform import candles, frames, trades

UTC = dt.UTC
T0 = dt.datetime(2026, 10, 4, 14, 0, tzinfo=UTC)
MICRO = Decimal("0.000001")


def parsed_trades(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows in the shape parse_trades returns (good rows, with part)."""
    n = len(rows)
    return pl.DataFrame(
        {
            "part": [0] * n,
            "city": ["chicago"] * n,
            "date": [dt.date(2026, 10, 5)] * n,
            "fid": [r.get("fid", 0) for r in rows],
            "row": [r.get("page", 0) for r in rows],
            "page_number": [r.get("page", 0) for r in rows],
            "idx": list(range(n)),
            "tier": ["live"] * n,
            "fetched_at": [r.get("fetched_at", T0) for r in rows],
            "page_event_ticker": [None] * n,
            "trade_id": [r["trade_id"] for r in rows],
            "market_ticker": [r["ticker"] for r in rows],
            "traded_at": [r["t"] for r in rows],
            "yes_u": [r["yes_u"] for r in rows],
            "no_u": [1_000_000 - r["yes_u"] for r in rows],
            "count_c": [r["count_c"] for r in rows],
            "taker_side": ["yes"] * n,
            "is_block_trade": [False] * n,
        },
        schema_overrides={
            "part": pl.Int32, "fid": pl.Int32, "row": pl.Int64, "page_number": pl.Int32,
            "idx": pl.Int32,
            "page_event_ticker": pl.String, "traded_at": pl.Datetime("us", "UTC"),
            "fetched_at": pl.Datetime("us", "UTC"),
        },
    )  # fmt: skip


def reference(rows: list[dict[str, Any]], minutes: int) -> list[dict[str, Any]]:
    """OHLC/VWAP/count/volume per (ticker, bucket) the obvious way, in Decimal."""
    seen: dict[str, dict[str, Any]] = {}
    for r in rows:  # dedup by trade_id (identical copies)
        seen[r["trade_id"]] = r
    groups: dict[tuple[str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for r in seen.values():
        t: dt.datetime = r["t"]
        epoch = int(t.timestamp() * 1_000_000)
        start = epoch - epoch % (minutes * 60_000_000)
        bucket = dt.datetime.fromtimestamp(start / 1_000_000, UTC)
        groups[(r["ticker"], bucket)].append(r)
    out = []
    for (ticker, bucket), g in sorted(groups.items()):
        g.sort(key=lambda r: (r["t"], r["trade_id"]))
        px = [Decimal(r["yes_u"]) * MICRO for r in g]
        qty = [Decimal(r["count_c"]) / 100 for r in g]
        vol = sum(qty, Decimal(0))
        vwap = (sum((p * q for p, q in zip(px, qty, strict=True)), Decimal(0)) / vol).quantize(
            MICRO, rounding=ROUND_HALF_UP
        )
        out.append(
            {
                "market_ticker": ticker,
                "bucket_start": bucket,
                "price_open": px[0],
                "price_high": max(px),
                "price_low": min(px),
                "price_close": px[-1],
                "price_vwap": vwap,
                "trade_count": len(g),
                "volume": vol,
            }
        )
    return out


def ours(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    built = trades.build_trades(parsed_trades(rows))
    c1, c5 = candles.trade_candles(built)
    keep = ["market_ticker", "bucket_start", "price_open", "price_high", "price_low",
            "price_close", "price_vwap", "trade_count", "volume"]  # fmt: skip
    one = frames.to_arrow(c1, "candles_1m").select(keep).to_pylist()
    five = frames.to_arrow(c5, "candles_5m").select(keep).to_pylist()
    return one, five


def random_market_trades(rng: random.Random, n_markets: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for m in range(n_markets):
        ticker = f"KXHIGHCHI-26OCT05-B{m}.5"
        for i in range(rng.randint(1, 120)):
            kind = rng.random()
            if kind < 0.15:  # exactly on a minute boundary
                t = T0 + dt.timedelta(minutes=rng.randint(0, 180))
            elif kind < 0.25:  # exactly on a 5-minute boundary
                t = T0 + dt.timedelta(minutes=5 * rng.randint(0, 36))
            elif kind < 0.30:  # one microsecond before a boundary
                t = T0 + dt.timedelta(minutes=rng.randint(1, 180), microseconds=-1)
            else:
                t = T0 + dt.timedelta(microseconds=rng.randint(0, 3 * 3600 * 10**6))
            rows.append(
                {
                    "trade_id": f"{rng.getrandbits(64):016x}-{m}-{i}",
                    "ticker": ticker,
                    "t": t,
                    "yes_u": rng.choice([rng.randint(1, 99) * 10_000, rng.randint(1, 999_999)]),
                    "count_c": rng.choice([100, rng.randint(1, 100_000), rng.randint(1, 10**9)]),
                }
            )
    return rows


def test_trade_candles_match_reference_for_many_random_markets() -> None:
    rng = random.Random(20261121)
    rows = random_market_trades(rng, 150)
    # the same trades seen again in a later, overlapping page
    rows += [dict(r, fetched_at=T0 + dt.timedelta(days=1), fid=1) for r in rng.sample(rows, 400)]
    rng.shuffle(rows)
    one, five = ours(rows)
    assert one == reference(rows, 1)
    assert five == reference(rows, 5)


def test_trades_on_boundaries_open_the_later_bucket() -> None:
    rows = [
        {"trade_id": "a", "ticker": "M", "t": T0 - dt.timedelta(microseconds=1), "yes_u": 100_000, "count_c": 100},
        {"trade_id": "b", "ticker": "M", "t": T0, "yes_u": 200_000, "count_c": 100},
        {"trade_id": "c", "ticker": "M", "t": T0, "yes_u": 300_000, "count_c": 300},
        {"trade_id": "d", "ticker": "M", "t": T0 + dt.timedelta(minutes=5), "yes_u": 400_000, "count_c": 100},
    ]  # fmt: skip
    one, five = ours(rows)
    assert [(c["bucket_start"], c["trade_count"]) for c in one] == [
        (T0 - dt.timedelta(minutes=1), 1),
        (T0, 2),
        (T0 + dt.timedelta(minutes=5), 1),
    ]
    at_t0 = one[1]
    # equal timestamps: (traded_at, trade_id) order decides open and close
    assert (at_t0["price_open"], at_t0["price_close"]) == (Decimal("0.2"), Decimal("0.3"))
    assert at_t0["price_vwap"] == Decimal("0.275000")
    assert [c["bucket_start"] for c in five] == [
        T0 - dt.timedelta(minutes=5),
        T0,
        T0 + dt.timedelta(minutes=5),
    ]
    assert five == reference(rows, 5)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 3),  # market
            st.integers(0, 20 * 60),  # seconds after T0 (many collide on boundaries)
            st.integers(1, 999_999),  # micro-dollars
            st.integers(1, 10**7),  # centi-contracts
        ),
        min_size=1,
        max_size=80,
    )
)
def test_trade_candles_property(values: list[tuple[int, int, int, int]]) -> None:
    rows = [
        {"trade_id": f"id{i:04d}", "ticker": f"M{m}", "t": T0 + dt.timedelta(seconds=s),
         "yes_u": p, "count_c": c}
        for i, (m, s, p, c) in enumerate(values)
    ]  # fmt: skip
    one, five = ours(rows)
    assert one == reference(rows, 1)
    assert five == reference(rows, 5)


# --- api candles -------------------------------------------------------------------------------


def api_rows(rng: random.Random, n_markets: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    end0 = int(T0.timestamp())
    for m in range(n_markets):
        minutes = sorted(rng.sample(range(1, 240), rng.randint(1, 60)))
        for k in minutes:
            traded = rng.random() < 0.6
            px = [rng.randint(1, 99) * 10_000 for _ in range(5)]
            row = {
                "market_ticker": f"M{m}",
                "end_period_ts": end0 + 60 * k,
                "price_open_u": px[0] if traded else None,
                "price_high_u": max(px) if traded else None,
                "price_low_u": min(px) if traded else None,
                "price_close_u": px[1] if traded else None,
                "price_mean_u": px[2] if traded else None,
                "volume_c": rng.randint(1, 10**6) if traded else 0,
                "open_interest_c": rng.randint(0, 10**6),
                "fetched_at": T0,
                "fid": 0,
            }
            for side in ("bid", "ask"):
                for f in ("open", "high", "low", "close"):
                    row[f"yes_{side}_{f}_u"] = (
                        None if rng.random() < 0.2 else rng.randint(1, 99) * 10_000
                    )
            rows.append(row)
    return rows


def parsed_candles(rows: list[dict[str, Any]]) -> pl.DataFrame:
    n = len(rows)
    df = pl.DataFrame(rows).with_columns(
        part=pl.lit(0, pl.Int32),
        city=pl.lit("chicago"),
        date=pl.lit(dt.date(2026, 10, 5)),
        row=pl.lit(0, pl.Int64),
        page_number=pl.lit(0, pl.Int32),
        idx=pl.int_range(n, dtype=pl.Int32),
        tier=pl.lit("live"),
        page_event_ticker=pl.lit(None, pl.String),
        period_minutes=pl.lit(1, pl.Int32),
        fid=pl.col("fid").cast(pl.Int32),
        fetched_at=pl.col("fetched_at").cast(pl.Datetime("us", "UTC")),
    )
    for c in df.columns:
        if c.endswith("_u") or c.endswith("_c"):
            df = df.with_columns(pl.col(c).cast(pl.Int64))
    return df


def api_reference(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r["fetched_at"], r["fid"])):
        latest[(r["market_ticker"], r["end_period_ts"])] = r
    one = []
    for (m, end), r in sorted(latest.items()):
        one.append({"market_ticker": m, "bucket_start": dt.datetime.fromtimestamp(end - 60, UTC), **{
            k: r[k] for k in r if k.endswith("_u") or k.endswith("_c")}})  # fmt: skip
    groups: dict[tuple[str, dt.datetime], list[dict[str, Any]]] = defaultdict(list)
    for c in one:
        b: dt.datetime = c["bucket_start"]
        groups[(c["market_ticker"], b - dt.timedelta(minutes=b.minute % 5))].append(c)
    five = []
    for (m, b), g in sorted(groups.items()):

        def nn(k: str, g: list[dict[str, Any]] = g) -> list[int]:
            return [c[k] for c in g if c[k] is not None]

        w = [
            (c["price_mean_u"], c["volume_c"])
            for c in g
            if c["price_mean_u"] is not None and c["volume_c"] > 0
        ]
        den = sum(v for _, v in w)
        vwap = None if den == 0 else (2 * sum(p * v for p, v in w) + den) // (2 * den)
        row: dict[str, Any] = {
            "market_ticker": m,
            "bucket_start": b,
            "price_open_u": (nn("price_open_u") or [None])[0],
            "price_high_u": max(nn("price_high_u"), default=None),
            "price_low_u": min(nn("price_low_u"), default=None),
            "price_close_u": (nn("price_close_u") or [None])[-1],
            "price_mean_u": vwap,
            "volume_c": sum(c["volume_c"] for c in g),
            "open_interest_c": (nn("open_interest_c") or [None])[-1],
        }
        for side in ("bid", "ask"):
            row[f"yes_{side}_open_u"] = g[0][f"yes_{side}_open_u"]
            row[f"yes_{side}_close_u"] = g[-1][f"yes_{side}_close_u"]
            highs = [c[f"yes_{side}_high_u"] for c in g]
            lows = [c[f"yes_{side}_low_u"] for c in g]
            # The worst quote of a side (ask high, bid low) is null when the side emptied in
            # any minute of the bucket; the best quote ignores empty minutes.
            if side == "ask":
                row["yes_ask_high_u"] = None if None in highs else max(highs)
                row["yes_ask_low_u"] = min(nn("yes_ask_low_u"), default=None)
            else:
                row["yes_bid_high_u"] = max(nn("yes_bid_high_u"), default=None)
                row["yes_bid_low_u"] = None if None in lows else min(lows)
        five.append(row)
    return one, five


def test_api_candles_dedup_latest_and_roll_up_to_5m() -> None:
    rng = random.Random(7)
    rows = api_rows(rng, 40)
    # boundary candles fetched again later (adjusted_end_ts paging, re-pulls), with new values
    again = [dict(r, fetched_at=T0 + dt.timedelta(hours=1), fid=3, volume_c=r["volume_c"] + 1)
             for r in rng.sample(rows, 150)]  # fmt: skip
    rows += again
    c1, c5 = candles.api_candles(parsed_candles(rows))
    want1, want5 = api_reference(rows)
    cols = [c for c in want1[0]]
    got1 = c1.with_columns(price_mean_u=pl.col("price_vwap_u")).select(cols).to_dicts()
    assert got1 == want1
    assert set(c1["source"]) == {"api"} and set(c1["period_minutes"]) == {1}
    assert c1["trade_count"].null_count() == c1.height
    got5 = c5.with_columns(price_mean_u=pl.col("price_vwap_u")).select(cols).to_dicts()
    assert got5 == want5
    assert set(c5["period_minutes"]) == {5}


def test_api_5m_worst_quote_is_null_when_a_side_emptied() -> None:
    """Ask high 1.00 (empty book) in one minute must not let the 5m ask high fall below close."""
    rng = random.Random(3)
    rows = api_rows(rng, 1)[:2]
    base = rows[0]["end_period_ts"] - (rows[0]["end_period_ts"] - 60) % 300
    a, b = (dict(r) for r in rows)
    a.update(end_period_ts=base + 60, yes_ask_open_u=980_000, yes_ask_high_u=980_000,
             yes_ask_low_u=980_000, yes_ask_close_u=980_000)  # fmt: skip
    b.update(end_period_ts=base + 120, yes_ask_open_u=980_000, yes_ask_high_u=None,
             yes_ask_low_u=980_000, yes_ask_close_u=990_000)  # fmt: skip
    _, c5 = candles.api_candles(parsed_candles([a, b]))
    assert c5.height == 1
    row = c5.to_dicts()[0]
    assert row["yes_ask_high_u"] is None
    assert row["yes_ask_low_u"] == 980_000 and row["yes_ask_close_u"] == 990_000
