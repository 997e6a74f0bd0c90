"""The transform: raw API pages -> curated ``markets``, ``trades``, ``candles_1m``, ``candles_5m``.

A pure function of the raw layer (no network): :func:`run_transform` rebuilds the curated
partitions whose raw input changed, atomically, deterministically, in bounded memory.

Modules: ``parse`` (payload eras -> flat frames, DuckDB), ``trades``/``markets``/``candles``
(pure polars), ``frames`` (exact decimals -> Arrow), ``build`` (IO, incremental plan, batches),
``state`` (what was built from what), ``summary`` (report and errors). Seeded raw layers
for its tests and benchmarks come from :mod:`kalshi_lake.sim.rawgen`.
"""

from kalshi_lake.transform.build import TRANSFORM_VERSION, TransformOptions, run_transform
from kalshi_lake.transform.summary import (
    Problem,
    TransformCorruptError,
    TransformIncomplete,
    TransformSchemaError,
    TransformSummary,
)

__all__ = [
    "TRANSFORM_VERSION",
    "Problem",
    "TransformCorruptError",
    "TransformIncomplete",
    "TransformOptions",
    "TransformSchemaError",
    "TransformSummary",
    "run_transform",
]
