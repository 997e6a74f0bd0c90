-- macro: lake_first_diff(a, b)
-- The 1-based position of the first character where two equal-length strings differ (0 when
-- they are equal). Helper of lake_range_glob.
-- Invariant: left(a, p - 1) = left(b, p - 1) and a[p] <> b[p] for the returned p > 0.
CREATE OR REPLACE MACRO lake_first_diff(a, b) AS (
    coalesce(
        list_position(list_transform(range(1, length(a) + 1), lambda i: a[i] = b[i]), false),
        0
    )
);
