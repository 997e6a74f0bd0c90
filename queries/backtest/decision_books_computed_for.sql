-- macro: decision_books_computed_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL)
-- The order book of every market of one city (or all) and range of event climate dates (or all)
-- at each decision instant (decision_instants: the defaults D-1 10:00 and D 10:00, or
-- `instants`, city-local, DST-correct), as book_at_for defines it: the latest book_snapshots
-- entry at or before the instant (none if it is 'unknown'), plus the same connection's later
-- deltas received by then. One row per instant where the book is known: book_as_of (the receive
-- time of the last frame applied; of a cadence entry replayed from an empty snapshot and nothing
-- since, the entry's instant), book_source ('ws' or 'rest') and the levels with a positive size,
-- each side in the order a taker meets them: book_asks by price up, book_bids by price down,
-- each level (price, size, before: the size of the better levels of its side; see book_fill);
-- [] for an empty side. No row where the book is not known (no book data, a hole, before the
-- first snapshot).
-- The lookup half of fill_cost_decisions_for; book_fill and book_walk are the other (the sides
-- -> best bid and ask, sizes, cost of a quantity). decision_points stores these columns at the
-- default instants.
-- Invariant (no look-ahead): nothing received after the instant changes a row.
CREATE OR REPLACE MACRO decision_books_computed_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL
) AS TABLE
WITH
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
-- The latest entry at or before the instant, ties in the table's order (conn_id, frame_no), then
-- by kind as book_at_for breaks them ('ws' over 'rest' over 'cadence': a cadence entry at the
-- instant of the snapshot it was replayed up to is the same book, and must not count twice).
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
        ORDER BY n.snapshot_at DESC, n.conn_key DESC, n.frame_key DESC, n.kind DESC
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
        AND (e.snapshot_at, e.conn_key, e.frame_key, e.kind)
            <= (f.decision_at, chr(1114111), CAST(9223372036854775807 AS BIGINT), chr(1114111))
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
        AND s.kind = k.kind
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
        CAST(sum(c.size) AS DECIMAL(18, 2)) AS size,
        -- what a taker pays: the ask for YES, 1 - the bid for NO
        CASE WHEN c.side = 'ask' THEN c.price ELSE 1 - c.price END AS paid
    FROM changes AS c
    GROUP BY c.market_ticker, c.decision_at, c.side, c.price
    HAVING sum(c.size) > 0
),
ranked AS (
    SELECT
        l.*,
        CAST(
            coalesce(
                sum(l.size) OVER (
                    PARTITION BY l.market_ticker, l.decision_at, l.side ORDER BY l.paid
                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
                ),
                0
            ) AS DECIMAL(18, 2)
        ) AS before
    FROM levels AS l
),
books AS (
    SELECT
        r.market_ticker,
        r.decision_at,
        list(struct_pack(price := r.price, size := r.size, before := r.before) ORDER BY r.paid)
            FILTER (WHERE r.side = 'ask') AS book_asks,
        list(struct_pack(price := r.price, size := r.size, before := r.before) ORDER BY r.paid)
            FILTER (WHERE r.side = 'bid') AS book_bids
    FROM ranked AS r
    GROUP BY r.market_ticker, r.decision_at
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
    coalesce(o.last_at, k.snapshot_at) AS book_as_of,
    CASE WHEN k.kind = 'rest' THEN 'rest' ELSE 'ws' END AS book_source,
    coalesce(
        b.book_asks,
        CAST([] AS STRUCT(price DECIMAL(10, 6), size DECIMAL(18, 2), before DECIMAL(18, 2))[])
    ) AS book_asks,
    coalesce(
        b.book_bids,
        CAST([] AS STRUCT(price DECIMAL(10, 6), size DECIMAL(18, 2), before DECIMAL(18, 2))[])
    ) AS book_bids
FROM known AS k
LEFT JOIN books AS b ON b.market_ticker = k.market_ticker AND b.decision_at = k.decision_at
LEFT JOIN as_of AS o ON o.market_ticker = k.market_ticker AND o.decision_at = k.decision_at;
