-- check: event_market_count
-- level: warn
-- Invariant: a daily-high or daily-low event has 6 markets (2 tails and 4 two-degree brackets).
-- Older NYC and Chicago events had fewer, so this only warns. Per event, so per family.
SELECT m.event_ticker, m.family, m.city, m.date, count(*) AS markets
FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
GROUP BY ALL
HAVING count(*) <> 6
ORDER BY m.city, m.date, m.event_ticker;
