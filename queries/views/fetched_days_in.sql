-- macro: fetched_days_in(city := NULL, start_date := NULL, end_date := NULL, family := NULL)
-- The event dates whose trades and candles were fetched, per city and market family: one row
-- per city, family and climate date with a raw trades page or a raw candle page (candlesticks,
-- event_candlesticks, batch_candlesticks), flags saying which, and fetched = both. Read from
-- the raw layer's file names only (a listing, never a file's contents), so it is cheap on any
-- lake and on S3: the family is the `.<family>` before `.parquet` in a raw file's name, and a
-- file without one was written before families were recorded, when only highs were fetched.
-- Why the raw layer: a page is there only if the API answered it, and a day with no trades still
-- has its (empty) trades pages, so it counts as fetched; curated markets are no measure, since
-- listing pages bring markets of days that were never fetched.
-- Invariant: fetched = trades_fetched AND candles_fetched, within one family (a city's highs
-- fetched never count as its lows fetched); city and date come from the path.
CREATE OR REPLACE MACRO fetched_days_in(
    city := NULL, start_date := NULL, end_date := NULL, family := NULL
)
AS TABLE
WITH pages AS (
    SELECT
        regexp_extract(
            g.file,
            'raw/([^/]+)/city=([^/]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/[^/.]+(?:[.]([a-z]+))?[.]parquet$',
            ['endpoint', 'city', 'date', 'family']
        ) AS k
    FROM glob(
        lake_root() || '/raw/trades/city=' || coalesce(city, '*') || '/date='
            || lake_range_glob(
                strftime(CAST(start_date AS DATE), '%Y-%m-%d'),
                strftime(CAST(end_date AS DATE), '%Y-%m-%d')
            )
            || '/*.parquet'
    ) AS g
    UNION ALL
    SELECT
        regexp_extract(
            g.file,
            'raw/([^/]+)/city=([^/]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/[^/.]+(?:[.]([a-z]+))?[.]parquet$',
            ['endpoint', 'city', 'date', 'family']
        ) AS k
    FROM glob(
        lake_root() || '/raw/*candlesticks/city=' || coalesce(city, '*') || '/date='
            || lake_range_glob(
                strftime(CAST(start_date AS DATE), '%Y-%m-%d'),
                strftime(CAST(end_date AS DATE), '%Y-%m-%d')
            )
            || '/*.parquet'
    ) AS g
),
days AS (
    SELECT
        p.k.city AS city,
        coalesce(nullif(p.k.family, ''), 'high') AS family,
        CAST(p.k.date AS DATE) AS date,
        bool_or(p.k.endpoint = 'trades') AS trades_fetched,
        bool_or(p.k.endpoint IN ('candlesticks', 'event_candlesticks', 'batch_candlesticks'))
            AS candles_fetched
    FROM pages AS p
    WHERE p.k.date <> ''
    GROUP BY ALL
)
SELECT
    d.city,
    d.family,
    d.date,
    d.trades_fetched,
    d.candles_fetched,
    d.trades_fetched AND d.candles_fetched AS fetched
FROM days AS d
WHERE (start_date IS NULL OR d.date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR d.date <= CAST(end_date AS DATE))
  AND (family IS NULL OR d.family = family);
