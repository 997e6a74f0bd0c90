-- macro: lake_range_glob(lo, hi)
-- A glob fragment that matches every partition value between two equal-length keys such as
-- '2026-01' and '2026-03' (months) or '2026-01-05' and '2026-02-01' (days): the common prefix,
-- a character class on the first differing digit, then '*'. It may match a few partitions
-- outside the range (the exact range is applied as a Hive filter afterwards); what matters is
-- that DuckDB lists only the folders near the range, not the whole lake (PERF: listing many
-- files, not reading them, dominates a scoped query's time). NULL bounds or odd input give '*'.
-- Invariant: every key k with lo <= k <= hi matches the returned glob.
CREATE OR REPLACE MACRO lake_range_glob(lo, hi) AS (
    CASE
        WHEN lo IS NULL OR hi IS NULL OR length(lo) <> length(hi) OR lo > hi THEN '*'
        WHEN lo = hi THEN lo
        ELSE
            left(lo, lake_first_diff(lo, hi) - 1)
            || '[' || lo[lake_first_diff(lo, hi)] || '-' || hi[lake_first_diff(lo, hi)] || ']*'
    END
);
