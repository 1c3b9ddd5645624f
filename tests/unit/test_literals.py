"""Per-file literals: looked up on every row, in a few comparisons however many files there are."""

import pytest
from pyspark.sql import functions as F

from etl_lib import literals

NAMES = ["orders.csv", "caf\u00e9 #1 %41.csv", "\u6ce8\u6587 2026-12.csv", "back\\slash 'q'.csv", "e\u0301.csv"]


def uris(count):
    return {f"s3://landing-bucket/sales/2026/12/06/{NAMES[i % len(NAMES)]}.{i:05d}": f"{i:016x}" for i in range(count)}


@pytest.mark.parametrize("count", [1, literals.KEYS_PER_BUCKET, literals.KEYS_PER_BUCKET + 1, 1000])
def test_every_key_finds_its_value_and_an_unknown_key_finds_null(spark, count):
    entries = uris(count)
    keys = [*entries, "s3://landing-bucket/sales/unknown.csv"]
    rows = spark.createDataFrame([(key,) for key in keys], "key string")
    found = rows.select(literals.looked_up(entries, F.col("key")).alias("value")).collect()
    assert [row["value"] for row in found] == [*entries.values(), None]


def test_spark_puts_a_key_in_the_bucket_python_puts_it_in(spark):
    keys = list(uris(50))
    rows = spark.createDataFrame([(key,) for key in keys], "key string")
    buckets = rows.select((F.crc32("key") % 7).alias("bucket")).collect()
    assert [row["bucket"] for row in buckets] == [literals.bucket_of(key, 7) for key in keys]


def test_a_thousand_files_are_looked_up_among_a_few_keys_not_all():
    buckets = literals.in_buckets(uris(1000))
    assert len(buckets) == 125
    assert sum(len(bucket) for bucket in buckets) == 1000
    assert max(len(bucket) for bucket in buckets) <= 3 * literals.KEYS_PER_BUCKET
