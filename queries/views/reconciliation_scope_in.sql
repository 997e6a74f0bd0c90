-- macro: reconciliation_scope_in(city := NULL, start_date := NULL, end_date := NULL)
-- The lake's events a reconciliation of report days start_date..end_date can judge: per city,
-- family and event, those whose trades were fetched (a raw trades page of the event's date and
-- family) or recorded (curated trades). A report day holds trades of events a day or two apart
-- (markets list at 10:00 ET the day before their date), hence the wider date window. A report
-- row of an event outside the scope is not compared: the lake never asked for it.
-- Invariant: one row per (city, event_ticker).
CREATE OR REPLACE MACRO reconciliation_scope_in(
    city := NULL, start_date := NULL, end_date := NULL
) AS TABLE
WITH reported AS (
    -- the cities with a stored report: a lake never reconciled reads nothing below
    SELECT DISTINCT r.city FROM report_files_in(city) AS r
),
ev AS (
    SELECT DISTINCT m.city, m.family, m.event_ticker, m.date AS event_date
    FROM markets_in(
        city, CAST(start_date AS DATE) - 2, CAST(end_date AS DATE) + 2
    ) AS m
    SEMI JOIN reported AS r ON r.city = m.city
),
fetched AS (
    SELECT f.city, f.family, f.date
    FROM fetched_days_in(
        city, CAST(start_date AS DATE) - 2, CAST(end_date AS DATE) + 2
    ) AS f
    WHERE f.trades_fetched
),
traded AS (
    SELECT DISTINCT t.city, t.event_ticker
    FROM trades_in(city, CAST(start_date AS DATE) - 2, CAST(end_date AS DATE) + 2) AS t
    SEMI JOIN reported AS r ON r.city = t.city
)
SELECT e.city, e.family, e.event_ticker, e.event_date
FROM ev AS e
WHERE EXISTS (
    SELECT 1 FROM fetched AS f
    WHERE f.city = e.city AND f.family = e.family AND f.date = e.event_date
)
   OR EXISTS (SELECT 1 FROM traded AS t WHERE t.city = e.city AND t.event_ticker = e.event_ticker);
