-- view: reconciliation
-- reconciliation_in() over every city and report day: the lake against Kalshi's public daily
-- reports, one row per market and New York day, status 'match' | 'differ' | 'pending'.
-- For one city and a window, reconciliation_in(city, start_date, end_date) reads far less.
-- Invariant: the rows of reconciliation_in() with no arguments.
CREATE OR REPLACE VIEW reconciliation AS
SELECT * FROM reconciliation_in();
