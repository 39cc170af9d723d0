"""The ``splink`` system on Spark (issue 13): Splink 5's ``SparkAPI``, agreeing with the DuckDB path.

``[systems.splink] backend = "spark"`` runs the same settings, training and prediction
(:mod:`trailbench.systems.splink_linker`) through Splink's Spark backend, on ``spark_master``:
``local[N]`` (N cores in the system's own process tree, as the tests run it) or a cluster's URL.
Needs ``pyspark`` (the ``spark`` extra) and a Java runtime.

At small scale the Spark path gives the same answers as the DuckDB path. Out of the box it
would not, for two reasons, and both are removed here:

- Splink's Spark string functions come from its Scala jar, whose Jaro-Winkler (Apache Commons
  Text's) is not DuckDB's: on random pairs of the region's names a fifth of the values differ
  (``SHAWN``/``RAYSHAWN``: 0.808 in DuckDB, 0.775 in the jar), which moves pairs across the 0.8
  threshold. So ``jaro_winkler`` and ``damerau_levenshtein`` are registered as Arrow UDFs that
  evaluate DuckDB's own functions on each batch of pairs (Levenshtein is Spark's built-in, which
  equals DuckDB's). The jar is not loaded;
- u probabilities are estimated on a sample of records chosen by a hash of the record id
  (``hash(uid || '_seed') % 10^9 < t``), counted chunk by chunk (records assigned to chunks by
  the same hash) until every level has been seen often enough, and Spark's ``hash`` (Murmur3,
  32-bit) is not DuckDB's (64-bit). The dialect's hash and hash bucket are DuckDB's ``hash`` (an
  Arrow UDF too; a decimal, as Spark has no unsigned 64-bit type), so the sample and its chunks
  are the same records.

Then the counts, the EM iterations and the predicted pairs are the same; floating-point sums can
differ in their last bits where Spark adds partial sums in another order (see tests/test_spark.py
for what is compared, and with what tolerance).

Splink writes its intermediate tables (blocked pairs, comparison vectors, predictions) as
Parquet to the checkpoint directory and reads them back, so no step recomputes another's (in
memory, ``persist``, Spark recomputed the comparison vectors, with their UDFs, at every EM
iteration: a cached plan holding a Python UDF is not matched again). In local mode that is the
scratch directory; a cluster sets ``spark.checkpoint.dir`` to shared storage.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from trailbench.systems.splink_linker import Backend, BackendFactory

LOCAL_CONF = {"spark.sql.adaptive.enabled": "false", "spark.cleaner.referenceTracking": "false"}
"""Settings of a local session (``local[N]``), which lives only as long as the system: no adaptive
re-planning and no background clean-up of dropped tables (the scratch directory goes at the end).
Both start threads by the hundred (the clean-up's two pools grow to 100 each): with them the JVM
reached 510 threads on a 2,000-person world, past the sandbox's 512 tasks for the whole tree;
without, 125 (and the run took less time)."""
SMALL_DATA_CONF = {"spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1"}
"""For small worlds (tests), where each query's fixed costs dominate: the JVM's quick compiler only."""
HASH = "tb_duckdb_hash"
HASH_BUCKET = "tb_duckdb_hash_bucket"
_CON: duckdb.DuckDBPyConnection | None = None


def _duckdb() -> duckdb.DuckDBPyConnection:
    """One single-threaded in-memory DuckDB per Python worker, reused across batches."""
    global _CON
    if _CON is None:
        _CON = duckdb.connect()
        _CON.execute("SET threads TO 1")
    return _CON


def _duckdb_column(expr: str, **cols: pa.Array) -> pa.Array:
    con = _duckdb()
    con.register("batch", pa.table(cols))
    try:
        return con.sql(f"select {expr} as v from batch").to_arrow_table().column("v").combine_chunks()
    finally:
        con.unregister("batch")


def duckdb_jaro_winkler(a: pa.Array, b: pa.Array) -> pa.Array:
    """DuckDB's ``jaro_winkler_similarity``, for Spark's ``jaro_winkler``."""
    return _duckdb_column("jaro_winkler_similarity(a, b)", a=a, b=b)


def duckdb_damerau_levenshtein(a: pa.Array, b: pa.Array) -> pa.Array:
    """DuckDB's ``damerau_levenshtein``, for Spark's ``damerau_levenshtein``."""
    return _duckdb_column("cast(damerau_levenshtein(a, b) as double)", a=a, b=b)


def duckdb_hash(x: pa.Array) -> pa.Array:
    """DuckDB's ``hash(x)``, an unsigned 64-bit integer, as a decimal (Spark has no unsigned type)."""
    return _duckdb_column("cast(hash(x) as decimal(20, 0))", x=x)


def duckdb_hash_bucket(x: pa.Array, modulus: pa.Array) -> pa.Array:
    """``hash(x) % modulus`` as DuckDB computes it (Splink's DuckDB dialect's hash bucket)."""
    return _duckdb_column("cast(hash(x) % m as bigint)", x=x, m=modulus)


def register_duckdb_functions(spark: Any) -> None:
    """Spark SQL functions that compute what DuckDB's do (see the module's docstring)."""
    from pyspark.sql import functions

    arrow_udf: Any = functions.arrow_udf  # its stubs want pyarrow's (absent) types in the hints
    spark.udf.register("jaro_winkler", arrow_udf(duckdb_jaro_winkler, "double"))
    spark.udf.register("damerau_levenshtein", arrow_udf(duckdb_damerau_levenshtein, "double"))
    spark.udf.register(HASH, arrow_udf(duckdb_hash, "decimal(20, 0)"))
    spark.udf.register(HASH_BUCKET, arrow_udf(duckdb_hash_bucket, "bigint"))


def _api_class() -> type:
    """Splink's ``SparkAPI`` whose dialect samples records by DuckDB's hash."""
    from splink.backends.spark import SparkAPI
    from splink.internals.dialects import SparkDialect

    class DuckDBHashSparkDialect(SparkDialect):
        def hash_function_expression(self, col_expression: str) -> str:
            return f"{HASH}({col_expression})"

        def hash_bucket_expression(self, col_expression: str, modulus: int) -> str:
            if modulus <= 0:
                raise ValueError("modulus must be positive")
            return f"{HASH_BUCKET}({col_expression}, {modulus})"

    class DuckDBAgreeingSparkAPI(SparkAPI):
        sql_dialect = DuckDBHashSparkDialect()

    return DuckDBAgreeingSparkAPI


def spark_session(
    master: str, memory_mb: int, partitions: int, local_dir: Path, conf: dict[str, str] | None = None
) -> Any:
    """A Spark session for Splink (``conf``: more Spark settings). In local mode everything binds
    to the loopback interface (a sandbox has no other), the Python workers are this interpreter,
    scratch goes to ``local_dir``."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise RuntimeError("backend = spark needs pyspark and Java: pip install 'trailbench[spark]'") from err

    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # the sandbox's hostname resolves nowhere
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # read by pyspark, not from the session's conf
    builder = (
        SparkSession.builder.master(master)
        .appName("trailbench-splink")
        .config("spark.driver.memory", f"{memory_mb}m")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.default.parallelism", str(partitions))
        .config("spark.local.dir", str(local_dir))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
    )
    if local:
        builder = (
            builder.config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.pyspark.python", sys.executable)
            .config("spark.pyspark.driver.python", sys.executable)
        )
    conf = {**(LOCAL_CONF if local else {}), **(conf or {})}
    java = f"-Djava.io.tmpdir={local_dir} {conf.pop('spark.driver.extraJavaOptions', '')}".strip()
    builder = builder.config("spark.driver.extraJavaOptions", java)
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    if not spark.sparkContext.getCheckpointDir():  # a cluster sets spark.checkpoint.dir to shared storage
        spark.sparkContext.setCheckpointDir(str(local_dir / "checkpoints"))
    return spark


@contextmanager
def spark_backend(spark: Any) -> Iterator[Backend]:
    """Splink's Spark backend on ``spark``, with DuckDB's string functions and sampling hash."""
    register_duckdb_functions(spark)
    if not spark.sparkContext.getCheckpointDir():  # Splink writes its intermediate tables there
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="trailbench-splink-checkpoints-"))
    db = _api_class()(spark_session=spark, register_udfs_automatically=False, break_lineage_method="parquet")
    yield Backend(
        db,
        lambda df: df.to_arrow(compat_level=pl.CompatLevel.oldest()),  # Spark reads no string views
        lambda sql: _frame(spark.sql(sql).toArrow()),
    )
    spark.catalog.clearCache()


def _frame(table: pa.Table) -> pl.DataFrame:
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out


@contextmanager
def spark_backends(master: str = "local[2]", memory_mb: int = 2048, partitions: int = 8) -> Iterator[BackendFactory]:
    """A Spark session for as long as the system runs (stopped at the end, its scratch removed);
    the active session instead, if there is one (a notebook's, a test's), left running."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        yield partial(spark_backend, active)
        return
    local_dir = Path(tempfile.mkdtemp(prefix="trailbench-splink-spark-"))
    spark = spark_session(master, memory_mb, partitions, local_dir)
    try:
        yield partial(spark_backend, spark)
    finally:
        spark.stop()
        shutil.rmtree(local_dir, ignore_errors=True)
