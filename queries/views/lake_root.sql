-- macro: lake_root()
-- The lake's root as the source macros read it. In a database file named kalshi.duckdb (what
-- `kalshi-lake views` writes at the root of a local lake) it is the folder the file sits in, so
-- a lake moved or copied together with its kalshi.duckdb reads its own files, never those of
-- the place it was built in. Everywhere else (kalshi_lake.connect, a renamed or ATTACHed copy,
-- an s3:// lake) it is the lake the objects were registered for.
-- Why temp_directory: DuckDB has no function that returns the database file's path and table
-- functions take no subqueries, but its default temp_directory is '<database file>.tmp', a
-- setting read when a query is bound. Opened by a relative path, the folder is relative too,
-- and read_parquet resolves it against the same working directory DuckDB opened the file from.
-- Invariant: never ends in '/'; constant within a query.
CREATE OR REPLACE MACRO lake_root() AS (
    CASE
        WHEN '{lake}' NOT LIKE '%://%'
            AND parse_filename(current_setting('temp_directory')) = 'kalshi.duckdb.tmp'
            THEN coalesce(nullif(parse_dirpath(current_setting('temp_directory')), ''), '.')
        ELSE '{lake}'
    END
);
