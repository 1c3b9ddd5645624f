"""Athena in the local cloud: queries run for real, in DuckDB, over the Parquet the Glue Data
Catalog points at (each table's location, read from the bucket's local folder), so the stack's
named queries and a user's own SQL return the rows Athena would."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

# DuckDB's type names as Athena reports them in ColumnInfo.
_ATHENA_TYPES = {"BIGINT": "bigint", "INTEGER": "integer", "SMALLINT": "smallint", "DOUBLE": "double",
                 "FLOAT": "float", "VARCHAR": "varchar", "DATE": "date", "BOOLEAN": "boolean",
                 "TIMESTAMP": "timestamp", "TIMESTAMP WITH TIME ZONE": "timestamp with time zone"}  # fmt: skip


@dataclass(frozen=True)
class Result:
    columns: tuple[tuple[str, str], ...]  # (name, Athena type)
    rows: tuple[tuple[Any, ...], ...]


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run_query(
    sql: str, database: str | None, catalog: Mapping[str, Mapping[str, str]], folder_of: Callable[[str], Path]
) -> Result:
    """catalog: database -> table -> location (s3://...); folder_of maps a location to its folder.
    Tables are views over their Parquet files, partition folders (`year=2024/`) read as columns."""
    connection = duckdb.connect()
    try:
        for name, tables in catalog.items():
            connection.execute(f"CREATE SCHEMA {_quoted(name)}")
            for table, location in tables.items():
                files = _literal(f"{folder_of(location)}/**/*.parquet")
                connection.execute(f"CREATE VIEW {_quoted(name)}.{_quoted(table)} AS "
                                   f"SELECT * FROM read_parquet({files}, hive_partitioning = true)")  # fmt: skip
        if database:
            connection.execute(f"SET search_path = {_literal(database)}")
        cursor = connection.execute(sql)
        description = cursor.description or []
        columns = tuple((str(column[0]), _athena_type(str(column[1]))) for column in description)
        return Result(columns, tuple(tuple(row) for row in cursor.fetchall()))
    finally:
        connection.close()


def _athena_type(duckdb_type: str) -> str:
    if duckdb_type.startswith("DECIMAL"):
        return duckdb_type.lower()
    return _ATHENA_TYPES.get(duckdb_type, duckdb_type.lower())


def _text(value: Any) -> dict[str, str]:
    """A value as Athena's GetQueryResults gives it: text, and {} for NULL."""
    return {} if value is None else {"VarCharValue": str(value)}


def result_set(result: Result) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(Rows, ColumnInfo) of GetQueryResults: the header row first, as Athena does for a SELECT."""
    header = {"Data": [{"VarCharValue": name} for name, _ in result.columns]}
    rows = [header, *({"Data": [_text(value) for value in row]} for row in result.rows)]
    info = [{"CatalogName": "hive", "Name": name, "Label": name, "Type": type_, "Nullable": "UNKNOWN"}
            for name, type_ in result.columns]  # fmt: skip
    return rows, info
