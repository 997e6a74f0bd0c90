-- macro: fetched_days_in(city := NULL, start_date := NULL, end_date := NULL, family := NULL)
-- The event dates whose trades and candles were fetched, per city and market family: one row
-- per city, family and climate date with a raw trades page or a raw candle page (candlesticks,
-- event_candlesticks, batch_candlesticks), flags saying which, and fetched = both. Read from
-- the raw layer's file names only (a listing, never a file's contents: lake_raw_files_in), so
-- it is cheap on any lake and on S3: a page's name is <page>[.<family>], and a file without
-- a family was written before families were recorded, when only highs were fetched; a name of
-- another shape is no page and is left out.
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
    SELECT f.folder, f.city, f.date, f.name
    FROM lake_raw_files_in('trades', city, start_date, end_date) AS f
    UNION ALL
    SELECT f.folder, f.city, f.date, f.name
    FROM lake_raw_files_in('*candlesticks', city, start_date, end_date) AS f
),
days AS (
    SELECT
        p.city,
        coalesce(nullif(regexp_extract(p.name, '[.]([a-z]+)$', 1), ''), 'high') AS family,
        p.date,
        bool_or(p.folder = 'trades') AS trades_fetched,
        bool_or(p.folder IN ('candlesticks', 'event_candlesticks', 'batch_candlesticks'))
            AS candles_fetched
    FROM pages AS p
    WHERE regexp_full_match(p.name, '[^.]+(?:[.][a-z]+)?')
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
WHERE family IS NULL OR d.family = family;
