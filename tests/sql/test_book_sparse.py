"""The order book tables cover only what was followed: a city or a month without book files
gives no book (NULL book columns, no levels), never DuckDB's "No files found".

A lake backfilled for a year and followed for a week is the usual case: the candles and trades
cover every month, the book tables one city's current month. The computed forms read the book
tables over the caller's city and dates, so a narrow glob made `decision_quotes_for` at other
instants, `book_at_for` and `fill_cost_for` fail outside the followed partitions.
"""

from __future__ import annotations

import copy
import random

import pytest
from sql_lakefactory import NOW, build

from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql.connection import connect
from kalshi_lake.testing.books import Market, random_events, write_books

INSTANTS = "instants := ['D 09:00', 'D-1 15:30']"
BOOK_COLUMNS = ("book_yes_bid", "book_yes_ask", "book_as_of", "book_source")


@pytest.fixture(scope="module")
def lakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Lake, Lake]:
    """The same lake twice: without books, and with books for chicago's November only."""
    data = build()
    root = tmp_path_factory.mktemp("sparse")
    plain = copy.deepcopy(data).write(root / "plain")
    followed = copy.deepcopy(data).write(root / "followed")
    rng = random.Random(7)
    books = []
    for m in data.markets:
        if m["city"] == "chicago" and m["date"].month == 11:
            market = Market(m["market_ticker"], m["event_ticker"], "chicago", "high", m["date"])
            end = min(m["close_time"], NOW)
            books.append((market, random_events(rng, m["open_time"], end, mean_gap_s=120)))
    write_books(followed, books)
    return plain, followed


def _rows(lake: Lake, sql: str) -> list[tuple[object, ...]]:
    return connect(lake).sql(sql).fetchall()


@pytest.mark.parametrize(
    ("city", "start", "end"),
    [
        ("phoenix", "2026-11-01", "2026-11-30"),  # a city never followed
        ("chicago", "2026-10-01", "2026-10-31"),  # a month of a followed city never followed
        ("chicago", "2026-03-01", "2026-03-31"),
    ],
)
def test_decision_quotes_where_nothing_was_followed_have_no_book(
    lakes: tuple[Lake, Lake], city: str, start: str, end: str
) -> None:
    plain, followed = lakes
    sql = (
        f"SELECT * FROM decision_quotes_for('{city}', DATE '{start}', DATE '{end}', {INSTANTS}) "
        "ORDER BY market_ticker, decision_at"
    )
    rows = _rows(followed, sql)
    assert rows, "the city has markets in that range"
    # the same rows as on the lake that was never followed: the candle quotes, no book
    assert rows == _rows(plain, sql)
    cols = connect(followed).sql(sql).columns
    for name in BOOK_COLUMNS:
        assert all(r[cols.index(name)] is None for r in rows), name


def test_followed_partitions_still_have_their_books(lakes: tuple[Lake, Lake]) -> None:
    _, followed = lakes
    sql = (
        "SELECT count(book_as_of) FROM decision_quotes_for("
        f"'chicago', DATE '2026-10-01', DATE '2026-11-30', {INSTANTS})"
    )
    [(with_book,)] = _rows(followed, sql)
    assert with_book > 0


def test_book_at_and_fill_cost_where_nothing_was_followed_are_empty(
    lakes: tuple[Lake, Lake],
) -> None:
    _, followed = lakes
    ts = "TIMESTAMPTZ '2026-03-10 15:00:00+00'"
    assert _rows(followed, f"SELECT * FROM book_at({ts})") == []
    assert _rows(followed, f"SELECT * FROM book_at_for('phoenix', NULL, NULL, {ts})") == []
    nov = "TIMESTAMPTZ '2026-11-20 15:00:00+00'"
    assert _rows(followed, f"SELECT * FROM book_at_for('phoenix', NULL, NULL, {nov})") == []
    assert _rows(followed, f"SELECT * FROM book_at_for('chicago', NULL, NULL, {nov})")
    assert _rows(followed, f"SELECT * FROM fill_cost({ts}, 'yes', 10)") == []


def test_a_city_the_lake_does_not_hold_is_still_an_error(
    lakes: tuple[Lake, Lake],
) -> None:
    # the tables every lake has keep their narrow glob: a misspelt city is not an empty answer
    _, followed = lakes
    with pytest.raises(Exception, match="No files found"):
        _rows(followed, "SELECT * FROM trades_in('atlantis')")
