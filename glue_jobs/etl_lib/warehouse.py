"""Upserting gold tables into a JDBC warehouse (PostgreSQL; any database with MERGE, e.g. Redshift).

Each gold table is first written to its own staging table; then one transaction creates any
missing target table (with its key as primary key), adds the gold columns an existing target lacks
(a column added to the model; NULL in earlier rows), merges every staging table into its target,
deletes the target rows whose key the gold version no longer holds (gold is the whole current state:
a row quarantined since, or gone with a re-delivered file, leaves the warehouse too) and records
the loaded gold version. A failure anywhere rolls the whole transaction back, so the
warehouse shows the previous version or the new one, never a mix; a version already recorded is
not loaded again, so a retried run changes nothing. Each target table belongs to the dataset that
first loaded it (`etl_load_tables`): another dataset given the same schema is refused rather than
merged into it (two datasets' `dim_customer` keys are not the same customers).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from etl_lib import jdbc
from etl_lib.connections import JdbcEndpoint
from etl_lib.errors import database_error_line
from etl_lib.jdbc import quote_identifier as q

STATE_TABLE = "etl_load_state"
OWNER_TABLE = "etl_load_tables"


class WarehouseError(RuntimeError):
    """The warehouse load failed and was rolled back; one line naming the table."""


@dataclass(frozen=True)
class Upserted:
    inserted: int
    updated: int
    deleted: int


def tables_of_other_datasets(owners: Mapping[str, str], dataset: str, tables: Iterable[str]) -> list[str]:
    """`dim_customer (dataset retail)` for each of these tables another dataset loads (owners:
    table name -> the dataset that loads it)."""
    return sorted(f"{table} (dataset {owners[table]})" for table in tables if owners.get(table, dataset) != dataset)


def refuse_tables_of_other_datasets(where: str, dataset: str, taken: Sequence[str]) -> None:
    if taken:
        raise WarehouseError(
            f"{where} holds {', '.join(taken)}, loaded by another dataset: dataset {dataset} would merge its rows "
            "into them; give each dataset its own schema (--warehouse_schema, by default <dataset>_dw)"
        )


def staging_table(table: str, version: str) -> str:
    return f"stg_{table}_{hashlib.sha256(version.encode()).hexdigest()[:10]}"


def key_matches(key: Sequence[str], left: str, right: str) -> str:
    """The join condition on every key column: `left."k" = right."k" AND ...`."""
    return " AND ".join(f"{left}.{q(c)} = {right}.{q(c)}" for c in key)


def merge_sql(target: str, staging: str, columns: Sequence[str], key: Sequence[str]) -> str:
    """MERGE the staging rows into the target by key: changed rows are updated, new ones inserted."""
    on = key_matches(key, "t", "s")
    updates = ", ".join(f"{q(c)} = s.{q(c)}" for c in columns if c not in key)
    names = ", ".join(q(c) for c in columns)
    values = ", ".join(f"s.{q(c)}" for c in columns)
    matched = f" WHEN MATCHED THEN UPDATE SET {updates}" if updates else ""
    return (
        f"MERGE INTO {q(target)} AS t USING {q(staging)} AS s ON {on}{matched}"
        f" WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )


def removed_rows_sql(target: str, staging: str, key: Sequence[str]) -> str:
    """DELETE the target rows whose key the staging table (the whole gold version) does not hold.
    The target is named in full rather than aliased: Redshift's DELETE takes no alias."""
    on = key_matches(key, "s", q(target))
    return f"DELETE FROM {q(target)} WHERE NOT EXISTS (SELECT 1 FROM {q(staging)} AS s WHERE {on})"


def matched_rows_sql(target: str, staging: str, key: Sequence[str]) -> str:
    on = key_matches(key, "t", "s")
    return f"SELECT count(*) FROM {q(staging)} AS s JOIN {q(target)} AS t ON {on}"


def column_type_sql(data_type: str, length: str | None, precision: str | None, scale: str | None) -> str:
    """A column's type as information_schema describes it, as DDL (`numeric(12,2)`, `varchar(40)`)."""
    if data_type.lower() in ("numeric", "decimal") and precision is not None:
        return f"{data_type}({precision},{scale or 0})"
    if data_type.lower() in ("character varying", "varchar", "character", "char") and length is not None:
        return f"{data_type}({length})"
    return data_type


def added_columns_sql(target: str, staging: Sequence[tuple[str, str]], existing: Collection[str]) -> list[str]:
    """ALTER TABLE statements adding the staging table's columns (name, DDL type) the target lacks:
    a gold column added to the model reaches an existing warehouse table, NULL in the rows before it."""
    present = {name.lower() for name in existing}
    return [f"ALTER TABLE {q(target)} ADD COLUMN {q(name)} {kind}" for name, kind in staging
            if name.lower() not in present]  # fmt: skip


def _columns(connection: object, schema: str, table: str) -> list[tuple[str, str]]:
    sql = (
        "SELECT column_name, data_type, character_maximum_length, numeric_precision, numeric_scale FROM "
        "information_schema.columns WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position"
    )
    return [(str(name), column_type_sql(str(kind), length, precision, scale))
            for name, kind, length, precision, scale in jdbc.query_rows(connection, sql, (schema, table))]  # fmt: skip


def _table_exists(connection: object, schema: str, table: str) -> bool:
    sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = ? AND table_name = ?"
    return bool(jdbc.query_rows(connection, sql, (schema, table)))


def table_owners(connection: object, schema: str) -> dict[str, str]:
    """Table name -> the dataset that loads it into this schema (the record created when missing)."""
    owner_table = f"{q(schema)}.{OWNER_TABLE}"
    jdbc.execute(connection, f"CREATE TABLE IF NOT EXISTS {owner_table}"
                             " (table_name VARCHAR(128) PRIMARY KEY, dataset VARCHAR(128) NOT NULL)")  # fmt: skip
    rows = jdbc.query_rows(connection, f"SELECT table_name, dataset FROM {owner_table}")
    return {str(table): str(owner) for table, owner in rows}


def loaded_version(connection: object, schema: str, dataset: str) -> str | None:
    if not _table_exists(connection, schema, STATE_TABLE):
        return None
    rows = jdbc.query_rows(connection, f"SELECT version FROM {q(schema)}.{STATE_TABLE} WHERE dataset = ?", (dataset,))
    return rows[0][0] if rows else None


def _write_staging(frame: DataFrame, endpoint: JdbcEndpoint, qualified: str) -> None:
    (
        frame.write.format("jdbc")
        .options(**jdbc.connection_options(endpoint))
        .option("dbtable", qualified)
        .option("batchsize", "10000")
        .mode("overwrite")
        .save()
    )


def _merge_all(
    connection: object,
    schema: str,
    tables: Mapping[str, tuple[DataFrame, tuple[str, ...]]],
    staging: Mapping[str, str],
    dataset: str,
    version: str,
    unclaimed: Collection[str],
) -> dict[str, Upserted]:
    """One transaction: the dataset's claim on the tables no dataset loaded yet (unclaimed), every
    merge with its deletions and the version record."""
    results = {}
    for name, (frame, key) in tables.items():
        target, source = f"{schema}.{name}", f"{schema}.{staging[name]}"
        if name in unclaimed:
            jdbc.execute(connection, f"INSERT INTO {q(schema)}.{OWNER_TABLE} (table_name, dataset) VALUES (?, ?)",
                         (name, dataset))  # fmt: skip
        if not _table_exists(connection, schema, name):
            jdbc.execute(connection, f"CREATE TABLE {q(target)} AS SELECT * FROM {q(source)} WHERE 1 = 0")
            jdbc.execute(connection, f"ALTER TABLE {q(target)} ADD PRIMARY KEY ({', '.join(q(c) for c in key)})")
        else:  # a table created from an earlier version may lack columns added to gold since
            existing = [column for column, _ in _columns(connection, schema, name)]
            for statement in added_columns_sql(target, _columns(connection, schema, staging[name]), existing):
                jdbc.execute(connection, statement)
        matched = int(jdbc.query_rows(connection, matched_rows_sql(target, source, key))[0][0] or 0)
        try:
            changed = jdbc.execute(connection, merge_sql(target, source, frame.columns, key))
        except Exception as error:
            raise WarehouseError(f"merging {name} into {schema}: {database_error_line(error)}") from error
        deleted = jdbc.execute(connection, removed_rows_sql(target, source, key))
        results[name] = Upserted(inserted=changed - matched, updated=matched, deleted=deleted)
    jdbc.execute(
        connection,
        f"CREATE TABLE IF NOT EXISTS {q(schema)}.{STATE_TABLE}"
        " (dataset VARCHAR(128) PRIMARY KEY, version VARCHAR(128) NOT NULL, loaded_at TIMESTAMP NOT NULL)",
    )
    jdbc.execute(connection, f"DELETE FROM {q(schema)}.{STATE_TABLE} WHERE dataset = ?", (dataset,))
    jdbc.execute(
        connection,
        f"INSERT INTO {q(schema)}.{STATE_TABLE} (dataset, version, loaded_at) VALUES (?, ?, CURRENT_TIMESTAMP)",
        (dataset, version),
    )
    return results


def upsert(
    spark: SparkSession,
    endpoint: JdbcEndpoint,
    schema: str,
    dataset: str,
    version: str,
    tables: Mapping[str, tuple[DataFrame, tuple[str, ...]]],
) -> dict[str, Upserted] | None:
    """Loads the gold version's tables (frame and key by name); None when it is already loaded."""
    with jdbc.transaction(spark, endpoint) as connection:
        jdbc.execute(connection, f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
        if loaded_version(connection, schema, dataset) == version:
            return None
        owners = table_owners(connection, schema)
    # Before anything is staged: a load into another dataset's tables is refused, not merged.
    refuse_tables_of_other_datasets(f"warehouse schema {schema}", dataset,
                                    tables_of_other_datasets(owners, dataset, tables))  # fmt: skip
    unclaimed = [name for name in tables if name not in owners]
    staging = {name: staging_table(name, version) for name in tables}
    try:
        for name, (frame, _) in tables.items():
            _write_staging(frame, endpoint, f"{schema}.{staging[name]}")
        with jdbc.transaction(spark, endpoint) as connection:
            return _merge_all(connection, schema, tables, staging, dataset, version, unclaimed)
    except WarehouseError:
        raise
    except Exception as error:
        message = database_error_line(error)
        raise WarehouseError(f"loading {dataset} version {version} into {schema}: {message}") from error
    finally:
        drop_staging_tables(spark, endpoint, schema, staging.values())


def drop_staging_tables(spark: SparkSession, endpoint: JdbcEndpoint, schema: str, names: Iterable[str]) -> None:
    """Best effort: a staging table left behind changes nothing (the same version's load replaces
    it), and a failure here must not hide the error that ended the load."""
    try:
        with jdbc.transaction(spark, endpoint) as connection:
            for name in names:
                jdbc.execute(connection, f"DROP TABLE IF EXISTS {q(schema)}.{q(name)}")
    except Exception as error:  # noqa: BLE001 - reported in the job log, never raised over the real error
        print(f"warning: could not drop staging tables in {schema}: {database_error_line(error)}", file=sys.stderr)
