"""The REST order books: one market's, several at once; the world's book at now, Kalshi's shape."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import httpx

from kalshi_lake.sim import SimServer, World
from kalshi_lake.sim.book import Book

EMPTY = {"orderbook_fp": {"no_dollars": [], "yes_dollars": []}}
PRICE = re.compile(r"^0\.\d{2}00$")
SIZE = re.compile(r"^\d+\.\d{2}$")


def _get(client: httpx.Client, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def _open_markets(world: World) -> list[Any]:
    ev = world.event("nyc", dt.date(2026, 11, 21))
    assert ev is not None and ev.status(world.now_us) == "active"
    return ev.markets


def _as_book(fp: dict[str, list[list[str]]]) -> Book:
    def ladder(levels: list[list[str]]) -> dict[int, int]:
        return {int(Decimal(p) * 100): int(Decimal(s) * 100) for p, s in levels}

    return Book(ladder(fp["yes_dollars"]), ladder(fp["no_dollars"]))


def test_orderbook_is_the_worlds_book_at_now(client: httpx.Client, world: World) -> None:
    for m in _open_markets(world):
        fp = _get(client, f"/markets/{m.ticker}/orderbook")["orderbook_fp"]
        assert list(fp) == ["no_dollars", "yes_dollars"]
        for side in fp.values():
            assert [Decimal(p) for p, _ in side] == sorted(Decimal(p) for p, _ in side)
            assert all(PRICE.match(p) and SIZE.match(s) and Decimal(s) > 0 for p, s in side)
        book = world.book_at(m.ticker)
        assert _as_book(fp) == book
        assert len(book.yes) + len(book.no) >= 4, "depth behind the tops"


def test_orderbook_top_is_the_market_quote(client: httpx.Client, world: World) -> None:
    for m in _open_markets(world):
        market = _get(client, f"/markets/{m.ticker}")["market"]
        fp = _get(client, f"/markets/{m.ticker}/orderbook")["orderbook_fp"]
        yes, no = fp["yes_dollars"], fp["no_dollars"]
        if market["yes_bid_dollars"] != "0.0000":
            assert yes[-1] == [market["yes_bid_dollars"], market["yes_bid_size_fp"]]
        else:
            assert yes == []
        if market["yes_ask_dollars"] != "1.0000":
            assert Decimal(no[-1][0]) == 1 - Decimal(market["yes_ask_dollars"])
            assert no[-1][1] == market["yes_ask_size_fp"]
            assert no[-1][0] == market["no_bid_dollars"]
        else:
            assert no == []


def test_depth_keeps_the_best_levels(client: httpx.Client, world: World) -> None:
    m = _open_markets(world)[2]
    path = f"/markets/{m.ticker}/orderbook"
    whole = _get(client, path)["orderbook_fp"]
    for depth in (1, 2, 3):
        top = _get(client, path, depth=depth)["orderbook_fp"]
        assert top == {k: v[-depth:] for k, v in whole.items()}
    assert _get(client, path, depth=100)["orderbook_fp"] == whole
    assert _get(client, path, depth=0)["orderbook_fp"] == whole
    assert _get(client, path, depth=-3)["orderbook_fp"] == whole
    r = client.get(path, params={"depth": 101})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_parameters"
    assert client.get(path, params={"depth": "x"}).status_code == 400


def test_unknown_closed_and_archived_markets_have_an_empty_book(
    client: httpx.Client, world: World
) -> None:
    settled = world.event("nyc", dt.date(2026, 11, 19))
    archived = world.event("nyc", dt.date(2026, 6, 1))
    assert settled is not None and archived is not None
    for ticker in (
        "KXHIGHNY-26NOV20-T999",
        "NOPE-DOES-NOT-EXIST",
        settled.markets[0].ticker,
        archived.markets[3].ticker,
    ):
        r = client.get(f"/markets/{ticker}/orderbook")
        assert r.status_code == 200 and r.json() == EMPTY, ticker
    # A market that does not exist is still a 404 on its own path.
    assert client.get("/markets/NOPE-DOES-NOT-EXIST").status_code == 404


def test_orderbook_answers_carry_no_time(client: httpx.Client, world: World) -> None:
    r = client.get(f"/markets/{_open_markets(world)[1].ticker}/orderbook")
    assert "date" not in r.headers and "cache-control" not in r.headers
    assert "ts" not in r.text and "time" not in r.text


def test_batch_orderbooks_repeat_the_parameter(client: httpx.Client, world: World) -> None:
    markets = _open_markets(world)
    tickers = [m.ticker for m in reversed(markets)] + ["NOPE-1", markets[0].ticker]
    got = _get(client, "/markets/orderbooks", tickers=tickers)["orderbooks"]
    # One per distinct ticker, in request order; an unknown one is an empty book.
    assert [b["ticker"] for b in got] == list(dict.fromkeys(tickers))
    for entry in got:
        assert list(entry) == ["orderbook_fp", "ticker"]
        single = _get(client, f"/markets/{entry['ticker']}/orderbook")
        assert entry["orderbook_fp"] == single["orderbook_fp"]
    assert got[len(markets)]["orderbook_fp"] == EMPTY["orderbook_fp"]


def test_batch_comma_joined_value_is_one_unknown_ticker(client: httpx.Client, world: World) -> None:
    a, b = (m.ticker for m in _open_markets(world)[1:3])
    got = _get(client, "/markets/orderbooks", tickers=f"{a},{b}")["orderbooks"]
    assert got == [{"orderbook_fp": EMPTY["orderbook_fp"], "ticker": f"{a},{b}"}]


def test_batch_limits(client: httpx.Client, world: World) -> None:
    a = _open_markets(world)[0].ticker
    for params in ({}, {"tickers": ""}, {"tickers": [f"T{i}" for i in range(101)]},
                   {"tickers": [a, "X" * 201]}):  # fmt: skip
        r = client.get("/markets/orderbooks", params=params)
        assert r.status_code == 400, params
        assert r.json()["error"]["code"] == "invalid_parameters"
    many = [f"T{i}" for i in range(99)] + [a]
    assert len(_get(client, "/markets/orderbooks", tickers=many)["orderbooks"]) == 100


def test_stats_name_the_batch_endpoint(sim: SimServer) -> None:
    with httpx.Client(base_url=sim.base_url) as c:
        c.get("/markets/orderbooks", params={"tickers": "X"})
        c.get("/markets/KXHIGHNY-26NOV21-T40/orderbook")
    by = sim.stats()["by_endpoint"]
    assert by["/markets/orderbooks"] == {"200": 1}
    assert by["/markets/{ticker}/orderbook"] == {"200": 1}
