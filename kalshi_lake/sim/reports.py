"""Kalshi's public daily reports, as the simulated exchange would publish them.

Kalshi publishes two files per New York calendar day in the public bucket
``kalshi-public-docs`` under ``reporting/``: ``market_data_<day>`` (one row per market: open
interest, volume, block volume, high and low price, status) and ``trade_data_<day>`` (one row per
trade: ticker, time to the second, contracts, price), each one top-level JSON array of flat
objects, plain ``.json`` up to 2026-07-29 and gzipped ``.json.gz`` from 2026-07-30. Numbers are
JSON integers in files before 2026 and decimal strings from 2026 on; prices are YES prices in
cents. Every series of the exchange is in them, so a reader must filter.

Here the rows come from the simulator's tapes (:mod:`kalshi_lake.sim.tape`), so they agree with
what the simulated API serves: the same trades (cut to the second, in New York time), volumes and
open interest. Rows of series outside the temperature registry (:data:`OTHER_SERIES`) are mixed
in, seeded per day. Choices where Kalshi documents nothing:

- ``create_ts`` is ``YYYY-MM-DD HH:MM:SS±HH:MM`` in New York time (whole seconds, floor).
- Fractional counts (from 2026-04-09 on) are written as decimal strings (``"12.5"``); whole ones
  without a point (``"12"``). Before 2026 every count is whole, so integers are exact.
- A ``market_data`` row exists for every market alive during the day (opened before its end,
  not settled before its start); ``status`` is ``finalized`` if it settled during the day, else
  ``active``; ``high``/``low`` are 0 when the market did not trade that day.
- A day's files appear at 06:00 UTC the next day plus a seeded 0-120 minutes. One day per
  :func:`publish_reports` call may be *rewritten*: its first ``trade_data`` file lacks the day's
  last trade of the registry's series, and the complete file replaces it
  :data:`REWRITE_AFTER` later (a new ETag).

Public API: :func:`report_key`, :func:`published_at`, :func:`market_rows`, :func:`trade_rows`,
:func:`encode_report` / :func:`write_report` and :func:`publish_reports` (every file of a range
published as of the world's now, into any fsspec file system: moto's S3 in the tests).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from kalshi_lake.cities import City
from kalshi_lake.sim.model import ET, US, Event, from_us, to_us
from kalshi_lake.sim.world import SERIES, World

#: Kalshi's public bucket and the folder of the daily reports in it.
REPORT_BUCKET = "kalshi-public-docs"
REPORT_PREFIX = "reporting"
#: The two kinds of daily report.
KINDS = ("market_data", "trade_data")
#: Files of report days from this one on are gzipped (``.json.gz``); before, plain ``.json``.
GZIP_FROM = dt.date(2026, 7, 30)
#: Numbers are decimal strings in files of report days from this one on; integers before.
STRINGS_FROM = dt.date(2026, 1, 1)
#: How long after its first version a rewritten file is replaced.
REWRITE_AFTER = dt.timedelta(days=21)
#: Series outside the temperature registry that the files also carry (so readers must filter):
#: (report_ticker, markets per day, mean trades per market and day).
OTHER_SERIES: tuple[tuple[str, int, int], ...] = (
    ("KXBTCD", 6, 40),
    ("KXNBAGAME", 4, 25),
    ("INXD", 5, 30),
    ("KXHIGHTSFO", 3, 10),  # a look-alike of a temperature series that the registry lacks
)

_MARKET_KEYS = (
    "date",
    "ticker_name",
    "report_ticker",
    "payout_type",
    "open_interest",
    "daily_volume",
    "block_volume",
    "high",
    "low",
    "status",
)
_TRADE_KEYS = ("ticker_name", "report_ticker", "date", "create_ts", "contracts_traded", "price")
#: Row fields that are numbers (integers before :data:`STRINGS_FROM`, strings from then on);
#: counts are held in hundredths of a contract (``cc``), prices in cents.
_COUNT_FIELDS = ("open_interest", "daily_volume", "block_volume", "contracts_traded")
_PRICE_FIELDS = ("high", "low", "price")


def report_key(kind: str, day: dt.date) -> str:
    """``reporting/trade_data_2026-08-01.json.gz`` (``.json`` before :data:`GZIP_FROM`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    ext = ".json.gz" if day >= GZIP_FROM else ".json"
    return f"{REPORT_PREFIX}/{kind}_{day.isoformat()}{ext}"


def published_at(seed: int, day: dt.date) -> dt.datetime:
    """When the files of report day ``day`` appear: 06:00 UTC the next day + 0-120 seeded min."""
    rng = random.Random(f"kalshi-sim|{seed}|reports|{day.isoformat()}")
    nxt = day + dt.timedelta(days=1)
    base = dt.datetime(nxt.year, nxt.month, nxt.day, 6, 0, tzinfo=dt.UTC)
    return base + dt.timedelta(minutes=rng.randrange(120))


def ny_day_bounds_us(day: dt.date) -> tuple[int, int]:
    """[start, end) of a New York calendar day in epoch microseconds."""
    nxt = day + dt.timedelta(days=1)
    start = to_us(dt.datetime(day.year, day.month, day.day, tzinfo=ET))
    return start, to_us(dt.datetime(nxt.year, nxt.month, nxt.day, tzinfo=ET))


def _ny_ts(t_us: int) -> str:
    return from_us(t_us - t_us % US).astimezone(ET).isoformat(sep=" ")


def _events(world: World, day: dt.date, series: Sequence[City]) -> list[Event]:
    # A climate day's markets open at 10:00 ET the day before and close by 00:59 ET the day
    # after, so three climate days can trade during one New York day.
    out = []
    for view in series:
        for d in (day - dt.timedelta(days=1), day, day + dt.timedelta(days=1)):
            ev = world.event(view, d)
            if ev is not None:
                out.append(ev)
    return out


def market_rows(
    world: World, day: dt.date, series: Sequence[City] = SERIES
) -> list[dict[str, Any]]:
    """The ``market_data`` rows of the registry's markets for New York day ``day``.

    Counts in hundredths of a contract, prices in cents (see :func:`encode_report`).
    """
    lo, hi = ny_day_bounds_us(day)
    rows = []
    for ev in _events(world, day, series):
        for m in ev.markets:
            if m.open_us >= hi or m.settlement_us < lo:
                continue
            tape = world.tape(m)
            i, j = tape.n_trades_until(lo - 1), tape.n_trades_until(hi - 1)
            prices = tape.t_px[i:j]
            rows.append(
                {
                    "date": day.isoformat(),
                    "ticker_name": m.ticker,
                    "report_ticker": m.ticker.split("-", 1)[0],
                    "payout_type": "Binary Option",
                    "open_interest": tape.t_oi[j - 1] if j else 0,
                    "daily_volume": tape.t_cum[j] - tape.t_cum[i],
                    "block_volume": sum(
                        cc for cc, b in zip(tape.t_cc[i:j], tape.t_block[i:j], strict=True) if b
                    ),
                    "high": max(prices) if prices else 0,
                    "low": min(prices) if prices else 0,
                    "status": "finalized" if m.settlement_us < hi else "active",
                }
            )
    rows.sort(key=lambda r: str(r["ticker_name"]))
    return rows


def trade_rows(world: World, day: dt.date, series: Sequence[City] = SERIES) -> list[dict[str, Any]]:
    """The ``trade_data`` rows of the registry's markets for New York day ``day``, by time."""
    lo, hi = ny_day_bounds_us(day)
    keyed: list[tuple[int, str, int, dict[str, Any]]] = []
    for ev in _events(world, day, series):
        for m in ev.markets:
            tape = world.tape(m)
            i, j = tape.n_trades_until(lo - 1), tape.n_trades_until(hi - 1)
            report_ticker = m.ticker.split("-", 1)[0]
            for k in range(i, j):
                t = tape.t_us[k]
                row = {
                    "ticker_name": m.ticker,
                    "report_ticker": report_ticker,
                    "date": day.isoformat(),
                    "create_ts": _ny_ts(t),
                    "contracts_traded": tape.t_cc[k],
                    "price": tape.t_px[k],
                }
                keyed.append((t, m.ticker, k, row))
    keyed.sort(key=lambda x: x[:3])
    return [r for *_, r in keyed]


def other_rows(seed: int, kind: str, day: dt.date) -> list[dict[str, Any]]:
    """Seeded rows of :data:`OTHER_SERIES` for one report day (no world behind them)."""
    rng = random.Random(f"kalshi-sim|{seed}|reports-other|{day.isoformat()}")
    lo, hi = ny_day_bounds_us(day)
    markets: list[dict[str, Any]] = []
    trades: list[tuple[int, dict[str, Any]]] = []
    for series, n_markets, mean_trades in OTHER_SERIES:
        for k in range(n_markets):
            ticker = f"{series}-{day:%y%b%d}".upper() + f"-M{k}"
            n = rng.randrange(2 * mean_trades + 1)
            times = sorted(lo + rng.randrange(hi - lo) for _ in range(n))
            prices = [rng.randint(1, 99) for _ in range(n)]
            counts = [rng.randint(1, 500) * 100 for _ in range(n)]
            markets.append(
                {
                    "date": day.isoformat(),
                    "ticker_name": ticker,
                    "report_ticker": series,
                    "payout_type": "Binary Option",
                    "open_interest": sum(counts) // 200 * 100,
                    "daily_volume": sum(counts),
                    "block_volume": 0,
                    "high": max(prices) if prices else 0,
                    "low": min(prices) if prices else 0,
                    "status": "active",
                }
            )
            for t, p, c in zip(times, prices, counts, strict=True):
                trades.append(
                    (
                        t,
                        {
                            "ticker_name": ticker,
                            "report_ticker": series,
                            "date": day.isoformat(),
                            "create_ts": _ny_ts(t),
                            "contracts_traded": c,
                            "price": p,
                        },
                    )
                )
    if kind == "market_data":
        return markets
    trades.sort(key=lambda x: x[0])
    return [r for _, r in trades]


def _count(cc: int, strings: bool) -> int | str:
    if not strings:
        if cc % 100:
            raise ValueError(f"a fractional count ({cc} cc) in an integer-era report")
        return cc // 100
    whole, frac = divmod(cc, 100)
    return str(whole) if not frac else f"{whole}.{frac:02d}".rstrip("0")


def encode_row(row: dict[str, Any], kind: str, strings: bool) -> dict[str, Any]:
    """One row in the file's shape: the kind's keys in order, numbers as the era writes them."""
    keys = _MARKET_KEYS if kind == "market_data" else _TRADE_KEYS
    out: dict[str, Any] = {}
    for key in keys:
        value = row[key]
        if key in _COUNT_FIELDS:
            value = _count(int(value), strings)
        elif key in _PRICE_FIELDS:
            value = str(value) if strings else int(value)
        out[key] = value
    return out


def iter_report_bytes(rows: Iterable[dict[str, Any]], kind: str, day: dt.date) -> Iterator[bytes]:
    """The uncompressed bytes of a report file (one JSON array), a row at a time."""
    strings = day >= STRINGS_FROM
    yield b"["
    first = True
    for row in rows:
        text = json.dumps(encode_row(row, kind, strings))
        yield (text if first else ", " + text).encode()
        first = False
    yield b"]"


def write_report(
    out: IO[bytes], rows: Iterable[dict[str, Any]], kind: str, day: dt.date, *, level: int = 6
) -> None:
    """Stream a report file to ``out``: gzipped for days from :data:`GZIP_FROM` on."""
    if day >= GZIP_FROM:
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0) as gz:
            for chunk in iter_report_bytes(rows, kind, day):
                gz.write(chunk)
    else:
        for chunk in iter_report_bytes(rows, kind, day):
            out.write(chunk)


def encode_report(rows: Iterable[dict[str, Any]], kind: str, day: dt.date) -> bytes:
    """A whole report file's bytes (see :func:`write_report`)."""
    import io

    buf = io.BytesIO()
    write_report(buf, rows, kind, day)
    return buf.getvalue()


def _mix(registry: list[dict[str, Any]], other: list[dict[str, Any]], kind: str) -> list[dict]:
    if kind == "market_data":
        return sorted(registry + other, key=lambda r: str(r["ticker_name"]))
    return sorted(registry + other, key=lambda r: str(r["create_ts"]))  # stable: ties keep order


@dataclass(frozen=True)
class PublishedFile:
    """One report file written by :func:`publish_reports`."""

    kind: str
    day: dt.date
    key: str
    rows: int
    first_version: bool  # True: the first, incomplete version of the rewritten day


def report_file_rows(
    world: World,
    kind: str,
    day: dt.date,
    series: Sequence[City] = SERIES,
    *,
    first_version: bool = False,
) -> list[dict[str, Any]]:
    """Every row of one report file (registry and other series), in file order.

    ``first_version``: the rewritten day's first ``trade_data``, without its last registry trade.
    """
    if kind == "market_data":
        own = market_rows(world, day, series)
    else:
        own = trade_rows(world, day, series)
        if first_version and own:
            own = own[:-1]
    return _mix(own, other_rows(world.seed, kind, day), kind)


def publish_reports(
    fs: Any,
    root: str,
    world: World,
    first: dt.date,
    last: dt.date,
    *,
    series: Sequence[City] = SERIES,
    rewrite_day: dt.date | None = None,
) -> list[PublishedFile]:
    """Write the report files of New York days ``first..last`` published by ``world.now``.

    ``fs`` is an fsspec file system and ``root`` the bucket folder on it (``bucket`` or
    ``bucket/prefix``; keys from :func:`report_key` go under it). Days not published yet are
    skipped (a reader finds them pending). ``rewrite_day``'s ``trade_data`` is first published
    without its last trade of ``series`` and replaced by the complete file
    :data:`REWRITE_AFTER` later. Writing the same world twice writes the same bytes (same
    ETags); returns the files written.
    """
    out = []
    # Local folders need it; on S3 it creates the bucket if it does not exist yet.
    fs.makedirs(f"{root.rstrip('/')}/{REPORT_PREFIX}", exist_ok=True)
    day = first
    while day <= last:
        at = published_at(world.seed, day)
        if world.now >= at:
            for kind in KINDS:
                early = (
                    kind == "trade_data" and day == rewrite_day and world.now < at + REWRITE_AFTER
                )
                rows = report_file_rows(world, kind, day, series, first_version=early)
                key = f"{root.rstrip('/')}/{report_key(kind, day)}"
                fs.pipe_file(key, encode_report(rows, kind, day))
                out.append(PublishedFile(kind, day, key, len(rows), early))
        day += dt.timedelta(days=1)
    return out


def write_synthetic_trade_report(
    out: IO[bytes],
    day: dt.date,
    rows: int,
    *,
    seed: int = 0,
    ours: Sequence[str] = ("KXHIGHCHI", "KXLOWTCHI"),
    share: float = 0.002,
    level: int = 1,
) -> int:
    """A large ``trade_data`` file for benchmarks: ``rows`` rows, about ``share`` of them of the
    series ``ours`` and the rest of hundreds of other series; returns how many are ``ours``.

    Sixteen distinct blocks of 8,192 seeded rows are written in turn (memory stays flat however
    large the file; a block is far larger than gzip's 32 KiB window, so the file compresses like
    fresh rows), gzipped for days from :data:`GZIP_FROM` on at ``level`` 1. No world behind it:
    it is for the reader's speed and memory, not for reconciliation.
    """
    rng = random.Random(f"kalshi-sim|{seed}|synthetic-report|{day.isoformat()}")
    rand = rng.random
    strings = day >= STRINGS_FROM
    lo, _ = ny_day_bounds_us(day)
    q = '"' if strings else ""
    month = f"{day:%y%b}".upper()
    block_rows = 8192
    blocks: list[tuple[bytes, int]] = []
    for b in range(16):
        parts = []
        mine = 0
        for i in range(block_rows):
            if rand() < share:
                series = ours[i % len(ours)]
                mine += 1
            else:
                series = f"KXOTHER{int(rand() * 400):03d}"
            ts = _ny_ts(lo + (b * block_rows + i) * 5 * US)
            parts.append(
                f'{{"ticker_name": "{series}-{month}{int(rand() * 28) + 1:02d}-M{int(rand() * 30)}", '
                f'"report_ticker": "{series}", "date": "{day.isoformat()}", "create_ts": "{ts}", '
                f'"contracts_traded": {q}{int(rand() * 5000) + 1}{q}, '
                f'"price": {q}{int(rand() * 99) + 1}{q}}}'
            )
        blocks.append((", ".join(parts).encode(), mine))
    sink: Any = (
        gzip.GzipFile(fileobj=out, mode="wb", compresslevel=level, mtime=0)
        if day >= GZIP_FROM
        else out
    )
    total_mine = 0
    try:
        sink.write(b"[")
        done = 0
        k = 0
        while done < rows:
            data, mine = blocks[k % len(blocks)]
            n = min(block_rows, rows - done)
            if n < block_rows:  # the last, partial block: cut after its n-th row
                cut = data.split(b"}, {")[:n]
                data = b"}, {".join(cut) + (b"" if cut[-1].endswith(b"}") else b"}")
                mine = sum(
                    1 for r in cut if any(f'"report_ticker": "{o}"'.encode() in r for o in ours)
                )
            sink.write((b", " if done else b"") + data)
            total_mine += mine
            done += n
            k += 1
        sink.write(b"]")
    finally:
        if sink is not out:
            sink.close()
    return total_mine


def publish_reports_to(
    url: str,
    world: World,
    first: dt.date,
    last: dt.date,
    *,
    rewrite_day: dt.date | None = None,
) -> list[PublishedFile]:
    """:func:`publish_reports` of every simulated series to a URL: ``s3://bucket[/prefix]``
    (credentials and endpoint from the usual AWS variables; the bucket must exist) or a local
    folder. The ``kalshi-lake sim --reports-to`` option."""
    from kalshi_lake.lake.storage import Lake

    target = Lake(url)
    return publish_reports(target.fs, target.root, world, first, last, rewrite_day=rewrite_day)
