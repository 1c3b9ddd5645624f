"""Tables side by side on one SparkSession.

Most of a small table's time is the driver planning its jobs while the executors wait; running
independent tables in a bounded thread pool lets one table's tasks fill the executors while the
next table's jobs are planned. Each thread's jobs run in a scheduler pool of their own (fair
scheduling when the session has `spark.scheduler.mode=FAIR`) and in a job group named after the
step and the table, which is also how their Spark jobs are counted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pyspark.sql import SparkSession
from pyspark.util import inheritable_thread_target

from etl_lib.runtime import counting_spark_jobs, local_properties

Item = TypeVar("Item")
Result = TypeVar("Result")


def for_each_table(
    spark: SparkSession,
    group: str,
    work: Callable[[Item], Result],
    items: Mapping[str, Item],
    workers: int,
    sizes: Mapping[str, int] | None = None,
) -> dict[str, tuple[Result, int]]:
    """work(item) for every table name -> item, at most `workers` at a time: each table's result
    and the Spark jobs it started, in the order of items. With sizes (name -> bytes or rows) the biggest
    tables start first: the longest table sets the step's time, so it should not start last. The
    first failure (in items' order) is raised once every started table has stopped; tables not
    started yet are not started."""

    def run(name: str, item: Item) -> tuple[Result, int]:
        with local_properties(spark, {"spark.scheduler.pool": name}):
            return counting_spark_jobs(spark, f"{group}/{name}", lambda: work(item))

    if workers <= 1 or len(items) <= 1:
        return {name: run(name, item) for name, item in items.items()}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=group) as pool:
        started = sorted(items, key=lambda name: -(sizes or {}).get(name, 0))  # stable: items' order on ties
        futures = {name: pool.submit(inheritable_thread_target(run), name, items[name]) for name in started}
        try:
            return {name: futures[name].result() for name in items}
        finally:
            for future in futures.values():
                future.cancel()
