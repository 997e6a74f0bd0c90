-- macro: fill_cost_for(city := NULL, start_date := NULL, end_date := NULL, ts := NULL, taker_side := 'yes', quantity := 100)
-- The cost of taking `quantity` contracts against the order book as of instant ts, per market of
-- one city (or all) and range of event climate dates (or all) whose book is known at ts
-- (book_at_for): taker_side 'yes' buys YES, walking the asks from the best (lowest) up, paying the
-- ask; taker_side 'no' buys NO, i.e. sells YES into the bids from the best (highest) down, paying
-- 1 - bid. Columns: the market's keys, side, quantity (DECIMAL(18,2)), filled (contracts
-- taken), unfilled (quantity - filled: the book was too thin), total_cost (dollars, exact),
-- avg_price (total_cost / filled rounded half up to 8 decimals, exact DECIMAL; NULL when
-- nothing filled), worst_price (the price paid for the last contract), levels_used, best_price,
-- book_as_of and source (of the book). A known book with no level on the taken side fills
-- nothing; a market whose known book is empty on both sides has no level in book_at_for and no
-- row here.
-- Invariant (no look-ahead): a row depends only on book_at_for(..., ts); filled + unfilled =
-- quantity; filled <= the side's depth. (The parameter is not named `side`: a macro's
-- parameter names reach into the macros it calls, where `side` is a column.)
CREATE OR REPLACE MACRO fill_cost_for(
    city := NULL, start_date := NULL, end_date := NULL, ts := NULL, taker_side := 'yes', quantity := 100
) AS TABLE
WITH args AS (
    SELECT
        CASE lower(CAST(taker_side AS VARCHAR))
            WHEN 'yes' THEN 'yes'
            WHEN 'no' THEN 'no'
            ELSE error(
                'fill_cost_for: taker_side must be ''yes'' (buy YES: walk the asks) or ''no'' (buy NO: walk '
                || 'the bids), not ' || coalesce('''' || CAST(taker_side AS VARCHAR) || '''', 'NULL')
            )
        END AS taker,
        CASE
            WHEN quantity IS NULL OR CAST(quantity AS DECIMAL(18, 2)) <= 0 THEN error(
                'fill_cost_for: quantity must be a positive number of contracts, not '
                || coalesce(CAST(quantity AS VARCHAR), 'NULL')
            )
            ELSE CAST(quantity AS DECIMAL(18, 2))
        END AS qty
),
book AS (
    SELECT b.*
    FROM book_at_for(city, start_date, end_date, ts) AS b
),
markets AS (
    SELECT DISTINCT
        b.market_ticker, b.event_ticker, b.city, b.family, b.date, b.book_as_of, b.source
    FROM book AS b
),
levels AS (
    SELECT
        b.market_ticker,
        b.size,
        CAST(CASE WHEN a.taker = 'yes' THEN b.price ELSE 1 - b.price END AS DECIMAL(10, 6))
            AS paid
    FROM book AS b
    CROSS JOIN args AS a
    WHERE b.side = CASE WHEN a.taker = 'yes' THEN 'ask' ELSE 'bid' END
),
walk AS (
    SELECT
        l.market_ticker,
        l.paid,
        -- what this level gives: the rest of the quantity after the better levels, up to its size
        least(
            l.size,
            greatest(
                a.qty - coalesce(
                    sum(l.size) OVER (
                        PARTITION BY l.market_ticker ORDER BY l.paid
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                    ),
                    0
                ),
                0
            )
        ) AS take
    FROM levels AS l
    CROSS JOIN args AS a
),
per_market AS (
    SELECT
        w.market_ticker,
        CAST(sum(w.take) AS DECIMAL(18, 2)) AS filled,
        CAST(sum(w.take * w.paid) AS DECIMAL(28, 8)) AS total_cost,
        count(*) FILTER (WHERE w.take > 0) AS levels_used,
        max(w.paid) FILTER (WHERE w.take > 0) AS worst_price,
        min(w.paid) AS best_price
    FROM walk AS w
    GROUP BY w.market_ticker
),
totals AS (
    SELECT
        m.*,
        coalesce(p.filled, 0) AS filled,
        coalesce(p.total_cost, 0) AS total_cost,
        coalesce(p.levels_used, 0) AS levels_used,
        p.worst_price,
        p.best_price
    FROM markets AS m
    LEFT JOIN per_market AS p ON p.market_ticker = m.market_ticker
)
SELECT
    t.market_ticker,
    t.event_ticker,
    t.city,
    t.family,
    t.date,
    a.taker AS side,
    a.qty AS quantity,
    CAST(t.filled AS DECIMAL(18, 2)) AS filled,
    CAST(a.qty - t.filled AS DECIMAL(18, 2)) AS unfilled,
    CAST(t.total_cost AS DECIMAL(28, 8)) AS total_cost,
    fill_cost_avg_price(t.total_cost, t.filled) AS avg_price,
    t.worst_price,
    CAST(t.levels_used AS INTEGER) AS levels_used,
    t.best_price,
    t.book_as_of,
    t.source
FROM totals AS t
CROSS JOIN args AS a
ORDER BY t.market_ticker;
