"""Curated markets: the latest known state of each market ticker (pure polars).

Market objects arrive from ``market`` and ``markets`` pages and nested in ``event`` and
``events`` pages, live and historical tier alike. The copy fetched last wins.

Derived columns:

- ``low_f``/``high_f``: inclusive integer °F bounds of the bracket (from its strikes; the rules
  text of each market states them). The
  settled value is a whole °F, so ``between`` floor..cap is ``ceil(floor)..floor(cap)``,
  ``greater`` (strictly) than floor is ``floor(floor)+1..``, ``less`` than cap is
  ``..ceil(cap)-1``, and the ``*_or_equal`` forms keep their strike. A few old markets have no
  ``strike_type``: it is inferred from which strikes are present (cap only: ``less``, floor
  only: ``greater``, both: ``between``) for the bounds only; the column keeps what Kalshi sent.
- ``settlement_source``: ``twc`` if ``rules_primary`` names The Weather Company, ``nws`` if it
  names the National Weather Service (or NWS), else null (the source changed mid-series, so
  each market's own rules text decides).
- ``series_ticker``: the enclosing event's (markets nested in an event page), else the page's
  request ``series_ticker``, else from an event page/listing of the same event, else the city's
  series (the Market object itself has no series ticker, see
  https://docs.kalshi.com/api-reference/market/get-market).
- ``settlement_bounds_type``/``settlement_floor``: as the latest copy sent them (Market fields
  since OpenAPI 3.31, see https://docs.kalshi.com/changelog), NULL when that copy has none: an
  older payload says nothing about them, so an older copy fetched later is not merged with a
  newer one (the copy fetched last wins, like every other column).
- ``date``: the event's climate date: the raw partition's date for event/market-scoped pages;
  for listings (filed under the fetch date) the date in the event ticker (see
  :func:`listing_dates`).
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl

from kalshi_lake.transform.trades import latest_per_key, ticker_event

#: Raw endpoints filed under the fetch date whose rows can belong to any month.
LISTING_ENDPOINTS = frozenset({"markets", "events"})

MARKET_OUT = (
    "part",
    "city",
    "market_ticker",
    "event_ticker",
    "series_ticker",
    "date",
    "strike_type",
    "floor_strike",
    "cap_strike",
    "low_f",
    "high_f",
    "yes_sub_title",
    "status",
    "result",
    "settlement_value_u",
    "expiration_value",
    "open_time",
    "close_time",
    "settlement_ts",
    "volume_c",
    "open_interest_c",
    "settlement_source",
    "tier",
    "fetched_at",
    "settlement_bounds_type",
    "settlement_floor_u",
)


def ticker_date(col: str) -> pl.Expr:
    """The climate date in an event or market ticker (``KXHIGHCHI-25NOV20-B45.5`` -> 2025-11-20);
    null when the ticker has no ``YYMONDD`` second part."""
    return (
        pl.col(col)
        .str.split("-")
        .list.get(1, null_on_oob=True)
        .str.to_titlecase()
        .str.strptime(pl.Date, "%y%b%d", strict=False)
    )


def listing_dates(rows: pl.DataFrame, ticker_col: str = "market_ticker") -> pl.DataFrame:
    """Set ``date`` of rows from listing pages to their ticker's climate date (the raw folder
    date of a listing is the fetch date). Rows whose ticker carries no date keep the folder date.
    """
    is_listing = pl.col("endpoint").is_in(list(LISTING_ENDPOINTS))
    event_col = "event_ticker" if "event_ticker" in rows.columns else ticker_col
    from_ticker = pl.coalesce(ticker_date(event_col), ticker_date(ticker_col))
    return rows.with_columns(
        date=pl.when(is_listing).then(pl.coalesce(from_ticker, "date")).otherwise("date")
    )


def _scaled(col: str) -> pl.Expr:
    """A DECIMAL(10,4) strike as an exact integer number of 1/10,000 °F."""
    return (pl.col(col) * Decimal(10_000)).cast(pl.Int64)


def _floor(x4: pl.Expr) -> pl.Expr:
    return x4 // 10_000


def _ceil(x4: pl.Expr) -> pl.Expr:
    return -((-x4) // 10_000)


def bracket_bounds() -> tuple[pl.Expr, pl.Expr]:
    """``(low_f, high_f)`` expressions from ``strike_type``, ``floor_strike``, ``cap_strike``."""
    f4, c4 = _scaled("floor_strike"), _scaled("cap_strike")
    has_f, has_c = pl.col("floor_strike").is_not_null(), pl.col("cap_strike").is_not_null()
    st = pl.coalesce(
        pl.col("strike_type"),
        pl.when(has_f & has_c)
        .then(pl.lit("between"))
        .when(has_c)
        .then(pl.lit("less"))
        .when(has_f)
        .then(pl.lit("greater")),
    )
    low = (
        pl.when(st.is_in(["between", "greater_or_equal"]))
        .then(_ceil(f4))
        .when(st == "greater")
        .then(_floor(f4) + 1)
    )
    high = (
        pl.when(st.is_in(["between", "less_or_equal"]))
        .then(_floor(c4))
        .when(st == "less")
        .then(_ceil(c4) - 1)
    )
    return low.cast(pl.Int32).alias("low_f"), high.cast(pl.Int32).alias("high_f")


def settlement_source() -> pl.Expr:
    """``twc`` / ``nws`` / null from ``rules_primary``."""
    rules = pl.col("rules_primary").str.to_lowercase()
    return (
        pl.when(rules.str.contains("weather company", literal=True))
        .then(pl.lit("twc"))
        .when(
            rules.str.contains("national weather service", literal=True)
            | pl.col("rules_primary").str.contains(r"\bNWS\b")
        )
        .then(pl.lit("nws"))
        .otherwise(pl.lit(None, pl.String))
        .alias("settlement_source")
    )


def latest_events(events: pl.DataFrame) -> pl.DataFrame:
    """``part, event_ticker, series_ticker``: per event the series of the copy fetched last."""
    ev = events.filter(pl.col("series_ticker").is_not_null())
    if ev.height == 0:
        return pl.DataFrame(
            schema={"part": pl.Int32, "event_ticker": pl.String, "series_ticker": pl.String}
        )
    ev = latest_per_key(ev, ["part", "event_ticker"])
    return ev.select(pl.col("part").cast(pl.Int32), "event_ticker", "series_ticker")


def build_markets(
    rows: pl.DataFrame,
    events: pl.DataFrame | None = None,
    city_series: dict[str, str] | None = None,
) -> pl.DataFrame:
    """Latest state per (part, market ticker) with derived columns (:data:`MARKET_OUT`), sorted
    by ``part, market_ticker``.

    ``rows``: good rows from :func:`~kalshi_lake.transform.parse_markets.parse_markets` plus ``part``
    (and listing rows already re-dated with :func:`listing_dates`); ``events``: good rows from
    :func:`~kalshi_lake.transform.parse_markets.parse_events` plus ``part``; ``city_series``: city name
    -> series ticker, the last fallback for ``series_ticker``.
    """
    df = latest_per_key(rows, ["part", "market_ticker"]) if rows.height else rows
    df = df.with_columns(
        event_ticker=pl.coalesce(
            "event_ticker", "parent_event_ticker", "page_event_ticker", ticker_event()
        )
    )
    series = pl.coalesce("parent_series_ticker", "page_series_ticker")
    if events is not None and events.height:
        ev = latest_events(events).rename({"series_ticker": "_event_series"})
        df = df.join(
            ev, on=["part", "event_ticker"], how="left", maintain_order="left"
        ).with_columns(series_ticker=pl.coalesce(series, "_event_series"))
    else:
        df = df.with_columns(series_ticker=series)
    if city_series:
        df = df.with_columns(
            series_ticker=pl.coalesce(
                "series_ticker",
                pl.col("city").replace_strict(city_series, default=None, return_dtype=pl.String),
            )
        )
    low, high = bracket_bounds()
    return (
        df.with_columns(low, high, settlement_source())
        .sort(["part", "market_ticker"])
        .select(MARKET_OUT)
    )
