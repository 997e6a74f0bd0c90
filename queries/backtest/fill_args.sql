-- macro: fill_args(quantity)
-- The quantity to take against a book, checked once: one row, qty, `quantity` as
-- DECIMAL(18, 2) contracts. A quantity that is NULL or not positive is an error naming it.
-- Invariant: qty > 0.
CREATE OR REPLACE MACRO fill_args(quantity) AS TABLE
SELECT a.qty
FROM (
    SELECT
        CASE
            WHEN quantity IS NULL OR CAST(quantity AS DECIMAL(18, 2)) <= 0 THEN error(
                'fill quantity must be a positive number of contracts, not '
                || coalesce(CAST(quantity AS VARCHAR), 'NULL')
            )
            ELSE CAST(quantity AS DECIMAL(18, 2))
        END AS qty
) AS a
-- a filter, so the check runs even when no book column is read (count(*)): DuckDB drops an
-- unused projection of a one-row cross join, never a filter on it
WHERE a.qty IS NOT NULL;
