-- macro: book_at(ts)
-- book_at_for over every city at instant ts, reading only the events dated within three days
-- of ts (no other market can be open then).
-- Invariant: equals book_at_for(NULL, NULL, NULL, ts).
CREATE OR REPLACE MACRO book_at(ts) AS TABLE
SELECT *
FROM book_at_for(
    NULL,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) - 3,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) + 3,
    ts
);
