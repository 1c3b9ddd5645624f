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
from datetime import UTC, date, datetime

from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from etl_lib import layout, ledger, parsing, quality, records, rules_config, storage
from etl_lib.args import JobArgs
from etl_lib.catalog import Catalog, FileCatalog, GlueCatalog, GoldTableVersion, Partition
from etl_lib.datasets import get_dataset
from etl_lib.datasets.base import FAIL, QUARANTINE, Dataset, MaxQuarantineRatio, MinRows, Table, TableRules
from etl_lib.report import (
    FAILED,
    PASSED,
    WARNED,
    DataQualityError,
    QualityReport,
    RuleResult,
    extract_results,
    render_markdown,
    row_rule_status,
)
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


def check_header(uri: str, table: Table, header: Sequence[str]) -> list[str]:
    """Fails on a header the file cannot be read with; returns the columns that will be ignored."""
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise ExtractError(f"{uri}: column(s) {', '.join(duplicated)} appear more than once in the header")
    missing = missing_required_columns(table, header)
    if missing:
        raise ExtractError(f"{uri}: missing required column(s) {', '.join(missing)} for table {table.name}")
    declared = {column.name for column in table.columns}
    return [name for name in header if name not in declared]


def read_landing(spark: SparkSession, table: Table, files: Sequence[storage.FileInfo]) -> tuple[DataFrame, list[str]]:
    """The table's new landing files as strings, one column per declared column, plus metadata,
    and notes about columns that were ignored.

    Files are grouped by header, so columns are matched by name (a reordered or partial header
    is read correctly) and every record the CSV reader cannot split lands in _corrupt_record.
    """
    groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
    notes = []
    for info in files:
        header = parse_header(storage.read_first_line(spark, info.path), table.delimiter)
        ignored = check_header(info.uri, table, header)
        if ignored:
            notes.append(f"{info.name}: undeclared column(s) {', '.join(ignored)} not loaded")
        groups[header].append(info.path)
    frames = []
    for header, paths in groups.items():
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
            .csv(paths)
            .withColumn(SOURCE_FILE, F.input_file_name())
        )
        declared = [c.name for c in table.columns if c.name in header]
        frames.append(
            parsing.with_declared_columns(frame.select(*declared, parsing.CORRUPT_RECORD, SOURCE_FILE), table)
        )
    combined = frames[0]
    for frame in frames[1:]:
        combined = combined.unionByName(frame)
    return combined.withColumn(FILE_ID, F.substring(F.sha2(F.col(SOURCE_FILE), 256), 1, 16)), notes


def _counts_by_file(spark: SparkSession, path: str, ids: Sequence[str]) -> dict[str, int]:
    df = storage.read_parquet(spark, path)
    if df is None:
        return {}
    rows = df.where(F.col(FILE_ID).isin(list(ids))).groupBy(FILE_ID).count().collect()
    return {row[FILE_ID]: int(row["count"]) for row in rows}


def extract_table(
    spark: SparkSession, args: JobArgs, table: Table, files: Sequence[storage.FileInfo], ingested_at: datetime
) -> TableCounts:
    raw_path = layout.raw_path(args.lake_path, args.dataset, table.name)
    quarantine_path = layout.quarantine_path(args.lake_path, args.dataset, "extract", table.name)
    ids = [info.file_id for info in files]
    outputs_of_these_files = [f"{path}/{FILE_ID}={file_id}" for path in (raw_path, quarantine_path) for file_id in ids]
    # A re-delivered or reprocessed file replaces everything it produced before.
    storage.delete_all(spark, outputs_of_these_files)
    non_empty = [info for info in files if info.size > 0]
    notes = [f"{info.name}: empty file, no records" for info in files if info.size == 0]
    if not non_empty:
        return TableCounts(files=[info.uri for info in files], notes=notes)

    strings, header_notes = read_landing(spark, table, non_empty)
    strings = strings.withColumn(INGESTED_AT, F.lit(ingested_at).cast("timestamp")).withColumn(
        RUN_ID, F.lit(args.run_id)
    )
    flagged = quality.flag_checks(parsing.with_typed_candidates(strings, table), parsing.parse_checks(table))
    # One pass over the CSV in the common case: the observation counts the rows that failed while
    # raw is written, and quarantine is only computed when there are any.
    observation = Observation(f"extract-{table.name}")
    observed = flagged.observe(observation, F.count(F.col(quality.RULE)).alias("failed"))
    typed = parsing.to_typed(quality.clean_rows(observed), table, METADATA)
    storage.write_parquet(typed, raw_path, partition_by=[FILE_ID])
    if observation.get["failed"]:
        rejected = quality.quarantined_rows(flagged)
        storage.write_parquet(
            rejected.select(*parsing.source_columns(rejected)), quarantine_path, partition_by=[FILE_ID]
        )

    physical = records.count_physical_records(
        spark, {info.uri: info.path for info in non_empty}, table.multiline, table.delimiter
    )
    written = _counts_by_file(spark, raw_path, ids)
    quarantined = _counts_by_file(spark, quarantine_path, ids)
    parsed = {info.uri: written.get(info.file_id, 0) + quarantined.get(info.file_id, 0) for info in non_empty}
    lost = records.mismatches(physical, parsed, [info.uri for info in non_empty])
    if lost:
        storage.delete_all(spark, outputs_of_these_files)
        raise ExtractError("records would be lost, nothing was kept: " + "; ".join(lost))
    blank = [f"{info.name}: {physical[info.uri].blank_lines} blank line(s) skipped" for info in non_empty
             if physical[info.uri].blank_lines]  # fmt: skip
    quarantine_df = storage.read_parquet(spark, quarantine_path)
    of_these_files = F.col(FILE_ID).isin(ids)
    return TableCounts(
        rows_read=sum(physical[info.uri].records for info in non_empty),
        rows_written=sum(written.values()),
        rows_quarantined=sum(quarantined.values()),
        output_path=raw_path,
        quarantine_path=quarantine_path,
        quarantine_by_rule=_rule_counts(quarantine_df.where(of_these_files)) if quarantine_df is not None else {},
        files=[info.uri for info in files],
        notes=[*notes, *header_notes, *blank],
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


def rule_severities(rules: TableRules) -> dict[str, str]:
    severities = {"duplicate_key": QUARANTINE}
    for rule in (*rules.rules, *rules.unique, *rules.foreign_keys):
        severities[rule.name] = rule.severity
    return severities


def validate_table(
    prepared: DataFrame, table: Table, rules: TableRules, parents: Mapping[str, DataFrame | None]
) -> DataFrame:
    """Every row with `_rule`/`_reason` (NULL when clean): row rules, the key, unique rules, then
    foreign keys. Deduplication (a sort of the whole table) only runs when a key repeats."""
    flagged = quality.flag_checks(prepared, [quality.rule_check(rule) for rule in rules.rules])
    newest_first = [F.col(column).desc() for column in rules.newest_first]
    for columns, rule in [(table.key, "duplicate_key"), *((u.columns, u.name) for u in rules.unique)]:
        if not quality.repeated_keys(prepared, columns).isEmpty():
            flagged = quality.flag_duplicates(flagged, columns, newest_first, rule)
    for foreign_key in rules.foreign_keys:
        parent = parents.get(foreign_key.parent_table)
        if parent is None:
            schema = prepared.select(*foreign_key.columns).schema
            parent = prepared.sparkSession.createDataFrame([], schema).toDF(*foreign_key.parent_columns)
        flagged = quality.flag_orphans(flagged, foreign_key, parent)
    return flagged


def raw_fingerprint(spark: SparkSession, lake: str, dataset: Dataset) -> str:
    digest = hashlib.sha256()
    for table in dataset.tables:
        for info in storage.list_files(spark, layout.raw_path(lake, dataset.name, table.name)):
            digest.update(f"{info.uri}|{info.size}|{info.modified_ms}\n".encode())
    return digest.hexdigest()


def quarantine_samples(quarantined: DataFrame, per_rule: int = 3) -> dict[str, tuple[str, ...]]:
    window = Window.partitionBy(quality.RULE).orderBy(quality.REASON)
    rows = (
        quarantined.select(quality.RULE, quality.REASON)
        .withColumn("_sample", F.row_number().over(window))
        .where(F.col("_sample") <= per_rule)
        .collect()
    )
    samples: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        samples[row[quality.RULE]].append(row[quality.REASON])
    return {rule: tuple(reasons) for rule, reasons in samples.items()}


def table_rule_results(
    table: Table, rules: TableRules, counts: TableCounts, silver: DataFrame | None, run_date: date
) -> list[RuleResult]:
    results = []
    for rule in rules.table_rules:
        if isinstance(rule, MinRows):
            broken = counts.rows_written < rule.value
            detail = f"{counts.rows_written:,} clean rows, at least {rule.value:,} expected"
        elif isinstance(rule, MaxQuarantineRatio):
            ratio = counts.rows_quarantined / counts.rows_read if counts.rows_read else 0.0
            broken = ratio > rule.value
            detail = f"{ratio:.2%} of {counts.rows_read:,} rows quarantined, at most {rule.value:.2%} allowed"
        else:
            newest = silver.agg(F.max(rule.column)).collect()[0][0] if silver is not None else None
            age = (run_date - newest).days if isinstance(newest, date) else None
            broken = age is None or age > rule.max_age_days
            limit = f"at most {rule.max_age_days:,} allowed"
            detail = (
                f"no {rule.column} value"
                if age is None
                else f"newest {rule.column} {newest} is {age:,} days old, {limit}"
            )
        status = (FAILED if rule.severity == FAIL else WARNED) if broken else PASSED
        results.append(RuleResult(table.name, rule.name, "transform", rule.severity, 1, int(broken), status, detail))
    return results


def _write_checked(
    spark: SparkSession,
    flagged: DataFrame,
    rule_names: Sequence[str],
    silver_path: str,
    quarantine_path: str,
    run_id: str,
    quarantine_first: bool,
) -> dict[str, int]:
    """Writes silver (clean rows) and quarantine; returns the quarantined rows by rule.

    Normally one pass: silver is written while an observation counts the flagged rows, and the
    quarantine is only computed when there are any. With fail-severity rules the quarantine is
    written first instead, so a failing run leaves the previous silver in place.
    """  # fmt: skip
    quarantine = quality.quarantined_rows(flagged).withColumn("_quarantined_by_run", F.lit(run_id))
    if quarantine_first:
        storage.write_parquet(quarantine, quarantine_path)
        written = storage.read_parquet(spark, quarantine_path)
        return _rule_counts(written) if written is not None else {}
    observation = Observation(f"transform-{silver_path.rsplit('/', 1)[-1]}")
    counts = [F.count(F.when(F.col(quality.RULE) == name, 1)).alias(name) for name in rule_names]
    observed = flagged.observe(observation, F.count(F.col(quality.RULE)).alias("_all"), *counts)
    storage.write_parquet(quality.clean_rows(observed), silver_path)
    metrics = observation.get
    storage.delete(spark, quarantine_path)
    if metrics["_all"]:
        storage.write_parquet(quarantine, quarantine_path)
    return {name: int(metrics[name]) for name in rule_names if metrics[name]}


def transform_table(
    spark: SparkSession,
    args: JobArgs,
    table: Table,
    rules: TableRules,
    parents: Mapping[str, DataFrame | None],
    report: QualityReport,
) -> tuple[TableCounts, DataFrame | None]:
    silver_path = layout.silver_path(args.lake_path, args.dataset, table.name)
    quarantine_path = layout.quarantine_path(args.lake_path, args.dataset, "transform", table.name)
    raw = storage.read_parquet(spark, layout.raw_path(args.lake_path, args.dataset, table.name))
    if raw is None:
        storage.delete_all(spark, [silver_path, quarantine_path])
        return TableCounts(), None
    flagged = validate_table(prepare_silver(raw, table), table, rules, parents)
    severities = rule_severities(rules)
    quarantine_first = FAIL in severities.values()
    by_rule = _write_checked(
        spark, flagged, list(severities), silver_path, quarantine_path, args.run_id, quarantine_first
    )
    written_quarantine = storage.read_parquet(spark, quarantine_path) if by_rule else None
    samples = quarantine_samples(written_quarantine) if written_quarantine is not None else {}
    rows_read = raw.count()
    for rule, severity in severities.items():
        broken = by_rule.get(rule, 0)
        report.results.append(RuleResult(table.name, rule, "transform", severity, rows_read, broken,
                                         row_rule_status(broken, severity), samples=samples.get(rule, ())))  # fmt: skip
        if severity == FAIL and broken:
            example = f", e.g. {samples[rule][0]}" if samples.get(rule) else ""
            report.failures.append(f"{table.name}: rule {rule} (severity fail) broken by {broken:,} row(s){example}")
    if report.failures:
        raise DataQualityError("; ".join(report.failures))
    if quarantine_first:
        storage.write_parquet(quality.clean_rows(flagged), silver_path)

    written = _count(spark, silver_path)
    counts = TableCounts(
        rows_read=rows_read,
        rows_written=written,
        rows_quarantined=sum(by_rule.values()),
        output_path=silver_path if written else None,
        quarantine_path=quarantine_path,
        quarantine_by_rule=by_rule,
    )
    if not written:
        storage.delete(spark, silver_path)  # no usable rows: nothing is published downstream
    silver = spark.read.parquet(silver_path) if written else None
    results = table_rule_results(table, rules, counts, silver, datetime.fromisoformat(report.generated_at).date())
    report.results.extend(results)
    report.failures.extend(f"{table.name}: {r.rule} (severity fail): {r.detail}" for r in results if r.status == FAILED)
    return counts, silver


def write_gold(
    spark: SparkSession, args: JobArgs, dataset: Dataset, silver: Mapping[str, DataFrame], created_at: str
) -> dict[str, int]:
    frames = dataset.build_gold(silver)
    manifest_tables = {}
    rows = {}
    for gold in dataset.gold_tables:
        path = layout.gold_version_path(args.lake_path, args.dataset, gold.name, args.run_id)
        frame = frames[gold.name]
        if gold.partition_by:  # one file per partition rather than one per task and partition
            frame = frame.repartition(*gold.partition_by)
        storage.write_parquet(frame, path, partition_by=gold.partition_by)
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


def load_table_rules(spark: SparkSession, args: JobArgs, dataset: Dataset) -> dict[str, TableRules]:
    if not args.rules_path:
        return rules_config.effective_rules(dataset)
    text = storage.read_text(spark, args.rules_path)
    if text is None:
        raise rules_config.RulesConfigError(f"--rules_path {args.rules_path} does not exist")
    configured = rules_config.load_rules(text, dataset, args.rules_path.rsplit("/", 1)[-1])
    return rules_config.effective_rules(dataset, configured)


def write_quality_report(spark: SparkSession, args: JobArgs, report: QualityReport) -> None:
    extract = storage.read_text(spark, summary_path(args.lake_path, args.dataset, args.run_id, "extract"))
    extract_tables = json.loads(extract).get("tables", {}) if extract else {}
    for name, counts in extract_tables.items():
        report.results[:0] = extract_results(name, counts, [])
    data = report.to_dict()
    base = layout.quality_report_path(args.lake_path, args.dataset, args.run_id)
    storage.write_text(spark, f"{base}.json", json.dumps(data, indent=2, sort_keys=True))
    storage.write_text(spark, f"{base}.md", render_markdown(data))


def run_transform(spark: SparkSession, args: JobArgs, now: datetime | None = None) -> RunSummary:
    dataset = get_dataset(args.dataset)
    summary = new_summary("transform", args.dataset, args.run_id, args.job_run_id, now)
    state_path = layout.transform_state_path(args.lake_path, args.dataset)
    fingerprint = raw_fingerprint(spark, args.lake_path, dataset)
    previous = json.loads(storage.read_text(spark, state_path) or "{}")
    if not args.reprocess and not args.rules_path and previous.get("raw_fingerprint") == fingerprint:
        summary.finish("up_to_date", f"raw data unchanged since run {previous.get('run_id')}; nothing rewritten")
        return summary
    table_rules = load_table_rules(spark, args, dataset)

    report = QualityReport(args.dataset, args.run_id, summary.started_at)
    silver: dict[str, DataFrame | None] = {}
    try:
        for table in dataset.tables_in_dependency_order():
            counts, silver[table.name] = transform_table(spark, args, table, table_rules[table.name], silver, report)
            summary.tables[table.name] = counts
            report.tables[table.name] = {
                k: getattr(counts, k) for k in ("rows_read", "rows_written", "rows_quarantined")
            }
        summary.check_accounting()
        if report.failures:
            raise DataQualityError("; ".join(report.failures))
    finally:
        write_quality_report(spark, args, report)
    summary.outputs["quality_report"] = f"{layout.quality_report_path(args.lake_path, args.dataset, args.run_id)}.md"

    empty = [name for name, frame in silver.items() if frame is None]
    totals = summary.totals()
    counted = f"{totals['rows_written']} clean rows, {totals['rows_quarantined']} quarantined"
    if empty:
        summary.finish("no_usable_rows", f"no usable rows in {', '.join(empty)}: gold not written ({counted})")
    else:
        usable = {name: frame for name, frame in silver.items() if frame is not None}
        for name, rows in write_gold(spark, args, dataset, usable, summary.started_at).items():
            summary.outputs[f"gold.{name}"] = str(rows)
        summary.finish("succeeded", f"{counted}; gold version {args.run_id} written")
    storage.write_text(spark, state_path, json.dumps({"raw_fingerprint": fingerprint, "run_id": args.run_id}))
    return summary


# ---------------------------------------------------------------- load


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
