-- macro: decision_books_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL)
-- decision_books_computed_for's rows (the book of each market at each decision instant where it
-- is known: book_as_of, book_source, book_asks, book_bids): at the default instants (instants
-- NULL) read from decision_points_in (the materialized table where it is current), at other
-- instants computed; only the branch taken is bound (query(), see decision_points_for). On a
-- lake where decision_points_in is itself computed, connect() replaces this macro by
-- decision_books_computed_for alone (the quotes side would be computed for nothing).
-- Read from the table, a market with a book but no markets row has no row (decision_points is
-- one row per market and instant of the markets table).
-- Invariant: the same rows as decision_books_computed_for for every market of the markets table.
CREATE OR REPLACE MACRO decision_books_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL
) AS TABLE
SELECT *
FROM query(
    CASE
        WHEN instants IS NULL THEN 'SELECT market_ticker, city, date, decision_label, decision_at, '
            || 'book_as_of, book_source, book_asks, book_bids FROM decision_points_in('
            || decision_args_sql(city, start_date, end_date, NULL) || ') '
            || 'WHERE book_source IS NOT NULL'
        ELSE 'SELECT * FROM decision_books_computed_for('
            || decision_args_sql(city, start_date, end_date, instants) || ')'
    END
);
