-- macro: decision_points_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL)
-- The decision rows (decision_points_computed_for's columns) of one city (or all), a range of
-- event climate dates (or all) and decision instants: at the default instants (instants NULL)
-- decision_points_in (the materialized table where it is current), at other instants computed.
-- Why query(): DuckDB binds every branch of a query, even one a constant guard removes, and
-- binding the computed form lists and prunes the city's files of five tables and plans a few
-- dozen joins (~30 ms of the ~90 ms of decision_quotes_for on the 10M-trade benchmark lake with a
-- UNION ALL); query() binds only the SQL text it is given, chosen here from the constant
-- `instants`. The text is the same call with the arguments written as literals
-- (decision_args_sql). On a lake where decision_points_in is itself the computed form,
-- connect() replaces this macro by decision_points_computed_for alone.
-- Invariant: the same rows as decision_points_computed_for(city, start_date, end_date, instants).
CREATE OR REPLACE MACRO decision_points_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL
) AS TABLE
SELECT *
FROM query(
    CASE
        WHEN instants IS NULL THEN 'SELECT * FROM decision_points_in('
            || decision_args_sql(city, start_date, end_date, NULL) || ')'
        ELSE 'SELECT * FROM decision_points_computed_for('
            || decision_args_sql(city, start_date, end_date, instants) || ')'
    END
);
