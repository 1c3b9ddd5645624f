"""Literals of many values (one per landing file) as a single call to the JVM.

Each F.lit crosses to the JVM (about a millisecond): a map of a thousand files' ids built from
F.lit values took 2 s of the driver's time. These are one JSON text parsed by from_json instead,
which Spark's optimizer folds into a constant before any row is read.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping

from pyspark.sql import Column
from pyspark.sql import functions as F


def string_map(entries: Mapping[str, str]) -> Column:
    """The entries as a map<string,string> literal."""
    return F.from_json(F.lit(json.dumps(dict(entries))), "map<string,string>")


def is_one_of(column: Column, values: Collection[str]) -> Column:
    """column IN values, for any number of string values (as a filter on a partition column, it prunes)."""
    return F.array_contains(F.from_json(F.lit(json.dumps(sorted(values))), "array<string>"), column)
