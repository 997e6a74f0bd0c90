-- view: book_deltas
-- The order book level changes of followed markets (README, Tables): one row per level of a WebSocket
-- snapshot or REST poll (is_snapshot) and per WebSocket delta, prices on the YES scale, receive times,
-- every city and month of the lake, with the Hive keys city and month.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW book_deltas AS
SELECT *
FROM book_deltas_in();
