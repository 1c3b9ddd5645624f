"""Upserting a published gold version into Snowflake.

The lake is an external stage (its URL the lake root, through a storage integration), so nothing is
copied out of the job: each warehouse table is loaded into a staging table with `COPY INTO ... FROM
@stage/gold/<dataset>/<table>/version=<v>/` (Parquet, matched by column name; a partitioned table one
partition folder at a time, its partition values set from the folder names). Then one transaction
upserts every staging table into its target by key, deletes the target rows whose key the gold
version no longer holds (gold is the whole current state) and records the loaded version in
`ETL_LOAD_STATE`: a failure rolls all of it back (the targets keep the previous version), a version
already recorded is not loaded again. Staging tables are dropped at the end, whatever happened.

The upsert is `DELETE ... USING staging` then `INSERT ... SELECT` inside that transaction: the same
result as a MERGE on the key for whole-row upserts, and it stays in one transaction on the emulator
too, whose MERGE commits on its own (it creates a helper table). Snowflake DDL commits implicitly, so
every CREATE, and the ALTER adding a gold column an existing target lacks, runs before BEGIN.
"""

from __future__ import annotations

import hashlib
import re
import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from etl_lib.connections import SnowflakeAccount
from etl_lib.warehouse import Upserted, WarehouseError, refuse_tables_of_other_datasets, tables_of_other_datasets

STATE_TABLE = "ETL_LOAD_STATE"
STATE_COLUMNS = "(DATASET VARCHAR PRIMARY KEY, VERSION VARCHAR NOT NULL, LOADED_AT TIMESTAMP_NTZ)"
OWNER_TABLE = "ETL_LOAD_TABLES"  # which dataset loads each table (see warehouse.py)
OWNER_COLUMNS = "(TABLE_NAME VARCHAR PRIMARY KEY, DATASET VARCHAR NOT NULL)"
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"  # how Spark names the folder of a NULL partition value
TYPES = {"int": "INTEGER", "bigint": "BIGINT", "smallint": "SMALLINT", "tinyint": "TINYINT", "string": "VARCHAR",
         "date": "DATE", "timestamp": "TIMESTAMP_NTZ", "boolean": "BOOLEAN", "double": "DOUBLE",
         "float": "FLOAT"}  # fmt: skip


@dataclass(frozen=True)
class GoldFolder:
    """A folder of a gold table's files: its partition values ((column, value) pairs) and file names."""

    values: tuple[tuple[str, str], ...]
    files: tuple[str, ...]


@dataclass(frozen=True)
class GoldExport:
    """A gold table of the version, as the stage sees it."""

    name: str
    path: str  # below the stage: gold/<dataset>/<table>/version=<v>
    columns: tuple[tuple[str, str], ...]  # (name, Spark type) in table order, partition columns included
    key: tuple[str, ...]
    folders: tuple[GoldFolder, ...]


def identifier(name: str) -> str:
    """A plain identifier (Snowflake folds it to upper case); anything else is refused, never quoted in."""
    if not IDENTIFIER.match(name):
        raise WarehouseError(f"{name!r} is not a plain identifier for Snowflake")
    return name.upper()


def column_type(spark_type: str) -> str:
    decimal = re.fullmatch(r"decimal\((\d+),(\d+)\)", spark_type)
    if decimal:
        return f"NUMBER({decimal.group(1)},{decimal.group(2)})"
    if spark_type not in TYPES:
        raise WarehouseError(f"Spark type {spark_type} has no Snowflake column type here")
    return TYPES[spark_type]


def staging_table(table: str, version: str) -> str:
    return f"STG_{identifier(table)}_{hashlib.sha256(version.encode()).hexdigest()[:10].upper()}"


def create_table_sql(qualified: str, columns: Sequence[tuple[str, str]]) -> str:
    body = ", ".join(f"{identifier(name)} {column_type(kind)}" for name, kind in columns)
    return f"CREATE TABLE IF NOT EXISTS {qualified} ({body})"


def added_columns_sql(target: str, columns: Sequence[tuple[str, str]], existing: Collection[str]) -> list[str]:
    """ALTER TABLE statements adding the gold columns (name, Spark type) the target lacks: a column
    added to the model reaches an existing table, NULL in the rows loaded before it."""
    present = {name.upper() for name in existing}
    return [f"ALTER TABLE {target} ADD COLUMN {identifier(name)} {column_type(kind)}" for name, kind in columns
            if identifier(name) not in present]  # fmt: skip


def _existing_columns(cursor: Any, schema: str, table: str) -> list[str]:
    database, schema_name = schema.split(".")
    cursor.execute(f"SELECT COLUMN_NAME FROM {database}.INFORMATION_SCHEMA.COLUMNS "
                   "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s", (schema_name, identifier(table)))  # fmt: skip
    return [str(row[0]) for row in cursor.fetchall()]


COPY_FILES_AT_MOST = 1000  # Snowflake's limit on a COPY's FILES list


def copy_sql(staging: str, stage: str, folder: str, files: Sequence[str]) -> str:
    """The folder's named Parquet files (never `_SUCCESS` or other markers); FORCE: a staging table
    is new each time, and a retried load must read the files again."""
    if any("'" in name for name in (folder, *files)) or not re.fullmatch(r"[A-Za-z0-9_.$]+", stage):
        raise WarehouseError(f"unexpected stage {stage!r} or file names in {folder!r}")
    names = ", ".join(f"'{name}'" for name in files)
    return (f"COPY INTO {staging} FROM @{stage}/{folder}/ FILES = ({names}) FILE_FORMAT = (TYPE = PARQUET) "
            "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE")  # fmt: skip


def _literal(value: str, spark_type: str) -> str:
    if spark_type in ("int", "bigint", "smallint", "tinyint") and re.fullmatch(r"-?\d+", value):
        return value
    return "'" + value.replace("'", "''") + "'"


def partition_sql(staging: str, values: Sequence[tuple[str, str]], types: Mapping[str, str]) -> list[str]:
    """The folder's partition values, which Parquet files do not hold, for the rows just copied."""
    return [f"UPDATE {staging} SET {identifier(column)} = {_literal(value, types[column])} "
            f"WHERE {identifier(column)} IS NULL"
            for column, value in values if value != NULL_PARTITION]  # fmt: skip


def key_matches(key: Sequence[str], left: str, right: str) -> str:
    """The join condition on every key column: `left.K = right.K AND ...`."""
    return " AND ".join(f"{left}.{identifier(c)} = {right}.{identifier(c)}" for c in key)


def upsert_sql(target: str, staging: str, columns: Sequence[str], key: Sequence[str]) -> list[str]:
    """The rows gold no longer holds deleted, then the staged rows replacing theirs by key."""
    on = key_matches(key, target, staging)
    names = ", ".join(identifier(c) for c in columns)
    return [f"DELETE FROM {target} WHERE NOT EXISTS (SELECT 1 FROM {staging} WHERE {on})",
            f"DELETE FROM {target} USING {staging} WHERE {on}",
            f"INSERT INTO {target} ({names}) SELECT {names} FROM {staging}"]  # fmt: skip


def matched_sql(target: str, staging: str, key: Sequence[str]) -> str:
    on = key_matches(key, "t", "s")
    return f"SELECT count(*) FROM {staging} AS s JOIN {target} AS t ON {on}"


def _private_key(account: SnowflakeAccount) -> bytes:
    from cryptography.hazmat.primitives import serialization

    passphrase = account.private_key_passphrase.encode() if account.private_key_passphrase else None
    key = serialization.load_pem_private_key(account.private_key.encode(), password=passphrase)
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


@contextmanager
def connect(account: SnowflakeAccount, query_tag: str) -> Iterator[Any]:
    import snowflake.connector

    connection = snowflake.connector.connect(
        account=account.account, user=account.user, private_key=_private_key(account),
        warehouse=account.warehouse, database=account.database, role=account.role,
        session_parameters={"QUERY_TAG": query_tag}, **account.address,
    )  # fmt: skip
    try:
        yield connection.cursor()
    finally:
        connection.close()


def _one_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def loaded_version(cursor: Any, schema: str, dataset: str) -> str | None:
    cursor.execute(f"SELECT VERSION FROM {schema}.{STATE_TABLE} WHERE DATASET = %s", (dataset,))
    row = cursor.fetchone()
    return str(row[0]) if row else None


def _stage_tables(cursor: Any, account: SnowflakeAccount, schema: str, exports: Sequence[GoldExport],
                  staging: Mapping[str, str]) -> dict[str, int]:  # fmt: skip
    """Creates missing targets and fills the staging tables; returns the rows each will update."""
    matched = {}
    for export in exports:
        target, stage_table = f"{schema}.{identifier(export.name)}", f"{schema}.{staging[export.name]}"
        types = dict(export.columns)
        cursor.execute(create_table_sql(target, export.columns))
        for statement in added_columns_sql(target, export.columns, _existing_columns(cursor, schema, export.name)):
            cursor.execute(statement)
        cursor.execute(f"CREATE OR REPLACE TABLE {stage_table} LIKE {target}")
        for folder in export.folders:
            path = "/".join([export.path, *(f"{column}={value}" for column, value in folder.values)])
            for start in range(0, len(folder.files), COPY_FILES_AT_MOST):
                cursor.execute(
                    copy_sql(stage_table, account.stage, path, folder.files[start : start + COPY_FILES_AT_MOST])
                )
            for statement in partition_sql(stage_table, folder.values, types):
                cursor.execute(statement)
        cursor.execute(matched_sql(target, stage_table, export.key))
        matched[export.name] = int(cursor.fetchone()[0])
    return matched


def _apply(cursor: Any, schema: str, exports: Sequence[GoldExport], staging: Mapping[str, str],
           loaded: tuple[str, str], unclaimed: Sequence[str]) -> dict[str, tuple[int, int]]:  # fmt: skip
    """One transaction: every upsert, the version record (loaded: dataset and version) and the
    dataset's claim on the tables no dataset loaded yet, or none of them. Returns, by table, the
    rows inserted (new and replaced) and the rows deleted."""
    dataset, version = loaded
    changed = {}
    cursor.execute("BEGIN")
    try:
        for name in unclaimed:
            cursor.execute(f"INSERT INTO {schema}.{OWNER_TABLE} (TABLE_NAME, DATASET) VALUES (%s, %s)", (name, dataset))
        for export in exports:
            target, stage_table = f"{schema}.{identifier(export.name)}", f"{schema}.{staging[export.name]}"
            removed, replaced, insert = upsert_sql(target, stage_table, [n for n, _ in export.columns], export.key)
            cursor.execute(removed)
            deleted = int(cursor.rowcount or 0)
            cursor.execute(replaced)
            cursor.execute(insert)
            changed[export.name] = (int(cursor.rowcount or 0), deleted)
        cursor.execute(f"DELETE FROM {schema}.{STATE_TABLE} WHERE DATASET = %s", (dataset,))
        cursor.execute(f"INSERT INTO {schema}.{STATE_TABLE} (DATASET, VERSION, LOADED_AT) "
                       "VALUES (%s, %s, CURRENT_TIMESTAMP())", (dataset, version))  # fmt: skip
        cursor.execute("COMMIT")
    except Exception:
        cursor.execute("ROLLBACK")
        raise
    return changed


def upsert(
    account: SnowflakeAccount, schema_name: str, dataset: str, version: str, exports: Sequence[GoldExport]
) -> dict[str, Upserted] | None:
    """Loads the gold version's tables; None when the schema already has this version."""
    import snowflake.connector

    schema = f"{identifier(account.database)}.{identifier(schema_name)}"
    staging = {export.name: staging_table(export.name, version) for export in exports}
    with connect(account, f"glue-etl load {dataset} {version}") as cursor:
        try:
            cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{STATE_TABLE} {STATE_COLUMNS}")
            if loaded_version(cursor, schema, dataset) == version:
                return None
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {schema}.{OWNER_TABLE} {OWNER_COLUMNS}")
            cursor.execute(f"SELECT TABLE_NAME, DATASET FROM {schema}.{OWNER_TABLE}")
            owners = {str(table): str(owner) for table, owner in cursor.fetchall()}
            names = [export.name for export in exports]
            refuse_tables_of_other_datasets(f"Snowflake schema {schema}", dataset,
                                            tables_of_other_datasets(owners, dataset, names))  # fmt: skip
            matched = _stage_tables(cursor, account, schema, exports, staging)
            unclaimed = [name for name in names if name not in owners]
            changed = _apply(cursor, schema, exports, staging, (dataset, version), unclaimed)
        except snowflake.connector.Error as error:
            raise WarehouseError(
                f"loading {dataset} version {version} into Snowflake {schema}: {_one_line(error)}"
            ) from None
        finally:
            _drop_staging(cursor, schema, staging.values())
    return {
        name: Upserted(inserted=written - matched[name], updated=matched[name], deleted=deleted)
        for name, (written, deleted) in changed.items()
    }


def _drop_staging(cursor: Any, schema: str, names: Sequence[str] | Any) -> None:
    """Best effort: a staging table left behind changes nothing, and must not hide the real error."""
    for name in names:
        try:
            cursor.execute(f"DROP TABLE IF EXISTS {schema}.{name}")
        except Exception as error:  # noqa: BLE001 - reported, never raised over the real error
            print(f"warning: could not drop staging table {schema}.{name}: {_one_line(error)}", file=sys.stderr)
