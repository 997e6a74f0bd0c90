"""Fixed-point frames -> Arrow tables in the curated schemas (:mod:`kalshi_lake.schemas`).

Inside the transform, prices are Int64 micro-dollars (``*_u``) and counts Int64
centi-contracts (``*_c``): exact, and fast to group and sum. Here they become
``DECIMAL(10,6)``/``DECIMAL(18,2)``: a decimal is stored as its unscaled integer, and the
fixed-point integer *is* the unscaled value at that scale, so the integer is only widened to
128 bits and relabelled with the scale (never through a float, and no multiplication).
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

import polars as pl
import pyarrow as pa

from kalshi_lake.cities import family_prefixes
from kalshi_lake.schemas import COUNT, PRICE, TABLES

_SOURCES = {"yes_price": "yes_u", "no_price": "no_u", "count": "count_c"}

#: Largest |value| a DECIMAL(10,6) holds, in micro-dollars; DECIMAL(18,2) in centi-contracts.
_MAX = {PRICE: 9_999_999_999, COUNT: 999_999_999_999_999_999}
_SCALE = {PRICE: Decimal("0.000001"), COUNT: Decimal("0.01")}
_SUFFIX = {PRICE: "_u", COUNT: "_c"}


def fixed_to_decimal(col: str, dtype: pa.DataType) -> pl.Expr:
    """Int64 fixed-point ``col`` as an exact polars Decimal of the Arrow type ``dtype``.

    A value too large for the type (only possible in a corrupt payload) becomes null rather
    than failing the whole partition.
    """
    assert isinstance(dtype, pa.Decimal128Type)
    x = pl.col(col)
    fits = x.abs() <= _MAX[dtype]
    scaled = x.cast(pl.Decimal(19, 0)) * pl.lit(_SCALE[dtype], pl.Decimal(7, dtype.scale))
    return pl.when(fits).then(scaled).cast(pl.Decimal(dtype.precision, dtype.scale))


def _unscaled(col: str, dtype: pa.Decimal128Type) -> pl.Expr:
    """Int64 fixed-point ``col`` as a scale-0 Decimal holding the same integer (null if it does
    not fit ``dtype``): the unscaled value of the ``dtype`` decimal, see :func:`_rescale`."""
    x = pl.col(col)
    return pl.when(x.abs() <= _MAX[dtype]).then(x).cast(pl.Decimal(dtype.precision, 0))


def _rescale(col: pa.ChunkedArray, dtype: pa.Decimal128Type) -> pa.ChunkedArray:
    """A scale-0 decimal128 column relabelled as ``dtype``: the same 128-bit unscaled integers
    and validity, read at ``dtype``'s scale (zero-copy; PERF: a third of the conversion)."""
    chunks = [
        pa.Array.from_buffers(dtype, len(c), c.buffers(), null_count=c.null_count, offset=c.offset)
        for c in col.chunks
    ]
    return pa.chunked_array(chunks, dtype)


def _with_string_views(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [f.with_type(pa.string_view()) if f.type == pa.string() else f for f in schema]
    )


#: The curated schemas with strings as Arrow string views (polars' own string layout).
_VIEW_SCHEMAS = {name: _with_string_views(schema) for name, schema in TABLES.items()}


def family_expr() -> pl.Expr:
    """``family`` (``high``/``low``) of each row, from the series prefix of its event ticker
    (else its market ticker) through the registry. A prefix the registry lacks counts as
    ``low`` when it starts ``KXLOW`` and ``high`` otherwise (the legacy ``HIGH*`` prefixes are
    registered as ``high``)."""
    prefix = pl.coalesce("event_ticker", "market_ticker").str.split_exact("-", 1).struct[0]
    guess = pl.when(prefix.str.starts_with("KXLOW")).then(pl.lit("low")).otherwise(pl.lit("high"))
    known = prefix.replace_strict(family_prefixes(), default=None, return_dtype=pl.String)
    return pl.coalesce(known, guess).alias("family")


def to_arrow(
    df: pl.DataFrame,
    table: str,
    *,
    string_views: bool = False,
    columns: Collection[str] | None = None,
) -> pa.Table:
    """The rows of ``df`` (fixed-point columns) as an Arrow table in ``TABLES[table]`` (only
    its ``columns``, in the schema's order, when given).

    With ``string_views`` the string columns stay Arrow string views: handed over from polars
    without copying a byte, for the Parquet writer, which stores them as plain strings (write
    without the Arrow schema so readers see ``string``; PERF: two copies of every string less).
    """
    schema = _VIEW_SCHEMAS[table] if string_views else TABLES[table]
    if columns is not None:
        schema = pa.schema([f for f in schema if f.name in columns])
    exprs = []
    fixed = set()  # the columns held as fixed-point integers (a Decimal column is taken as is)
    for f in schema:
        if f.name == "family" and "family" not in df.columns:
            exprs.append(family_expr())
        elif f.type in (PRICE, COUNT) and not isinstance(df.schema.get(f.name), pl.Decimal):
            src = _SOURCES.get(f.name, f.name + _SUFFIX[f.type])
            exprs.append(_unscaled(src, f.type).alias(f.name))
            fixed.add(f.name)
        else:
            exprs.append(pl.col(f.name))
    level = pl.CompatLevel.newest() if string_views else pl.CompatLevel.oldest()
    out = df.select(exprs).to_arrow(compat_level=level)
    cols = [
        _rescale(c, f.type) if f.name in fixed else c
        for c, f in zip(out.columns, schema, strict=True)
    ]
    return pa.Table.from_arrays(cols, names=out.column_names).cast(schema)
