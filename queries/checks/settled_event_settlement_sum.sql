-- check: settled_event_settlement_sum
-- level: error
-- Invariant: once an event has a settled market (status finalized, settled, determined or
-- amended), the settlement values of all its markets add up to exactly 1: one bracket
-- resolves yes at 1 and the others at 0, or scalar values that sum to 1. Per event, so per
-- family too (a city's high and low events of a day are two events, each with its winner).
SELECT
    m.event_ticker,
    m.family,
    m.city,
    m.date,
    count(*) AS markets,
    count(*) FILTER (WHERE m.result = 'yes') AS yes_markets,
    sum(m.settlement_value) AS settlement_sum,
    count(*) FILTER (WHERE m.settlement_value IS NULL) AS missing_values
FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
GROUP BY ALL
HAVING bool_or(m.status IN ('finalized', 'settled', 'determined', 'amended'))
   AND (count(*) FILTER (WHERE m.settlement_value IS NULL) > 0
        OR sum(m.settlement_value) <> 1)
ORDER BY m.city, m.date, m.event_ticker;
