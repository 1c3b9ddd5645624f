"""Literals of many values (one per landing file) as a single call to the JVM.

Each F.lit crosses to the JVM (about a millisecond): a map of a thousand files' ids built from
F.lit values took 2 s of the driver's time. These are one JSON text parsed by from_json instead,
which Spark's optimizer folds into a constant before any row is read.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import Collection, Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F

# Spark finds a key in a map by comparing it with each key in turn: looked up on every row, a map
# of a thousand landing files cost 1.4 microseconds a row (9.2 s for 6M rows on two cores, against
# 0.9 s with ten keys), as much as typing the row. Larger maps are split into buckets of about
# this many keys, and each row looks in its own bucket only.
KEYS_PER_BUCKET = 8


def string_map(entries: Mapping[str, str]) -> Column:
    """The entries as a map<string,string> literal."""
    return F.from_json(F.lit(json.dumps(dict(entries))), "map<string,string>")


def bucket_of(key: str, buckets: int) -> int:
    """The bucket of a key: its UTF-8 bytes' CRC-32 (Spark's crc32 of a string) modulo the buckets."""
    return zlib.crc32(key.encode("utf-8")) % buckets


def in_buckets(entries: Mapping[str, str]) -> list[dict[str, str]]:
    """The entries split by bucket_of into about KEYS_PER_BUCKET each."""
    buckets: list[dict[str, str]] = [{} for _ in range(math.ceil(len(entries) / KEYS_PER_BUCKET))]
    for key, value in entries.items():
        buckets[bucket_of(key, len(buckets))][key] = value
    return buckets


def looked_up(entries: Mapping[str, str], key: Column) -> Column:
    """entries[key] on every row (NULL for a key not in entries), in a few comparisons whatever
    the number of entries."""
    if len(entries) <= KEYS_PER_BUCKET:
        return string_map(entries)[key]
    buckets = in_buckets(entries)
    maps = F.from_json(F.lit(json.dumps(buckets)), "array<map<string,string>>")
    return maps[(F.crc32(key) % len(buckets)).cast("int")][key]


def is_one_of(column: Column, values: Collection[str]) -> Column:
    """column IN values, for any number of string values (as a filter on a partition column, it prunes)."""
    return F.array_contains(F.from_json(F.lit(json.dumps(sorted(values))), "array<string>"), column)
