"""The order book tables built from hand-written raw/ws frames and REST polls: the YES scale
(``use_yes_price`` never complemented twice), where a book stops being known (a seq hole, the
end of a connection, a market deleted from the subscription), the 5-minute cadence rows,
empty books, and bad frames reported."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kalshi_lake
from kalshi_lake.config import Settings
from kalshi_lake.lake.raw import CONNECTION_CITY, FRAME_SCHEMA, RAW_SCHEMA, frame_partition_dir
from kalshi_lake.transform import run_transform
from kalshi_lake.transform.summary import TransformSchemaError

T0 = 1_795_176_000_000_000  # 2026-11-20 08:00:00 UTC
MIN = 60_000_000
A = "KXHIGHCHI-26NOV20-B40.5"
B = "KXHIGHCHI-26NOV20-B42.5"


@dataclass
class Recorder:
    """Frames of one connection, as ``follow`` writes them."""

    conn: str = "run1.1"
    rows: list[dict[str, Any]] = field(default_factory=list)
    frame: int = 0
    seq: int = 0

    def add(self, at: int, direction: str, body: dict[str, Any], ticker: str | None = None,
            sid: int | None = None, seq: int | None = None) -> None:  # fmt: skip
        self.frame += 1
        kind = body.get("type") if direction == "in" else body.get("event")
        self.rows.append(
            {
                "recv_at": dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=at),
                "conn_id": self.conn,
                "frame_no": self.frame,
                "direction": direction,
                "channel": body.get("channel") or ("orderbook_delta" if sid else None),
                "msg_type": kind,
                "sid": sid,
                "seq": seq,
                "market_ticker": ticker,
                "body": json.dumps(body),
            }
        )

    def subscribe(self, at: int, yes_price: bool = False, sid: int = 1) -> None:
        params: dict[str, Any] = {"channels": ["orderbook_delta"], "market_tickers": [A, B]}
        if yes_price:
            params["use_yes_price"] = True
        self.add(at, "out", {"id": 7, "cmd": "subscribe", "params": params})
        self.add(at + 1, "in", {"type": "subscribed", "id": 7,
                                "msg": {"channel": "orderbook_delta", "sid": sid}}, sid=sid)  # fmt: skip

    def snapshot(self, at: int, ticker: str, yes: list[list[str]], no: list[list[str]],
                 sid: int = 1) -> None:  # fmt: skip
        self.seq += 1
        msg: dict[str, Any] = {"market_ticker": ticker, "market_id": "x"}
        if yes:
            msg["yes_dollars_fp"] = yes
        if no:
            msg["no_dollars_fp"] = no
        self.add(at, "in", {"type": "orderbook_snapshot", "sid": sid, "seq": self.seq,
                            "msg": msg}, ticker, sid, self.seq)  # fmt: skip

    def delta(self, at: int, ticker: str, side: str, price: str, delta: str, sid: int = 1,
              skip: int = 0) -> None:  # fmt: skip
        self.seq += 1 + skip
        msg = {"market_ticker": ticker, "price_dollars": price, "delta_fp": delta, "side": side,
               "ts": "2026-11-20T08:00:00.000000Z"}  # fmt: skip
        self.add(at, "in", {"type": "orderbook_delta", "sid": sid, "seq": self.seq, "msg": msg},
                 ticker, sid, self.seq)  # fmt: skip

    def event(self, at: int, what: str, **fields: Any) -> None:
        self.add(at, "event", {"event": what, "at_us": at, **fields}, sid=fields.get("sid"))


def write(lake: Path, *recs: Recorder) -> None:
    """Each recorder's frames to raw/ws, market frames under chicago, the rest _connection."""
    for n, rec in enumerate(recs):
        market = [r for r in rec.rows if r["market_ticker"]]
        other = [r for r in rec.rows if not r["market_ticker"]]
        for city, rows in (("chicago", market), (CONNECTION_CITY, other)):
            if not rows:
                continue
            folder = lake / frame_partition_dir(city, dt.date(2026, 11, 20))
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows, FRAME_SCHEMA), folder / f"seg{n}.parquet")


def build(lake: Path) -> Any:
    run_transform(Settings.load(env={}, lake=str(lake), progress=False))
    return kalshi_lake.connect(str(lake))


def _ts(us: int) -> str:
    at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def book(con: Any, at: int, ticker: str = A) -> list[tuple[str, Decimal, Decimal]]:
    return [
        (side, price, size)
        for side, price, size in con.execute(
            f"SELECT side, price, size FROM book_at('{_ts(at)}') WHERE market_ticker = ?"
            " ORDER BY side DESC, price",
            [ticker],
        ).fetchall()
    ]


D = Decimal


def test_yes_scale_is_the_same_with_and_without_use_yes_price(tmp_path: Path) -> None:
    books = []
    for yes_price in (False, True):
        rec = Recorder()
        rec.subscribe(T0, yes_price)
        # a NO bid at 0.60 is a YES ask at 0.40; with use_yes_price it arrives as 0.40
        no_px = "0.4000" if yes_price else "0.6000"
        rec.snapshot(T0 + 10, A, [["0.3500", "5.00"]], [[no_px, "7.50"]])
        rec.delta(T0 + 20, A, "no", "0.3800" if yes_price else "0.6200", "3.00")
        rec.delta(T0 + 30, A, "yes", "0.3500", "-1.00")
        lake = tmp_path / f"lake{yes_price}"
        write(lake, rec)
        con = build(lake)
        books.append(book(con, T0 + 40))
        assert book(con, T0 + 15) == [("bid", D("0.35"), D("5")), ("ask", D("0.4"), D("7.5"))]
        deltas = con.execute(
            "SELECT side, price, delta, is_snapshot FROM book_deltas ORDER BY recv_at, side"
        ).fetchall()
        assert deltas == [
            ("ask", D("0.4"), D("7.5"), True),
            ("bid", D("0.35"), D("5"), True),
            ("ask", D("0.38"), D("3"), False),
            ("bid", D("0.35"), D("-1"), False),
        ]
        quote = con.execute(
            "SELECT yes_bid, yes_bid_size, yes_ask, yes_ask_size, is_known FROM quotes"
            " ORDER BY quote_at"
        ).fetchall()
        assert quote == [
            (D("0.35"), D("5"), D("0.4"), D("7.5"), True),
            (D("0.35"), D("5"), D("0.38"), D("3"), True),
            (D("0.35"), D("4"), D("0.38"), D("3"), True),
        ]
    assert (
        books[0]
        == books[1]
        == [
            ("bid", D("0.35"), D("4")),
            ("ask", D("0.38"), D("3")),
            ("ask", D("0.4"), D("7.5")),
        ]
    )


def test_a_seq_hole_makes_the_sids_books_unknown_until_the_resync(tmp_path: Path) -> None:
    rec = Recorder()
    rec.subscribe(T0)
    rec.snapshot(T0 + 10, A, [["0.3500", "5.00"]], [])
    rec.snapshot(T0 + 11, B, [["0.2000", "1.00"]], [])
    rec.delta(T0 + 100, A, "yes", "0.3600", "2.00", skip=1)  # one frame lost before it
    rec.event(T0 + 101, "gap", channel="orderbook_delta", sid=1, expected=3, got=4)
    rec.delta(T0 + 200, A, "yes", "0.3700", "2.00")  # before the resync: not applied
    rec.snapshot(T0 + 300, A, [["0.3500", "5.00"], ["0.3600", "2.00"]], [])
    rec.delta(T0 + 400, A, "yes", "0.3600", "1.00")
    write(tmp_path, rec)
    con = build(tmp_path)
    assert book(con, T0 + 100) == [("bid", D("0.35"), D("5")), ("bid", D("0.36"), D("2"))]
    for at in (T0 + 101, T0 + 200, T0 + 299):
        assert book(con, at) == [] and book(con, at, B) == []
    assert book(con, T0 + 400) == [("bid", D("0.35"), D("5")), ("bid", D("0.36"), D("3"))]
    unknown = con.execute(
        "SELECT market_ticker, epoch_us(snapshot_at) FROM book_snapshots WHERE kind = 'unknown'"
        " ORDER BY 1"
    ).fetchall()
    assert unknown == [(A, T0 + 101), (B, T0 + 101)]
    q = con.execute(
        "SELECT epoch_us(quote_at), yes_bid, is_known FROM quotes WHERE market_ticker = ?"
        " ORDER BY quote_at",
        [A],
    ).fetchall()
    assert q == [(T0 + 10, D("0.35"), True), (T0 + 100, D("0.36"), True),
                 (T0 + 101, None, False), (T0 + 300, D("0.36"), True),
                 (T0 + 400, D("0.36"), True)]  # the size at the best bid changed  # fmt: skip


def test_the_end_of_a_connection_and_a_deleted_market_end_the_book(tmp_path: Path) -> None:
    one = Recorder()
    one.subscribe(T0)
    one.snapshot(T0 + 10, A, [["0.3500", "5.00"]], [])
    one.snapshot(T0 + 11, B, [["0.2000", "1.00"]], [])
    one.add(T0 + 50, "out", {"id": 9, "cmd": "update_subscription",
            "params": {"sids": [1], "market_tickers": [B], "action": "delete_markets"}})  # fmt: skip
    one.event(T0 + 100, "disconnected", reason="cut")
    # a crashed connection (no word of its end) is ended by the next one of its run
    two = Recorder(conn="run1.2")
    two.subscribe(T0 + 200)
    two.snapshot(T0 + 210, A, [["0.3000", "1.00"]], [])
    three = Recorder(conn="run1.3")
    three.subscribe(T0 + 500)
    write(tmp_path, one, two, three)
    con = build(tmp_path)
    assert book(con, T0 + 49, B) == [("bid", D("0.2"), D("1"))]
    assert book(con, T0 + 50, B) == []
    assert book(con, T0 + 99) == [("bid", D("0.35"), D("5"))]
    assert book(con, T0 + 100) == [] and book(con, T0 + 209) == []
    assert book(con, T0 + 499) == [("bid", D("0.3"), D("1"))]
    assert book(con, T0 + 500) == []


def test_cadence_rows_every_5_minutes_replay_the_book(tmp_path: Path) -> None:
    rec = Recorder()
    rec.subscribe(T0)
    rec.snapshot(T0 + 10, A, [["0.3500", "5.00"]], [["0.6000", "2.00"]])
    for k in range(1, 30):  # a change a minute for half an hour
        rec.delta(T0 + k * MIN, A, "yes", "0.3500", "1.00" if k % 2 else "-2.00")
    write(tmp_path, rec)
    con = build(tmp_path)
    cad = con.execute(
        "SELECT epoch_us(snapshot_at), frame_no, side, size FROM book_snapshots"
        " WHERE kind = 'cadence' ORDER BY 1, side"
    ).fetchall()
    # boundaries 08:05 ... 08:25 while the book is known, up to its last change at 08:29
    assert sorted({c[0] for c in cad}) == [T0 + k * 5 * MIN for k in range(1, 6)]
    for at, frame_no, side, size in cad:
        if side == "bid":
            applied = at // MIN - T0 // MIN  # deltas 1..k applied at 08:0k
            want = 5 + sum(1 if j % 2 else -2 for j in range(1, applied + 1))
            assert size == D(want) and frame_no == 3 + applied
    # book_at right after a boundary reads the cadence row plus what came after it
    for k in range(1, 30):
        size = 5 + sum(1 if j % 2 else -2 for j in range(1, k + 1))
        want = [("bid", D("0.35"), D(size))] if size > 0 else []
        assert book(con, T0 + k * MIN + 5) == [*want, ("ask", D("0.4"), D("2"))]


def _poll_page(at: int, books: list[dict[str, Any]]) -> dict[str, Any]:
    body = json.dumps({"orderbooks": books})
    return {
        "endpoint": "orderbooks", "tier": "live", "series_ticker": None, "event_ticker": None,
        "market_ticker": None, "request_path": "/markets/orderbooks",
        "request_params": "{}", "cursor_in": None, "cursor_out": None, "page_number": 0,
        "http_status": 200,
        "fetched_at": dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=at),
        "run_id": "r", "body": body, "body_sha256": "x",
    }  # fmt: skip


def test_rest_polls_are_snapshots_and_an_empty_book_is_one_row(tmp_path: Path) -> None:
    folder = tmp_path / "raw/orderbooks/city=chicago/date=2026-11-19"  # the day before
    folder.mkdir(parents=True)
    pages = [
        _poll_page(T0, [
            {"ticker": A, "orderbook_fp": {"yes_dollars": [["0.3500", "5.00"]],
                                           "no_dollars": [["0.6000", "2.00"]]}},
            {"ticker": B, "orderbook_fp": {"yes_dollars": [], "no_dollars": []}},
        ]),
        _poll_page(T0 + MIN, [
            {"ticker": A, "orderbook_fp": {"yes_dollars": [], "no_dollars": [["0.5000", "1.00"]]}},
        ]),
    ]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(pages, RAW_SCHEMA), folder / "p.parquet")
    con = build(tmp_path)
    assert book(con, T0 - 1) == []
    assert book(con, T0) == [("bid", D("0.35"), D("5")), ("ask", D("0.4"), D("2"))]
    assert book(con, T0 + MIN) == [("ask", D("0.5"), D("1"))]
    empty = con.execute(
        "SELECT kind, side, price, size FROM book_snapshots WHERE market_ticker = ?", [B]
    ).fetchall()
    assert empty == [("rest", None, None, None)]
    src = con.execute("SELECT DISTINCT source FROM book_at(?)", [_ts(T0)]).fetchall()
    assert src == [("rest",)]


def test_a_bad_delta_is_reported_with_its_file_and_left_out(tmp_path: Path) -> None:
    rec = Recorder()
    rec.subscribe(T0)
    rec.snapshot(T0 + 10, A, [["0.3500", "5.00"]], [])
    rec.delta(T0 + 20, A, "maybe", "0.3600", "2.00")
    write(tmp_path, rec)
    with pytest.raises(TransformSchemaError) as err:
        run_transform(Settings.load(env={}, lake=str(tmp_path), progress=False))
    text = str(err.value.summary.problems)
    assert "an order book delta has no side yes or no" in text and "seg0.parquet" in text
    con = kalshi_lake.connect(str(tmp_path))
    assert book(con, T0 + 30) == [("bid", D("0.35"), D("5"))]


def test_a_poll_on_the_last_day_of_a_month_feeds_the_next_months_markets(tmp_path: Path) -> None:
    """A poll fetched on 30 November holds the markets of 1 December: their rows go to the
    December partition (the poll file is an input of both months), and only there."""
    folder = tmp_path / "raw/orderbooks/city=chicago/date=2026-11-30"
    folder.mkdir(parents=True)
    dec = "KXHIGHCHI-26DEC01-B40.5"
    nov = "KXHIGHCHI-26NOV30-B40.5"
    at = T0 + 10 * 86_400_000_000  # 2026-11-30 08:00 UTC
    pages = [_poll_page(at, [
        {"ticker": nov, "orderbook_fp": {"yes_dollars": [["0.3500", "5.00"]], "no_dollars": []}},
        {"ticker": dec, "orderbook_fp": {"yes_dollars": [["0.2000", "1.00"]], "no_dollars": []}},
    ])]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(pages, RAW_SCHEMA), folder / "p.parquet")
    con = build(tmp_path)
    rows = con.execute(
        "SELECT month, market_ticker, price FROM book_snapshots ORDER BY month"
    ).fetchall()
    assert rows == [("2026-11", nov, D("0.35")), ("2026-12", dec, D("0.2"))]
    assert book(con, at, dec) == [("bid", D("0.2"), D("1"))]


@pytest.mark.slow
def test_every_market_with_cadence_rows_has_a_snapshot_or_poll_in_its_partition(
    tmp_path: Path,
) -> None:
    """fill_cost_decisions_for lists a partition's markets from its non-cadence entries: the
    transform writes a cadence row only for a book a ws snapshot or a poll of the same market
    made known, and both land in the market's own partition. A simulated day of a city's
    books (every market, a snapshot at 00:00 and every change after it) holds to that."""
    from kalshi_lake.bench.books import write_day

    lake = tmp_path / "lake"
    write_day(lake, "chicago", dt.date(2026, 11, 20))
    con = build(lake)
    cadence = con.execute(
        "SELECT DISTINCT city, month, market_ticker FROM book_snapshots WHERE kind = 'cadence'"
    ).fetchall()
    assert len(cadence) > 10
    orphans = con.execute(
        "SELECT city, month, market_ticker FROM book_snapshots WHERE kind = 'cadence'"
        " EXCEPT SELECT city, month, market_ticker FROM book_snapshots WHERE kind <> 'cadence'"
    ).fetchall()
    assert orphans == []
