"""Every simulator response validates against the Kalshi OpenAPI schema as of 3.34.

The spec is ``tests/data/kalshi-openapi.yaml``, Kalshi's published spec 3.28 (provenance in
``tests/data/README.md``), with the Market and EventData changes up to 3.34 applied (see
:func:`_as_of_3_34`). One more adjustment: the spec marks many fields ``nullable`` *next to* a
``$ref`` or ``allOf`` (e.g. ``PriceDistribution``), which JSON Schema ignores, while real payloads
do send ``null`` there; we apply the spec's evident intent by allowing ``null`` for exactly those
fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openapi_schema_validator as osv
import pytest
import yaml

from kalshi_lake.sim import SimConfig, SimServer, World
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

SPEC = Path(__file__).resolve().parents[1] / "data" / "kalshi-openapi.yaml"
UTC = dt.UTC


def _allow_null_where_marked(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _allow_null_where_marked(v) for k, v in node.items()}
        if node.get("nullable") is True and ("$ref" in node or "allOf" in node):
            inner = {k: v for k, v in node.items() if k != "nullable"}
            return {"anyOf": [inner, {"enum": [None]}]}
        return node
    if isinstance(node, list):
        return [_allow_null_where_marked(x) for x in node]
    return node


def _as_of_3_34(components: dict[str, Any]) -> dict[str, Any]:
    """The 3.28 components with the Market and EventData changes of 3.29-3.34
    (https://docs.kalshi.com/changelog): Market gains ``settlement_bounds_type`` (``default`` or
    ``floor``; the spec requires it, but markets served before it existed lack it, so it stays
    optional here) and ``settlement_floor_dollars`` and loses ``liquidity_dollars``; EventData
    loses ``available_on_brokers``. A payload of either era validates."""
    market = components["schemas"]["Market"]["properties"]
    market.pop("liquidity_dollars")
    market["settlement_bounds_type"] = {"type": "string", "enum": ["default", "floor"]}
    market["settlement_floor_dollars"] = {
        "anyOf": [{"$ref": "#/components/schemas/FixedPointDollars"}, {"enum": [None]}]
    }
    event = components["schemas"]["EventData"]
    event["required"].remove("available_on_brokers")
    event["properties"].pop("available_on_brokers")
    return components


@pytest.fixture(scope="module")
def validate() -> Any:
    """``validate(schema_name, instance)`` asserts the instance conforms."""
    spec = yaml.safe_load(SPEC.read_text())
    assert spec["info"]["version"] == "3.28.0"
    components = _as_of_3_34(_allow_null_where_marked(spec["components"]))

    def check(name: str, instance: Any) -> None:
        assert name in components["schemas"], f"no schema {name} in the spec"
        schema = {"$ref": f"#/components/schemas/{name}", "components": components}
        validator = osv.OAS30Validator(schema, format_checker=osv.OAS30Validator.FORMAT_CHECKER)
        errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
        assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]

    return check


@pytest.fixture(scope="module")
def server() -> Iterator[SimServer]:
    """One simulator shared by this module's tests (the data is read-only)."""
    with SimServer(SimConfig(seed=FIXTURE_SEED, now=FIXTURE_NOW)) as s:
        yield s


@pytest.fixture(scope="module")
def http(server: SimServer) -> Iterator[httpx.Client]:
    """A client for the shared simulator."""
    with httpx.Client(base_url=server.base_url, timeout=60) as c:
        yield c


def _get(http: httpx.Client, path: str, expect: int = 200, **params: Any) -> Any:
    r = http.get(path, params=params)
    assert r.status_code == expect, (path, r.text)
    return r.json()


def _window(world: World, ticker: str) -> dict[str, int]:
    m = world.market(ticker)
    assert m is not None
    return {"start_ts": m.open_us // 10**6, "end_ts": m.close_us // 10**6 + 3600}


def test_series_and_events(http: httpx.Client, server: SimServer, validate: Any) -> None:
    validate("GetSeriesResponse", _get(http, "/series/KXHIGHNY"))
    validate("GetSeriesResponse", _get(http, "/series/KXHIGHTSEA", include_volume="true"))
    validate("GetSeriesListResponse", _get(http, "/series"))
    validate(
        "GetEventsResponse",
        _get(http, "/events", series_ticker="KXHIGHNY", with_nested_markets="true", limit=4),
    )
    validate("GetEventsResponse", _get(http, "/events", limit=30, with_milestones="true"))
    validate(
        "GetEventsResponse", _get(http, "/events", series_ticker="KXHIGHMIA", status="settled")
    )
    for event in ("KXHIGHNY-26NOV22", "KXHIGHNY-26NOV20", "KXHIGHNY-26SEP01", "HIGHNY-21AUG06"):
        for nested in ("true", "false"):
            validate("GetEventResponse", _get(http, f"/events/{event}", with_nested_markets=nested))


def test_markets(http: httpx.Client, server: SimServer, validate: Any) -> None:
    for params in (
        {"series_ticker": "KXHIGHCHI", "limit": 200},
        {"status": "open", "limit": 50},
        {"series_ticker": "KXHIGHNY", "status": "settled", "limit": 30},
    ):
        validate("GetMarketsResponse", _get(http, "/markets", **params))
    ev = server.world.event("chicago", dt.date(2026, 11, 21))
    assert ev is not None
    validate("GetMarketResponse", _get(http, f"/markets/{ev.markets[2].ticker}"))
    hist = _get(http, "/historical/markets", series_ticker="KXHIGHCHI", limit=50)
    validate("GetMarketsResponse", hist)
    validate(
        "GetMarketsResponse", _get(http, "/historical/markets", event_ticker="HIGHCHI-22MAR25")
    )
    validate("GetMarketResponse", _get(http, f"/historical/markets/{hist['markets'][7]['ticker']}"))
    validate("GetMarketOrderbookResponse", _get(http, f"/markets/{ev.markets[2].ticker}/orderbook"))
    validate(
        "GetMarketOrderbooksResponse",
        _get(http, "/markets/orderbooks", tickers=[m.ticker for m in ev.markets] + ["NOPE"]),
    )
    validate("GetHistoricalCutoffResponse", _get(http, "/historical/cutoff"))


def test_market_objects_in_every_status(validate: Any) -> None:
    # initialized, active, closed and finalized, across eras (legacy NWS, KX NWS, TWC)
    nows = [
        dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC),  # tomorrow's ladder created, not open
        dt.datetime(2026, 11, 21, 8, 0, tzinfo=UTC),  # yesterday's closed, not yet settled
        FIXTURE_NOW,
    ]
    seen = set()
    for now in nows:
        w = World(FIXTURE_SEED, now)
        for day in (dt.date(2026, 11, 20), dt.date(2026, 11, 21), dt.date(2024, 10, 1)):
            ev = w.event("austin", day)
            assert ev is not None
            for m in ev.markets:
                p = w.market_payload(m)
                seen.add(p["status"])
                validate("Market", p)
            validate("EventData", w.event_payload(ev, [w.market_payload(m) for m in ev.markets]))
    assert seen == {"initialized", "active", "closed", "finalized"}


def test_trades(http: httpx.Client, server: SimServer, validate: Any) -> None:
    w = server.world
    live = w.event("nyc", dt.date(2026, 11, 20))
    old = w.event("nyc", dt.date(2026, 4, 9))
    assert live is not None and old is not None
    validate("GetTradesResponse", _get(http, "/markets/trades", ticker=live.markets[1].ticker))
    validate("GetTradesResponse", _get(http, "/historical/trades", ticker=old.markets[1].ticker))
    t0 = live.close_us // 10**6 - 900
    validate("GetTradesResponse", _get(http, "/markets/trades", min_ts=t0, max_ts=t0 + 300))


def test_candles(http: httpx.Client, server: SimServer, validate: Any) -> None:
    w = server.world
    ev = w.event("nyc", dt.date(2026, 11, 20))
    old = w.event("nyc", dt.date(2026, 6, 1))
    assert ev is not None and old is not None
    t = ev.markets[2].ticker
    for period in (1, 60, 1440):
        body = _get(
            http, f"/series/KXHIGHNY/markets/{t}/candlesticks", period_interval=period,
            include_latest_before_start="true", **_window(w, t),
        )  # fmt: skip
        assert body["candlesticks"]
        validate("GetMarketCandlesticksResponse", body)
        th = old.markets[2].ticker
        body = _get(
            http, f"/historical/markets/{th}/candlesticks", period_interval=period,
            **_window(w, th),
        )  # fmt: skip
        assert body["candlesticks"]
        validate("GetMarketCandlesticksHistoricalResponse", body)
    validate(
        "GetEventCandlesticksResponse",
        _get(
            http, f"/series/KXHIGHNY/events/{ev.event_ticker}/candlesticks", period_interval=1,
            **_window(w, t),
        ),
    )  # fmt: skip
    validate(
        "BatchGetMarketCandlesticksResponse",
        _get(
            http, "/markets/candlesticks", period_interval=60,
            market_tickers=",".join(m.ticker for m in ev.markets), **_window(w, t),
        ),
    )  # fmt: skip


def test_error_bodies(http: httpx.Client, validate: Any) -> None:
    validate("ErrorResponse", _get(http, "/markets/NOPE-26NOV20-T1", expect=404)["error"])
    validate("ErrorResponse", _get(http, "/markets", expect=400, limit=5000)["error"])
    validate(
        "ErrorResponse",
        _get(http, "/historical/markets/X/candlesticks", expect=400, start_ts=0, end_ts=1,
             period_interval=2)["error"],
    )  # fmt: skip
