"""Rows deleted in a source database (`JdbcSource(track_deletes=True)`).

A watermark read only sees rows whose incremental column moves, never a row that is gone. So each
extract also reads the table's keys in one statement (one consistent snapshot of the table), after
its changed rows, and keeps the newest distinct key set in the lake; transform drops the rows whose
key it does not hold, counted as deleted at the source. Only rows read before the snapshot was
taken are judged by it (a run's snapshot follows its read; a batch read by a run whose snapshot
failed is newer), so a key missing from it was deleted after its row was read, never one inserted
since. A snapshot holding the same keys as the kept one is not written again: raw is unchanged and
transform has nothing to rebuild.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from etl_lib import layout, storage
from etl_lib.datasets.base import Table
from etl_lib.rules import row_checks
from etl_lib.steps.common import INGESTED_AT

# <taken at, UTC, sortable>-<rows>-<digest of the key set>: the newest name sorts last.
_SNAPSHOT = re.compile(r"^(\d{8}T\d{12})Z-(\d+)-([0-9a-f]{16})$")
_TAKEN_AT = "%Y%m%dT%H%M%S%f"
IN_SOURCE = "_in_source"


@dataclass(frozen=True)
class Snapshot:
    keys: DataFrame  # source names, declared types
    taken_at: datetime


def snapshot_name(taken_at: datetime, rows: int, digest: str) -> str:
    return f"{taken_at.astimezone(UTC).strftime(_TAKEN_AT)}Z-{rows}-{digest}"


def taken_at(name: str) -> datetime:
    found = _SNAPSHOT.match(name)
    if found is None:
        raise ValueError(f"{name!r} is not a key snapshot's name")
    return datetime.strptime(found.group(1), _TAKEN_AT).replace(tzinfo=UTC)


def newest_snapshot(names: Sequence[str]) -> str | None:
    """The most recently taken snapshot among the folder names (others are ignored)."""
    snapshots = [name for name in names if _SNAPSHOT.match(name)]
    return max(snapshots) if snapshots else None


def same_key_set(name: str | None, rows: int, digest: str) -> bool:
    found = _SNAPSHOT.match(name or "")
    return found is not None and (int(found.group(2)), found.group(3)) == (rows, digest)


def source_key(table: Table) -> tuple[str, ...]:
    """The key's columns as the source names them (the table's key is in silver names)."""
    source_names = {silver: source for source, silver in table.renames.items()}
    return tuple(source_names.get(name, name) for name in table.key)


def key_columns(table: Table) -> list[tuple[str, str]]:
    """The key columns as raw holds them: source names, declared types."""
    types = {column.name: column.type for column in table.columns}
    return [(name, types[name]) for name in source_key(table)]


def key_schema(table: Table) -> str:
    """key_columns as DDL."""
    return ", ".join(f"`{name}` {type_name}" for name, type_name in key_columns(table))


def key_set_digest(keys: DataFrame) -> tuple[int, str]:
    """The number of keys and an order-independent digest of them, in one pass."""
    hashed = F.xxhash64(*[F.col(f"`{name}`") for name in keys.columns])
    found = keys.agg(F.count(F.lit(1)).alias("rows"), F.sum(hashed.cast("decimal(38,0)")).alias("sum")).first()
    rows, total = (int(found["rows"]), int(found["sum"] or 0)) if found is not None else (0, 0)
    return rows, f"{total % (1 << 64):016x}"


def keep_snapshot(
    spark: SparkSession, lake: str, dataset: str, table: Table, keys: DataFrame, taken_at: datetime
) -> int:
    """Writes the key set (keys as read, typed here as declared) unless the kept snapshot holds the
    same keys, then removes the older snapshots; returns the number of keys."""
    root = layout.source_keys_path(lake, dataset, table.name)
    existing = storage.list_directories(spark, root)
    keys = keys.select(*[F.col(f"`{name}`").cast(type_name).alias(name) for name, type_name in key_columns(table)])
    keys = keys.persist()
    try:
        rows, digest = key_set_digest(keys)
        current = newest_snapshot(existing)
        if not same_key_set(current, rows, digest):
            current = snapshot_name(taken_at, rows, digest)
            storage.write_parquet(keys, f"{root}/{current}")
    finally:
        keys.unpersist()
    storage.delete_all(spark, [f"{root}/{name}" for name in existing if name != current])
    return rows


def current_snapshot(spark: SparkSession, lake: str, dataset: str, table: Table) -> Snapshot | None:
    """The newest snapshot (its key set empty when the table was), or None when none was ever
    taken (nothing is known to be deleted)."""
    root = layout.source_keys_path(lake, dataset, table.name)
    newest = newest_snapshot(storage.list_directories(spark, root))
    if newest is None:
        return None
    schema = key_schema(table)
    keys = storage.read_parquet(spark, f"{root}/{newest}", schema)
    return Snapshot(keys if keys is not None else spark.createDataFrame([], schema), taken_at(newest))


def still_in_source(rows: DataFrame, snapshot: Snapshot, table: Table) -> DataFrame:
    """The rows (silver names) whose key the source still holds, or that were read after the
    snapshot was taken; rows with a NULL in the key are kept for the key rule to quarantine."""
    present = snapshot.keys.toDF(*table.key).distinct().withColumn(IN_SOURCE, F.lit(True))
    joined = rows.join(present, on=list(table.key), how="left")
    judged = F.col(INGESTED_AT) <= F.lit(snapshot.taken_at)
    kept = joined.where(F.col(IN_SOURCE).isNotNull() | ~row_checks.all_present(table.key) | ~judged)
    return kept.select(*rows.columns)
