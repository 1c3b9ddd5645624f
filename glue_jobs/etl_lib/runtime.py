"""The Glue runtime behind one adapter.

On Glue (or inside the Glue Docker image) the job gets a GlueContext and Job.init/commit;
anywhere else the same interface is backed by a plain local SparkSession. This is the only
module that imports `awsglue`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from etl_lib.args import JobArgs

# Settings that make runs deterministic and idempotent on Glue and locally alike.
SESSION_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    # A pruned CSV parser never reports a record with too few or too many fields: a file whose
    # header has an undeclared column would load short and long records as valid rows.
    "spark.sql.csv.parser.columnPruning.enabled": "false",
    # Listing thousands of files or partition folders: Spark's default is a task per path (1,000
    # landing files: a 1,000-task job, 4 s on two cores, for every read of them); a few dozen
    # tasks list as fast on S3 and cost 0.2 s.
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "32",
    # Parent keys for foreign-key checks (TPC-H SF1 orders: 1.5M keys) are broadcast, not shuffled.
    "spark.sql.autoBroadcastJoinThreshold": str(64 * 1024 * 1024),
    # Spark 4 (Glue 6.0) reads CSV only in the few charsets of its own list (UTF-8, ISO-8859-1,
    # UTF-16, ...) unless allowed Java's: a table may declare cp1252 (datasets.base.Table.encoding).
    "spark.sql.legacy.javaCharsets": "true",
}
# Spark 4 (Glue 6.0) runs in ANSI mode by default; Spark 3.5 (Glue 5.x) does not, and there a value
# a model computes that its type cannot hold (a decimal or integer overflow, a cast that overflows,
# a division by zero) is a NULL in silver or gold, silently. Transform runs in ANSI mode on both, so
# such a value fails the run, naming the table (steps/transform.py, ModelError).
MODEL_SETTINGS = {"spark.sql.ansi.enabled": "true"}
DEFAULT_LOCAL_SHUFFLE_PARTITIONS = 8
# Tables run side by side on one session (steps/parallel.py); each thread's jobs get a pool of
# their own, so a big table's tasks do not hold back a small table's.
LOCAL_SCHEDULER_SETTINGS = {"spark.scheduler.mode": "FAIR"}
# The JVM in UTC, as on Glue: JDBC drivers convert zoned values with the JVM's default zone.
# (The throughput collector, -XX:+UseParallelGC, was tried: within run-to-run noise on TPC-H SF1
# and a peak of 5.9 GiB against 3.9 GiB with the default G1, so it is not used.)
# HotSpot does not compile a method of more than 8,000 bytes of bytecode: it stays interpreted.
# The code Spark generates to type and check a wide table's rows can pass that size (40 columns:
# `python -m benchmarks.wide_tables`), so local JVMs compile such methods; where the JVM's options
# are not ours (Glue), GLUE_SESSION_SETTINGS has Spark generate smaller code instead.
LOCAL_JVM_OPTIONS = "-Duser.timezone=UTC -XX:-DontCompileHugeMethods"
GLUE_SESSION_SETTINGS = {"spark.sql.codegen.hugeMethodLimit": "8000"}
# JDBC drivers for local runs (on Glue they come with the job's connection); Debian's
# libpostgresql-jdbc-java installs this one.
DEFAULT_JDBC_JARS = ("/usr/share/java/postgresql.jar",)


def local_jdbc_jars() -> list[str]:
    configured = os.environ.get("GLUE_ETL_JDBC_JARS")
    candidates = configured.split(",") if configured else DEFAULT_JDBC_JARS
    return [jar for jar in candidates if jar and os.path.isfile(jar)]


class JobRuntime(Protocol):
    spark: SparkSession
    kind: str

    def commit(self) -> None: ...


@dataclass
class LocalRuntime:
    spark: SparkSession
    kind: str = "local"

    def commit(self) -> None:
        """Nothing to commit locally: the extract ledger is written by the job itself."""


@dataclass
class GlueRuntime:
    spark: SparkSession
    glue_context: Any
    job: Any
    kind: str = "glue"

    def commit(self) -> None:
        self.job.commit()


def glue_available() -> bool:
    return importlib.util.find_spec("awsglue") is not None


def apply_session_settings(spark: SparkSession, args: JobArgs, extra: Mapping[str, str] | None = None) -> None:
    for key, value in {**SESSION_SETTINGS, **(extra or {})}.items():
        spark.conf.set(key, value)
    if args.shuffle_partitions is not None:
        spark.conf.set("spark.sql.shuffle.partitions", str(args.shuffle_partitions))


def local_spark_session(app_name: str, extra_settings: Mapping[str, str] | None = None) -> SparkSession:
    """A local SparkSession (reused if the process already has one: one JVM for many jobs)."""
    # Python workers must run this interpreter (with its packages, etl_lib included), not whatever
    # `python3` comes first on PATH; PySpark reads the variable when the context starts.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.shuffle.partitions", str(DEFAULT_LOCAL_SHUFFLE_PARTITIONS))
        .config("spark.sql.warehouse.dir", os.environ.get("SPARK_WAREHOUSE_DIR", "/tmp/spark-warehouse"))
        .config("spark.driver.extraJavaOptions", LOCAL_JVM_OPTIONS)
        .config("spark.executor.extraJavaOptions", LOCAL_JVM_OPTIONS)
    )
    for key, value in LOCAL_SCHEDULER_SETTINGS.items():
        builder = builder.config(key, value)
    jars = local_jdbc_jars()
    if jars:
        builder = builder.config("spark.jars", ",".join(jars))
    for key, value in {**SESSION_SETTINGS, **(extra_settings or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("SPARK_LOG_LEVEL", "ERROR"))
    return spark


def create_glue_runtime(args: JobArgs) -> GlueRuntime:
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    job = Job(glue_context)
    job.init(args.job_name, args.as_glue_arguments())
    apply_session_settings(spark, args, GLUE_SESSION_SETTINGS)
    return GlueRuntime(spark=spark, glue_context=glue_context, job=job)


def create_runtime(args: JobArgs) -> JobRuntime:
    """GlueContext where awsglue is importable (Glue, the Glue image), a local session elsewhere."""
    if glue_available():
        return create_glue_runtime(args)
    spark = local_spark_session(args.job_name)
    apply_session_settings(spark, args)
    return LocalRuntime(spark=spark)


Result = TypeVar("Result")


# Spark plans a Parquet read in about one split per core (minPartitionNum defaults to the core
# count), less each file's open cost: SF1 `lineitem`'s raw, 6 files of 40 MB, was read in 3 tasks on
# 2 cores, one core idle for a third of transform's longest write. About three splits a core, as
# Spark's tuning guide advises (2-3 tasks per core), balance the cores: SF1 transform 39.8 -> 37.5 s.
TASKS_PER_CORE = 3


def reading_settings(spark: SparkSession) -> dict[str, str]:
    """What transform reads raw and silver with (see TASKS_PER_CORE); not extract, whose landing
    scan is coalesced to a task per 128 MiB, which more splits would only unbalance."""
    return {"spark.sql.files.minPartitionNum": str(TASKS_PER_CORE * spark.sparkContext.defaultParallelism)}


@contextmanager
def session_settings(spark: SparkSession, settings: Mapping[str, str]) -> Iterator[None]:
    """Sets SQL settings for a step and restores them after (a setting that was unset is unset
    again), so the next step in the same session plans as it would alone."""
    previous = {key: spark.conf.get(key, None) for key in settings}
    for key, value in settings.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, earlier in previous.items():
            if earlier is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, earlier)


@contextmanager
def local_properties(spark: SparkSession, properties: Mapping[str, str]) -> Iterator[None]:
    """Sets Spark local properties (this thread's jobs only) and restores the caller's values after,
    so settings nest (a job group inside a step's, a table's scheduler pool)."""
    context = spark.sparkContext
    previous = {key: context.getLocalProperty(key) for key in properties}
    for key, value in properties.items():
        context.setLocalProperty(key, value)
    try:
        yield
    finally:
        for key, earlier in previous.items():
            context.setLocalProperty(key, earlier)  # type: ignore[arg-type]  # None removes it


def counting_spark_jobs(spark: SparkSession, group: str, work: Callable[[], Result]) -> tuple[Result, int]:
    """work()'s result and how many Spark jobs it started. Its jobs carry `group` as their job
    group and description (the Spark UI, Glue's included, shows which step and table ran them);
    the group of the calling thread is restored after, so groups nest."""
    unique = f"{group} {uuid.uuid4().hex[:8]}"  # run ids repeat across local runs in one JVM
    with local_properties(spark, {"spark.jobGroup.id": unique, "spark.job.description": group}):
        result = work()
    listeners_caught_up(spark)
    return result, len(spark.sparkContext.statusTracker().getJobIdsForGroup(unique))


# The status tracker learns of a job from a listener that handles Spark's events on a thread of its
# own, behind the job: read at once, a job that had just finished was sometimes not counted yet.
LISTENER_WAIT_MILLISECONDS = 5000


def listeners_caught_up(spark: SparkSession) -> None:
    """Waits (up to LISTENER_WAIT_MILLISECONDS) until Spark's listeners have handled the events
    posted so far. The wait is Spark's own (LiveListenerBus.waitUntilEmpty, public in the JVM); a
    count is not worth failing a job for, so when it times out the count is taken as it stands."""
    bus = spark.sparkContext._jsc.sc().listenerBus()  # type: ignore[union-attr]
    try:
        bus.waitUntilEmpty(LISTENER_WAIT_MILLISECONDS)
    except Py4JJavaError:  # a TimeoutException: events keep arriving from other tables' tasks
        return
