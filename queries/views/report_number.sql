-- macro: report_number(body, field)
-- A number of a daily-report row as an exact DECIMAL(18,4): the 2026 files send numbers as
-- strings ("56", "12.97"), older ones as JSON integers; json_extract_string reads both the same
-- way. An absent field, JSON null or an empty string is NULL; anything else that is not a
-- number is an error (a report we cannot read must not pass as a match).
-- Invariant: never a float.
CREATE OR REPLACE MACRO report_number(body, field) AS (
    CAST(nullif(trim(json_extract_string(body, '$.' || field)), '') AS DECIMAL(18, 4))
);
