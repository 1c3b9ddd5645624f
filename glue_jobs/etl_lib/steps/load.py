"""The load step: publish the newest gold version to the catalog (Glue or the lake's file)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from pyspark.sql import SparkSession

from etl_lib import layout, storage
from etl_lib.args import JobArgs
from etl_lib.catalog import Catalog, FileCatalog, GlueCatalog, GoldTableVersion, Partition
from etl_lib.datasets import get_dataset
from etl_lib.summary import RunSummary, TableCounts, new_summary


def latest_manifest(spark: SparkSession, lake: str, dataset: str) -> dict[str, object] | None:
    directory = layout.gold_manifest_dir(lake, dataset)
    manifests = []
    for info in storage.list_files(spark, directory):
        text = storage.read_text(spark, info.path)
        if text:
            manifests.append(json.loads(text))
    return max(manifests, key=lambda m: (str(m["created_at"]), str(m["version"])), default=None)


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


def describe_gold_table(spark: SparkSession, name: str, version: str, entry: Mapping[str, object]) -> GoldTableVersion:
    location = str(entry["location"])
    keys = [str(key) for key in entry["partition_by"]]  # type: ignore[attr-defined]
    schema = spark.read.parquet(location).schema
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


def remove_old_versions(spark: SparkSession, args: JobArgs, table: str, keep: set[str]) -> None:
    root = layout.gold_table_root(args.lake_path, args.dataset, table)
    versions = [name for name in storage.list_directories(spark, root) if name.startswith("version=")]
    for name in versions:
        if name.removeprefix("version=") not in keep:
            storage.delete(spark, f"{root}/{name}")


def run_load(
    spark: SparkSession, args: JobArgs, catalog: Catalog | None = None, now: datetime | None = None
) -> RunSummary:
    get_dataset(args.dataset)
    summary = new_summary("load", args.dataset, args.run_id, args.job_run_id, now)
    catalog = catalog or make_catalog(spark, args)
    manifest = latest_manifest(spark, args.lake_path, args.dataset)
    if manifest is None:
        summary.finish("nothing_to_publish", "no gold version has been written yet")
        return summary
    version = str(manifest["version"])
    entries: Mapping[str, Mapping[str, object]] = manifest["tables"]  # type: ignore[assignment]
    current = catalog.current_versions(args.dataset)
    if all(current.get(name) == version for name in entries):
        summary.finish("already_published", f"gold version {version} is already the published one")
        return summary
    tables = [describe_gold_table(spark, name, version, entry) for name, entry in entries.items()]
    catalog.publish(args.dataset, tables)
    for table in tables:
        summary.tables[table.name] = TableCounts(
            rows_read=table.rows, rows_written=table.rows, output_path=table.location
        )
        remove_old_versions(spark, args, table.name, {version, current.get(table.name, version)})
    summary.check_accounting()
    where = f"Glue database {args.catalog_database}" if args.catalog_database else "the lake's catalog file"
    summary.finish("succeeded", f"published gold version {version} ({len(tables)} tables) to {where}")
    return summary
