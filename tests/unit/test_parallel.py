"""Tables side by side: results in order, Spark jobs counted per table, failures surfaced."""

from __future__ import annotations

import threading

import pytest

from etl_lib import records
from etl_lib.datasets import get_dataset
from etl_lib.runtime import counting_spark_jobs
from etl_lib.steps import parallel


def collect_times(spark, times):
    for _ in range(times):
        spark.range(3).collect()
    return times


def test_each_table_gets_its_result_and_the_spark_jobs_it_started(spark):
    done = parallel.for_each_table(spark, "t-count", lambda n: collect_times(spark, n), {"a": 2, "b": 0, "c": 3}, 2)
    assert list(done) == ["a", "b", "c"]
    assert done == {"a": (2, 2), "b": (0, 0), "c": (3, 3)}


def test_tables_run_at_the_same_time_up_to_the_bound(spark):
    both_started = threading.Barrier(2, timeout=20)  # broken unless two tables run at once
    done = parallel.for_each_table(spark, "t-barrier", lambda _: both_started.wait() >= 0, {"a": 1, "b": 2}, 2)
    assert done == {"a": (True, 0), "b": (True, 0)}
    one_at_a_time = threading.Barrier(2, timeout=1)
    with pytest.raises(threading.BrokenBarrierError):
        parallel.for_each_table(spark, "t-serial", lambda _: one_at_a_time.wait(), {"a": 1, "b": 2}, 1)


def test_the_first_failure_in_table_order_is_raised(spark):
    def work(name):
        if name != "ok":
            raise ValueError(f"{name} failed")
        return name

    with pytest.raises(ValueError, match="first failed"):
        parallel.for_each_table(spark, "t-fail", work, {"ok": "ok", "first": "first", "second": "second"}, 3)


def test_job_groups_nest_and_the_callers_group_comes_back(spark):
    context = spark.sparkContext

    def outer():
        inner = counting_spark_jobs(spark, "t-inner", lambda: collect_times(spark, 2))
        return inner, context.getLocalProperty("spark.job.description"), collect_times(spark, 1)

    assert counting_spark_jobs(spark, "t-outer", outer) == (((2, 2), "t-outer", 1), 1)
    assert counting_spark_jobs(spark, "t-outer", lambda: collect_times(spark, 1)) == (1, 1)  # a group per call
    assert context.getLocalProperty("spark.jobGroup.id") is None


def test_the_file_fingerprint_is_exact_and_tells_files_apart(spark):
    ids = {"ffffffffffffffff": 3, "0000000000000001": 2, "8000000000000000": 1}
    sources = {f"s3://landing/f{index}.csv": file_id for index, file_id in enumerate(ids)}
    rows = [(uri,) for uri, file_id in sources.items() for _ in range(ids[file_id])]
    column = records.fingerprint_column("_source_file", sources)
    summed = spark.createDataFrame(rows, "_source_file string").agg(column).first()[0]
    assert int(summed) == records.fingerprint(ids) == 3 * (2**64 - 1) + 2 + 2**63
    moved = {"ffffffffffffffff": 4, "0000000000000001": 1, "8000000000000000": 1}  # same total, one row moved
    assert records.fingerprint(moved) != records.fingerprint(ids)
    empty = spark.createDataFrame([], "_source_file string").agg(column).first()[0]
    assert int(empty) == records.fingerprint({}) == 0


def test_the_fingerprint_of_many_files_is_exact_and_a_row_of_another_source_adds_nothing(spark):
    ids = {f"{index * 0x9E3779B97F4A7C15 % 2**64:016x}": index % 3 + 1 for index in range(1, 21)}  # 20: buckets
    sources = {f"s3://landing/f{index}.csv": file_id for index, file_id in enumerate(ids)}
    rows = [(uri,) for uri, file_id in sources.items() for _ in range(ids[file_id])]
    column = records.fingerprint_column("_source_file", sources)
    frame = spark.createDataFrame(rows, "_source_file string")
    assert int(frame.agg(column).first()[0]) == records.fingerprint(ids)
    stray = spark.createDataFrame([*rows[1:], ("s3://landing/other.csv",)], "_source_file string")
    assert int(stray.agg(column).first()[0]) == records.fingerprint(ids) - int(sources[rows[0][0]], 16)


def test_dependency_waves_put_parents_first_and_independent_tables_together():
    tpch = get_dataset("tpch")
    declared = {table.name: {fk.parent_table for fk in table.foreign_keys} for table in tpch.tables}
    waves = [[table.name for table in wave] for wave in tpch.dependency_waves(declared)]
    assert waves == [["region", "part"], ["nation"], ["customer", "supplier"], ["partsupp", "orders"], ["lineitem"]]
    with_rule = tpch.dependency_waves({"part": {"lineitem"}, "region": {"unknown_table", "region"}})
    assert [t.name for t in with_rule[-1]] == ["part"]  # a rule's parent comes first; unknown and self ignored
