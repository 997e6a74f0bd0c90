-- macro: decision_args_sql(city, start_date, end_date, instants)
-- The arguments of a decision_points_for call written back as SQL text (string and date
-- literals, quotes doubled; instants as a list literal, or nothing when NULL), for the query()
-- that decision_points_for and decision_books_for run: `'chicago', DATE '2026-01-01', NULL,
-- instants := ['D 09:05']`.
-- Invariant: the text, parsed, gives back the same values (a NULL instant stays NULL, so
-- decision_instants still refuses it).
CREATE OR REPLACE MACRO decision_args_sql(city, start_date, end_date, instants) AS
coalesce('''' || replace(CAST(city AS VARCHAR), '''', '''''') || '''', 'NULL')
|| ', ' || coalesce('DATE ''' || CAST(CAST(start_date AS DATE) AS VARCHAR) || '''', 'NULL')
|| ', ' || coalesce('DATE ''' || CAST(CAST(end_date AS DATE) AS VARCHAR) || '''', 'NULL')
|| CASE
    WHEN instants IS NOT NULL THEN ', instants := ['
        || array_to_string(
            list_transform(
                CAST(instants AS VARCHAR[]),
                lambda s: coalesce('''' || replace(s, '''', '''''') || '''', 'NULL')
            ),
            ', '
        )
        || ']::VARCHAR[]'
    ELSE ''
END;
