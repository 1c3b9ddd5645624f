"""The transform step: raw -> rules, deduplication, foreign keys -> silver, quarantine, the
quality report and a new gold version."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from etl_lib import layout, quality, rules_config, storage
from etl_lib.args import JobArgs
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
from etl_lib.steps.common import (
    FILE_ID,
    INGESTED_AT,
    SOURCE_FILE,
    count_rows,
    refuse_used_run_id,
    rule_counts,
)
from etl_lib.summary import AccountingError, RunSummary, TableCounts, new_summary, summary_path


def prepare_silver(raw: DataFrame, table: Table) -> DataFrame:
    """Silver naming and derived columns; the extract-only file id is dropped."""
    renamed = raw.drop(FILE_ID).withColumnsRenamed(dict(table.renames)) if table.renames else raw.drop(FILE_ID)
    return table.derive(renamed) if table.derive else renamed


def newest_versions(prepared: DataFrame, table: Table) -> DataFrame:
    """A database table's raw holds every version read of each row: keep the newest per key (by
    the incremental column, then the latest extract). Rows with a NULL key are all kept, for the
    not_null rule to quarantine."""
    assert table.jdbc is not None
    newest_first = [F.col(table.silver_name(table.jdbc.incremental_column)).desc(), F.col(INGESTED_AT).desc()]
    by_key = Window.partitionBy(*table.key).orderBy(*newest_first)
    rank = F.when(quality.all_present(table.key), F.row_number().over(by_key)).otherwise(1)
    return prepared.withColumn("_version_rank", rank).where(F.col("_version_rank") == 1).drop("_version_rank")


def rule_severities(rules: TableRules) -> dict[str, str]:
    severities = {"duplicate_key": QUARANTINE}
    for rule in (*rules.rules, *rules.unique, *rules.foreign_keys):
        severities[rule.name] = rule.severity
    return severities


def validate_table(
    prepared: DataFrame,
    rules: TableRules,
    key: Sequence[str],
    parents: Mapping[str, DataFrame | None],
    parent_keys: Mapping[str, Sequence[str]],
) -> quality.Checked:
    """The rows and their checks: row rules, the key, unique rules, then foreign keys (parents
    are validated silver tables, unique by their key). Deduplication (a sort of the whole table)
    only runs when a key repeats."""
    checked = quality.Checked.of(prepared, [quality.rule_check(rule) for rule in rules.rules])
    newest_first = [F.col(column).desc() for column in rules.newest_first]
    for columns, rule in [(key, "duplicate_key"), *((u.columns, u.name) for u in rules.unique)]:
        if not quality.repeated_keys(prepared, columns).isEmpty():
            checked = quality.with_duplicate_check(checked, columns, newest_first, rule)
    for foreign_key in rules.foreign_keys:
        parent = parents.get(foreign_key.parent_table)
        if parent is None:
            schema = prepared.select(*foreign_key.columns).schema
            parent = prepared.sparkSession.createDataFrame([], schema).toDF(*foreign_key.parent_columns)
        unique = set(foreign_key.parent_columns) == set(parent_keys.get(foreign_key.parent_table, ()))
        checked = quality.with_orphan_check(checked, foreign_key, parent, parent_unique=unique)
    return checked


def raw_fingerprint(spark: SparkSession, lake: str, dataset: Dataset) -> str:
    digest = hashlib.sha256()
    for table in dataset.tables:
        for info in storage.list_files(spark, layout.raw_path(lake, dataset.name, table.name)):
            digest.update(f"{info.uri}|{info.size}|{info.modified_ms}\n".encode())
    return digest.hexdigest()


def quarantine_samples(quarantined: DataFrame, key: Sequence[str], per_rule: int = 3) -> dict[str, tuple[str, ...]]:
    """Where a few broken rows of each rule are: their file (or source table) and key, never their
    values, so the report, the failure message and the notification carry no personal data."""
    source = F.regexp_extract(F.col(SOURCE_FILE), r"[^/#]+$", 0) if SOURCE_FILE in quarantined.columns else F.lit("")
    location = F.concat_ws(", ", F.nullif(source, F.lit("")), quality.key_description(key))
    window = Window.partitionBy(quality.RULE).orderBy("_location")
    rows = (
        quarantined.select(quality.RULE, location.alias("_location"))
        .withColumn("_sample", F.row_number().over(window))
        .where(F.col("_sample") <= per_rule)
        .collect()
    )
    samples: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        samples[row[quality.RULE]].append(row["_location"])
    return {rule: tuple(locations) for rule, locations in samples.items()}


def row_rule_results(
    table: str,
    severities: Mapping[str, str],
    by_rule: Mapping[str, int],
    rows_read: int,
    samples: Mapping[str, tuple[str, ...]],
) -> list[RuleResult]:
    results = []
    for rule, severity in severities.items():
        broken = by_rule.get(rule, 0)
        status = row_rule_status(broken, severity)
        results.append(RuleResult(table, rule, "transform", severity, rows_read, broken, status,
                                  samples=samples.get(rule, ())))  # fmt: skip
    return results


def row_rule_failure(table: str, result: RuleResult) -> str:
    example = f", e.g. the row at {result.samples[0]}" if result.samples else ""
    return f"{table}: rule {result.rule} (severity fail) broken by {result.broken:,} row(s){example}"


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
    checked: quality.Checked,
    silver_path: str,
    quarantine_path: str,
    run_id: str,
    quarantine_first: bool,
) -> dict[str, int]:
    """Writes silver (clean rows) and quarantine; returns the quarantined rows by rule.

    Normally one pass: silver is written while an observation counts the broken rows, and the
    quarantine is only computed when there are any. With fail-severity rules the quarantine is
    written first instead, so a failing run leaves the previous silver in place.
    """
    quarantine = quality.broken_rows(checked).withColumn("_quarantined_by_run", F.lit(run_id))
    if not quarantine_first:
        clean, observation = quality.passing_rows(checked)
        storage.write_parquet(clean, silver_path)
        storage.delete(spark, quarantine_path)
        if not observation.get["broken"]:
            return {}
    storage.write_parquet(quarantine, quarantine_path)
    written = storage.read_parquet(spark, quarantine_path)
    return rule_counts(written) if written is not None else {}


def transform_table(
    spark: SparkSession,
    args: JobArgs,
    table: Table,
    rules: TableRules,
    parents: Mapping[str, DataFrame | None],
    parent_keys: Mapping[str, Sequence[str]],
    report: QualityReport,
) -> tuple[TableCounts, DataFrame | None]:
    silver_path = layout.silver_path(args.lake_path, args.dataset, table.name)
    quarantine_path = layout.quarantine_path(args.lake_path, args.dataset, "transform", table.name)
    raw = storage.read_parquet(spark, layout.raw_path(args.lake_path, args.dataset, table.name))
    if raw is None:
        storage.delete_all(spark, [silver_path, quarantine_path])
        return TableCounts(), None
    prepared = prepare_silver(raw, table)
    rows_read = raw.count()
    superseded = 0
    if table.jdbc is not None:
        prepared = newest_versions(prepared, table).cache()
        superseded = rows_read - prepared.count()
    try:
        checked = validate_table(prepared, rules, table.key, parents, parent_keys)
        severities = rule_severities(rules)
        quarantine_first = FAIL in severities.values()
        by_rule = _write_checked(spark, checked, silver_path, quarantine_path, args.run_id, quarantine_first)
        written_quarantine = storage.read_parquet(spark, quarantine_path) if by_rule else None
        samples = quarantine_samples(written_quarantine, table.key) if written_quarantine is not None else {}
        row_results = row_rule_results(table.name, severities, by_rule, rows_read, samples)
        report.results.extend(row_results)
        failures = [row_rule_failure(table.name, r) for r in row_results if r.status == FAILED]
        report.failures.extend(failures)
        if failures:  # this table's own: table rules of earlier tables abort once every table is known
            raise DataQualityError("; ".join(failures))
        if quarantine_first:  # no fail rule broken: the clean rows can replace silver now
            storage.write_parquet(quality.passing_rows(checked)[0], silver_path)
    finally:
        prepared.unpersist()

    written = count_rows(spark, silver_path)
    counts = TableCounts(
        rows_read=rows_read,
        rows_written=written,
        rows_quarantined=sum(by_rule.values()),
        rows_superseded=superseded,
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


def unreconciled_facts(dataset: Dataset, gold_rows: Mapping[str, int], silver_rows: Mapping[str, int]) -> list[str]:
    """Fact tables whose row count differs from the silver table they have one row per."""
    facts = [(gold.name, gold.rows_from) for gold in dataset.gold_tables if gold.rows_from is not None]
    counted = [(name, gold_rows.get(name, 0), parent, silver_rows.get(parent, 0)) for name, parent in facts]
    return [f"{name} has {rows:,} rows but {parent} has {expected:,}" for name, rows, parent, expected in counted
            if rows != expected]  # fmt: skip


def write_gold(
    spark: SparkSession,
    args: JobArgs,
    dataset: Dataset,
    silver: Mapping[str, DataFrame],
    silver_rows: Mapping[str, int],
    created_at: str,
) -> dict[str, int]:
    """The gold version's tables, then its manifest (what load publishes) only if every fact table
    reconciles with its silver table."""
    frames = dataset.build_gold(silver)
    manifest_tables = {}
    rows = {}
    for gold in dataset.gold_tables:
        path = layout.gold_version_path(args.lake_path, args.dataset, gold.name, args.run_id)
        frame = frames[gold.name]
        if gold.partition_by:  # one file per partition rather than one per task and partition
            frame = frame.repartition(*gold.partition_by)
        storage.write_parquet(frame, path, partition_by=gold.partition_by)
        rows[gold.name] = count_rows(spark, path)
        manifest_tables[gold.name] = {
            "location": path,
            "partition_by": list(gold.partition_by),
            "rows": rows[gold.name],
        }
    unreconciled = unreconciled_facts(dataset, rows, silver_rows)
    if unreconciled:
        raise AccountingError(
            f"gold version {args.run_id} not published, rows lost in the model: " + "; ".join(unreconciled)
        )
    manifest = {"version": args.run_id, "created_at": created_at, "tables": manifest_tables}
    manifest_path = layout.gold_manifest_path(args.lake_path, args.dataset, args.run_id)
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
        report.results[:0] = extract_results(name, counts)
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
    refuse_used_run_id(spark, args)
    table_rules = load_table_rules(spark, args, dataset)

    report = QualityReport(args.dataset, args.run_id, summary.started_at)
    silver: dict[str, DataFrame | None] = {}
    parent_keys = {table.name: table.key for table in dataset.tables}
    try:
        for table in dataset.tables_in_dependency_order():
            counts, silver[table.name] = transform_table(
                spark, args, table, table_rules[table.name], silver, parent_keys, report
            )
            summary.tables[table.name] = counts
            report.tables[table.name] = {
                k: getattr(counts, k) for k in ("rows_read", "rows_written", "rows_quarantined", "rows_superseded")
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
        silver_rows = {name: counts.rows_written for name, counts in summary.tables.items()}
        for name, rows in write_gold(spark, args, dataset, usable, silver_rows, summary.started_at).items():
            summary.outputs[f"gold.{name}"] = str(rows)
        summary.finish("succeeded", f"{counted}; gold version {args.run_id} written")
    storage.write_text(spark, state_path, json.dumps({"raw_fingerprint": fingerprint, "run_id": args.run_id}))
    return summary
