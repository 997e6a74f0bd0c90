-- macro: lake_indexed_in(tbl, columns, city := NULL, start_date := NULL, end_date := NULL)
-- lake_curated_in for a table whose every file the partition index (_state/partitions, written
-- by the transform; kalshi_lake.lake.curated_index) vouches for: the same glob, filters and
-- rows, but read with the index's columns instead of union_by_name (`columns`: read_parquet's
-- schema map, such as lake_curated_columns(tbl) gives; connect() writes each table's map in as
-- a literal, which binds faster than that CASE over every table). Told the columns, DuckDB reads
-- no footer when binding a query and opens only the files the filters keep, so the plain views
-- (`SELECT * FROM decision_quotes WHERE city = 'chicago' AND date BETWEEN ...`) prune like the
-- _for forms. connect() points a table's *_in macro here when the index covers it, and leaves
-- it on lake_curated_in otherwise (no index, a file the index does not know).
-- Invariant: the same rows and columns as lake_curated_in over the same files.
CREATE OR REPLACE MACRO lake_indexed_in(tbl, columns, city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT *
FROM read_parquet(
    lake_curated_glob(tbl, city, start_date, end_date),
    hive_partitioning = true,
    hive_types = {'city': VARCHAR, 'month': VARCHAR},
    schema = columns
) AS t
WHERE (city IS NULL OR t.city = city)
  AND (start_date IS NULL OR month >= strftime(CAST(start_date AS DATE), '%Y-%m'))
  AND (end_date IS NULL OR month <= strftime(CAST(end_date AS DATE), '%Y-%m'))
  AND (start_date IS NULL OR date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR date <= CAST(end_date AS DATE));
