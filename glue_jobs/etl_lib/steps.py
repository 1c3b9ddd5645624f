"""The three jobs' steps: extract, transform and load, wired from the pure functions.

Each step takes a SparkSession and JobArgs, does its I/O through `storage`, and returns a
RunSummary. Nothing here knows whether it runs on Glue or locally.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from etl_lib import layout, ledger, parsing, quality, storage
from etl_lib.args import JobArgs
from etl_lib.catalog import Catalog, FileCatalog, GlueCatalog, GoldTableVersion, Partition
from etl_lib.datasets import get_dataset
from etl_lib.datasets.base import Dataset, Table
from etl_lib.summary import RunSummary, TableCounts, new_summary, summary_path

SOURCE_FILE = "_source_file"
FILE_ID = "_file_id"
INGESTED_AT = "_ingested_at"
RUN_ID = "_run_id"
METADATA = [SOURCE_FILE, INGESTED_AT, RUN_ID, FILE_ID]


class ExtractError(RuntimeError):
    """A landing file that cannot be used at all (for example a required column is missing)."""


# ---------------------------------------------------------------- shared helpers


def _rule_counts(df: DataFrame) -> dict[str, int]:
    return {row[quality.RULE]: int(row["count"]) for row in df.groupBy(quality.RULE).count().collect()}


def _count(spark: SparkSession, path: str, where: Column | None = None) -> int:
    df = storage.read_parquet(spark, path)
    if df is None:
        return 0
    return (df if where is None else df.where(where)).count()


def write_summary(spark: SparkSession, args: JobArgs, summary: RunSummary) -> str:
    path = summary_path(args.lake_path, args.dataset, args.run_id, args.job)
    storage.write_text(spark, path, summary.to_json())
    return path


# ---------------------------------------------------------------- extract


def parse_header(line: str, delimiter: str) -> tuple[str, ...]:
    fields = next(csv.reader([line.lstrip("\ufeff")], delimiter=delimiter), [])
    return tuple(field.strip() for field in fields)


def assign_files(
    files: Sequence[storage.FileInfo], tables: Sequence[Table]
) -> tuple[dict[str, list[storage.FileInfo]], list[str]]:
    """Landing files by table (first matching pattern wins), and the files no table claims."""
    by_table: dict[str, list[storage.FileInfo]] = defaultdict(list)
    unclaimed = []
    for info in files:
        table = next((t for t in tables if fnmatch.fnmatch(info.name, t.file_pattern)), None)
        if table is None:
            unclaimed.append(info.uri)
        else:
            by_table[table.name].append(info)
    return dict(by_table), unclaimed


def missing_required_columns(table: Table, header: Sequence[str]) -> list[str]:
    return [c.name for c in table.columns if not c.optional_in_source and c.name not in header]


def read_landing(spark: SparkSession, table: Table, files: Sequence[storage.FileInfo]) -> DataFrame:
    """The table's new landing files as strings, one column per declared column, plus metadata.

    Files are grouped by header, so columns are matched by name (a reordered or partial header
    is read correctly) and every record the CSV reader cannot split lands in _corrupt_record.
    """
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for info in files:
        header = parse_header(storage.read_first_line(spark, info.uri), table.delimiter)
        missing = missing_required_columns(table, header)
        if missing:
            raise ExtractError(f"{info.uri}: missing required column(s) {', '.join(missing)} for table {table.name}")
        groups[header].append(info.uri)
    frames = []
    for header, uris in groups.items():
        schema = StructType(
            [StructField(name, StringType()) for name in header] + [StructField(parsing.CORRUPT_RECORD, StringType())]
        )
        frame = (
            spark.read.schema(schema)
            .option("header", "true")
            .option("mode", "PERMISSIVE")
            .option("columnNameOfCorruptRecord", parsing.CORRUPT_RECORD)
            .option("multiLine", str(table.multiline).lower())
            .option("sep", table.delimiter)
            .option("quote", '"')
            .option("escape", '"')
            .csv(uris)
            .withColumn(SOURCE_FILE, F.input_file_name())
        )
        declared = [c.name for c in table.columns if c.name in header]
        frames.append(
            parsing.with_declared_columns(frame.select(*declared, parsing.CORRUPT_RECORD, SOURCE_FILE), table)
        )
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame)
    return combined.withColumn(FILE_ID, F.substring(F.sha2(F.col(SOURCE_FILE), 256), 1, 16))


def extract_table(
    spark: SparkSession, args: JobArgs, table: Table, files: Sequence[storage.FileInfo], ingested_at: datetime
) -> TableCounts:
    raw_path = layout.raw_path(args.lake_path, args.dataset, table.name)
    quarantine_path = layout.quarantine_path(args.lake_path, args.dataset, "extract", table.name)
    ids = [info.file_id for info in files]
    # A re-delivered or reprocessed file replaces everything it produced before.
    storage.delete_all(
        spark, [f"{path}/{FILE_ID}={file_id}" for path in (raw_path, quarantine_path) for file_id in ids]
    )

    strings = (
        read_landing(spark, table, files)
        .withColumn(INGESTED_AT, F.lit(ingested_at).cast("timestamp"))
        .withColumn(RUN_ID, F.lit(args.run_id))
    )
    valid, rejected = quality.split_by_checks(strings, parsing.parse_checks(table))
    storage.write_parquet(parsing.to_typed(valid, table, METADATA), raw_path, partition_by=[FILE_ID])
    storage.write_parquet(rejected, quarantine_path, partition_by=[FILE_ID])

    of_these_files = F.col(FILE_ID).isin(ids)
    quarantined = storage.read_parquet(spark, quarantine_path)
    return TableCounts(
        rows_read=strings.count(),
        rows_written=_count(spark, raw_path, of_these_files),
        rows_quarantined=_count(spark, quarantine_path, of_these_files),
        output_path=raw_path,
        quarantine_path=quarantine_path,
        quarantine_by_rule=_rule_counts(quarantined.where(of_these_files)) if quarantined is not None else {},
        files=[info.uri for info in files],
    )


def run_extract(spark: SparkSession, args: JobArgs, now: datetime | None = None) -> RunSummary:
    assert args.source_path is not None
    dataset = get_dataset(args.dataset)
    ingested_at = now or datetime.now(UTC)
    summary = new_summary("extract", args.dataset, args.run_id, args.job_run_id, ingested_at)
    ledger_path = layout.extract_ledger_path(args.lake_path, args.dataset)
    seen = ledger.parse_ledger(storage.read_text(spark, ledger_path))

    by_table, unclaimed = assign_files(storage.list_files(spark, args.source_path), dataset.tables)
    fresh = {name: ledger.new_files(files, seen, args.reprocess) for name, files in by_table.items()}
    fresh = {name: files for name, files in fresh.items() if files}
    notes = [f"{len(unclaimed)} landing file(s) match no table: {', '.join(unclaimed[:5])}"] if unclaimed else []
    if not fresh:
        summary.finish("no_new_files", "; ".join([f"no new landing files under {args.source_path}", *notes]))
        return summary

    for table in dataset.tables:
        if table.name in fresh:
            summary.tables[table.name] = extract_table(spark, args, table, fresh[table.name], ingested_at)
    summary.check_accounting()
    table_of = {info.uri: name for name, files in fresh.items() for info in files}
    processed = [info for files in fresh.values() for info in files]
    storage.write_text(spark, ledger_path, ledger.record_files(seen, processed, args.run_id, table_of))
    totals = summary.totals()
    summary.finish(
        "succeeded",
        "; ".join(
            [
                f"extracted {len(processed)} file(s): {totals['rows_written']} rows typed, "
                f"{totals['rows_quarantined']} quarantined",
                *notes,
            ]
        ),
    )
    return summary


# ---------------------------------------------------------------- transform


def prepare_silver(raw: DataFrame, table: Table) -> DataFrame:
    """Silver naming and derived columns; the extract-only file id is dropped."""
    renamed = raw.drop(FILE_ID).withColumnsRenamed(dict(table.renames)) if table.renames else raw.drop(FILE_ID)
    return table.derive(renamed) if table.derive else renamed


def row_checks(table: Table) -> list[quality.Check]:
    required = [quality.required_check(table.silver_name(c.name)) for c in table.columns if c.required]
    return [*required, *(quality.rule_check(rule) for rule in table.rules)]


def validate_table(
    prepared: DataFrame, table: Table, parents: Mapping[str, DataFrame | None]
) -> tuple[DataFrame, list[DataFrame]]:
    """(clean rows, quarantined frames): row rules, then deduplication, then foreign keys."""
    valid, broken = quality.split_by_checks(prepared, row_checks(table))
    kept, duplicates = quality.deduplicate(valid, table.key, [F.col(INGESTED_AT).desc(), F.col(SOURCE_FILE).desc()])
    quarantined = [broken, duplicates]
    for foreign_key in table.foreign_keys:
        parent = parents.get(foreign_key.parent_table)
        if parent is None:
            parent = kept.sparkSession.createDataFrame([], kept.select(*foreign_key.columns).schema).toDF(
                *foreign_key.parent_columns
            )
        kept, orphans = quality.check_foreign_key(kept, foreign_key, parent)
        quarantined.append(orphans)
    return kept, quarantined


def raw_fingerprint(spark: SparkSession, lake: str, dataset: Dataset) -> str:
    digest = hashlib.sha256()
    for table in dataset.tables:
        for info in storage.list_files(spark, layout.raw_path(lake, dataset.name, table.name)):
            digest.update(f"{info.uri}|{info.size}|{info.modified_ms}\n".encode())
    return digest.hexdigest()


def transform_table(
    spark: SparkSession, args: JobArgs, table: Table, parents: Mapping[str, DataFrame | None]
) -> tuple[TableCounts, DataFrame | None]:
    silver_path = layout.silver_path(args.lake_path, args.dataset, table.name)
    quarantine_path = layout.quarantine_path(args.lake_path, args.dataset, "transform", table.name)
    raw = storage.read_parquet(spark, layout.raw_path(args.lake_path, args.dataset, table.name))
    if raw is None:
        storage.delete_all(spark, [silver_path, quarantine_path])
        return TableCounts(), None
    kept, quarantined_frames = validate_table(prepare_silver(raw, table), table, parents)
    quarantined = quarantined_frames[0]
    for frame in quarantined_frames[1:]:
        quarantined = quarantined.unionByName(frame)
    storage.write_parquet(kept, silver_path)
    storage.write_parquet(quarantined.withColumn("_quarantined_by_run", F.lit(args.run_id)), quarantine_path)
    written = _count(spark, silver_path)
    counts = TableCounts(
        rows_read=raw.count(),
        rows_written=written,
        rows_quarantined=_count(spark, quarantine_path),
        output_path=silver_path if written else None,
        quarantine_path=quarantine_path,
        quarantine_by_rule=_rule_counts(spark.read.parquet(quarantine_path)) if _count(spark, quarantine_path) else {},
    )
    if not written:
        storage.delete(spark, silver_path)  # no usable rows: nothing is published downstream
        return counts, None
    return counts, spark.read.parquet(silver_path)


def write_gold(
    spark: SparkSession, args: JobArgs, dataset: Dataset, silver: Mapping[str, DataFrame], created_at: str
) -> dict[str, int]:
    frames = dataset.build_gold(silver)
    manifest_tables = {}
    rows = {}
    for gold in dataset.gold_tables:
        path = layout.gold_version_path(args.lake_path, args.dataset, gold.name, args.run_id)
        storage.write_parquet(frames[gold.name], path, partition_by=gold.partition_by)
        rows[gold.name] = _count(spark, path)
        manifest_tables[gold.name] = {
            "location": path,
            "partition_by": list(gold.partition_by),
            "rows": rows[gold.name],
        }
    manifest = {"version": args.run_id, "created_at": created_at, "tables": manifest_tables}
    manifest_path = f"{layout.gold_manifest_dir(args.lake_path, args.dataset)}/{args.run_id}.json"
    storage.write_text(spark, manifest_path, json.dumps(manifest, indent=2, sort_keys=True))
    return rows


def run_transform(spark: SparkSession, args: JobArgs, now: datetime | None = None) -> RunSummary:
    dataset = get_dataset(args.dataset)
    summary = new_summary("transform", args.dataset, args.run_id, args.job_run_id, now)
    state_path = layout.transform_state_path(args.lake_path, args.dataset)
    fingerprint = raw_fingerprint(spark, args.lake_path, dataset)
    previous = json.loads(storage.read_text(spark, state_path) or "{}")
    if not args.reprocess and previous.get("raw_fingerprint") == fingerprint:
        summary.finish("up_to_date", f"raw data unchanged since run {previous.get('run_id')}; nothing rewritten")
        return summary

    silver: dict[str, DataFrame | None] = {}
    for table in dataset.tables_in_dependency_order():
        counts, silver[table.name] = transform_table(spark, args, table, silver)
        summary.tables[table.name] = counts
    summary.check_accounting()

    empty = [name for name, frame in silver.items() if frame is None]
    totals = summary.totals()
    counted = f"{totals['rows_written']} clean rows, {totals['rows_quarantined']} quarantined"
    if empty:
        summary.finish("no_usable_rows", f"no usable rows in {', '.join(empty)}: gold not written ({counted})")
    else:
        usable = {name: frame for name, frame in silver.items() if frame is not None}
        summary.outputs = {
            f"gold.{name}": str(rows)
            for name, rows in write_gold(spark, args, dataset, usable, summary.started_at).items()
        }
        summary.finish("succeeded", f"{counted}; gold version {args.run_id} written")
    storage.write_text(spark, state_path, json.dumps({"raw_fingerprint": fingerprint, "run_id": args.run_id}))
    return summary


# ---------------------------------------------------------------- load


def latest_manifest(spark: SparkSession, lake: str, dataset: str) -> dict[str, object] | None:
    directory = layout.gold_manifest_dir(lake, dataset)
    manifests = []
    for info in storage.list_files(spark, directory):
        text = storage.read_text(spark, info.uri)
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
