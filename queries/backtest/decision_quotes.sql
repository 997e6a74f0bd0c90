-- view: decision_quotes
-- decision_quotes (README, Queries) over the whole lake: one row per market and decision
-- instant (D-1 10:00 and D 10:00 in the city's own time zone), the as-of api quote (bid, ask,
-- mid, quote_at, quote_age), the last trade (price, time, last_trade_age) and the market's
-- result; ages are seconds (DOUBLE) before decision_at. Filter on city and month to prune;
-- decision_quotes_for(city, start_date, end_date) is the fastest way to get one city and date
-- range.
-- Invariant: no look-ahead (see market_quotes_for); two rows per market.
CREATE OR REPLACE VIEW decision_quotes AS
SELECT *
FROM decision_quotes_for();
