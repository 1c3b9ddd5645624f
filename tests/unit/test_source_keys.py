"""Rows deleted in a source database: key snapshots, which one is in force, and what they remove."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chispa import assert_df_equality

from etl_lib import source_keys
from etl_lib.datasets.base import Column, JdbcSource, Table

TAKEN = datetime(2026, 12, 4, 16, 30, 5, 123456, tzinfo=UTC)
ORDERS = Table(
    name="orders",
    columns=(Column("o_id", "int"), Column("o_region", "string"), Column("units", "int"), Column("ts", "timestamp")),
    key=("order_id", "o_region"),
    renames={"o_id": "order_id"},
    jdbc=JdbcSource("public.orders", "ts", track_deletes=True),
)


def test_snapshot_names_sort_by_the_time_taken_and_carry_the_key_set():
    name = source_keys.snapshot_name(TAKEN, 3, "00ff00ff00ff00ff")
    assert name == "20261204T163005123456Z-3-00ff00ff00ff00ff"
    assert source_keys.taken_at(name) == TAKEN
    later = source_keys.snapshot_name(TAKEN.replace(hour=17), 2, "0000000000000001")
    assert source_keys.newest_snapshot([later, name, "_temporary", ".hidden"]) == later
    assert source_keys.newest_snapshot(["_temporary"]) is None
    assert source_keys.same_key_set(name, 3, "00ff00ff00ff00ff")
    assert not source_keys.same_key_set(name, 3, "00ff00ff00ff00fe")
    assert not source_keys.same_key_set(None, 0, "0000000000000000")


def test_the_key_is_read_by_its_source_names_and_declared_types():
    assert source_keys.source_key(ORDERS) == ("o_id", "o_region")
    assert source_keys.key_schema(ORDERS) == "`o_id` int, `o_region` string"


def test_the_digest_is_the_same_for_the_same_keys_in_any_order_and_differs_otherwise(spark):
    schema = "o_id int, o_region string"
    keys = spark.createDataFrame([(1, "eu"), (2, "eu"), (3, "us")], schema)
    shuffled = spark.createDataFrame([(3, "us"), (1, "eu"), (2, "eu")], schema)
    swapped = spark.createDataFrame([(1, "eu"), (2, "us"), (3, "eu")], schema)
    assert source_keys.key_set_digest(keys) == source_keys.key_set_digest(shuffled)
    assert source_keys.key_set_digest(keys)[0] == 3
    assert source_keys.key_set_digest(swapped) != source_keys.key_set_digest(keys)
    assert source_keys.key_set_digest(spark.createDataFrame([], schema)) == (0, "0000000000000000")


def test_rows_whose_key_left_the_source_go_rows_without_a_key_or_read_later_stay(spark):
    schema = "order_id int, o_region string, units int, _ingested_at timestamp"
    before, after = TAKEN - timedelta(hours=1), TAKEN + timedelta(seconds=1)
    rows = spark.createDataFrame(
        [(1, "eu", 5, before), (2, "eu", 6, before), (2, "us", 7, TAKEN), (None, "eu", 8, before), (3, "eu", 9, after)],
        schema,
    )
    keys = spark.createDataFrame([(1, "eu"), (2, "us"), (9, "eu")], "o_id int, o_region string")
    kept = source_keys.still_in_source(rows, source_keys.Snapshot(keys, TAKEN), ORDERS)
    # (2, eu) was read before the snapshot and is gone; (3, eu) was read after it: not judged by it.
    expected = spark.createDataFrame(
        [(1, "eu", 5, before), (2, "us", 7, TAKEN), (None, "eu", 8, before), (3, "eu", 9, after)], schema
    )
    assert_df_equality(kept, expected, ignore_row_order=True)


def test_a_snapshot_is_written_only_when_the_keys_change_and_the_newest_is_in_force(spark, tmp_path):
    lake, schema = str(tmp_path), "o_id int, o_region string"
    first = spark.createDataFrame([(1, "eu"), (2, "eu")], schema)
    assert source_keys.current_snapshot(spark, lake, "shop", ORDERS) is None  # never taken: nothing is deleted
    assert source_keys.keep_snapshot(spark, lake, "shop", ORDERS, first, TAKEN) == 2
    root = tmp_path / "raw" / "shop" / "_source_keys" / "orders"
    (taken,) = [p.name for p in root.iterdir()]
    same = spark.createDataFrame([(2, "eu"), (1, "eu")], schema)
    source_keys.keep_snapshot(spark, lake, "shop", ORDERS, same, TAKEN.replace(hour=18))
    assert [p.name for p in root.iterdir()] == [taken]  # unchanged keys: raw unchanged, nothing to rebuild
    emptied = spark.createDataFrame([], schema)
    assert source_keys.keep_snapshot(spark, lake, "shop", ORDERS, emptied, TAKEN.replace(hour=19)) == 0
    assert [p.name for p in root.iterdir()] == [source_keys.snapshot_name(TAKEN.replace(hour=19), 0, "0" * 16)]
    current = source_keys.current_snapshot(spark, lake, "shop", ORDERS)
    assert current is not None
    assert current.taken_at == TAKEN.replace(hour=19)
    assert current.keys.count() == 0  # every row was deleted: an empty key set, not "unknown"
