-- macro: fill_cost_avg_price(total_cost, filled)
-- The average price of a fill, exact: total_cost (dollars, at most 8 decimals) over filled
-- (contracts, 2 decimals) rounded half up to 8 decimals, as DECIMAL(18, 8), computed in integer
-- units (DuckDB divides decimals in floating point). NULL when nothing filled.
-- Invariant: equals Python's (total_cost / filled).quantize(Decimal('1e-8'), ROUND_HALF_UP).
CREATE OR REPLACE MACRO fill_cost_avg_price(total_cost, filled) AS
CASE
    WHEN filled > 0 THEN CAST(
        CAST(
            (
                2 * CAST(CAST(total_cost AS DECIMAL(38, 8)) * 100000000 AS HUGEINT) * 100
                + CAST(CAST(filled AS DECIMAL(38, 2)) * 100 AS HUGEINT)
            ) // (2 * CAST(CAST(filled AS DECIMAL(38, 2)) * 100 AS HUGEINT))
            AS DECIMAL(38, 0)
        ) * CAST(0.00000001 AS DECIMAL(10, 8))
        AS DECIMAL(18, 8)
    )
END;
