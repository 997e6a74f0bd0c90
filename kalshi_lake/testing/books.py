"""A writer of the curated order book tables for tests, from a market's list of book events.

A test describes what a recorder received for one market as a time-ordered list of
:class:`Snapshot`, :class:`Delta` and :class:`Unknown` items; :func:`book_rows` turns it into
the rows of ``book_deltas``, ``book_snapshots`` and ``quotes`` the way the curated tables hold
them (README, Tables: prices on the YES scale, sizes in contracts, receive times), and
:func:`write_books` writes them into a lake's ``curated/`` folders, one file per table and
(city, month) partition. :func:`replay` is the plain sequential model of the book at an
instant that SQL results are compared with.

Nothing here checks the list: a test seeds a defect (a delta that drives a level negative, a
snapshot that disagrees with the deltas before it, a crossed book) by writing exactly it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pyarrow as pa

from kalshi_lake import schemas
from kalshi_lake.lake.storage import Lake, unique_name

#: The book tables' columns and row order: the curated tables' own (kalshi_lake.schemas).
_BOOK_TABLES = ("book_deltas", "book_snapshots", "quotes")
SCHEMAS: dict[str, pa.Schema] = {name: schemas.TABLES[name] for name in _BOOK_TABLES}
SORT_KEYS: dict[str, tuple[str, ...]] = {name: schemas.SORT_KEYS[name] for name in _BOOK_TABLES}

Level = tuple[str, Decimal]  # (side 'bid' | 'ask', YES price)


@dataclass(frozen=True)
class Market:
    """Which market the events are about, and its partition."""

    market_ticker: str
    event_ticker: str
    city: str
    family: str
    date: dt.date


@dataclass(frozen=True)
class Snapshot:
    """A full book received at ``at``: ``kind`` 'ws' (an exchange snapshot), 'rest' (a REST
    poll) or 'cadence' (the transform's own replayed book; not a row of book_deltas)."""

    at: dt.datetime
    conn_id: str | None
    frame_no: int
    levels: Mapping[Level, Decimal]
    kind: str = "ws"
    sid: int | None = 1
    seq: int | None = None


@dataclass(frozen=True)
class Delta:
    """One level change received at ``at`` on connection ``conn_id``."""

    at: dt.datetime
    conn_id: str
    frame_no: int
    side: str
    price: Decimal
    delta: Decimal
    sid: int | None = 1
    seq: int | None = None


@dataclass(frozen=True)
class Unknown:
    """The replayed book stops being known at ``at`` (a seq hole, the connection's end)."""

    at: dt.datetime
    conn_id: str | None
    frame_no: int


Event = Snapshot | Delta | Unknown


@dataclass
class BookRows:
    """Rows of the three tables (plain dicts with ``city`` for the partition)."""

    tables: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in SCHEMAS}
    )

    def extend(self, other: BookRows) -> None:
        """Add ``other``'s rows."""
        for name, rows in other.tables.items():
            self.tables[name].extend(rows)


def _top(levels: Mapping[Level, Decimal]) -> tuple[Any, Any, Any, Any]:
    bids = [(p, s) for (side, p), s in levels.items() if side == "bid" and s > 0]
    asks = [(p, s) for (side, p), s in levels.items() if side == "ask" and s > 0]
    bid = max(bids) if bids else (None, None)
    ask = min(asks) if asks else (None, None)
    return bid[0], bid[1], ask[0], ask[1]


def book_rows(market: Market, events: Sequence[Event]) -> BookRows:
    """The rows of book_deltas, book_snapshots and quotes for ``events`` of ``market`` (in the
    order given, which should be receive order)."""
    out = BookRows()
    head = {
        "market_ticker": market.market_ticker,
        "event_ticker": market.event_ticker,
        "family": market.family,
        "date": market.date,
        "city": market.city,
    }
    state: dict[Level, Decimal] | None = None
    conn: str | None = None
    last_quote: tuple[Any, ...] | None = None
    for ev in events:
        source = "rest" if isinstance(ev, Snapshot) and ev.kind == "rest" else "ws"
        if isinstance(ev, Snapshot):
            state = {k: v for k, v in ev.levels.items() if v != 0}
            conn = ev.conn_id
            snap = {**head, "snapshot_at": ev.at, "kind": ev.kind, "conn_id": ev.conn_id}
            # a REST poll has no connection frame: NULL, as the transform writes it
            snap["frame_no"] = None if source == "rest" else ev.frame_no
            if not ev.levels:
                out.tables["book_snapshots"].append(
                    {**snap, "side": None, "price": None, "size": None}
                )
            for (side, price), size in sorted(ev.levels.items()):
                out.tables["book_snapshots"].append(
                    {**snap, "side": side, "price": price, "size": size}
                )
                if ev.kind != "cadence":
                    out.tables["book_deltas"].append({
                        **head, "recv_at": ev.at, "source": source, "conn_id": ev.conn_id,
                        "frame_no": snap["frame_no"],
                        "sid": ev.sid if source == "ws" else None,
                        "seq": ev.seq if source == "ws" else None,
                        "side": side, "price": price, "delta": size, "is_snapshot": True,
                    })  # fmt: skip
        elif isinstance(ev, Delta):
            out.tables["book_deltas"].append({
                **head, "recv_at": ev.at, "source": "ws", "conn_id": ev.conn_id,
                "frame_no": ev.frame_no, "sid": ev.sid, "seq": ev.seq, "side": ev.side,
                "price": ev.price, "delta": ev.delta, "is_snapshot": False,
            })  # fmt: skip
            if state is not None and ev.conn_id == conn:
                key = (ev.side, ev.price)
                state[key] = state.get(key, Decimal(0)) + ev.delta
        else:
            state = None
            out.tables["book_snapshots"].append({
                **head, "snapshot_at": ev.at, "kind": "unknown", "conn_id": ev.conn_id,
                "frame_no": ev.frame_no, "side": None, "price": None, "size": None,
            })  # fmt: skip
        quote: tuple[Any, ...] = (None,) * 4 + (False,) if state is None else (*_top(state), True)
        if quote != last_quote and (state is not None or last_quote is not None):
            out.tables["quotes"].append({
                **head, "quote_at": ev.at, "source": source, "conn_id": ev.conn_id,
                "frame_no": None if source == "rest" else ev.frame_no, "yes_bid": quote[0], "yes_bid_size": quote[1],
                "yes_ask": quote[2], "yes_ask_size": quote[3], "is_known": quote[4],
            })  # fmt: skip
        last_quote = quote
    return out


def replay(events: Sequence[Event], ts: dt.datetime) -> dict[Level, Decimal] | None:
    """The book of ``events`` as of ``ts``: every level with size > 0, or None where the book is
    not known (before the first snapshot, after an :class:`Unknown`). A delta applies to the
    latest snapshot when it came on that snapshot's connection after it."""
    state: dict[Level, Decimal] | None = None
    conn: str | None = None
    frame = 0
    for ev in events:
        if ev.at > ts:
            break
        if isinstance(ev, Snapshot):
            state, conn, frame = dict(ev.levels), ev.conn_id, ev.frame_no
        elif isinstance(ev, Unknown):
            state = None
        elif state is not None and ev.conn_id == conn and ev.frame_no > frame:
            key = (ev.side, ev.price)
            state[key] = state.get(key, Decimal(0)) + ev.delta
    if state is None:
        return None
    return {k: v for k, v in state.items() if v > 0}


def walk(levels: Mapping[Level, Decimal], side: str, quantity: Decimal) -> dict[str, Any]:
    """Take ``quantity`` off ``levels`` the plain way: 'yes' buys the asks from the lowest,
    'no' sells YES into the bids from the highest, paying 1 - bid. Returns filled, unfilled,
    total_cost, avg_price (rounded half up to 8 decimals), levels_used, worst_price and
    best_price (prices paid)."""
    if side == "yes":
        book = sorted((p, s) for (sd, p), s in levels.items() if sd == "ask")
    else:
        book = sorted((1 - p, s) for (sd, p), s in levels.items() if sd == "bid")
    filled = cost = Decimal(0)
    used: list[Decimal] = []
    for paid, size in book:
        take = min(size, quantity - filled)
        if take <= 0:
            break
        filled += take
        cost += take * paid
        used.append(paid)
    avg = (cost / filled).quantize(Decimal("1e-8"), ROUND_HALF_UP) if filled else None
    return {
        "filled": filled,
        "unfilled": quantity - filled,
        "total_cost": cost,
        "avg_price": avg,
        "levels_used": len(used),
        "worst_price": used[-1] if used else None,
        "best_price": book[0][0] if book else None,
    }


def arrow_tables(rows: BookRows) -> dict[tuple[str, str, str], pa.Table]:
    """``rows`` as Arrow tables keyed by (table, city, month), in no particular order."""
    parts: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for name, table_rows in rows.tables.items():
        for r in table_rows:
            parts[(name, r["city"], r["date"].strftime("%Y-%m"))].append(r)
    return {
        key: pa.Table.from_pylist(
            [{c: r[c] for c in SCHEMAS[key[0]].names} for r in part], schema=SCHEMAS[key[0]]
        )
        for key, part in parts.items()
    }


def write_tables(
    lake: Lake, tables: Mapping[tuple[str, str, str], Sequence[pa.Table]]
) -> list[str]:
    """Write each (table, city, month) partition's tables as one new file, in the table's sort
    order; returns the paths written."""
    written = []
    for (name, city, month), parts in sorted(tables.items()):
        tbl = pa.concat_tables(parts).sort_by([(k, "ascending") for k in SORT_KEYS[name]])
        written.append(
            lake.write_table(tbl, f"curated/{name}/city={city}/month={month}/{unique_name()}")
        )
    return written


def write_rows(lake: Lake, rows: BookRows) -> list[str]:
    """Write ``rows`` into the lake's curated book tables: one new file per table and
    (city, month) partition; returns the paths written."""
    return write_tables(lake, {k: [t] for k, t in arrow_tables(rows).items()})


def write_books(lake: Lake, books: Iterable[tuple[Market, Sequence[Event]]]) -> list[str]:
    """Write the book tables of every (market, events) pair of ``books``; see :func:`book_rows`."""
    rows = BookRows()
    for market, events in books:
        rows.extend(book_rows(market, events))
    return write_rows(lake, rows)


CENT = Decimal("0.01")


def random_events(
    rng: random.Random,
    start: dt.datetime,
    end: dt.datetime,
    *,
    conn_prefix: str = "conn",
    mean_gap_s: float = 20.0,
    reconnect_share: float = 0.01,
    cadence: dt.timedelta | None = dt.timedelta(minutes=5),
) -> list[Event]:
    """A plausible recorded book between ``start`` and ``end``: a WebSocket snapshot, deltas
    about every ``mean_gap_s`` seconds around a wandering mid (never crossed; some sizes
    fractional, some levels emptied), a reconnect (:class:`Unknown`, then a new connection's
    snapshot) for about ``reconnect_share`` of the deltas, and a 'cadence' snapshot of the
    replayed book at every ``cadence`` boundary while it is known."""
    out: list[Event] = []
    conn_no = 0
    frame = 0
    seq = 0
    state: dict[Level, Decimal] = {}
    mid = rng.randint(10, 90)
    at = start

    def fresh_book() -> dict[Level, Decimal]:
        book: dict[Level, Decimal] = {}
        for k in range(1, rng.randint(1, 6) + 1):
            if mid - k >= 1:
                book[("bid", Decimal(mid - k) * CENT)] = Decimal(rng.randint(1, 400))
            if mid + k <= 99:
                book[("ask", Decimal(mid + k) * CENT)] = Decimal(rng.randint(1, 400))
        return book

    def connect() -> None:
        nonlocal conn_no, frame, seq, state
        conn_no += 1
        frame, seq = 1, 1
        state = fresh_book()
        out.append(Snapshot(at, f"{conn_prefix}-{conn_no}", frame, dict(state), seq=seq))

    connect()
    next_cadence = _next_boundary(start, cadence) if cadence else None
    while True:
        at = at + dt.timedelta(seconds=rng.expovariate(1 / mean_gap_s))
        if at >= end:
            break
        while next_cadence is not None and cadence is not None and next_cadence <= at:
            live = {k: v for k, v in state.items() if v > 0}
            out.append(Snapshot(next_cadence, f"{conn_prefix}-{conn_no}", frame, live, "cadence"))
            next_cadence += cadence
        if rng.random() < reconnect_share:
            out.append(Unknown(at, f"{conn_prefix}-{conn_no}", frame + 1))
            at = at + dt.timedelta(seconds=rng.uniform(1, 90))
            if at >= end:
                break
            mid = min(max(mid + rng.randint(-3, 3), 5), 95)
            connect()
            if next_cadence is not None and cadence is not None:
                # no cadence while the book is not known
                next_cadence = _next_boundary(at, cadence)
            continue
        mid = min(max(mid + rng.choice((-1, 0, 0, 0, 1)), 5), 95)
        side = rng.choice(("bid", "ask"))
        price = Decimal(mid - rng.randint(1, 4) if side == "bid" else mid + rng.randint(1, 4))
        key = (side, price * CENT)
        have = state.get(key, Decimal(0))
        if have > 0 and rng.random() < 0.5:
            delta = -have if rng.random() < 0.4 else -min(have, Decimal(rng.randint(1, 50)))
        else:
            delta = Decimal(rng.randint(1, 300)) / (100 if rng.random() < 0.2 else 1)
        # a new level must not cross the other side: drop those that would
        other = [p for (sd, p), v in state.items() if sd != side and v > 0]
        if (
            delta > 0
            and other
            and (
                (side == "bid" and key[1] >= min(other)) or (side == "ask" and key[1] <= max(other))
            )
        ):
            continue
        frame += 1
        seq += 1
        state[key] = have + delta
        out.append(Delta(at, f"{conn_prefix}-{conn_no}", frame, side, key[1], delta, seq=seq))
    return out


def _next_boundary(at: dt.datetime, step: dt.timedelta) -> dt.datetime:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    n = (at - epoch) // step + 1
    return epoch + n * step
