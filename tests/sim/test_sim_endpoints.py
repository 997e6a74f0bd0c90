"""Every simulator endpoint, its limits and errors, over HTTP."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kalshi_lake.cities import CITIES, event_date
from kalshi_lake.sim import SimServer, World

UTC = dt.UTC
CUTOFF = int(dt.datetime(2026, 9, 22, tzinfo=UTC).timestamp())
NOT_FOUND = {"error": {"code": "not_found", "message": "not found"}}


def _get(client: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def _event(world: World, day: dt.date, city: str = "nyc") -> Any:
    ev = world.event(city, day)
    assert ev is not None
    return ev


def _secs(us: int) -> int:
    return us // 1_000_000


def _walk(client: httpx.Client, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _get(client, path, **params, **({"cursor": cursor} if cursor else {}))
        out += page[key]
        cursor = page["cursor"]
        if cursor == "":
            return out


def test_unknown_paths_and_tickers_are_404_with_the_error_body(client: httpx.Client) -> None:
    for path in (
        "/nope",
        "/markets/KXHIGHNY-26NOV20-T999",
        "/markets/KXHIGHNY-99XYZ99-T1",
        "/events/KXHIGHNY-30JAN01",
        "/series/HIGHNY",
        "/historical/markets/KXHIGHNY-26NOV20-T999",
    ):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json() == NOT_FOUND
    assert httpx.get(client.base_url.copy_with(path="/other")).status_code == 404


def test_listing_pages_cover_everything_once_and_end_with_an_empty_cursor(
    client: httpx.Client,
) -> None:
    whole = _get(client, "/markets", series_ticker="KXHIGHNY", limit=1000)
    assert whole["cursor"] == ""
    paged = _walk(client, "/markets", "markets", series_ticker="KXHIGHNY", limit=37)
    assert [m["ticker"] for m in paged] == [m["ticker"] for m in whole["markets"]]
    assert len({m["ticker"] for m in paged}) == len(paged) > 300
    closes = [m["close_time"] for m in paged]
    assert closes == sorted(closes, reverse=True), "newest first"
    first = _get(client, "/markets", series_ticker="KXHIGHNY")
    assert len(first["markets"]) == 100, "default limit"
    assert first["cursor"] and "100" not in first["cursor"], "opaque cursor"


def test_a_tampered_or_foreign_cursor_is_400(client: httpx.Client) -> None:
    cursor = _get(client, "/markets", series_ticker="KXHIGHNY", limit=5)["cursor"]
    flipped = cursor[:-3] + ("A" if cursor[-3] != "A" else "B") + cursor[-2:]
    for params in (
        {"series_ticker": "KXHIGHNY", "cursor": flipped},
        {"series_ticker": "KXHIGHNY", "cursor": "not a cursor!"},
        {"series_ticker": "KXHIGHCHI", "cursor": cursor},
    ):
        r = client.get("/markets", params=params)
        assert r.status_code == 400, params
        assert r.json()["error"]["code"] == "bad_request"
    # a different page size with the same filters is fine
    assert client.get("/markets", params={"series_ticker": "KXHIGHNY", "cursor": cursor,
                                          "limit": 3}).status_code == 200  # fmt: skip


@pytest.mark.parametrize(
    ("path", "maximum"),
    [("/markets", 1000), ("/historical/markets", 1000), ("/markets/trades", 1000),
     ("/historical/trades", 1000), ("/events", 200)],
)  # fmt: skip
def test_page_size_above_the_maximum_is_400(client: httpx.Client, path: str, maximum: int) -> None:
    params = {"ticker": "KXHIGHNY-26NOV20-T1"} if "trades" in path else {}
    params["series_ticker" if "trades" not in path else "ticker"] = params.get(
        "ticker", "KXHIGHTSEA"
    )
    assert client.get(path, params={**params, "limit": maximum}).status_code == 200
    r = client.get(path, params={**params, "limit": maximum + 1})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == "Parameter validation failed"


def test_events_default_page_is_200_and_lists_legacy_events(client: httpx.Client) -> None:
    first = _get(client, "/events", series_ticker="KXHIGHNY")
    assert len(first["events"]) == 200
    events = _walk(client, "/events", "events", series_ticker="KXHIGHNY")
    tickers = [e["event_ticker"] for e in events]
    assert tickers[0] == "KXHIGHNY-26NOV22" and tickers[-1] == "HIGHNY-21AUG06"
    assert "HIGHNY-24OCT23" in tickers and "KXHIGHNY-24OCT24" in tickers
    assert all(e["series_ticker"] == "KXHIGHNY" for e in events)
    assert _get(client, "/markets", series_ticker="HIGHNY")["markets"] == []


def test_events_filters_and_nested_markets(client: httpx.Client, world: World) -> None:
    open_events = _get(client, "/events", series_ticker="KXHIGHNY", status="open")["events"]
    assert [e["event_ticker"] for e in open_events] == ["KXHIGHNY-26NOV22", "KXHIGHNY-26NOV21"]
    settled = _get(client, "/events", series_ticker="KXHIGHNY", status="settled", limit=3)
    assert settled["events"][0]["event_ticker"] == "KXHIGHNY-26NOV20"
    assert client.get("/events", params={"status": "finalized"}).status_code == 400
    since = _secs(_event(world, dt.date(2026, 11, 19)).close_us)
    recent = _get(client, "/events", series_ticker="KXHIGHNY", min_close_ts=since)["events"]
    assert [e["event_ticker"] for e in recent] == [
        "KXHIGHNY-26NOV22",
        "KXHIGHNY-26NOV21",
        "KXHIGHNY-26NOV20",
    ]
    nested = _walk(
        client, "/events", "events", series_ticker="KXHIGHTSEA", with_nested_markets="true"
    )
    first_live = dt.date(2026, 9, 21)  # the first Seattle day settled after the cutoff
    live = [e for e in nested if event_date(e["event_ticker"]) >= first_live]
    archived = [e for e in nested if event_date(e["event_ticker"]) < first_live]
    assert archived and all("markets" not in e for e in archived), "archived markets omitted"
    assert live and all(len(e["markets"]) == 6 for e in live)
    by_tickers = _get(client, "/events", tickers="KXHIGHTSEA-26NOV01,KXHIGHNY-26NOV02,NOPE-1")
    assert [e["event_ticker"] for e in by_tickers["events"]] == [
        "KXHIGHNY-26NOV02",
        "KXHIGHTSEA-26NOV01",
    ]
    assert (
        _get(client, "/events", series_ticker="KXHIGHNY", with_milestones="true")["milestones"]
        == []
    )


def test_single_event_returns_markets_top_level_and_nested_on_request(
    client: httpx.Client,
) -> None:
    plain = _get(client, "/events/KXHIGHNY-26NOV20")
    assert len(plain["markets"]) == 6 and "markets" not in plain["event"]
    nested = _get(client, "/events/KXHIGHNY-26NOV20", with_nested_markets="true")
    assert nested["event"]["markets"] == nested["markets"] == plain["markets"]
    archived = _get(client, "/events/KXHIGHNY-26SEP01", with_nested_markets="true")
    assert archived["markets"] == [] and "markets" not in archived["event"]
    assert archived["event"]["strike_date"] == "2026-09-02T05:00:00Z"
    legacy = _get(client, "/events/HIGHNY-24AUG15")
    assert legacy["event"]["series_ticker"] == "KXHIGHNY" and legacy["markets"] == []


def test_market_filter_restrictions(client: httpx.Client, world: World) -> None:
    bad = [
        {"status": "finalized"},
        {"status": "open", "min_close_ts": CUTOFF},
        {"status": "settled", "min_created_ts": CUTOFF},
        {"min_created_ts": CUTOFF, "max_close_ts": CUTOFF + 10**7},
        {"min_updated_ts": CUTOFF},
        {"min_updated_ts": CUTOFF, "mve_filter": "exclude", "event_ticker": "KXHIGHNY-26NOV20"},
        {"event_ticker": "KXHIGHNY-26NOV20,KXHIGHNY-26NOV19"},
        {"mve_filter": "sometimes"},
    ]
    for params in bad:
        assert client.get("/markets", params=params).status_code == 400, params
    ok = _get(client, "/markets", series_ticker="KXHIGHNY", status="open")["markets"]
    assert {m["status"] for m in ok} == {"active"} and len(ok) == 12
    lo = _secs(_event(world, dt.date(2026, 11, 1)).settlement_us) - 60
    hi = _secs(_event(world, dt.date(2026, 11, 3)).settlement_us) + 60
    settled = _get(
        client, "/markets", series_ticker="KXHIGHNY", status="settled",
        min_settled_ts=lo, max_settled_ts=hi,
    )["markets"]  # fmt: skip
    assert sorted({m["event_ticker"] for m in settled}) == [
        "KXHIGHNY-26NOV01",
        "KXHIGHNY-26NOV02",
        "KXHIGHNY-26NOV03",
    ]
    updated = _get(
        client, "/markets", min_updated_ts=CUTOFF, mve_filter="exclude",
        series_ticker="KXHIGHNY", limit=5,
    )  # fmt: skip
    assert len(updated["markets"]) == 5
    assert _get(client, "/markets", mve_filter="only")["markets"] == []
    picked = _get(client, "/markets", tickers="KXHIGHNY-26SEP01-T1,NOPE")["markets"]
    assert picked == []
    ev = _event(world, dt.date(2026, 11, 20))
    two = f"{ev.markets[0].ticker},{ev.markets[3].ticker},KXHIGHNY-26NOV20-T999"
    assert [m["ticker"] for m in _get(client, "/markets", tickers=two)["markets"]] == [
        ev.markets[0].ticker,
        ev.markets[3].ticker,
    ]


def test_trades_are_newest_first_and_filtered_by_time(client: httpx.Client, world: World) -> None:
    m = max(_event(world, dt.date(2026, 11, 20)).markets, key=lambda m: len(world.trades(m.ticker)))
    truth = world.trades(m.ticker)
    pages = _walk(client, "/markets/trades", "trades", ticker=m.ticker, limit=100)
    assert pages == truth[::-1]
    assert len(truth) > 300, "exercises several pages"
    mid = truth[len(truth) // 2]["created_time"]
    mid_s = int(dt.datetime.fromisoformat(mid.replace("Z", "+00:00")).timestamp())
    newer = _walk(client, "/markets/trades", "trades", ticker=m.ticker, min_ts=mid_s, limit=1000)
    assert newer and all(t["created_time"] >= mid[:19] for t in newer)
    older = _walk(client, "/markets/trades", "trades", ticker=m.ticker, max_ts=mid_s, limit=1000)
    assert len(newer) + len(older) >= len(truth)
    assert _get(client, "/markets/trades", ticker="NOPE-26NOV20-T1") == {
        "cursor": "",
        "trades": [],
    }
    blocks = _walk(client, "/markets/trades", "trades", ticker=m.ticker, is_block_trade="false")
    assert all(t["is_block_trade"] is False for t in blocks)
    # without a ticker: every market trading in the window, merged newest first
    t0 = _secs(_event(world, dt.date(2026, 11, 20)).close_us) - 600
    merged = _walk(client, "/markets/trades", "trades", min_ts=t0, max_ts=t0 + 300, limit=1000)
    assert len({t["ticker"] for t in merged}) > 6
    assert [t["created_time"] for t in merged] == sorted(
        (t["created_time"] for t in merged), reverse=True
    )
    wide = client.get("/markets/trades", params={"min_ts": CUTOFF})
    assert wide.status_code == 400, "simulator-only limit on ticker-less windows"


def test_tiers_split_at_the_cutoff(client: httpx.Client, world: World) -> None:
    cutoff = _get(client, "/historical/cutoff")
    assert cutoff == dict.fromkeys(
        ["market_positions_last_updated_ts", "market_settled_ts", "orders_updated_ts",
         "trades_created_ts"],
        "2026-09-22T00:00:00Z",
    )  # fmt: skip
    old = _event(world, dt.date(2026, 9, 1))
    t = old.markets[2].ticker
    start, end = _secs(old.open_us), _secs(old.close_us) + 3600
    window = {"start_ts": start, "end_ts": end, "period_interval": 1}
    assert client.get(f"/markets/{t}").json() == NOT_FOUND
    r = client.get(f"/series/KXHIGHNY/markets/{t}/candlesticks", params=window)
    assert r.status_code == 404
    assert _get(client, f"/historical/markets/{t}")["market"]["result"] in ("yes", "no")
    hist = _get(client, f"/historical/markets/{t}/candlesticks", **window)["candlesticks"]
    assert hist and {"volume", "open_interest"} <= set(hist[0]) and "close" in hist[0]["yes_bid"]
    assert _get(client, "/markets", event_ticker=old.event_ticker)["markets"] == []
    assert len(_get(client, "/historical/markets", event_ticker=old.event_ticker)["markets"]) == 6
    assert _get(client, "/markets/trades", ticker=t)["trades"] == []
    assert len(_walk(client, "/historical/trades", "trades", ticker=t, limit=1000)) == len(
        world.trades(t)
    )
    batch = _get(client, "/markets/candlesticks", market_tickers=t, **window)
    assert batch == {"markets": []}

    new = _event(world, dt.date(2026, 11, 20))
    assert client.get(f"/historical/markets/{new.markets[0].ticker}").status_code == 404
    hist_listing = _walk(
        client, "/historical/markets", "markets", series_ticker="KXHIGHTSEA", limit=1000
    )
    assert all(m["settlement_ts"] < "2026-09-22" for m in hist_listing)
    live_listing = _walk(client, "/markets", "markets", series_ticker="KXHIGHTSEA", limit=1000)
    assert all(m.get("settlement_ts", "9") >= "2026-09-22" for m in live_listing)
    assert len(hist_listing) + len(live_listing) == 6 * len(
        world.events([world.series("KXHIGHTSEA")])  # type: ignore[list-item]
    )

    # The market settled after the cutoff but traded before it: its trades are split.
    straddle = _event(world, dt.date(2026, 9, 21)).markets[2].ticker
    assert client.get(f"/markets/{straddle}").status_code == 200
    live = _walk(client, "/markets/trades", "trades", ticker=straddle, limit=1000)
    old_trades = _walk(client, "/historical/trades", "trades", ticker=straddle, limit=1000)
    assert live and old_trades
    assert all(x["created_time"] >= "2026-09-22T00:00:00" for x in live)
    assert all(x["created_time"] < "2026-09-22T00:00:00" for x in old_trades)
    assert (live + old_trades)[::-1] == world.trades(straddle)


def test_candle_validation_and_the_5000_cap(client: httpx.Client, world: World) -> None:
    ev = _event(world, dt.date(2026, 11, 20))
    t = ev.markets[1].ticker
    start = _secs(ev.open_us)
    path = f"/series/KXHIGHNY/markets/{t}/candlesticks"
    r = client.get(path, params={"start_ts": start, "end_ts": start + 600, "period_interval": 5})
    assert r.status_code == 400
    assert "PeriodInterval" in r.json()["error"]["details"]
    r = client.get(path, params={"end_ts": start + 600, "period_interval": 1})
    assert r.status_code == 400 and "StartTs" in r.json()["error"]["details"]
    r = client.get(path, params={"start_ts": start, "end_ts": start + 5001 * 60,
                                 "period_interval": 1})  # fmt: skip
    assert r.status_code == 400
    assert r.json()["error"]["details"].endswith("max candlesticks: 5000")
    ok = _get(client, path, start_ts=start, end_ts=start + 5000 * 60, period_interval=1)
    assert ok["ticker"] == t and ok["candlesticks"] == world.candles(t, 1)
    hourly = _get(client, path, start_ts=start, end_ts=start + 5000 * 3600, period_interval=60)
    assert hourly["candlesticks"] == world.candles(t, 60)
    assert client.get(f"/series/KXHIGHCHI/markets/{t}/candlesticks",
                      params={"start_ts": start, "end_ts": start + 60,
                              "period_interval": 1}).status_code == 404  # fmt: skip
    old = _event(world, dt.date(2026, 9, 1)).markets[0].ticker
    r = client.get(f"/historical/markets/{old}/candlesticks",
                   params={"start_ts": 0, "end_ts": 10**9, "period_interval": 1440})  # fmt: skip
    assert r.status_code == 400 and "max candlesticks: 5000" in r.text


def test_include_latest_before_start_prepends_a_synthetic_candle(
    client: httpx.Client, world: World
) -> None:
    ev = _event(world, dt.date(2026, 11, 20))
    m = ev.markets[2]
    candles = world.candles(m.ticker, 1)
    # a start strictly between two real candles
    k = next(i for i in range(1, len(candles)) if candles[i]["end_period_ts"] - candles[i - 1][
        "end_period_ts"] > 120)  # fmt: skip
    start = candles[k - 1]["end_period_ts"] + 30
    got = _get(
        client, f"/series/KXHIGHNY/markets/{m.ticker}/candlesticks", start_ts=start,
        end_ts=start + 3600, period_interval=1, include_latest_before_start="true",
    )["candlesticks"]  # fmt: skip
    synth = got[0]
    assert synth["end_period_ts"] == start + 30
    assert synth["price"]["close_dollars"] is None and synth["volume_fp"] == "0.00"
    assert synth["yes_bid"]["open_dollars"] == candles[k - 1]["yes_bid"]["close_dollars"]
    assert got[1:] == [c for c in candles if start <= c["end_period_ts"] <= start + 3600]


def test_event_candles_truncate_at_5000_across_markets(client: httpx.Client, world: World) -> None:
    ev = _event(world, dt.date(2026, 11, 20))
    start, end = _secs(ev.open_us), _secs(ev.close_us) + 120
    path = "/series/KXHIGHNY/events/KXHIGHNY-26NOV20/candlesticks"
    first = _get(client, path, start_ts=start, end_ts=end, period_interval=1)
    assert first["market_tickers"] == [m.ticker for m in ev.markets]
    assert first["adjusted_end_ts"] == start + (5000 // 6) * 60 < end
    got: dict[str, dict[int, Any]] = {m.ticker: {} for m in ev.markets}
    cursor = start
    while True:
        page = _get(client, path, start_ts=cursor, end_ts=end, period_interval=1)
        for tk, cs in zip(page["market_tickers"], page["market_candlesticks"], strict=True):
            assert all(cursor <= c["end_period_ts"] <= page["adjusted_end_ts"] for c in cs)
            got[tk].update({c["end_period_ts"]: c for c in cs})
        if page["adjusted_end_ts"] >= end:
            assert page["adjusted_end_ts"] == end
            break
        cursor = page["adjusted_end_ts"]
    for m in ev.markets:
        assert list(got[m.ticker].values()) == world.candles(m.ticker, 1)
    r = client.get(path.replace("KXHIGHNY/", "KXHIGHCHI/"),
                   params={"start_ts": start, "end_ts": end, "period_interval": 60})  # fmt: skip
    assert r.status_code == 404
    r = client.get("/series/KXHIGHNY/events/KXHIGHNY-26SEP01/candlesticks",
                   params={"start_ts": start, "end_ts": end, "period_interval": 60})  # fmt: skip
    assert r.status_code == 404, "archived events have no event-level candles"


def test_batch_candles_limits(client: httpx.Client, world: World) -> None:
    ev = _event(world, dt.date(2026, 11, 20))
    start = _secs(ev.open_us)
    tickers = [m.ticker for m in ev.markets]
    many = ",".join(tickers + [f"KXHIGHNY-26NOV20-T{i}" for i in range(95)])
    r = client.get("/markets/candlesticks", params={"market_tickers": many, "start_ts": start,
                                                     "end_ts": start + 60,
                                                     "period_interval": 1})  # fmt: skip
    assert r.status_code == 400
    hundred = ",".join(tickers + [f"KXHIGHNY-26NOV20-T{i}" for i in range(94)])
    params = {"market_tickers": hundred, "start_ts": start, "period_interval": 1}
    assert client.get("/markets/candlesticks", params={**params, "end_ts": start + 100 * 60})\
        .status_code == 200  # fmt: skip
    r = client.get("/markets/candlesticks", params={**params, "end_ts": start + 101 * 60})
    assert r.status_code == 400
    assert r.json()["error"]["details"] == (
        "requested candlesticks across all markets: 10100, max candlesticks: 10000"
    )
    end = _secs(ev.close_us) + 3600
    got = _get(client, "/markets/candlesticks", market_tickers=",".join(tickers) + ",NOPE",
               start_ts=end - 1400 * 60, end_ts=end, period_interval=1)  # fmt: skip
    assert [x["market_ticker"] for x in got["markets"]] == tickers, "unknown tickers left out"
    for x in got["markets"]:
        want = [c for c in world.candles(x["market_ticker"]) if c["end_period_ts"] >= end - 84000]
        assert x["candlesticks"] == want


def test_batch_candles_serve_only_the_live_tier(client: httpx.Client, world: World) -> None:
    old = _event(world, dt.date(2026, 9, 10))  # settled before the cutoff (2026-09-22)
    new = _event(world, dt.date(2026, 11, 10))
    assert all(world.is_historical(m.ticker) for m in old.markets)
    assert not any(world.is_historical(m.ticker) for m in new.markets)
    start, end = _secs(old.open_us), _secs(old.open_us) + 60 * 60
    both = ",".join(m.ticker for m in old.markets + new.markets)
    got = _get(client, "/markets/candlesticks", market_tickers=both, start_ts=start,
               end_ts=end, period_interval=1)  # fmt: skip
    assert [x["market_ticker"] for x in got["markets"]] == [m.ticker for m in new.markets]
    only_old = ",".join(m.ticker for m in old.markets)
    got = _get(client, "/markets/candlesticks", market_tickers=only_old, start_ts=start,
               end_ts=end, period_interval=1)  # fmt: skip
    assert got == {"markets": []}, "archived markets are only on /historical"
    hist = _get(client, f"/historical/markets/{old.markets[0].ticker}/candlesticks",
                start_ts=start, end_ts=end, period_interval=1)  # fmt: skip
    assert hist["candlesticks"], "the archived market does have candles there"


def test_series_and_market_payloads(client: httpx.Client, world: World) -> None:
    s = _get(client, "/series/KXHIGHLAX")["series"]
    assert s["title"] == "Highest temperature in Los Angeles"
    assert s["settlement_sources"] == [
        {"name": "The Weather Company", "url": "https://weather.com/kalshi"}
    ]
    assert "volume_fp" not in s
    # Every registered series of every family (20 highs and the lows), and one unregistered.
    assert len(_get(client, "/series")["series"]) == sum(len(c.families) for c in CITIES) + 1
    t = _event(world, dt.date(2026, 11, 21)).markets[3].ticker
    m = _get(client, f"/markets/{t}")["market"]
    assert m == world.market_payload(t)
    assert m["status"] == "active" and m["result"] == "" and "settlement_ts" not in m
    assert Decimal(m["yes_bid_dollars"]) < Decimal(m["yes_ask_dollars"])
    assert Decimal(m["no_bid_dollars"]) == 1 - Decimal(m["yes_ask_dollars"])
    legacy_fields = {"yes_bid", "volume", "last_price", "open_interest", "liquidity"}
    assert not legacy_fields & set(m), "no integer cents or counts"


def test_get_only(sim: SimServer) -> None:
    r = httpx.post(f"{sim.base_url}/markets")
    assert r.status_code == 405
