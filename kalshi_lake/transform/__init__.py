"""The transform: raw API pages and recorded WebSocket frames -> curated ``markets``, ``trades``,
``candles_1m``, ``candles_5m``, ``market_events``.

A pure function of the raw layer (no network): :func:`run_transform` rebuilds the curated
partitions whose raw input changed, atomically, deterministically, in bounded memory.

Modules, in the order a run uses them:

- ``build``: :func:`run_transform`, the orchestration (leases, state, plan, pipeline, removals);
- ``inputs``: what the lake holds (raw input files, curated files), listed through ``Lake``;
- ``state``: what each partition was built from;
- ``plan``: which partitions to rebuild or remove, in which batches (pure);
- ``listings``: the months each ``markets``/``events`` listing file touches, and its rows;
- ``rawdb``: the DuckDB connection over raw pages, its views, the unreadable-file probe;
- ``pipeline``: the parse, build and write threads, with every thread and priority setting;
- ``batch``: one batch parsed (DuckDB) and built (polars);
- ``parse``: payload eras -> flat frames (DuckDB SQL builders, fast and safe);
- ``ws_frames``: recorded WebSocket trade and lifecycle frames (``raw/ws``) -> flat frames;
- ``trades``/``markets``/``candles``: the curated tables (pure polars);
- ``ws_merge``: WebSocket trades merged with REST's, lifecycle into ``market_events``/``markets``;
- ``fastpaths``: the sorting, grouping and arithmetic shortcuts, each pinned by a test;
- ``frames``: exact fixed point -> Arrow decimals;
- ``write``: Parquet options per table, publishing and removing partitions;
- ``summary``: the run's report and the errors it ends with.

Seeded raw layers for its tests and benchmarks come from :mod:`kalshi_lake.sim.rawgen`.
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
