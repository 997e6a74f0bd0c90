-- check: reconcile_market_day_differs
-- level: warn
-- Invariant: per market and New York report day, the lake agrees with Kalshi's public daily
-- reports (as stored by `kalshi-lake reconcile`): trade count and contracts (trade_data), daily
-- volume, high and low price and open interest (market_data; open interest from the last api
-- candle ending by the day's end), and the lake holds no trade the report does not list. A row
-- is a market day whose only differences are of that kind (reconciliation's flag 'warn',
-- differences naming them); a market day with trades missing from the lake is reported by the
-- error-level check reconcile_trade_missing_from_lake instead. Pending days (no report yet) are
-- not failures. (check_start/check_end bound the report days, check_city the city.)
SELECT
    r.city,
    r.family,
    r.report_date,
    r.market_ticker,
    r.differences,
    r.report_trades,
    r.lake_trades,
    r.report_contracts,
    r.lake_contracts,
    r.report_daily_volume,
    r.report_high,
    r.lake_high,
    r.report_low,
    r.lake_low,
    r.report_open_interest,
    r.lake_open_interest
FROM reconciliation_in(
    getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
) AS r
WHERE r.flag = 'warn'
ORDER BY r.city, r.report_date, r.market_ticker;
