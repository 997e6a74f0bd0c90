"""The one sequential fold of the order book tables: each market's book replayed in receive
order, giving the top-of-book changes (``quotes``), the replayed book at every 5-minute
boundary (``cadence`` rows of ``book_snapshots``) and the instants it stops being known
(``unknown`` rows).

Why a Python loop: the best bid after a change depends on every level still standing, a
running fold over a multiset that neither polars nor DuckDB express without materialising the
whole book after every change. The loop does O(1) work per change (the best price is kept
incrementally and rescanned only when its own level empties), about a microsecond each; see
the book benchmark for the measured rate.

Input: :class:`Ops`, one op per snapshot, delta, poll or invalidation, sorted by market and
then the tables' time order (receive time, ``conn_id``, ``frame_no``). The state of a market:

- a snapshot (a WebSocket snapshot or a REST poll) replaces the book and makes it known;
- a delta applies only to a known book from the same connection (``conn_id``), as
  ``book_at`` does;
- an invalidation (a seq hole on the sid, the end of the connection, an unsubscribe) of the
  book's connection (and sid, when it names one) makes it unknown until the next snapshot.

Sizes are kept as their replayed sums: a level whose sum went negative (a delta stream that
disagrees with its snapshot) stays in the cadence rows as it is, so ``book_at`` from a cadence
row equals ``book_at`` from the exchange snapshot before it (it keeps sizes > 0 either way).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Cadence of the replayed full books, in microseconds of receive time.
CADENCE_US = 300_000_000

#: Op kinds: a snapshot's header is followed by one LEVEL op per level it holds.
SNAPSHOT, DELTA, INVALIDATE, LEVEL = 0, 1, 2, 3


@dataclass
class Ops:
    """Column lists of the fold's input, one entry per op, in order (see module doc).

    A snapshot op is followed by its ``LEVEL`` ops (``is_bid``, ``price``, ``size``: the level's
    size); a delta op carries its own level (``size``: the signed change); an invalidation has
    none, and its ``sid`` is None when it concerns the whole connection.
    """

    part: list[int]
    market: list[str]
    recv_us: list[int]
    conn_id: list[str | None]
    frame_no: list[int | None]
    kind: list[int]
    source: list[str]
    sid: list[int | None]
    is_bid: list[bool | None]
    price: list[int | None]
    size: list[int | None]


@dataclass
class FoldOut:
    """The fold's rows, as column lists."""

    # quotes
    q_part: list[int] = field(default_factory=list)
    q_market: list[str] = field(default_factory=list)
    q_at: list[int] = field(default_factory=list)
    q_source: list[str] = field(default_factory=list)
    q_conn: list[str | None] = field(default_factory=list)
    q_frame: list[int | None] = field(default_factory=list)
    q_bid: list[int | None] = field(default_factory=list)
    q_bid_size: list[int | None] = field(default_factory=list)
    q_ask: list[int | None] = field(default_factory=list)
    q_ask_size: list[int | None] = field(default_factory=list)
    q_known: list[bool] = field(default_factory=list)
    # book_snapshots rows of kind cadence and unknown
    s_part: list[int] = field(default_factory=list)
    s_market: list[str] = field(default_factory=list)
    s_at: list[int] = field(default_factory=list)
    s_kind: list[str] = field(default_factory=list)
    s_conn: list[str | None] = field(default_factory=list)
    s_frame: list[int | None] = field(default_factory=list)
    s_side: list[str | None] = field(default_factory=list)
    s_price: list[int | None] = field(default_factory=list)
    s_size: list[int | None] = field(default_factory=list)

    def snapshot_row(
        self,
        part: int,
        market: str,
        at: int,
        kind: str,
        conn: str | None,
        frame: int | None,
        side: str | None,
        price: int | None,
        size: int | None,
    ) -> None:
        """One ``book_snapshots`` row."""
        self.s_part.append(part)
        self.s_market.append(market)
        self.s_at.append(at)
        self.s_kind.append(kind)
        self.s_conn.append(conn)
        self.s_frame.append(frame)
        self.s_side.append(side)
        self.s_price.append(price)
        self.s_size.append(size)


class _Book:
    """One market's replayed book and where it came from."""

    __slots__ = ("ask", "asks", "bid", "bids", "conn", "frame", "known", "sid", "source")

    def __init__(self) -> None:
        self.known = False
        self.source = "ws"
        self.conn: str | None = None
        self.sid: int | None = None
        self.frame: int | None = None
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.bid: int | None = None  # best price with a positive size
        self.ask: int | None = None

    def reset(self) -> None:
        self.bids, self.asks = {}, {}
        self.bid = self.ask = None

    def rescan(self) -> None:
        self.bid = max((p for p, s in self.bids.items() if s > 0), default=None)
        self.ask = min((p for p, s in self.asks.items() if s > 0), default=None)

    def apply(self, is_bid: bool, price: int, delta: int) -> None:
        ladder = self.bids if is_bid else self.asks
        size = ladder.get(price, 0) + delta
        if size:
            ladder[price] = size
        else:
            ladder.pop(price, None)
        best = self.bid if is_bid else self.ask
        if size > 0:
            if best is None or (price > best if is_bid else price < best):
                if is_bid:
                    self.bid = price
                else:
                    self.ask = price
        elif price == best:
            if is_bid:
                self.bid = max((p for p, s in ladder.items() if s > 0), default=None)
            else:
                self.ask = min((p for p, s in ladder.items() if s > 0), default=None)

    def top(self) -> tuple[int | None, int | None, int | None, int | None]:
        bid, ask = self.bid, self.ask
        return (
            bid,
            self.bids[bid] if bid is not None else None,
            ask,
            self.asks[ask] if ask is not None else None,
        )


def fold(ops: Ops) -> FoldOut:
    """Replay every market's book through ``ops`` (see the module doc)."""
    out = FoldOut()
    n = len(ops.kind)
    kinds, is_bid, prices, sizes = ops.kind, ops.is_bid, ops.price, ops.size
    book = _Book()
    market: str | None = None
    last_top: tuple[object, ...] | None = None
    next_cadence = 0
    part = 0
    i = 0
    while i < n:
        m = ops.market[i]
        r = ops.recv_us[i]
        kind = kinds[i]
        conn = ops.conn_id[i]
        at = i
        i += 1
        if m != market:
            market, part, book, last_top = m, ops.part[at], _Book(), None
            next_cadence = -(-r // CADENCE_US) * CADENCE_US
        elif book.known and book.source == "ws":
            while next_cadence < r:
                _cadence(out, part, m, next_cadence, book)
                next_cadence += CADENCE_US
        if next_cadence < r:
            next_cadence = -(-r // CADENCE_US) * CADENCE_US
        if kind == SNAPSHOT:
            book.reset()
            book.known = True
            book.source = ops.source[at]
            book.conn, book.sid, book.frame = conn, ops.sid[at], ops.frame_no[at]
            while i < n and kinds[i] == LEVEL:
                ladder = book.bids if is_bid[i] else book.asks
                price = prices[i]
                assert price is not None
                size = ladder.get(price, 0) + (sizes[i] or 0)
                if size:
                    ladder[price] = size
                else:
                    ladder.pop(price, None)
                i += 1
            book.rescan()
        elif kind == DELTA:
            if not book.known or book.conn is None or conn != book.conn:
                continue
            price = prices[at]
            assert price is not None
            book.apply(bool(is_bid[at]), price, sizes[at] or 0)
            book.frame = ops.frame_no[at]
        elif kind == INVALIDATE:
            sid = ops.sid[at]
            if not book.known or book.conn is None or conn != book.conn:
                continue
            if sid is not None and sid != book.sid:
                continue
            book.known = False
            book.reset()
            out.snapshot_row(part, m, r, "unknown", conn, ops.frame_no[at], None, None, None)
            _quote(out, part, m, r, "ws", conn, ops.frame_no[at], (None,) * 4, False)
            last_top = None
            continue
        else:
            continue  # a level without its snapshot (not produced by books.py)
        top = book.top()
        if top != last_top:
            _quote(out, part, m, r, book.source, conn, ops.frame_no[at], top, True)
            last_top = top
    return out


def _quote(
    out: FoldOut,
    part: int,
    market: str,
    at: int,
    source: str,
    conn: str | None,
    frame: int | None,
    top: tuple[int | None, int | None, int | None, int | None],
    known: bool,
) -> None:
    out.q_part.append(part)
    out.q_market.append(market)
    out.q_at.append(at)
    out.q_source.append(source)
    out.q_conn.append(conn)
    out.q_frame.append(frame)
    out.q_bid.append(top[0])
    out.q_bid_size.append(top[1])
    out.q_ask.append(top[2])
    out.q_ask_size.append(top[3])
    out.q_known.append(known)


def _cadence(out: FoldOut, part: int, market: str, at: int, book: _Book) -> None:
    """The replayed book at boundary ``at``: its non-zero levels, or one empty row."""
    rows = 0
    for side, ladder in (("bid", book.bids), ("ask", book.asks)):
        for price in sorted(ladder):
            out.snapshot_row(
                part, market, at, "cadence", book.conn, book.frame, side, price, ladder[price]
            )
            rows += 1
    if not rows:
        out.snapshot_row(part, market, at, "cadence", book.conn, book.frame, None, None, None)
