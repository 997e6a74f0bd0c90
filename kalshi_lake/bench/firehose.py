"""The markets of the synthetic firehose the journal and recorder benchmarks stream."""

from __future__ import annotations

from kalshi_lake.cities import names


def firehose_markets() -> list[tuple[str, str]]:
    """(city, market ticker) of 240 markets: 20 cities x (high, low) x 6 brackets."""
    out = []
    for city in names()[:20]:
        for fam in ("HIGH", "LOW"):
            for b in range(6):
                out.append((city, f"KX{fam}{city[:4].upper()}-26DEC06-B{40 + 2 * b}.5"))
    return out
