-- macro: lake_curated_columns(tbl)
-- The columns of curated table tbl as the partition index records them, in read_parquet's
-- `schema` form (a map of name -> {name, type, default_value}), for lake_indexed_in. Generated
-- when the views are registered ({curated_columns} is filled in with one WHEN per curated
-- table): the index's columns where it covers the table, else the table's own schema
-- (kalshi_lake.schemas; such a table reads through lake_curated_in, not lake_indexed_in).
-- Invariant: for an indexed table, the names and types union_by_name would give over its
-- files, in its order.
CREATE OR REPLACE MACRO lake_curated_columns(tbl) AS (
    CASE tbl
        {curated_columns}
    END
);
