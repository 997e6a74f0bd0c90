-- macro: reconciliation_summary_in(city := NULL, start_date := NULL, end_date := NULL)
-- reconciliation_in per city, month (of the New York report day) and family: days_compared
-- (report days with a stored market_data file and at least one market of the family judged),
-- days_pending (days the lake traded the family and no report is stored yet), and the markets
-- flagged at each level (distinct markets with a row flagged 'error', resp. 'warn', that month).
-- Invariant: one row per (city, month, family).
CREATE OR REPLACE MACRO reconciliation_summary_in(
    city := NULL, start_date := NULL, end_date := NULL
) AS TABLE
SELECT
    r.city,
    r.month,
    r.family,
    count(DISTINCT r.report_date) FILTER (WHERE r.status <> 'pending') AS days_compared,
    count(DISTINCT r.report_date) FILTER (WHERE r.status = 'pending') AS days_pending,
    count(DISTINCT r.market_ticker) FILTER (WHERE r.flag = 'error') AS markets_flagged_error,
    count(DISTINCT r.market_ticker) FILTER (WHERE r.flag = 'warn') AS markets_flagged_warn
FROM reconciliation_in(city, start_date, end_date) AS r
GROUP BY ALL
ORDER BY r.city, r.month, r.family;
