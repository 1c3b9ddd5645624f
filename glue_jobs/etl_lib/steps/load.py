"""The load step: upsert the newest gold version into the warehouse (when configured), publish it
to the catalog (Glue or the lake's file), then commit the run's JDBC watermarks.

The warehouse goes first: if it fails, nothing is published anywhere and the watermarks stay
where they were, so the next run reads the same database rows again."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from etl_lib import layout, snowflake, storage, warehouse, watermarks
from etl_lib.args import JobArgs
from etl_lib.catalog import Catalog, FileCatalog, GlueCatalog, GoldTableVersion, Partition
from etl_lib.connections import SnowflakeAccount, resolve_warehouse
from etl_lib.datasets import get_dataset
from etl_lib.datasets.base import Dataset
from etl_lib.summary import RunSummary, TableCounts, new_summary


def read_manifests(spark: SparkSession, lake: str, dataset: str) -> list[dict[str, Any]]:
    manifests = []
    for info in storage.list_files(spark, layout.gold_manifest_dir(lake, dataset)):
        text = storage.read_text(spark, info.path)
        if text:
            manifests.append(json.loads(text))
    return manifests


def manifest_order(manifest: Mapping[str, Any]) -> tuple[str, str]:
    return str(manifest["created_at"]), str(manifest["version"])


def versions_to_keep(manifests: Sequence[Mapping[str, Any]], published: Mapping[str, Any], previous: str) -> set[str]:
    """The version being published, the one before it (queries may still read it), and every
    version written after it (a run whose load has not come yet: its version must survive)."""
    newer = {str(m["version"]) for m in manifests if manifest_order(m) > manifest_order(published)}
    return {str(published["version"]), previous, *newer}


def list_partitions(spark: SparkSession, location: str, keys: Sequence[str]) -> list[Partition]:
    found: list[Partition] = []

    def walk(path: str, depth: int, values: tuple[str, ...]) -> None:
        if depth == len(keys):
            found.append(Partition(values=values, location=path))
            return
        prefix = f"{keys[depth]}="
        for name in storage.list_directories(spark, path):
            if name.startswith(prefix):
                walk(f"{path}/{name}", depth + 1, (*values, name[len(prefix) :]))

    walk(location, 0, ())
    return found


def read_gold(spark: SparkSession, entry: Mapping[str, object]) -> DataFrame:
    """A gold table of a version, read with the schema transform wrote it in (its manifest entry
    holds it): no Spark job reads the files' footers for it. A manifest of an earlier release names
    no schema: the footers say it then."""
    location = str(entry["location"])
    if "schema" not in entry:
        return spark.read.parquet(location)
    return spark.read.schema(StructType.fromJson(entry["schema"])).parquet(location)  # type: ignore[arg-type]


def describe_gold_table(spark: SparkSession, name: str, version: str, entry: Mapping[str, object]) -> GoldTableVersion:
    location = str(entry["location"])
    keys = [str(key) for key in entry["partition_by"]]  # type: ignore[attr-defined]
    schema = read_gold(spark, entry).schema
    types = {field.name: field.dataType.simpleString() for field in schema.fields}
    return GoldTableVersion(
        name=name,
        version=version,
        location=location,
        columns=tuple((n, t) for n, t in types.items() if n not in keys),
        partition_keys=tuple((key, types[key]) for key in keys),
        partitions=tuple(list_partitions(spark, location, keys)),
        rows=int(entry["rows"]),  # type: ignore[call-overload]
    )


def make_catalog(spark: SparkSession, args: JobArgs) -> Catalog:
    if args.catalog_database:
        return GlueCatalog(args.catalog_database)
    return FileCatalog(
        lambda path: storage.read_text(spark, path),
        lambda path, text: storage.write_text(spark, path, text),
        layout.catalog_file_path(args.lake_path, args.dataset),
    )


def remove_old_versions(spark: SparkSession, args: JobArgs, table: str, keep: Collection[str]) -> None:
    root = layout.gold_table_root(args.lake_path, args.dataset, table)
    versions = [name for name in storage.list_directories(spark, root) if name.startswith("version=")]
    for name in versions:
        if name.removeprefix("version=") not in keep:
            storage.delete(spark, f"{root}/{name}")


def partition_values(folder: str) -> tuple[tuple[str, str], ...]:
    """order_year=1996/order_month=3 -> (("order_year", "1996"), ("order_month", "3"))."""
    pairs = (part.partition("=") for part in folder.split("/") if "=" in part)
    return tuple((column, value) for column, _, value in pairs)


def gold_export(
    spark: SparkSession, name: str, entry: Mapping[str, object], key: tuple[str, ...]
) -> snowflake.GoldExport:
    """A gold table as Snowflake's stage on the lake root sees it: its folder, columns and files."""
    location = str(entry["location"])
    frame = read_gold(spark, entry)
    version_folder = "/" + location.rstrip("/").rsplit("/", 1)[-1] + "/"  # version=<v>
    by_folder: dict[str, list[str]] = {}
    for info in storage.list_files(spark, location):
        folder, _, file = info.uri.split(version_folder, 1)[1].rpartition("/")
        by_folder.setdefault(folder, []).append(file)
    folders = tuple(snowflake.GoldFolder(partition_values(f), tuple(files)) for f, files in sorted(by_folder.items()))
    columns = tuple((field.name, field.dataType.simpleString()) for field in frame.schema.fields)
    path = "/".join(location.rstrip("/").split("/")[-4:])  # gold/<dataset>/<table>/version=<v>
    return snowflake.GoldExport(name, path, columns, key, folders)


def load_warehouse(
    spark: SparkSession, args: JobArgs, dataset: Dataset, version: str, entries: Mapping[str, Mapping[str, object]]
) -> tuple[bool, str]:
    """Upserts the gold tables that declare a key; returns whether it loaded, and what happened."""
    assert args.warehouse_secret is not None
    schema = args.warehouse_schema or f"{dataset.name}_dw"
    keyed = [gold for gold in dataset.warehouse_tables if gold.name in entries]
    target = resolve_warehouse(args.warehouse_secret)
    if isinstance(target, SnowflakeAccount):
        exports = [gold_export(spark, gold.name, entries[gold.name], gold.key) for gold in keyed]
        upserted = snowflake.upsert(target, schema, dataset.name, version, exports)
        where = f"Snowflake schema {target.database}.{schema.upper()}"
    else:
        tables = {gold.name: (read_gold(spark, entries[gold.name]), gold.key) for gold in keyed}
        upserted = warehouse.upsert(spark, target, schema, dataset.name, version, tables)
        where = f"warehouse schema {schema}"
    if upserted is None:
        return False, f"{where} already has version {version}"
    changes = ", ".join(f"{name} +{u.inserted}/~{u.updated}/-{u.deleted}" for name, u in upserted.items())
    return True, f"upserted {len(upserted)} table(s) into {where} (inserted/updated/deleted: {changes})"


def commit_watermarks(spark: SparkSession, args: JobArgs) -> bool:
    """Commits the watermarks this run's extract read up to (if it read a database); True if it did."""
    pending_path = layout.pending_watermarks_path(args.lake_path, args.dataset, args.run_id)
    pending = watermarks.parse(storage.read_text(spark, pending_path))
    if not pending:
        return False
    committed_path = layout.watermarks_path(args.lake_path, args.dataset)
    committed = watermarks.parse(storage.read_text(spark, committed_path))
    storage.write_text(spark, committed_path, watermarks.render(watermarks.committed_with(committed, pending)))
    storage.delete(spark, pending_path)
    return True


def run_load(
    spark: SparkSession, args: JobArgs, catalog: Catalog | None = None, now: datetime | None = None
) -> RunSummary:
    dataset = get_dataset(args.dataset)
    summary = new_summary("load", args.dataset, args.run_id, args.job_run_id, now)
    catalog = catalog or make_catalog(spark, args)
    manifests = read_manifests(spark, args.lake_path, args.dataset)
    manifest = max(manifests, key=manifest_order, default=None)
    if manifest is None:
        commit_watermarks(spark, args)
        summary.finish("nothing_to_publish", "no gold version has been written yet")
        return summary
    version = str(manifest["version"])
    entries: Mapping[str, Mapping[str, object]] = manifest["tables"]  # type: ignore[assignment]
    messages = []
    loaded = False
    if args.warehouse_secret and dataset.warehouse_tables:
        loaded, summary.outputs["warehouse"] = load_warehouse(spark, args, dataset, version, entries)
        messages.append(summary.outputs["warehouse"])
    current = catalog.current_versions(args.dataset)
    if all(current.get(name) == version for name in entries):
        messages.append(f"gold version {version} is already the published one")
    else:
        tables = [describe_gold_table(spark, name, version, entry) for name, entry in entries.items()]
        catalog.publish(args.dataset, tables)
        for table in tables:
            summary.tables[table.name] = TableCounts(
                rows_read=table.rows, rows_written=table.rows, output_path=table.location
            )
            keep = versions_to_keep(manifests, manifest, current.get(table.name, version))
            remove_old_versions(spark, args, table.name, keep)
        summary.check_accounting()
        where = f"Glue database {args.catalog_database}" if args.catalog_database else "the lake's catalog file"
        messages.append(f"published gold version {version} ({len(tables)} tables) to {where}")
    if commit_watermarks(spark, args):
        messages.append("database watermarks committed")
    summary.finish("succeeded" if loaded or summary.tables else "already_published", "; ".join(messages))
    return summary
