"""Daily-report rows stored in the raw layout, for tests (the reconciliation's input).

``write_report_file`` stores rows of one of Kalshi's public daily report files (``market_data``
or ``trade_data``) the way ``kalshi-lake reconcile`` keeps them:
``raw/daily_reports/city=<city>/date=<report day>/<kind>.<etag8>.<family>.parquet``, one row
per kept report row with its provenance (kind, report_date, source_key, etag, fetched_at,
row_no, ticker_name, report_ticker, family) and the row verbatim (body); a file that kept no
row of a family is still written, empty (the day was published). ``reports_of_lake`` builds the rows a
report of a New York day would hold from a lake's own curated trades and candles, so a test lake
gets a report that matches it (the SQL client tests; the reconciliation tests build theirs from
the simulator's world instead, a path independent of the lake).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.cities import family_for_ticker, get_city
from kalshi_lake.lake.storage import Lake

FILE_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string()),
        pa.field("report_date", pa.date32()),
        pa.field("source_key", pa.string()),
        pa.field("etag", pa.string()),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC")),
        pa.field("row_no", pa.int64()),
        pa.field("ticker_name", pa.string()),
        pa.field("report_ticker", pa.string()),
        pa.field("family", pa.string()),
        pa.field("body", pa.large_string()),
    ]
)

#: The first day Kalshi publishes gzipped files.
GZIP_FROM = dt.date(2026, 7, 30)


def source_key(kind: str, day: dt.date) -> str:
    """The bucket key of a report file: ``.json.gz`` from 2026-07-30, ``.json`` before."""
    ext = ".json.gz" if day >= GZIP_FROM else ".json"
    return f"reporting/{kind}_{day.isoformat()}{ext}"


def write_report_file(
    lake: Path,
    city: str,
    day: dt.date,
    kind: str,
    rows: Sequence[dict[str, Any]],
    *,
    fetched_at: dt.datetime,
    etag: str | None = None,
) -> list[Path]:
    """Store ``rows`` (report rows as dicts, of any family) as the kept rows of one report file
    of ``city`` and New York day ``day``: one file per family the city has (the family from the
    row's ticker), empty where it kept none. The ETag defaults to the MD5 of the rows. Returns
    the paths."""
    bodies = [json.dumps(r, separators=(",", ":")) for r in rows]
    tag = etag or hashlib.md5("\n".join(bodies).encode()).hexdigest()  # an ETag is an MD5
    folder = lake / "raw" / "daily_reports" / f"city={city}" / f"date={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for family in get_city(city).families:
        keep = [
            (k, r, b)
            for k, (r, b) in enumerate(zip(rows, bodies, strict=True))
            if family_for_ticker(r["ticker_name"]) == family
        ]
        path = folder / f"{kind}.{tag[:8]}.{family}.parquet"
        pq.write_table(_table(kind, day, tag, fetched_at, family, keep), path)
        paths.append(path)
    return paths


def _table(
    kind: str,
    day: dt.date,
    tag: str,
    fetched_at: dt.datetime,
    family: str,
    keep: Sequence[tuple[int, dict[str, Any], str]],
) -> pa.Table:
    n = len(keep)
    return pa.table(
        {
            "kind": [kind] * n,
            "report_date": [day] * n,
            "source_key": [source_key(kind, day)] * n,
            "etag": [tag] * n,
            "fetched_at": [fetched_at] * n,
            "row_no": [k for k, _, _ in keep],
            "ticker_name": [r["ticker_name"] for _, r, _ in keep],
            "report_ticker": [r["report_ticker"] for _, r, _ in keep],
            "family": [family] * n,
            "body": [b for _, _, b in keep],
        },
        schema=FILE_SCHEMA,
    )


def _cents(price: Decimal) -> str:
    return str((price * 100).normalize())


def reports_of_lake(
    lake: Lake, city: str, day: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(market_data rows, trade_data rows) of New York day ``day`` for ``city``, built from the
    lake's curated trades and api candles (2026 spelling: numbers as strings)."""
    from kalshi_lake.sql.connection import connect

    con = connect(lake)
    try:
        trades = con.sql(
            """
            SELECT t.market_ticker, m.series_ticker,
                   strftime(timezone('America/New_York', t.traded_at), '%Y-%m-%d %H:%M:%S')
                       AS local_ts,
                   t.yes_price, t.count
            FROM trades_in(?) AS t JOIN markets_in(?) AS m USING (market_ticker)
            WHERE CAST(timezone('America/New_York', t.traded_at) AS DATE) = ?
            ORDER BY t.traded_at, t.trade_id
            """,
            params=[city, city, day],
        ).fetchall()
        oi = dict(
            con.sql(
                """
                SELECT c.market_ticker, arg_max(c.open_interest, c.bucket_start)
                FROM candles_1m_in(?) AS c
                WHERE c.source = 'api' AND c.open_interest IS NOT NULL
                  AND c.bucket_start + INTERVAL 1 MINUTE
                      <= timezone('America/New_York', CAST(CAST(? AS DATE) + 1 AS TIMESTAMP))
                GROUP BY ALL
                """,
                params=[city, day],
            ).fetchall()
        )
    finally:
        con.close()
    trade_rows: list[dict[str, Any]] = []
    per_market: dict[str, dict[str, Any]] = {}
    for ticker, series, local_ts, price, count in trades:
        trade_rows.append(
            {
                "ticker_name": ticker,
                "report_ticker": series,
                "date": day.isoformat(),
                "create_ts": local_ts,
                "contracts_traded": str(count),
                "price": _cents(price),
            }
        )
        m = per_market.setdefault(ticker, {"series": series, "prices": [], "volume": Decimal(0)})
        m["prices"].append(price)
        m["volume"] += count
    market_rows = [
        {
            "date": day.isoformat(),
            "ticker_name": ticker,
            "report_ticker": m["series"],
            "payout_type": "Binary Option",
            "open_interest": str(oi.get(ticker, Decimal(0))),
            "daily_volume": str(m["volume"]),
            "block_volume": "0",
            "high": _cents(max(m["prices"])),
            "low": _cents(min(m["prices"])),
            "status": "active",
        }
        for ticker, m in per_market.items()
    ]
    return market_rows, trade_rows
