-- view: event_ladder
-- event_ladder (README, Queries) over the whole lake: per event and decision instant, every bracket
-- in strike order with bid/ask/mid, the sum of mids, and the winning bracket (is_winner).
-- event_ladder_for(city, start_date, end_date) is the fast path for one city and date range.
-- Invariant: see event_ladder_for.
CREATE OR REPLACE VIEW event_ladder AS
SELECT *
FROM event_ladder_for();
