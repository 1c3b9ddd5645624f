"""Both runtime adapters: a plain SparkSession here, GlueContext + Job where awsglue exists (faked)."""

import importlib.machinery
import sys
import types

import pytest

from etl_lib import runtime
from etl_lib.args import parse_args

ARGV = "--JOB_NAME etl-extract --JOB_RUN_ID jr_1 --dataset tpch --lake_path s3://lake --source_path s3://landing"
ARGS = parse_args("extract", [*ARGV.split(), "--shuffle_partitions", "3"])


@pytest.fixture
def fake_awsglue(monkeypatch, spark):
    calls = []

    class GlueContext:
        def __init__(self, spark_context):
            calls.append(("GlueContext", spark_context is spark.sparkContext))
            self.spark_session = spark

    class Job:
        def __init__(self, glue_context):
            self.glue_context = glue_context

        def init(self, name, arguments):
            calls.append(("init", name, arguments))

        def commit(self):
            calls.append(("commit",))

    modules = {"awsglue": {}, "awsglue.context": {"GlueContext": GlueContext}, "awsglue.job": {"Job": Job}}
    for name, attributes in modules.items():
        module = types.ModuleType(name)
        module.__spec__ = importlib.machinery.ModuleSpec(name, loader=None)
        module.__dict__.update(attributes)
        monkeypatch.setitem(sys.modules, name, module)
    yield calls
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    spark.conf.unset("spark.sql.codegen.hugeMethodLimit")


def test_without_awsglue_the_runtime_is_a_local_session(spark):
    assert not runtime.glue_available()
    local = runtime.create_runtime(ARGS)
    assert isinstance(local, runtime.LocalRuntime)
    assert local.spark.conf.get("spark.sql.session.timeZone") == "UTC"
    # A wide table's generated code is compiled however large: the JVM was started to do so.
    jvm = local.spark.sparkContext._jvm
    assert "-XX:-DontCompileHugeMethods" in list(
        jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
    )
    assert local.spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "65535"
    local.commit()  # nothing to commit locally, and no error
    spark.conf.set("spark.sql.shuffle.partitions", "2")


def test_with_awsglue_the_job_is_initialised_and_committed_through_glue(fake_awsglue, spark):
    assert runtime.glue_available()
    glue = runtime.create_runtime(ARGS)
    assert isinstance(glue, runtime.GlueRuntime)
    assert glue.spark is spark
    assert fake_awsglue[0] == ("GlueContext", True)
    assert fake_awsglue[1] == ("init", "etl-extract", {
        "JOB_NAME": "etl-extract", "JOB_RUN_ID": "jr_1", "dataset": "tpch", "lake_path": "s3://lake",
        "run_id": "jr_1", "source_path": "s3://landing", "reprocess": "false", "table_parallelism": "4"})  # fmt: skip
    assert spark.conf.get("spark.sql.shuffle.partitions") == "3"
    assert spark.conf.get("spark.sql.sources.partitionOverwriteMode") == "dynamic"
    # Glue's JVM leaves methods over 8,000 bytes interpreted: Spark splits its code below that instead.
    assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "8000"
    glue.commit()
    assert fake_awsglue[-1] == ("commit",)


def test_session_settings_hold_for_a_step_and_are_restored_after(spark):
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    spark.conf.unset("spark.sql.files.minPartitionNum")
    with runtime.session_settings(spark, {"spark.sql.shuffle.partitions": "7", "spark.sql.files.minPartitionNum": "9"}):
        assert spark.conf.get("spark.sql.shuffle.partitions") == "7"
        assert spark.conf.get("spark.sql.files.minPartitionNum") == "9"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.files.minPartitionNum", None) is None


def test_transform_reads_in_about_three_splits_a_core(spark):
    cores = spark.sparkContext.defaultParallelism
    assert runtime.reading_settings(spark) == {"spark.sql.files.minPartitionNum": str(3 * cores)}
