-- macro: book_snapshots_in(city := NULL, start_date := NULL, end_date := NULL)
-- The rows of view book_snapshots for one city (or all) and an inclusive range of event climate dates
-- (or all), listing only that city's partitions near the range (see lake_curated_in). When
-- the table has no files yet, Python registers an empty typed macro instead.
-- Invariant: rows of partition city=C/month=M have strftime(date, '%Y-%m') = M.
CREATE OR REPLACE MACRO book_snapshots_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT *
FROM lake_curated_in('book_snapshots', city := city, start_date := start_date, end_date := end_date);
