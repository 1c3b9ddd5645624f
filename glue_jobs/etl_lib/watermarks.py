"""JDBC watermarks: up to which value of its incremental column each table has been read.

An explicit store rather than Glue job bookmarks, whose JDBC keys must be strictly monotonic
(`last_updated` is not: many rows share a timestamp). Extract writes what it read up to as
*pending*; the run's load commits it after the warehouse and catalog are updated, so a run that
fails anywhere leaves the committed watermark where it was and the next run reads those rows again
(downstream keeps the newest version per key, so reading a row twice is harmless).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def parse(text: str | None) -> dict[str, dict[str, Any]]:
    if not text:
        return {}
    data = json.loads(text)
    tables = data.get("tables", {}) if isinstance(data, dict) else {}
    return {str(name): dict(entry) for name, entry in tables.items()}


def render(tables: Mapping[str, Mapping[str, Any]]) -> str:
    return json.dumps({"tables": {name: dict(entry) for name, entry in tables.items()}}, indent=2, sort_keys=True)


def value_of(tables: Mapping[str, Mapping[str, Any]], table: str, column: str) -> str | None:
    """The stored watermark of a table, if it was taken on the same column (a changed column starts over)."""
    entry = tables.get(table)
    if entry is None or entry.get("column") != column:
        return None
    value = entry.get("value")
    return None if value is None else str(value)


def entry(column: str, value: str | None, run_id: str, rows: int) -> dict[str, Any]:
    return {"column": column, "value": value, "run_id": run_id, "rows_read": rows}


def committed_with(
    committed: Mapping[str, Mapping[str, Any]], pending: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The committed watermarks after a run's pending ones are committed."""
    return {**{name: dict(e) for name, e in committed.items()}, **{name: dict(e) for name, e in pending.items()}}
