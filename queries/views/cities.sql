-- view: cities
-- The registry of cities (kalshi_lake.cities), one row per city: the daily-high series ticker,
-- legacy ticker prefix, IANA time zone, settlement station, and the daily-low (KXLOWT*) series
-- with its first event (NULL where the city has no lows). Generated from the Python registry
-- when the views are registered ({cities} is filled in), so SQL and Python never disagree.
-- Invariant: one row per city; `tz` is the zone decision times are computed in.
CREATE OR REPLACE VIEW cities AS
SELECT *
FROM (
    VALUES
{cities}
) AS t(city, display_name, series_ticker, legacy_prefix, tz, station_icao, cli_code, first_event,
         low_series_ticker, low_first_event);
