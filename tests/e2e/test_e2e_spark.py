"""pyspark in local mode reads the curated lake as plain Hive-partitioned Parquet.

It must get the same counts and exact sums as DuckDB, with DECIMAL, TIMESTAMP and DATE columns
typed as such and ``city``/``month`` as string partition columns. Skipped (with the reason)
when Java or pyspark is missing; ``make test-spark`` installs pyspark and runs it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import duckdb
import pytest

from kalshi_lake.lake import Lake

pytestmark = pytest.mark.spark


def _java_problem() -> str | None:
    java = shutil.which("java")
    if os.environ.get("JAVA_HOME"):
        java = os.path.join(os.environ["JAVA_HOME"], "bin", "java")
    if not java or not os.path.exists(java):
        return "java not found (install a JDK 17+, e.g. apt-get install openjdk-17-jre-headless)"
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"java -version failed: {exc}"
    if out.returncode != 0:
        return f"java -version failed: {out.stderr.strip()[:200]}"
    return None


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local-mode SparkSession (UTC, no UI), stopped after the module."""
    problem = _java_problem()
    if problem:
        pytest.skip(problem)
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.skip("pyspark is not installed: run `make test-spark`")
    with pytest.MonkeyPatch.context() as mp:
        # Bind to loopback only (Spark would otherwise pick the first network interface).
        mp.setenv("SPARK_LOCAL_IP", os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"))
        session = (
            SparkSession.builder.master("local[2]")
            .appName("kalshi-lake-test")
            .config("spark.sql.session.timeZone", "UTC")
            # city/month are strings; never let Spark guess a type for "2026-10".
            .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.sql.shuffle.partitions", "2")
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        yield session
        session.stop()


def _duck(lake: Lake, sql: str) -> list[tuple[Any, ...]]:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in ("trades", "markets", "candles_1m"):
        glob = lake.uri(f"curated/{table}/*/*/*.parquet")
        con.execute(
            f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{glob}', hive_partitioning = true)"
        )
    return [tuple(r) for r in con.sql(sql).fetchall()]


def _spark_df(spark: Any, lake: Lake, sql: str) -> Any:
    for table in ("trades", "markets", "candles_1m"):
        spark.read.parquet(lake.uri(f"curated/{table}")).createOrReplaceTempView(table)
    return spark.sql(sql)


def _spark(spark: Any, lake: Lake, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in _spark_df(spark, lake, sql).collect()]


def _utc(v: Any) -> Any:
    """Spark returns naive datetimes in the session zone (UTC); DuckDB aware ones."""
    if isinstance(v, dt.datetime) and v.tzinfo is None:
        return v.replace(tzinfo=dt.UTC)
    if isinstance(v, dt.datetime):
        return v.astimezone(dt.UTC)
    return v


def _same(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> None:
    assert len(a) == len(b) > 0
    for ra, rb in zip(a, b, strict=True):
        assert tuple(_utc(v) for v in ra) == tuple(_utc(v) for v in rb)


def test_schema_types(spark: Any, curated_lake: Lake) -> None:
    from pyspark.sql import types as T

    trades = spark.read.parquet(curated_lake.uri("curated/trades"))
    fields = {f.name: f.dataType for f in trades.schema.fields}
    assert fields["yes_price"] == T.DecimalType(10, 6)
    assert fields["count"] == T.DecimalType(18, 2)
    assert fields["traded_at"] == T.TimestampType()
    assert fields["date"] == T.DateType()
    assert fields["city"] == T.StringType() and fields["month"] == T.StringType()
    markets = spark.read.parquet(curated_lake.uri("curated/markets"))
    mf = {f.name: f.dataType for f in markets.schema.fields}
    assert mf["floor_strike"] == T.DecimalType(10, 4) and mf["low_f"] == T.IntegerType()
    candles = spark.read.parquet(curated_lake.uri("curated/candles_1m"))
    assert {f.name: f.dataType for f in candles.schema.fields}["period_minutes"] == T.ShortType()


def test_trades_agree_with_duckdb(spark: Any, curated_lake: Lake) -> None:
    sql = """
        SELECT city, month, count(*) AS n, count(DISTINCT trade_id) AS ids,
               sum(count) AS contracts, sum(yes_price) AS yes_sum, sum(no_price) AS no_sum,
               sum(yes_price * count) AS notional, min(traded_at) AS first, max(traded_at) AS last,
               min(date) AS d0, sum(CASE WHEN is_block_trade THEN 1 ELSE 0 END) AS blocks
        FROM trades GROUP BY city, month ORDER BY city, month
    """
    duck = _duck(curated_lake, sql)
    _same(_spark(spark, curated_lake, sql), duck)
    assert {r[0] for r in duck} == {"chicago", "miami"} and {r[1] for r in duck} == {
        "2026-09",
        "2026-10",
    }
    assert all(isinstance(r[4], Decimal) and isinstance(r[5], Decimal) for r in duck)


def test_markets_and_candles_agree_with_duckdb(spark: Any, curated_lake: Lake) -> None:
    markets = """
        SELECT city, count(*), sum(volume), sum(open_interest), sum(settlement_value),
               count(low_f), sum(floor_strike), max(settlement_ts)
        FROM markets WHERE result = 'yes' OR result = 'no' GROUP BY city ORDER BY city
    """
    _same(_spark(spark, curated_lake, markets), _duck(curated_lake, markets))
    candles = """
        SELECT city, month, count(*), sum(trade_count), sum(volume), sum(price_vwap),
               sum(price_high - price_low), min(bucket_start)
        FROM candles_1m GROUP BY city, month ORDER BY city, month
    """
    _same(_spark(spark, curated_lake, candles), _duck(curated_lake, candles))


def _scan_metrics(df: Any) -> dict[str, int]:
    """The Parquet scan's metrics (``numFiles``, ``numPartitions``...) of a collected query.

    Walks Spark's executed physical plan, through adaptive execution's stage wrappers, to the
    one ``FileSourceScanExec``: its file count is what Spark read, whatever rows survived.
    """
    scans = []
    todo = [df._jdf.queryExecution().executedPlan()]
    while todo:
        node = todo.pop()
        kind = node.getClass().getSimpleName()
        if kind == "FileSourceScanExec":
            scans.append(node)
        elif kind == "AdaptiveSparkPlanExec":
            todo.append(node.executedPlan())
        elif kind.endswith("QueryStageExec"):
            todo.append(node.plan())
        else:
            children = node.children()
            todo.extend(children.apply(i) for i in range(children.size()))
    assert len(scans) == 1, f"expected one Parquet scan, found {len(scans)}"
    metrics = scans[0].metrics()
    names = metrics.keysIterator()
    out = {}
    while names.hasNext():
        name = names.next()
        out[name] = int(metrics.apply(name).value())
    return out


@pytest.mark.parametrize(
    ("where", "partitions"),
    [
        ("city = 'miami' AND month = '2026-10'", ["city=miami/month=2026-10"]),
        ("city = 'chicago'", ["city=chicago/month=2026-09", "city=chicago/month=2026-10"]),
    ],
)
def test_partition_pruning_reads_only_the_matching_folders(
    spark: Any, curated_lake: Lake, where: str, partitions: list[str]
) -> None:
    # Same answer as DuckDB, and Spark opened only the files of the matching folders: an
    # unpruned scan gives the same rows (the filter drops the rest) but reads every file.
    sql = f"SELECT count(*), sum(yes_price) FROM trades WHERE {where}"
    df = _spark_df(spark, curated_lake, sql)
    _same([tuple(r) for r in df.collect()], _duck(curated_lake, sql))
    expected = [f for p in partitions for f in curated_lake.glob(f"curated/trades/{p}/*.parquet")]
    every = curated_lake.glob("curated/trades/*/*/*.parquet")
    assert 0 < len(expected) < len(every)
    metrics = _scan_metrics(df)
    assert metrics["numPartitions"] == len(partitions), metrics
    assert metrics["numFiles"] == len(expected), metrics
