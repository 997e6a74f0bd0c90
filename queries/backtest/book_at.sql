-- macro: book_at(ts)
-- The order book of every followed market as of the instant ts (TIMESTAMPTZ, or text such as
-- '2026-12-05 16:00:00+00'): book_at_for over every city. Only events dated within three days
-- of ts are read (a market is followed from its listing, the day before its climate date,
-- until it settles after the day), so a lake of many months costs what a week does.
-- Invariant: equals book_at_for(NULL, NULL, NULL, ts) for every market followed then.
CREATE OR REPLACE MACRO book_at(ts) AS TABLE
SELECT *
FROM book_at_for(
    NULL,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) - 3,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) + 3,
    ts
);
