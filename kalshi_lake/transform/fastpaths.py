"""The transform's fast paths: each replaces a plain polars idiom with a cheaper equivalent.

Every one returns exactly what the plain idiom would, steps aside to the plain idiom where its
trick does not apply, and is pinned to the plain idiom by a test. Measured on the transform
benchmark (``python -m kalshi_lake.bench --only transform``) on two cores:

- :func:`packed_order` (and :func:`order_by_ticker`, :func:`sort_by_ticker`): one UInt64
  arg-sort instead of a multi-column sort (PERF: ~4x); guarded by
  tests/transform/test_transform_sort_scan.py ``test_packed_sort_*``.
- :func:`rollup` over :func:`runs` with :func:`scan_aggs`: per-run aggregates from cumulative
  scans instead of a hash group-by (PERF: ~4x); guarded by test_transform_sort_scan.py
  ``test_scan_*`` and ``test_candles_by_market_run_equal_candles_by_ticker``.
- :func:`round_div` in Int64 when :func:`fits_narrow` says it cannot overflow, instead of
  Int128 (PERF: ~3x); guarded by test_transform_sort_scan.py ``test_round_div_*``.
- :func:`notional_dtype`: Int64 notional sums unless they could overflow; guarded by
  test_transform_sort_scan.py ``test_notional_dtype_*`` and
  tests/transform/test_transform_candles_ref.py.
- :func:`split_parts`: zero-copy slices per partition instead of ``partition_by`` (PERF: ~4% of
  the transform); guarded by tests/transform/test_transform_write.py ``test_split_parts_*``.

Speed settings that live with the code they tune, each with its measured reason there:

- the dedup's hash pre-filter and sort-order gather (``trades.build_trades``);
- parsing without ``try()`` first (``parse.query_frame``; tests/transform/test_transform_corrupt.py);
- DuckDB's Arrow string views and insertion order (``rawdb.RawDB``);
- every thread, priority and DuckDB-thread setting (``pipeline``;
  tests/transform/test_transform_write.py);
- Parquet encodings and zstd level per table (``write.WRITE_OPTIONS``;
  tests/transform/test_transform_write.py);
- the allocator settings of the CLI (``kalshi_lake.allocators``; tests/test_package_env.py);
- the ``os.scandir`` walk of local lakes (``Lake.walk_files``).
"""

from __future__ import annotations

import polars as pl

_I64 = 2**63

# --- sorting -----------------------------------------------------------------------------------


def sort_by_ticker(
    df: pl.DataFrame, keys: list[str], ticker: str = "market_ticker"
) -> pl.DataFrame:
    """``df.sort(keys)`` where ``keys`` includes the string ``ticker`` column."""
    if df.height == 0:
        return df
    return df[order_by_ticker(df, keys, ticker)]


def order_by_ticker(df: pl.DataFrame, keys: list[str], ticker: str = "market_ticker") -> pl.Series:
    """The row order of ``df.sort(keys)`` (a permutation), where ``keys`` includes the string
    ``ticker`` column.

    Keys shaped ``<groups...>, <UTC time>[, <tie>]`` go through :func:`packed_order` (one
    integer sort). Otherwise the ticker is replaced in the sort key by its rank among the
    distinct tickers (the same byte order): a handful of distinct strings ranked once instead
    of string comparisons on every row.
    """
    for at in (len(keys) - 1, len(keys) - 2):
        if at > 0 and df.schema[keys[at]] == pl.Datetime("us", "UTC"):
            tie = keys[at + 1] if at + 1 < len(keys) else None
            perm = packed_order(df, keys[:at], keys[at], tie)
            if perm is not None:
                return perm
            break
    ranks = rank(df[ticker])
    by = [ranks if k == ticker else pl.col(k) for k in keys]
    return df.select(pl.arg_sort_by(by, maintain_order=True)).to_series()


def rank(col: pl.Series) -> pl.Series:
    """Each value's rank among the distinct values of ``col`` (UInt32, in sort order)."""
    distinct = col.unique().sort()
    return col.replace_strict(
        distinct,
        pl.int_range(len(distinct), eager=True, dtype=pl.UInt32),
        return_dtype=pl.UInt32,
    )


def packed_order(
    df: pl.DataFrame, groups: list[str], time_col: str, tie: str | None = None
) -> pl.Series | None:
    """The row order of ``df.sort([*groups, time_col, tie])``, computed as one UInt64 sort.

    The ``groups`` columns (strings or non-negative integers) become one group number in their
    sort order, and ``time_col``'s microseconds since the frame's earliest go below it in the
    same 64-bit word, so the sort is a single integer arg-sort (PERF: about 4x faster than the
    multi-column sort, which compares column by column). Rows whose packed keys tie (same
    group and microsecond) are then put in ``tie`` order among themselves: ties are rare, so
    that re-sort is small. Returns None (sort the plain way) when a key column has nulls or a
    key would need more than 63 bits.
    """
    if any(df[c].null_count() for c in (*groups, time_col)):
        return None
    gid: pl.Series | None = None
    cardinality = 1
    for c in groups:
        col = df[c]
        if col.dtype == pl.String:
            code = rank(col)
        elif col.dtype.is_integer() and (col.min() or 0) >= 0:  # type: ignore[operator]
            code = col
        else:
            return None
        n = int(code.max()) + 1  # type: ignore[arg-type]
        cardinality *= n
        code = code.cast(pl.UInt64)
        gid = code if gid is None else gid * n + code
    micros = df[time_col].to_physical()
    t0, t1 = micros.min(), micros.max()
    assert isinstance(t0, int) and isinstance(t1, int)
    time_bits = (t1 - t0).bit_length()
    if gid is None or time_bits + (cardinality - 1).bit_length() > 63:
        return None
    key = gid * (1 << time_bits) + (micros - t0).cast(pl.UInt64)
    perm = key.arg_sort()
    if tie is None:
        return perm
    ordered = key.gather(perm)
    tied = ((ordered == ordered.shift(1)) | (ordered == ordered.shift(-1))).fill_null(False)
    if not tied.any():
        return perm
    at = tied.arg_true()
    block = pl.DataFrame(
        {"k": ordered.gather(at), "t": df[tie].gather(perm.gather(at)), "p": perm.gather(at)}
    ).sort(["k", "t", "p"])
    return perm.scatter(at, block["p"])


# --- grouping sorted runs -----------------------------------------------------------------------


def runs(df: pl.DataFrame, keys: list[str]) -> tuple[pl.Series, pl.Series, pl.Series]:
    """``(starts, ends, run_id)`` of the runs of equal ``keys`` in a frame sorted by them.

    On sorted data a group is a contiguous run, so grouping needs no hashing of the (string)
    keys: the key columns are read off each run's first row, the aggregates are taken over an
    integer run id (PERF: several times faster than a hash group-by on the ticker).
    """
    if df.height == 0:
        empty = pl.Series(dtype=pl.Boolean)
        return empty, empty, pl.Series(dtype=pl.UInt32)
    change = pl.any_horizontal([pl.col(k) != pl.col(k).shift() for k in keys]).fill_null(True)
    starts = df.select(change).to_series()
    ends = starts.shift(-1).fill_null(True)
    run_id = (starts.cast(pl.UInt32).cum_sum() - 1).set_sorted()
    return starts, ends, run_id


def rollup(
    df: pl.DataFrame,
    keys: list[str],
    carry: list[str],
    open_col: str,
    close_col: str,
    *,
    maxes: dict[str, str],
    mins: dict[str, str],
    sums: dict[str, pl.Expr],
    count: str | None = None,
) -> pl.DataFrame:
    """Group a frame sorted by ``keys`` into its runs: the key and ``carry`` columns and
    ``open_col`` from each run's first row, ``close_col`` from its last, per-run ``maxes``,
    ``mins`` and ``sums`` (output name -> column or Int64 expression) and the row ``count``.

    Runs are contiguous, so the aggregates are cumulative scans read at each run's last row
    (:func:`scan_aggs`, PERF: ~4x cheaper than a group-by over the run id); a hash group-by
    is the fallback when a scan could overflow 64 bits or a column has nulls.
    """
    starts, ends, run_id = runs(df, keys)
    first = df.filter(starts).select(*keys, *carry, pl.col(open_col).alias("_open"))
    last = df.filter(ends).select(pl.col(close_col).alias("_close"))
    rest = scan_aggs(df, ends, run_id, maxes, mins, sums, count)
    if rest is None:
        aggs = {
            **{o: pl.col(c).max() for o, c in maxes.items()},
            **{o: pl.col(c).min() for o, c in mins.items()},
            **{o: e.sum() for o, e in sums.items()},
            **({count: pl.len().cast(pl.Int32)} if count else {}),
        }
        rest = (
            df.with_columns(_run=run_id)
            .group_by("_run", maintain_order=True)
            .agg(**aggs)
            .drop("_run")
        )
    return pl.concat([first, last, rest], how="horizontal")


def scan_aggs(
    df: pl.DataFrame,
    ends: pl.Series,
    run_id: pl.Series,
    maxes: dict[str, str],
    mins: dict[str, str],
    sums: dict[str, pl.Expr],
    count: str | None,
) -> pl.DataFrame | None:
    """Per-run aggregates of a frame whose runs are contiguous, from cumulative scans.

    - sum: the running sum at a run's last row minus the one at the previous run's last row;
    - max: a running max of ``run x span + (x - lo)`` (``span`` = the value range + 1): every
      run's values lie above all earlier runs', so at a run's last row the running max is the
      run's own max; min is the same scan on ``hi - x``;
    - count: the distance between consecutive run ends.

    All exact in Int64. Returns None when a value is null or a scan could leave Int64.
    """
    if df.height == 0:
        return None
    n_runs = int(run_id[-1]) + 1
    run = pl.col("_run").cast(pl.Int64)
    exprs: dict[str, pl.Expr] = {}
    for out, col in (*maxes.items(), *mins.items()):
        x = df[col]
        if x.dtype != pl.Int64 or x.null_count():
            return None
        lo, hi = x.min(), x.max()
        assert isinstance(lo, int) and isinstance(hi, int)
        span = hi - lo + 1
        if n_runs * span >= _I64:
            return None
        shifted = (pl.col(col) - lo) if out in maxes else (hi - pl.col(col))
        top = (run * span + shifted).cum_max() - run * span
        exprs[out] = (top + lo) if out in maxes else (hi - top)
    summed = df.select(**sums) if sums else pl.DataFrame()
    for out in sums:
        x = summed[out]
        if x.dtype != pl.Int64 or x.null_count():
            return None
        if int(x.abs().max() or 0) * df.height >= _I64:  # type: ignore[arg-type]
            return None
    at_end = (
        pl.concat([df.select(*{*maxes.values(), *mins.values()}), summed], how="horizontal")
        .with_columns(_run=run_id)
        .select(**exprs, **{o: pl.col(o).cum_sum() for o in sums})
        .filter(ends)
    )
    out_cols = [at_end[o] for o in (*maxes, *mins)]
    for o in sums:
        total = at_end[o]
        out_cols.append((total - total.shift(1, fill_value=0)).alias(o))
    if count:
        pos = ends.arg_true().cast(pl.Int64)
        out_cols.append((pos - pos.shift(1, fill_value=-1)).cast(pl.Int32).alias(count))
    return pl.DataFrame(out_cols)


# --- exact integer arithmetic -------------------------------------------------------------------


def round_div(num: pl.Expr, den: pl.Expr, wide: bool = True) -> pl.Expr:
    """``num / den`` rounded half up, exactly (null unless den > 0).

    In 128-bit integers unless ``wide`` is False, which the caller may pass only when
    ``2 * |num| + 2 * |den|`` fits Int64 (:func:`fits_narrow`; PERF: Int128 division is
    about 3x slower).
    """
    if wide:
        num, den = num.cast(pl.Int128), den.cast(pl.Int128)
    return pl.when(den > 0).then((2 * num + den) // (2 * den)).cast(pl.Int64)


def fits_narrow(df: pl.DataFrame, num: str, den: str) -> bool:
    """Whether :func:`round_div` of these Int64 columns can run in Int64."""
    if df.height == 0 or df.schema[num] != pl.Int64 or df.schema[den] != pl.Int64:
        return False
    ends = df.select(
        pl.col(num).min().alias("a"), pl.col(num).max().alias("b"),
        pl.col(den).min().alias("c"), pl.col(den).max().alias("d"),
    )  # fmt: skip
    a, b, c, d = (int(v or 0) for v in ends.row(0))  # Python ints: no wrap-around
    return 2 * (max(abs(a), abs(b)) + max(abs(c), abs(d))) < 2**63


def notional_dtype(price: pl.Series, count: pl.Series) -> pl.DataType:
    """Int64 when price x count sums cannot overflow it (always, for real data), else Int128."""
    top = int(price.abs().max() or 0) * int(count.abs().sum() or 0)  # type: ignore[arg-type]
    return pl.Int64() if top < 2**62 else pl.Int128()


# --- partitions ---------------------------------------------------------------------------------


def split_parts(df: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """``df``'s rows per ``part`` value, in their order.

    Every output table is sorted by ``part`` first, so each part is a run of rows and its
    piece is a zero-copy slice (PERF: ``partition_by`` gathers every column, about 4% of the
    transform). An unsorted frame still goes through ``partition_by``.
    """
    if df.height == 0:
        return {}
    part = df["part"]
    if part.null_count() or not part.is_sorted():
        split = df.partition_by("part", as_dict=True, maintain_order=True)
        return {int(k[0]): v for k, v in split.items()}  # type: ignore[call-overload]
    runs = part.rle().struct.unnest()
    out, offset = {}, 0
    for length, value in zip(runs["len"].to_list(), runs["value"].to_list(), strict=True):
        out[int(value)] = df.slice(offset, length)
        offset += length
    return out
