-- macro: report_ts(s)
-- A trade_data create_ts as a UTC instant. The reports write it in New York time with whole
-- seconds; an offset or 'Z' is honoured when present ('2026-11-09 10:12:02-05:00',
-- '2026-11-09T15:12:02Z'), a time without one is New York local time, and a number is Unix
-- seconds (milliseconds above 10^11).
-- Invariant: a string with an offset and the same instant written without one in New York time
-- give the same value.
CREATE OR REPLACE MACRO report_ts(s) AS (
    CASE
        WHEN s IS NULL OR trim(s) = '' THEN NULL
        WHEN regexp_full_match(trim(s), '[0-9]+')
            THEN CASE
                WHEN CAST(trim(s) AS BIGINT) > 100000000000
                    THEN make_timestamptz(CAST(trim(s) AS BIGINT) * 1000)
                ELSE make_timestamptz(CAST(trim(s) AS BIGINT) * 1000000)
            END
        WHEN regexp_matches(trim(s), '[0-9]:[0-9]{2}([.][0-9]+)?\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?)$')
            THEN CAST(trim(s) AS TIMESTAMPTZ)
        ELSE timezone('America/New_York', CAST(trim(s) AS TIMESTAMP))
    END
);
