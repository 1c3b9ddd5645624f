"""One local SparkSession for the whole test run (the jobs reuse it, as the local cloud does)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

os.environ.setdefault("SPARK_MASTER", "local[2]")
os.environ.setdefault("SPARK_DRIVER_MEMORY", "2g")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    from etl_lib.runtime import local_spark_session

    session = local_spark_session("tests")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()
