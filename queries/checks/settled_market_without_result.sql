-- check: settled_market_without_result
-- level: error
-- Invariant: a market whose status says it is settled (finalized, settled, determined or
-- amended) has a result (yes, no or scalar) and a settlement value.
SELECT m.market_ticker, m.city, m.date, m.status, m.result, m.settlement_value
FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
WHERE m.status IN ('finalized', 'settled', 'determined', 'amended')
  AND (m.result IS NULL OR m.result NOT IN ('yes', 'no', 'scalar') OR m.settlement_value IS NULL)
ORDER BY m.city, m.date, m.market_ticker;
