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

from etl_lib.runtime import counting_spark_jobs

Item = TypeVar("Item")
Result = TypeVar("Result")
_POOL = "spark.scheduler.pool"


def for_each_table(
    spark: SparkSession,
    group: str,
    work: Callable[[Item], Result],
    items: Mapping[str, Item],
    workers: int,
) -> dict[str, tuple[Result, int]]:
    """work(item) for every table name -> item, at most `workers` at a time: each table's result
    and the Spark jobs it started, in the order of items. The first failure (in that order) is
    raised once every started table has stopped; tables not started yet are not started."""

    def run(name: str, item: Item) -> tuple[Result, int]:
        context = spark.sparkContext
        previous = context.getLocalProperty(_POOL)
        context.setLocalProperty(_POOL, name)
        try:
            return counting_spark_jobs(spark, f"{group}/{name}", lambda: work(item))
        finally:
            context.setLocalProperty(_POOL, previous)  # type: ignore[arg-type]  # None removes it

    if workers <= 1 or len(items) <= 1:
        return {name: run(name, item) for name, item in items.items()}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=group) as pool:
        futures = {name: pool.submit(inheritable_thread_target(run), name, item) for name, item in items.items()}
        try:
            return {name: future.result() for name, future in futures.items()}
        finally:
            for future in futures.values():
                future.cancel()
