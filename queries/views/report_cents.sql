-- macro: report_cents(body, field)
-- A price of a daily-report row (price, high, low: YES prices in cents) as PRICE dollars,
-- DECIMAL(10,6), the curated tables' type: cents times 0.01, exact (decimal multiplication,
-- never a division, which DuckDB would do in floating point).
-- Invariant: report_cents(b, f) * 100 = report_number(b, f) exactly.
CREATE OR REPLACE MACRO report_cents(body, field) AS (
    CAST(report_number(body, field) * 0.01 AS DECIMAL(10, 6))
);
