-- macro: decision_instants(instants := NULL)
-- The decision instants of the backtest views, parsed from text: one row per distinct instant,
-- with its label (decision_label, normalised: 'D-1 10:05', 'D 09:00', 'D+1 00:30', seconds only
-- when not zero), its day offset from the event's climate date D (day_offset) and its local
-- time of day (local_time). `instants` is a list of strings such as ['D-1 10:05', 'D 09:00']:
-- 'D', an optional signed day offset, a space, then hh:mm or hh:mm:ss on the city's own clock.
-- NULL (the default) means the two default instants, D-1 10:00 and D 10:00.
-- Invariant: a string not of that form (or with hours > 23, minutes or seconds > 59) is an
-- error naming it, never a silently dropped instant.
CREATE OR REPLACE MACRO decision_instants(instants := NULL) AS TABLE
WITH given AS (
    SELECT
        s.spec,
        regexp_extract(
            s.spec,
            '^\s*[Dd]\s*(?:([+-])\s*([0-9]{1,3}))?\s+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?\s*$',
            ['sign', 'days', 'hh', 'mm', 'ss']
        ) AS p
    FROM unnest(coalesce(CAST(instants AS VARCHAR[]), ['D-1 10:00', 'D 10:00'])) AS s(spec)
),
parsed AS (
    SELECT
        CASE
            WHEN coalesce(g.p.hh, '') = ''
                OR CAST(g.p.hh AS INTEGER) > 23
                OR CAST(g.p.mm AS INTEGER) > 59
                OR coalesce(CAST(nullif(g.p.ss, '') AS INTEGER), 0) > 59
                THEN error(
                    'decision instant ' || coalesce('''' || g.spec || '''', 'NULL')
                    || ' is not of the form ''D-1 10:05'' or ''D 09:00'' (D, an optional day'
                    || ' offset from the event''s climate date, a space, a local time hh:mm[:ss])'
                )
            ELSE coalesce(CAST(nullif(g.p.sign || g.p.days, '') AS INTEGER), 0)
        END AS day_offset,
        make_time(
            CAST(g.p.hh AS BIGINT),
            CAST(g.p.mm AS BIGINT),
            coalesce(CAST(nullif(g.p.ss, '') AS DOUBLE), 0)
        ) AS local_time
    FROM given AS g
)
SELECT DISTINCT
    'D'
    || CASE WHEN p.day_offset > 0 THEN '+' ELSE '' END
    || CASE WHEN p.day_offset <> 0 THEN CAST(p.day_offset AS VARCHAR) ELSE '' END
    || ' '
    || CASE
        WHEN second(p.local_time) = 0 THEN left(CAST(p.local_time AS VARCHAR), 5)
        ELSE CAST(p.local_time AS VARCHAR)
    END AS decision_label,
    p.day_offset,
    p.local_time
FROM parsed AS p;
