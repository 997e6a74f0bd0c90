-- view: reconciliation_summary
-- reconciliation_summary_in() over every city: per city, month and family, the report days
-- compared and pending and the markets flagged at error and warn level (`kalshi-lake
-- reconcile` prints it; the HTML report shows it).
-- Invariant: the rows of reconciliation_summary_in() with no arguments.
CREATE OR REPLACE VIEW reconciliation_summary AS
SELECT * FROM reconciliation_summary_in();
