-- view: cities
-- The registry of daily-high cities (kalshi_lake.cities), one row per city: series ticker,
-- legacy ticker prefix, IANA time zone, settlement station. Generated from the Python registry
-- when the views are registered ({cities} is filled in), so SQL and Python never disagree.
-- Invariant: one row per city; `tz` is the zone decision times are computed in.
CREATE OR REPLACE VIEW cities AS
SELECT *
FROM (
    VALUES
{cities}
) AS t(city, display_name, series_ticker, legacy_prefix, tz, station_icao, cli_code, first_event);
