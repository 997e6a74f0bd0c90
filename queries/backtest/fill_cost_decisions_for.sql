-- macro: fill_cost_decisions_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL, quantity := 100)
-- The order book side of decision_quotes and event_ladder: per market of one city (or all) and
-- range of event climate dates (or all) and per decision instant (decision_instants: the
-- defaults D-1 10:00 and D 10:00, or `instants`, city-local, DST-correct), the book as of the
-- instant as book_at_for defines it (the latest book_snapshots entry at or before the instant,
-- none if it is 'unknown', plus the same connection's later deltas received by then) and:
-- book_yes_bid / yes_bid_size and book_yes_ask / yes_ask_size (the best levels; NULL on an
-- empty side), book_as_of (the receive time of the last frame applied; of a cadence entry
-- replayed from an empty snapshot and nothing since, the entry's instant), book_source, and the cost of taking `quantity` contracts (default
-- 100) each way: buy_yes_* walks the asks up, buy_no_* the bids down paying 1 - bid (filled,
-- total cost, exact average price; see fill_cost_for). Every column is NULL at an instant where
-- the market's book is not known (no book data, a hole, before the first snapshot).
-- Invariant (no look-ahead): nothing received after the instant changes a row.
CREATE OR REPLACE MACRO fill_cost_decisions_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL, quantity := 100
) AS TABLE
WITH args AS (
    SELECT
        CASE
            WHEN quantity IS NULL OR CAST(quantity AS DECIMAL(18, 2)) <= 0 THEN error(
                'fill quantity must be a positive number of contracts, not '
                || coalesce(CAST(quantity AS VARCHAR), 'NULL')
            )
            ELSE CAST(quantity AS DECIMAL(18, 2))
        END AS qty
),
-- The markets come from the book itself, not from the markets table: a lake (or a city) with
-- no book reads nothing here, so decision_quotes costs what it did before books existed. Only
-- the entries that are not cadence rows are listed (about 1% of the rows): a cadence row is the
-- transform's replay of a book that a 'ws' snapshot or a 'rest' poll of the same market made
-- known, in the same partition, so every market with a book has one of those.
points AS (
    SELECT
        m.market_ticker,
        m.city,
        m.date,
        i.decision_label,
        timezone(c.tz, (m.date + i.day_offset) + i.local_time) AS decision_at
    FROM (
        SELECT DISTINCT b.market_ticker, b.city, b.date
        FROM book_snapshots_in(city, start_date, end_date) AS b
        WHERE b.kind <> 'cadence'
    ) AS m
    JOIN cities AS c ON c.city = m.city
    CROSS JOIN decision_instants(instants) AS i
),
-- REST polls have no connection nor frame number: keys that compare and join
snaps AS NOT MATERIALIZED (
    SELECT s.*, coalesce(s.conn_id, '') AS conn_key, coalesce(s.frame_no, -1) AS frame_key
    FROM book_snapshots_in(city, start_date, end_date) AS s
),
-- The latest entry at or before the instant, ties in the table's order (conn_id, frame_no).
-- While a book is known the transform writes an entry at every 5-minute boundary, so that
-- entry is nearly always within the last ten minutes: look there first (a small join that
-- keeps the entries' level rows too, so the book of the chosen entry needs no second pass over
-- the table), and only for the other instants (an unknown or missing book) sort the markets'
-- whole history.
near_rows AS (
    SELECT
        p.market_ticker,
        p.decision_at,
        s.snapshot_at,
        s.conn_key,
        s.conn_id,
        s.frame_no,
        s.frame_key,
        s.kind,
        s.side,
        s.price,
        s.size
    FROM points AS p
    JOIN snaps AS s
        ON s.city = p.city
        AND s.date = p.date
        AND s.market_ticker = p.market_ticker
        AND s.snapshot_at <= p.decision_at
        AND s.snapshot_at >= p.decision_at - INTERVAL 10 MINUTE
),
-- the rows of each instant's latest entry (an entry: the rows of one snapshot_at, conn_id and
-- frame_no, one per level or one with side NULL)
near_top AS (
    SELECT n.*
    FROM near_rows AS n
    QUALIFY dense_rank() OVER (
        PARTITION BY n.market_ticker, n.decision_at
        ORDER BY n.snapshot_at DESC, n.conn_key DESC, n.frame_key DESC
    ) = 1
),
near_latest AS (
    SELECT
        n.market_ticker,
        n.decision_at,
        n.snapshot_at,
        n.conn_key,
        n.conn_id,
        n.frame_no,
        n.frame_key,
        min(n.kind) AS kind
    FROM near_top AS n
    GROUP BY ALL
),
far_points AS (
    SELECT p.*
    FROM points AS p
    ANTI JOIN near_latest AS n
        ON n.market_ticker = p.market_ticker AND n.decision_at = p.decision_at
),
far_entries AS (
    SELECT DISTINCT
        s.city,
        s.date,
        s.market_ticker,
        s.snapshot_at,
        s.conn_key,
        s.conn_id,
        s.frame_no,
        s.frame_key,
        s.kind
    FROM snaps AS s
    WHERE s.market_ticker IN (SELECT f.market_ticker FROM far_points AS f)
),
far_latest AS (
    SELECT
        f.market_ticker,
        f.decision_at,
        e.snapshot_at,
        e.conn_key,
        e.conn_id,
        e.frame_no,
        e.frame_key,
        e.kind
    FROM far_points AS f
    ASOF JOIN far_entries AS e
        ON e.city = f.city
        AND e.date = f.date
        AND e.market_ticker = f.market_ticker
        AND (e.snapshot_at, e.conn_key, e.frame_key)
            <= (f.decision_at, chr(1114111), CAST(9223372036854775807 AS BIGINT))
),
chosen AS (
    SELECT p.*, c.snapshot_at, c.conn_key, c.conn_id, c.frame_no, c.frame_key, c.kind, c.is_near
    FROM points AS p
    JOIN (
        SELECT *, true AS is_near FROM near_latest
        UNION ALL
        SELECT *, false AS is_near FROM far_latest
    ) AS c
        ON c.market_ticker = p.market_ticker AND c.decision_at = p.decision_at
),
known AS (
    SELECT k.* FROM chosen AS k WHERE k.kind IS NOT NULL AND k.kind <> 'unknown'
),
-- the entry's own last frame (frame_no equal: a snapshot's levels, or the delta a cadence entry
-- was replayed up to: only its receive time counts) and the same connection's later deltas
frames AS (
    SELECT
        k.market_ticker,
        k.decision_at,
        d.side,
        d.price,
        d.delta,
        d.recv_at,
        d.frame_no > k.frame_no AS after
    FROM known AS k
    JOIN book_deltas_in(city, start_date, end_date) AS d
        ON d.city = k.city
        AND d.date = k.date
        AND d.market_ticker = k.market_ticker
        AND d.conn_id = k.conn_id
        AND d.frame_no >= k.frame_no
        AND d.recv_at <= k.decision_at
),
changes AS (
    -- the chosen entry's levels: kept by the near join, or (far) read again
    SELECT n.market_ticker, n.decision_at, n.side, n.price, n.size
    FROM near_top AS n
    SEMI JOIN known AS k
        ON k.market_ticker = n.market_ticker AND k.decision_at = n.decision_at AND k.is_near
    WHERE n.side IS NOT NULL
    UNION ALL
    SELECT k.market_ticker, k.decision_at, s.side, s.price, s.size
    FROM known AS k
    JOIN snaps AS s
        ON s.city = k.city
        AND s.date = k.date
        AND s.market_ticker = k.market_ticker
        AND s.snapshot_at = k.snapshot_at
        AND s.conn_key = k.conn_key
        AND s.frame_key = k.frame_key
    WHERE NOT k.is_near AND s.side IS NOT NULL
    UNION ALL
    SELECT f.market_ticker, f.decision_at, f.side, f.price, f.delta AS size
    FROM frames AS f
    WHERE f.after
),
levels AS (
    SELECT
        c.market_ticker,
        c.decision_at,
        c.side,
        c.price,
        sum(c.size) AS size,
        CAST(CASE WHEN c.side = 'ask' THEN c.price ELSE 1 - c.price END AS DECIMAL(10, 6)) AS paid
    FROM changes AS c
    GROUP BY c.market_ticker, c.decision_at, c.side, c.price
    HAVING sum(c.size) > 0
),
walk AS (
    SELECT
        l.*,
        -- what this level gives: the rest of the quantity after the better levels, up to its size
        least(
            l.size,
            greatest(
                a.qty - coalesce(
                    sum(l.size) OVER (
                        PARTITION BY l.market_ticker, l.decision_at, l.side ORDER BY l.paid
                        ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                    ),
                    0
                ),
                0
            )
        ) AS take,
        row_number() OVER (
            PARTITION BY l.market_ticker, l.decision_at, l.side ORDER BY l.paid
        ) AS rank_in_side
    FROM levels AS l
    CROSS JOIN args AS a
),
per_point AS (
    SELECT
        w.market_ticker,
        w.decision_at,
        max(w.price) FILTER (WHERE w.side = 'bid' AND w.rank_in_side = 1) AS book_yes_bid,
        max(w.size) FILTER (WHERE w.side = 'bid' AND w.rank_in_side = 1) AS yes_bid_size,
        max(w.price) FILTER (WHERE w.side = 'ask' AND w.rank_in_side = 1) AS book_yes_ask,
        max(w.size) FILTER (WHERE w.side = 'ask' AND w.rank_in_side = 1) AS yes_ask_size,
        sum(w.take) FILTER (WHERE w.side = 'ask') AS yes_filled,
        sum(w.take * w.paid) FILTER (WHERE w.side = 'ask') AS yes_cost,
        sum(w.take) FILTER (WHERE w.side = 'bid') AS no_filled,
        sum(w.take * w.paid) FILTER (WHERE w.side = 'bid') AS no_cost
    FROM walk AS w
    GROUP BY w.market_ticker, w.decision_at
),
as_of AS (
    SELECT f.market_ticker, f.decision_at, max(f.recv_at) AS last_at
    FROM frames AS f
    GROUP BY f.market_ticker, f.decision_at
)
SELECT
    k.market_ticker,
    k.city,
    k.date,
    k.decision_label,
    k.decision_at,
    p.book_yes_bid,
    CAST(p.yes_bid_size AS DECIMAL(18, 2)) AS yes_bid_size,
    p.book_yes_ask,
    CAST(p.yes_ask_size AS DECIMAL(18, 2)) AS yes_ask_size,
    coalesce(o.last_at, k.snapshot_at) AS book_as_of,
    CASE WHEN k.kind = 'rest' THEN 'rest' ELSE 'ws' END AS book_source,
    a.qty AS fill_quantity,
    CAST(coalesce(p.yes_filled, 0) AS DECIMAL(18, 2)) AS buy_yes_filled,
    CAST(coalesce(p.yes_cost, 0) AS DECIMAL(28, 8)) AS buy_yes_cost,
    fill_cost_avg_price(p.yes_cost, p.yes_filled) AS buy_yes_avg_price,
    CAST(coalesce(p.no_filled, 0) AS DECIMAL(18, 2)) AS buy_no_filled,
    CAST(coalesce(p.no_cost, 0) AS DECIMAL(28, 8)) AS buy_no_cost,
    fill_cost_avg_price(p.no_cost, p.no_filled) AS buy_no_avg_price
FROM known AS k
CROSS JOIN args AS a
LEFT JOIN per_point AS p ON p.market_ticker = k.market_ticker AND p.decision_at = k.decision_at
LEFT JOIN as_of AS o ON o.market_ticker = k.market_ticker AND o.decision_at = k.decision_at;
