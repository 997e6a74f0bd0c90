"""A seeded raw-layer generator (no server, no backfill), for the transform's tests and benchmarks.

It writes exactly what the backfill writes (:data:`~kalshi_lake.lake.raw.RAW_SCHEMA` files under
``raw/<endpoint>/city=<city>/date=<YYYY-MM-DD>/``, file names carrying the family) for daily-high
and daily-low events (``SynthSpec.families``; a day's low settles below its high), in the
current API shapes (fixed-point ``_dollars``/``_fp`` strings,
https://docs.kalshi.com/getting_started/fixed_point_migration):

- ``trades``: each market's trades newest first, in pages of ``page_size`` (1,000 like the
  API's maximum ``limit``) with cursors; a share of pages is fetched again by a later run
  (overlapping pages, so the transform has copies to deduplicate);
- ``event``: one page per event with its six-bracket ladder nested (``with_nested_markets``),
  settled, volumes equal to the sum of the market's trades;
- ``candlesticks``: one page of 1-minute candles per market, built from its trades (with empty
  book sides now and then), when ``candles`` is on;
- ``markets``: a listing per city and series filed under the fetch date after the last event
  (its markets span every month generated), when ``listing`` is on.

Everything is vectorised (polars string building; bodies are cut from one contiguous Arrow
buffer without copies) and deterministic in ``seed``: the same spec writes the same pages (file
names aside, which are unique per write like every lake file). A trade's id and attributes are
hashes of (seed, city, date, market, index), so days generated separately never collide.

Ladders, tickers and the fixed-point and time encodings come from :mod:`kalshi_lake.sim.model`
(:func:`~kalshi_lake.sim.model.ladder`, ``City.event_ticker``, ``dollars4``, ``count_fp``,
``fmt_ts``); the vectorised string builders here are table lookups built from, or tested
against, those formatters. The data itself is this module's own (hashes, not the simulator's
market model: a million trades a second rather than thousands), and so are a few payload details
(key order, titles, rules wording, a 14:00Z open), which stay as they are so that a spec keeps
generating the same bytes (the transform benchmark compares runs on them).

The events' draws, market payloads, event pages and listings are in
:mod:`kalshi_lake.sim.rawgen_markets`; building and writing the raw files in
:mod:`kalshi_lake.sim.rawgen_write`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_lake.cities import City, Series, check_family, get_city
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.model import US, count_fp, dollars4
from kalshi_lake.sim.rawgen_markets import (
    Event,
    fetch_time,
    market_payload,
    markets_frame,
    write_events,
    write_listing,
)
from kalshi_lake.sim.rawgen_write import raw_table, write_groups

__all__ = ["SynthSpec", "SynthStats", "fetch_time", "generate_raw"]

_HEX = pl.Series("hex", [f"{i:04x}" for i in range(65536)])


#: Key index offset of a city's lows (its highs use the city's index): keeps the highs' keys,
#: hence their trades' bytes, what they were before lows were generated.
_LOW_INDEX = 32


@dataclass(frozen=True)
class SynthSpec:
    """What to generate. ``trades_per_market`` is a mean (each market gets 25%-175% of it).

    ``families``: the market families (``high``, ``low``) generated for each city that has
    them (a city without a low series gets its highs only); an unknown name raises
    :class:`~kalshi_lake.errors.UnknownFamilyError`.
    """

    seed: int = 0
    cities: tuple[str, ...] = ("chicago",)
    start: dt.date = dt.date(2026, 9, 1)
    days: int = 10
    trades_per_market: int = 500
    page_size: int = 1000
    dup_page_rate: float = 0.02
    subcent_rate: float = 0.0
    candles: bool = True
    listing: bool = True
    events: bool = True
    chunk_trades: int = 1_000_000
    tier: str = "live"
    families: tuple[str, ...] = ("high",)

    def __post_init__(self) -> None:
        for f in self.families:
            check_family(f)
        if len(self.cities) > _LOW_INDEX:
            raise ValueError(f"at most {_LOW_INDEX} cities per spec")

    @property
    def series_count(self) -> int:
        """How many series (city and family) are generated: the events of one day."""
        return len(_series(self))

    @property
    def dates(self) -> list[dt.date]:
        """The event dates generated."""
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


@dataclass
class SynthStats:
    """What was written."""

    trades: int = 0
    trade_pages: int = 0
    dup_trades: int = 0
    candles: int = 0
    markets: int = 0
    files: int = 0
    bytes: int = 0
    paths: list[str] = field(default_factory=list)


def _u(key: pl.Expr, seed: int, k: int, mod: int) -> pl.Expr:
    """A deterministic pseudo-random integer in [0, mod) from ``key``."""
    return (key.hash(seed=seed * 1009 + k) % mod).cast(pl.Int64)


def _bits(h: pl.Expr, shift: int, mod: int) -> pl.Expr:
    """``mod``-valued slice of a 64-bit hash (several small draws from one hash)."""
    return ((h // (1 << shift)) % mod).cast(pl.Int64)


_LUTS: dict[str, pl.Series] = {}


def _lut(name: str) -> pl.Series:
    """Lookup tables of formatted strings (built once): gathering beats formatting."""
    if name not in _LUTS:
        out: pl.Expr | pl.Series
        if name == "dollars":  # index: micro-dollars // 100, 0..10000 -> "0.0000".."1.0000"
            out = pl.Series([dollars4(v) for v in range(10_001)], dtype=pl.String)
        elif name == "count":  # index: centi-contracts, 0..99999 -> "0.00".."999.99"
            out = pl.Series([count_fp(v) for v in range(100_000)], dtype=pl.String)
        elif name == "day":  # index: days since 1970-01-01 (to 2100) -> "2026-01-12T"
            v = pl.date_range(dt.date(1970, 1, 1), dt.date(2100, 1, 1), eager=True)
            out = v.dt.to_string("%Y-%m-%dT")
        elif name == "hms":  # index: second of the day -> "14:59:36"
            v = pl.int_range(0, 86_400, eager=True)
            out = pl.concat_str(
                [
                    (v // 3600).cast(pl.String).str.zfill(2),
                    pl.lit(":"),
                    (v // 60 % 60).cast(pl.String).str.zfill(2),
                    pl.lit(":"),
                    (v % 60).cast(pl.String).str.zfill(2),
                ]
            )
        elif name == "frac":  # index: microseconds -> ".123456", ".12345", ..., "" (trimmed)
            v = pl.int_range(0, 1_000_000, eager=True)
            out = (pl.lit(".") + v.cast(pl.String).str.zfill(6)).str.replace(r"\.?0+$", "")
        else:
            raise KeyError(name)
        _LUTS[name] = pl.select(out).to_series() if isinstance(out, pl.Expr) else out
    return _LUTS[name]


def _dollars(micro: pl.Expr) -> pl.Expr:
    """Micro-dollars (multiples of 100, 0..1) as a 4-decimal string: 120000 -> ``"0.1200"``."""
    return pl.lit(_lut("dollars")).gather(micro // 100)


def _count(centi: pl.Expr) -> pl.Expr:
    """Centi-contracts as a 2-decimal string: 250 -> ``"2.50"`` (vectorised ``count_fp``)."""
    return pl.concat_str(
        [(centi // 100).cast(pl.String), pl.lit("."), (centi % 100).cast(pl.String).str.zfill(2)]
    )


def _small_count(centi: pl.Expr) -> pl.Expr:
    """:func:`_count` for values under 1,000 contracts, by table lookup."""
    return pl.lit(_lut("count")).gather(centi)


def _iso(ts: pl.Expr) -> pl.Expr:
    """RFC 3339 with trailing fractional zeros trimmed, like the API (``...:20.8972Z``): a
    vectorised :func:`~kalshi_lake.sim.model.fmt_ts`."""
    us = ts.dt.epoch("us")
    secs = us // US
    return pl.concat_str(
        [
            pl.lit(_lut("day")).gather(secs // 86_400),
            pl.lit(_lut("hms")).gather(secs % 86_400),
            pl.lit(_lut("frac")).gather(us % US),
            pl.lit("Z"),
        ]
    )


# --- trades ------------------------------------------------------------------------------------


def _trades_frame(spec: SynthSpec, mk: pl.DataFrame) -> pl.DataFrame:
    """One row per trade, newest first per market, with page numbers."""
    s = spec.seed
    key = pl.col("key")
    mk = mk.with_columns(
        n=(spec.trades_per_market * (25 + _u(key, s, 1, 151)) // 100).clip(1),
        p0=10 + _u(key, s, 2, 80),
    )
    t = mk.select(
        "key", "city", "date", "market_ticker", "event_ticker", "open_us", "window_us", "p0",
        i=pl.int_ranges(0, "n"),
    ).explode("i")  # fmt: skip
    tk = pl.col("key") * (1 << 22) + pl.col("i")
    # Four 64-bit hashes per trade, sliced into the small draws (cheaper than one hash each).
    t = t.with_columns(
        ha=tk.hash(seed=s * 1009 + 3),
        hb=tk.hash(seed=s * 1009 + 4),
        id1=tk.hash(seed=s * 1009 + 5),
        id2=tk.hash(seed=s * 1009 + 6),
    )
    hb = pl.col("hb")
    t = t.with_columns(
        off=(pl.col("ha") % (1 << 62)).cast(pl.Int64) % pl.col("window_us"),
        exact=_bits(hb, 0, 100) == 0,
        step=_bits(hb, 8, 3) - 1,
        sub=_bits(hb, 16, 10_000) < int(spec.subcent_rate * 10_000),
        c=1 + _bits(hb, 32, 200),
        frac=_bits(hb, 40, 20) == 0,
        side=_bits(hb, 48, 2),
    ).drop("ha", "hb")
    # Some trades land exactly on a minute boundary (the candle edge cases).
    t = t.with_columns(
        off=pl.when("exact").then(pl.col("off") - pl.col("off") % 60_000_000).otherwise("off")
    )
    # Newest first within a market, like the API; the price walks forward in time, i.e. it is
    # the reverse cumulative sum of the steps in this order.
    t = t.sort(["city", "date", "key", "off"], descending=[False, False, False, True])
    cents = (pl.col("p0") + pl.col("step").cum_sum(reverse=True).over("key")).clip(1, 99)
    t = t.with_columns(
        yes_u=(cents * 10_000 + pl.when("sub").then(5_000).otherwise(0)).clip(10_000, 995_000),
        count_c=pl.col("c") * 100 + pl.when("frac").then(50).otherwise(0),
        traded_at=pl.from_epoch(
            pl.col("open_us") + pl.col("off"), time_unit="us"
        ).dt.replace_time_zone("UTC"),
        rank=pl.int_range(pl.len()).over("key"),
    )
    return t.with_columns(page=pl.col("rank") // spec.page_size)


def _trade_bodies(spec: SynthSpec, t: pl.DataFrame) -> tuple[pl.DataFrame, pa.Array]:
    """(one row per page, the page bodies) with bodies cut from one contiguous buffer."""
    n_pages = pl.col("page").max().over("key") + 1
    first = (pl.col("rank") % spec.page_size) == 0
    last = ((pl.col("rank") + 1) % spec.page_size == 0) | (
        pl.col("rank") == pl.len().over("key") - 1
    )
    cursor = pl.when(pl.col("page") + 1 < n_pages).then(
        pl.concat_str([pl.lit("c"), pl.col("key").cast(pl.String), pl.lit("p"), (pl.col("page") + 1).cast(pl.String)])
    ).otherwise(pl.lit(""))  # fmt: skip
    hexes = [
        pl.lit(_HEX).gather(_bits(pl.col(h), k, 65536))
        for h in ("id1", "id2")
        for k in (0, 16, 32, 48)
    ]
    tid = pl.concat_str(
        [
            hexes[0], hexes[1], pl.lit("-"), hexes[2], pl.lit("-"), hexes[3], pl.lit("-"),
            hexes[4], pl.lit("-"), hexes[5], hexes[6], hexes[7],
        ]
    )  # fmt: skip
    side = pl.when(pl.col("side") == 1).then(pl.lit("yes")).otherwise(pl.lit("no"))
    book = pl.when(pl.col("side") == 1).then(pl.lit("bid")).otherwise(pl.lit("ask"))
    obj = pl.concat_str(
        [
            pl.when(first).then(pl.concat_str([pl.lit('{"cursor":"'), cursor, pl.lit('","trades":[')])).otherwise(pl.lit("")),
            pl.lit('{"trade_id":"'), tid,
            pl.lit('","ticker":"'), pl.col("market_ticker"),
            pl.lit('","created_time":"'), _iso(pl.col("traded_at")),
            pl.lit('","count_fp":"'), _small_count(pl.col("count_c")),
            pl.lit('","yes_price_dollars":"'), _dollars(pl.col("yes_u")),
            pl.lit('","no_price_dollars":"'), _dollars(US - pl.col("yes_u")),
            pl.lit('","taker_side":"'), side,
            pl.lit('","taker_outcome_side":"'), side,
            pl.lit('","taker_book_side":"'), book,
            pl.lit('","is_block_trade":false}'),
            pl.when(last).then(pl.lit("]}")).otherwise(pl.lit(",")),
        ]
    )  # fmt: skip
    objs = t.select(obj=obj, first=first)
    bodies = _cut(objs["obj"], objs["first"])
    pages = (
        t.with_columns(cursor_out=cursor)
        .group_by("key", "page", maintain_order=True)
        .agg(
            city=pl.col("city").first(),
            date=pl.col("date").first(),
            market_ticker=pl.col("market_ticker").first(),
            event_ticker=pl.col("event_ticker").first(),
            cursor_out=pl.col("cursor_out").first(),
            n=pl.len(),
        )
    )
    return pages, bodies


def _cut(objs: pl.Series, first: pl.Series) -> pa.Array:
    """Concatenate consecutive strings into one value per run starting at each ``first``.

    The strings already carry their separators, so each page body is a slice of the Arrow
    data buffer: build the page offsets and reuse the buffer (no copy).
    """
    arr = pc.cast(objs.to_arrow(), pa.large_string())
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    offsets = pa.Array.from_buffers(
        pa.int64(), len(arr) + 1, [None, arr.buffers()[1]], offset=arr.offset
    )
    starts = [*pl.Series(first).arg_true().cast(pl.Int64).to_list(), len(arr)]
    page_offsets = pc.take(offsets, pa.array(starts, pa.int64()))
    return pa.Array.from_buffers(
        pa.large_string(), len(starts) - 1, [None, page_offsets.buffers()[1], arr.buffers()[2]]
    )


# --- candles -----------------------------------------------------------------------------------


def _candle_bodies(spec: SynthSpec, t: pl.DataFrame) -> tuple[pl.DataFrame, pa.Array, int]:
    """One ``candlesticks`` page per market: its 1m candles from its trades."""
    c = (
        t.sort(["key", "traded_at"])
        .with_columns(minute=pl.col("traded_at").dt.truncate("1m"))
        .group_by("key", "minute", maintain_order=True)
        .agg(
            city=pl.col("city").first(),
            date=pl.col("date").first(),
            market_ticker=pl.col("market_ticker").first(),
            event_ticker=pl.col("event_ticker").first(),
            o=pl.col("yes_u").first(),
            h=pl.col("yes_u").max(),
            lo=pl.col("yes_u").min(),
            cl=pl.col("yes_u").last(),
            v=pl.col("count_c").sum(),
            notional=(pl.col("yes_u") * pl.col("count_c")).sum(),
        )
        .with_columns(
            mean=((pl.col("notional") // pl.col("v") + 50) // 100) * 100,
            oi=pl.col("v").cum_sum().over("key") // 2,
            end=(pl.col("minute").dt.epoch("s") + 60),
            empty=_u(
                pl.col("key") * 100_000 + pl.col("minute").dt.epoch("s") // 60, spec.seed, 30, 20
            )
            == 0,
        )
    )
    c = c.with_columns(
        idx=pl.int_range(pl.len()).over("key"),
        last=pl.int_range(pl.len()).over("key") == pl.len().over("key") - 1,
    )

    def bid(x: str) -> pl.Expr:  # an empty side is served as 0.0000 (bid)
        return pl.when(pl.col("empty")).then(0).otherwise((pl.col(x) - 10_000).clip(0, US))

    def ask(x: str) -> pl.Expr:  # ... and 1.0000 (ask)
        return (pl.col(x) + 10_000).clip(0, US)

    def ohlc(f: object) -> list[pl.Expr]:
        parts: list[pl.Expr] = []
        for name, col in (("close", "cl"), ("high", "h"), ("low", "lo"), ("open", "o")):
            parts += [pl.lit(f'"{name}_dollars":"'), _dollars(f(col)), pl.lit('",')]  # type: ignore[operator]
        parts[-1] = pl.lit('"')
        return parts

    obj = pl.concat_str(
        [
            pl.when(pl.col("idx") == 0).then(pl.concat_str([pl.lit('{"ticker":"'), pl.col("market_ticker"), pl.lit('","candlesticks":[')])).otherwise(pl.lit("")),
            pl.lit('{"end_period_ts":'), pl.col("end").cast(pl.String),
            pl.lit(',"open_interest_fp":"'), _count(pl.col("oi")),
            pl.lit('","price":{'), *ohlc(lambda x: pl.col(x)),
            pl.lit(',"mean_dollars":"'), _dollars(pl.col("mean")), pl.lit('"}'),
            pl.lit(',"volume_fp":"'), _count(pl.col("v")),
            pl.lit('","yes_ask":{'), *ohlc(ask), pl.lit("}"),
            pl.lit(',"yes_bid":{'), *ohlc(bid), pl.lit("}}"),
            pl.when(pl.col("last")).then(pl.lit("]}")).otherwise(pl.lit(",")),
        ]
    )  # fmt: skip
    objs = c.select(obj=obj, first=pl.col("idx") == 0)
    bodies = _cut(objs["obj"], objs["first"])
    pages = c.group_by("key", maintain_order=True).agg(
        city=pl.col("city").first(),
        date=pl.col("date").first(),
        market_ticker=pl.col("market_ticker").first(),
        event_ticker=pl.col("event_ticker").first(),
        start=pl.col("end").min() - 60,
        stop=pl.col("end").max(),
    )
    return pages, bodies, c.height


# --- the generator -----------------------------------------------------------------------------


def _series(spec: SynthSpec) -> list[tuple[int, City, Series]]:
    """(key index, city, series) of every city and family generated, city by city."""
    out = []
    for ci, name in enumerate(spec.cities):
        city = get_city(name)
        for family, series in city.families.items():
            if family in spec.families:
                out.append((ci + (_LOW_INDEX if family == "low" else 0), city, series))
    return out


def _chunks(spec: SynthSpec) -> Iterator[list[Event]]:
    series = _series(spec)
    per_day = max(1, len(series) * 6 * spec.trades_per_market)
    days_per_chunk = max(1, spec.chunk_trades // per_day)
    dates = spec.dates
    for i in range(0, len(dates), days_per_chunk):
        yield [(ci, c, d, s) for d in dates[i : i + days_per_chunk] for ci, c, s in series]


def generate_raw(lake: Lake, spec: SynthSpec) -> SynthStats:
    """Write the raw layer described by ``spec`` into ``lake``; returns what was written."""
    stats = SynthStats()
    listing: dict[tuple[str, str], list[str]] = {}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures: list[Future[str]] = []
        for events in _chunks(spec):
            mk = markets_frame(spec, events)
            t = _trades_frame(spec, mk)
            stats.trades += t.height
            futures += _write_trades(lake, pool, spec, t, mk, stats)
            if spec.candles:
                futures += _write_candles(lake, pool, spec, t, mk, stats)
            vol = t.group_by("key").agg(v=pl.col("count_c").sum())
            mkv = mk.join(vol, on="key", how="left").with_columns(pl.col("v").fill_null(0))
            if spec.events:
                futures += write_events(lake, pool, spec, mkv, stats)
            for r in mkv.iter_rows(named=True):
                fetched = fetch_time(spec.dates[-1])
                listing.setdefault((r["city"], r["series"]), []).append(
                    json.dumps(market_payload(r, r["v"], fetched))
                )
            stats.markets += mk.height
            del t
        if spec.listing:
            futures += write_listing(lake, pool, spec, listing, stats)
        for f in futures:
            stats.paths.append(f.result())
    return stats


def _write_trades(
    lake: Lake,
    pool: ThreadPoolExecutor,
    spec: SynthSpec,
    t: pl.DataFrame,
    mk: pl.DataFrame,
    stats: SynthStats,
) -> list[Future[str]]:
    pages, bodies = _trade_bodies(spec, t)
    pages = pages.join(mk.select("key", "series"), on="key", how="left", maintain_order="left")
    stats.trade_pages += pages.height
    cursor_in = pl.when(pl.col("page") > 0).then(
        pl.concat_str([pl.lit("c"), pl.col("key").cast(pl.String), pl.lit("p"), pl.col("page").cast(pl.String)])
    )  # fmt: skip
    fetched = pl.col("date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(
        days=2, hours=12, seconds=pl.col("page")
    )
    params = pl.concat_str(
        [
            pl.lit('{"limit":'), pl.lit(str(spec.page_size)),
            pl.lit(',"ticker":"'), pl.col("market_ticker"), pl.lit('"}'),
        ]
    )  # fmt: skip
    path = pl.lit("/historical/trades" if spec.tier == "historical" else "/markets/trades")
    keys, table = raw_table(
        spec, "trades", pages, bodies, fetched, f"synth-{spec.seed}-1", path, params,
        cursor_in, pl.col("cursor_out"), pl.col("page"),
    )  # fmt: skip
    futures = write_groups(lake, pool, "trades", keys, table, stats)
    if spec.dup_page_rate > 0:
        # A later run fetched some pages again: identical trades, a later fetched_at.
        pick = pages.select(
            _u(pl.col("key") * 1000 + pl.col("page"), spec.seed, 40, 10_000)
        ).to_series() < int(spec.dup_page_rate * 10_000)
        if pick.any():
            idx = pick.arg_true()
            again = pages.filter(pick)
            stats.dup_trades += int(again["n"].sum())
            keys2, table2 = raw_table(
                spec, "trades", again, bodies.take(pa.array(idx.to_list(), pa.int64())),
                fetched + pl.duration(days=1), f"synth-{spec.seed}-2", path, params,
                cursor_in, pl.col("cursor_out"), pl.col("page"),
            )  # fmt: skip
            futures += write_groups(lake, pool, "trades", keys2, table2, stats)
    return futures


def _write_candles(
    lake: Lake,
    pool: ThreadPoolExecutor,
    spec: SynthSpec,
    t: pl.DataFrame,
    mk: pl.DataFrame,
    stats: SynthStats,
) -> list[Future[str]]:
    pages, bodies, n = _candle_bodies(spec, t)
    stats.candles += n
    pages = pages.join(mk.select("key", "series"), on="key", how="left", maintain_order="left")
    fetched = pl.col("date").cast(pl.Datetime("us")).dt.replace_time_zone("UTC") + pl.duration(
        days=2, hours=13
    )
    params = pl.concat_str(
        [
            pl.lit('{"end_ts":'), pl.col("stop").cast(pl.String),
            pl.lit(',"period_interval":1,"start_ts":'), pl.col("start").cast(pl.String), pl.lit("}"),
        ]
    )  # fmt: skip
    path = pl.concat_str(
        [pl.lit("/series/"), pl.col("series"), pl.lit("/markets/"), pl.col("market_ticker"), pl.lit("/candlesticks")]
    )  # fmt: skip
    keys, table = raw_table(
        spec, "candlesticks", pages, bodies, fetched, f"synth-{spec.seed}-1", path, params,
        pl.lit(None, pl.String), pl.lit(None, pl.String), pl.lit(0),
    )  # fmt: skip
    return write_groups(lake, pool, "candlesticks", keys, table, stats)
