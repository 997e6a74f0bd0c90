"""Fixed-point frames -> Arrow tables in the curated schemas (CONTRACT section 5).

Inside the transform, prices are Int64 micro-dollars (``*_u``) and counts Int64
centi-contracts (``*_c``): exact, and fast to group and sum. Here they become
``DECIMAL(10,6)``/``DECIMAL(18,2)`` by exact decimal scaling (integer x 10^-6 or x 10^-2),
never through a float.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
import pyarrow as pa

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


def to_arrow(df: pl.DataFrame, table: str) -> pa.Table:
    """The rows of ``df`` (fixed-point columns) as an Arrow table in ``TABLES[table]``."""
    schema = TABLES[table]
    exprs = []
    for f in schema:
        if f.type in (PRICE, COUNT):
            src = _SOURCES.get(f.name, f.name + _SUFFIX[f.type])
            exprs.append(fixed_to_decimal(src, f.type).alias(f.name))
        else:
            exprs.append(pl.col(f.name))
    out = df.select(exprs).to_arrow(compat_level=pl.CompatLevel.oldest())
    return out.cast(schema)
