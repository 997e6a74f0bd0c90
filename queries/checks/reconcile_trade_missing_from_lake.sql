-- check: reconcile_trade_missing_from_lake
-- level: error
-- Invariant: every trade of Kalshi's public daily trade_data report (as stored by `kalshi-lake
-- reconcile`, the newest ETag of each file) is in the curated trades: per market, New York
-- report day, second, YES price and contracts, the lake holds at least as many trades as the
-- report lists (identical trades exist, so they are counted, not matched one by one). Only
-- markets of events the lake fetched are judged (reconciliation_scope_in); days whose report
-- is not published yet are pending, not failures. A row is one key the lake is short of:
-- `kalshi-lake backfill` over the event's dates (or `repair`) fetches the trades again.
-- (check_start/check_end bound the report days, check_city the city.)
SELECT
    d.city,
    d.family,
    d.report_date,
    d.market_ticker,
    d.traded_second,
    d.price,
    d.contracts,
    d.report_trades,
    d.lake_trades,
    d.missing
FROM reconciliation_trades_in(
    getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
) AS d
WHERE d.missing > 0
ORDER BY d.city, d.report_date, d.market_ticker, d.traded_second, d.price, d.contracts;
