"""The transform step: raw -> rules, deduplication, foreign keys -> silver, quarantine, the
quality report and a new gold version."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any

from pyspark.sql import Column, DataFrame, Observation, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from etl_lib import errors, layout, source_keys, storage
from etl_lib.args import JobArgs
from etl_lib.datasets import get_dataset
from etl_lib.datasets.base import Dataset, GoldTable, Table
from etl_lib.rules import row_checks, rulesets, table_checks
from etl_lib.rules.model import FAIL, Rule, RulesetError
from etl_lib.rules.model import PASSED as OUTCOME_PASSED
from etl_lib.rules.report import (
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
from etl_lib.rules.row_checks import Checked
from etl_lib.rules.rulesets import TableRules
from etl_lib.runtime import MODEL_SETTINGS, reading_settings, session_settings
from etl_lib.steps import parallel
from etl_lib.steps.common import (
    FILE_ID,
    INGESTED_AT,
    RECORD_POSITION,
    SOURCE_FILE,
    raw_schema,
    refuse_used_run_id,
    rule_counts,
)
from etl_lib.summary import AccountingError, RunSummary, TableCounts, new_summary, summary_path


class ModelError(RuntimeError):
    """A table's derivation or the gold model computed a value its type cannot hold."""


# What Spark's ANSI mode raises for a value an expression cannot compute (runtime.MODEL_SETTINGS).
MODEL_FAILURES = {
    "NUMERIC_VALUE_OUT_OF_RANGE": "a decimal too large for {type}",
    "CAST_OVERFLOW": "a value too large for {type}",
    "ARITHMETIC_OVERFLOW": "an arithmetic overflow",
    "DIVIDE_BY_ZERO": "a division by zero",
}


def overflowed_type(condition: str, parameters: Mapping[str, str]) -> str:
    """The type a value did not fit, as Spark names types in a schema (`decimal(14,2)`, `int`), or ""."""
    if condition == "NUMERIC_VALUE_OUT_OF_RANGE" and "precision" in parameters:
        return f"decimal({parameters['precision']},{parameters.get('scale', '0')})"
    if condition == "CAST_OVERFLOW" and "targetType" in parameters:
        return parameters["targetType"].strip('"').replace(" ", "").lower()
    return ""


def model_failure(where: str, condition: str, parameters: Mapping[str, str], schema: StructType | None) -> str:
    """One line for a value a model could not compute: where, what, the output's columns of the
    type it did not fit (one of them, or an expression feeding one), and what to do; never the value."""
    type_name = overflowed_type(condition, parameters)
    what = MODEL_FAILURES[condition].format(type=type_name or "its type")
    columns = [f.name for f in schema.fields if f.dataType.simpleString() == type_name] if schema and type_name else []
    if columns:
        what += f" (its {type_name} columns: {', '.join(columns)})"
    return (f"{where}: the model computed {what} [{condition}] for at least one row; nothing was published: "
            "widen the type in the model, or add a rule that quarantines the rows it cannot compute")  # fmt: skip


@contextmanager
def model_failures_named(where: str, schema: StructType | None = None) -> Iterator[None]:
    """Raises a ModelError naming where a value could not be computed (instead of Spark's error,
    whose message quotes the value and advises turning ANSI mode off)."""
    try:
        yield
    except Exception as error:
        condition, parameters = errors.spark_condition(error)
        if condition not in MODEL_FAILURES:
            raise
        raise ModelError(model_failure(where, condition, parameters, schema)) from error


def prepare_silver(raw: DataFrame, table: Table) -> DataFrame:
    """Silver naming and derived columns; the extract-only file id is dropped."""
    renamed = raw.drop(FILE_ID).withColumnsRenamed(dict(table.renames)) if table.renames else raw.drop(FILE_ID)
    return table.derive(renamed) if table.derive else renamed


def newest_versions(prepared: DataFrame, table: Table) -> DataFrame:
    """A database table's raw holds every version read of each row: keep the newest per key (by
    the incremental column, then the latest extract). Rows with a NULL key are all kept, for the
    key rule to quarantine."""
    assert table.jdbc is not None
    newest_first = [F.col(table.silver_name(table.jdbc.incremental_column)).desc(), F.col(INGESTED_AT).desc()]
    by_key = Window.partitionBy(*table.key).orderBy(*newest_first)
    rank = F.when(row_checks.all_present(table.key), F.row_number().over(by_key)).otherwise(1)
    return prepared.withColumn("_version_rank", rank).where(F.col("_version_rank") == 1).drop("_version_rank")


@dataclass(frozen=True)
class Parents:
    """The tables validated so far (None: no usable rows) and each table's key."""

    frames: Mapping[str, DataFrame | None]
    keys: Mapping[str, tuple[str, ...]]

    def unique(self, fk: row_checks.ForeignKey) -> bool:
        """The parent's rows are unique on these columns (its validated key): no distinct needed."""
        return self.frames.get(fk.parent_table) is not None and set(fk.parent_columns) == set(
            self.keys[fk.parent_table]
        )


def in_number_order(name: Column) -> Column:
    """A sort key for names that orders their runs of digits as numbers (`region_9.csv` before
    `region_10.csv`, `2024/11/9/` before `2024/11/10/`): each run becomes its length (3 digits,
    leading zeros dropped) and its digits."""
    parts = F.regexp_extract_all(name, F.lit(r"(\d+|\D+)"), 1)

    def part_key(part: Column) -> Column:
        digits = F.regexp_replace(part, r"^0+(?=\d)", "")
        numbered = F.concat(F.lpad(F.length(digits).cast("string"), 3, "0"), digits)
        return F.when(part.rlike(r"^\d"), numbered).otherwise(part)

    return F.array_join(F.transform(parts, part_key), "")


def newest_first_column(column: str) -> Column:
    """One of a table's newest_first columns as a descending sort: files by name in number order."""
    return (in_number_order(F.col(column)) if column == SOURCE_FILE else F.col(column)).desc()


def validate_table(
    prepared: DataFrame, rules: TableRules, table: Table, parents: Parents, now: datetime, key_repeats: bool
) -> Checked:
    """The rows and their row checks: completeness of the key, the simple row rules, key and
    unique rules (deduplication, a sort of the whole table, only when a value repeats: key_repeats
    tells it for the table's key), then foreign keys against the validated parents (unique by their key)."""
    simple = [r for r in rules.quarantining if not isinstance(r, Rule) or r.type in row_checks.SIMPLE_ROW_TYPES]
    keys = [r for r in rules.quarantining if isinstance(r, Rule) and r.type in row_checks.KEY_TYPES]
    references = [r for r in rules.quarantining if isinstance(r, Rule) and r.type == "ReferentialIntegrity"]
    key_rule = next(r for r in keys if r.type == "IsPrimaryKey" and r.parameters == table.key)
    strings = row_checks.string_columns(prepared)
    checks = [row_checks.key_completeness_check(key_rule), *(row_checks.row_check(r, now, strings) for r in simple)]
    checked = Checked.of(prepared, checks)
    newest_first = [newest_first_column(column) for column in table.newest_first]
    for rule in keys:
        on_table_key = tuple(rule.parameters) == tuple(table.key)
        repeats = key_repeats if on_table_key else not row_checks.repeated_keys(prepared, rule.parameters).isEmpty()
        if repeats:
            checked = row_checks.with_duplicate_check(checked, rule.parameters, newest_first, rule.text, rule.severity)
    for rule in references:
        fk = rulesets.reference(rule)
        parent = parents.frames.get(fk.parent_table)
        if parent is None:
            schema = prepared.select(*fk.columns).schema
            parent = prepared.sparkSession.createDataFrame([], schema).toDF(*fk.parent_columns)
        checked = row_checks.with_orphan_check(checked, fk, parent, parents.unique(fk), str(rule.severity))
    return checked


def inputs_fingerprints(
    spark: SparkSession, lake: str, dataset: Dataset, table_rules: Mapping[str, TableRules], library: str
) -> dict[str, str]:
    """What silver and gold are made from, each digested: raw's files, the rules in force and the
    job library's code (dataset declarations, model, shipped rulesets); a run with all three
    unchanged has nothing to rewrite."""
    raw, rules = hashlib.sha256(), hashlib.sha256()
    roots = [layout.raw_path(lake, dataset.name, table.name) for table in dataset.tables]
    roots += [
        layout.source_keys_path(lake, dataset.name, table.name) for table in dataset.tables if table.tracks_deletes
    ]
    for path, size, modified_ms in storage.file_listing(spark, roots):
        raw.update(f"{path}|{size}|{modified_ms}\n".encode())
    for name in sorted(table_rules):
        rules.update(f"{name}\n{rulesets.ruleset_text(table_rules[name])}".encode())
    return {"raw": raw.hexdigest(), "rules": rules.hexdigest(), "code": library}


def previous_state(text: str | None) -> dict[str, Any]:
    """What the last successful transform recorded; a record that is not one (left empty or cut short
    by a write that died) is no record: it only lets a run skip work, so the run rebuilds."""
    try:
        state = json.loads(text) if text else {}
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def rebuilt_because(previous: Mapping[str, Any], current: Mapping[str, str]) -> str:
    """Why a run rebuilds though raw is as the last run left it (a new rule or a new library
    version), for the run's message; empty when raw changed, the usual reason, or on a first run."""
    before = previous.get("fingerprints") or {}
    if not before or before.get("raw") != current["raw"]:
        return ""
    changed = [what for part, what in (("rules", "the rules"), ("code", "the job library"))
               if before.get(part) != current[part]]  # fmt: skip
    return f"raw unchanged; {' and '.join(changed)} changed since run {previous.get('run_id')}" if changed else ""


def files_fingerprint(root: Traversable) -> str:
    """A digest of the names and bytes of every file below root (compiled caches left out)."""
    digest = hashlib.sha256()
    pending = [(root, "")]
    while pending:
        folder, prefix = pending.pop()
        for child in sorted(folder.iterdir(), key=lambda child: child.name):
            if child.is_dir() and child.name != "__pycache__":
                pending.append((child, f"{prefix}{child.name}/"))
            elif child.is_file() and not child.name.endswith(".pyc"):
                digest.update(f"{prefix}{child.name}\n".encode() + child.read_bytes())
    return digest.hexdigest()


def quarantine_samples(quarantined: DataFrame, key: Sequence[str], per_rule: int = 3) -> dict[str, tuple[str, ...]]:
    """Where a few broken rows of each rule are: their file (or source table) and key, never their
    values, so the report, the failure message and the notification carry no personal data."""
    source = F.regexp_extract(F.col(SOURCE_FILE), r"[^/#]+$", 0) if SOURCE_FILE in quarantined.columns else F.lit("")
    location = F.concat_ws(", ", F.nullif(source, F.lit("")), row_checks.key_description(key))
    window = Window.partitionBy(row_checks.RULE).orderBy("_location")
    rows = (
        quarantined.select(row_checks.RULE, location.alias("_location"))
        .withColumn("_sample", F.row_number().over(window))
        .where(F.col("_sample") <= per_rule)
        .collect()
    )
    samples: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        samples[row[row_checks.RULE]].append(row["_location"])
    return {rule: tuple(locations) for rule, locations in samples.items()}


def row_rule_results(
    table: str, rules: TableRules, by_rule: Mapping[str, int], rows_read: int, samples: Mapping[str, tuple[str, ...]]
) -> list[RuleResult]:
    results = []
    for rule in rules.quarantining:
        broken = by_rule.get(rule.text, 0)
        status = row_rule_status(broken, str(rule.severity))
        share = (rows_read - broken) / rows_read if rows_read else 1.0
        metrics = {"Compliance": share}
        result = RuleResult(table, rule.text, "transform", str(rule.severity), rows_read, broken, status)
        results.append(replace(result, samples=samples.get(rule.text, ()), evaluated_metrics=metrics))
    return results


def dataset_rule_results(
    table: str, rules: TableRules, prepared: tuple[DataFrame, int], parents: Parents, now: datetime
) -> list[RuleResult]:
    """The rules judged on the whole table (the rows read, and how many), Glue DQ's outcome for each."""
    results = []
    for rule in rules.judged_on_dataset:
        outcome = table_checks.evaluate(rule, prepared[0], parents.frames, now, rows=prepared[1])
        broken = outcome.outcome != OUTCOME_PASSED
        status = (FAILED if rule.severity == FAIL else WARNED) if broken else PASSED
        results.append(RuleResult(table, rule.text, "transform", str(rule.severity), 1, int(broken), status,
                                  outcome.failure_reason, evaluated_metrics=outcome.evaluated_metrics))  # fmt: skip
    return results


def failure_line(result: RuleResult) -> str:
    if result.samples:
        example = f"e.g. the row at {result.samples[0]}"
        return f"{result.table}: rule {result.rule} (severity fail) broken by {result.broken:,} row(s), {example}"
    return f"{result.table}: rule {result.rule} (severity fail): {result.detail}"


def write_silver(checked: Checked, silver_path: str) -> tuple[int, int]:
    """Writes the clean rows; returns (rows written, rows broken), counted as they were written.
    A record's position in its file only ranked the copies of its key: silver does not keep it."""
    clean, observation = row_checks.passing_rows(checked)
    storage.write_parquet(clean.drop(RECORD_POSITION), silver_path)
    return int(observation.get["passed"]), int(observation.get["broken"])


def write_checked(
    spark: SparkSession, checked: Checked, paths: tuple[str, str], run_id: str, quarantine_first: bool
) -> tuple[int | None, dict[str, int]]:
    """Writes silver (clean rows) and quarantine; returns the silver rows written (None when not
    written yet) and the quarantined rows by rule.

    Normally one pass: silver is written while an observation counts the broken rows, and the
    quarantine is only computed when there are any. With fail-severity rules the quarantine is
    written first instead, so a failing run leaves the previous silver in place.
    """
    silver_path, quarantine_path = paths
    quarantine = row_checks.broken_rows(checked).withColumn("_quarantined_by_run", F.lit(run_id))
    written = None
    if not quarantine_first:
        written, broken = write_silver(checked, silver_path)
        storage.delete(spark, quarantine_path)
        if not broken:
            return written, {}
    storage.write_parquet(quarantine, quarantine_path)
    quarantined = storage.read_parquet(spark, quarantine_path, f"`{row_checks.RULE}` string")
    return written, rule_counts(quarantined) if quarantined is not None else {}


@dataclass(frozen=True)
class TableOutcome:
    """What transform did with one table: counts, rule results, and the silver rows for children."""

    counts: TableCounts
    results: tuple[RuleResult, ...] = ()
    silver: DataFrame | None = None

    @property
    def row_failures(self) -> list[str]:
        return [failure_line(r) for r in self.results if r.status == FAILED and r.samples]

    @property
    def failures(self) -> list[str]:
        return [failure_line(r) for r in self.results if r.status == FAILED]


@dataclass(frozen=True)
class Prepared:
    """A table's rows for silver (a database table's newest versions still in the source, cached),
    the rows read, the older versions and the rows deleted at the source set aside, and whether a
    value of the key repeats among the rows."""

    rows: DataFrame
    rows_read: int
    superseded: int
    key_repeats: bool
    deleted_at_source: int = 0

    @property
    def rows_kept(self) -> int:
        return self.rows_read - self.superseded - self.deleted_at_source


def read_prepared(spark: SparkSession, args: JobArgs, table: Table) -> Prepared | None:
    raw = storage.read_parquet(spark, layout.raw_path(args.lake_path, args.dataset, table.name), raw_schema(table))
    if raw is None:
        return None
    prepared = prepare_silver(raw, table)
    if table.jdbc is None:
        rows_read, key_repeats = row_checks.rows_and_repeats(prepared, table.key)
        return Prepared(prepared, rows_read, 0, key_repeats)
    # The newest versions are counted as they flow into the cache, before any deleted ones leave.
    versions = Observation()
    newest = newest_versions(prepared, table).observe(versions, F.count(F.lit(1)).alias("rows"))
    snapshot = (
        source_keys.current_snapshot(spark, args.lake_path, args.dataset, table) if table.tracks_deletes else None
    )
    kept = (source_keys.still_in_source(newest, snapshot, table) if snapshot is not None else newest).cache()
    rows_read = raw.count()
    kept_rows, key_repeats = row_checks.rows_and_repeats(kept, table.key)
    newest_rows = int(versions.get["rows"])
    return Prepared(kept, rows_read, rows_read - newest_rows, key_repeats, newest_rows - kept_rows)


def transform_table(
    spark: SparkSession, args: JobArgs, table: Table, rules: TableRules, parents: Parents, now: datetime
) -> TableOutcome:
    paths = (layout.silver_path(args.lake_path, args.dataset, table.name),
             layout.quarantine_path(args.lake_path, args.dataset, "transform", table.name))  # fmt: skip
    read = read_prepared(spark, args, table)
    if read is None:
        storage.delete_all(spark, list(paths))
        return TableOutcome(TableCounts())
    prepared, rows_read, superseded = read.rows, read.rows_read, read.superseded
    try:
        checked = validate_table(prepared, rules, table, parents, now, read.key_repeats)
        dataset_results = dataset_rule_results(table.name, rules, (prepared, read.rows_kept), parents, now)
        quarantine_first = any(rule.severity == FAIL for rule in rules.quarantining)
        written, by_rule = write_checked(spark, checked, paths, args.run_id, quarantine_first)
        quarantined = storage.read_parquet(spark, paths[1]) if by_rule else None
        samples = quarantine_samples(quarantined, table.key) if quarantined is not None else {}
        results = (*row_rule_results(table.name, rules, by_rule, rows_read, samples), *dataset_results)
        if any(r.status == FAILED and r.samples for r in results):  # silver is left as it was
            return TableOutcome(TableCounts(rows_read=rows_read), results)
        if written is None:  # quarantine first, no fail rule broken: the clean rows can replace silver now
            written, _ = write_silver(checked, paths[0])
    finally:
        prepared.unpersist()
    counts = TableCounts(rows_read=rows_read, rows_written=written, rows_quarantined=sum(by_rule.values()),
                         rows_superseded=superseded, rows_deleted_at_source=read.deleted_at_source,
                         quarantine_path=paths[1], quarantine_by_rule=by_rule)  # fmt: skip
    return finished_table(spark, paths[0], counts, results, prepared.drop(RECORD_POSITION).schema)


def finished_table(
    spark: SparkSession, silver_path: str, counts: TableCounts, results: Sequence[RuleResult], schema: StructType
) -> TableOutcome:
    """The outcome; silver (read with the schema it was written in) for the tables checked against it."""
    if not counts.rows_written:
        storage.delete(spark, silver_path)  # no usable rows: nothing is published downstream
        return TableOutcome(counts, tuple(results))
    silver = spark.read.schema(schema).parquet(silver_path)
    return TableOutcome(replace(counts, output_path=silver_path), tuple(results), silver)


def unreconciled_facts(dataset: Dataset, gold_rows: Mapping[str, int], silver_rows: Mapping[str, int]) -> list[str]:
    """Fact tables whose row count differs from the silver table they have one row per."""
    facts = [(gold.name, gold.rows_from) for gold in dataset.gold_tables if gold.rows_from is not None]
    counted = [(name, gold_rows.get(name, 0), parent, silver_rows.get(parent, 0)) for name, parent in facts]
    return [f"{name} has {rows:,} rows but {parent} has {expected:,}" for name, rows, parent, expected in counted
            if rows != expected]  # fmt: skip


def write_gold_table(args: JobArgs, frames: Mapping[str, DataFrame], gold: GoldTable) -> tuple[int, dict[str, Any]]:
    """One gold table into the run's version folder: its rows (observed) and its manifest entry
    (with its schema, so that load reads no footers)."""
    path = layout.gold_version_path(args.lake_path, args.dataset, gold.name, args.run_id)
    frame = frames[gold.name]
    if gold.partition_by:  # one file per partition rather than one per task and partition
        frame = frame.repartition(*gold.partition_by)
    with model_failures_named(f"gold table {gold.name}", frame.schema):
        rows = storage.write_parquet_counted(frame, path, partition_by=gold.partition_by)
    entry = {
        "location": path,
        "partition_by": list(gold.partition_by),
        "rows": rows,
        "schema": frame.schema.jsonValue(),
    }
    return rows, entry


def write_gold(
    spark: SparkSession,
    args: JobArgs,
    dataset: Dataset,
    silver: Mapping[str, DataFrame],
    silver_rows: Mapping[str, int],
    created_at: str,
) -> tuple[dict[str, int], int]:
    """The gold version's tables, side by side (the fact tables, biggest, first: the dimensions
    are written while they are), then its manifest (what load publishes) only if every fact table
    reconciles with its silver table; returns each table's rows and the Spark jobs they took."""
    frames = dataset.build_gold(silver)
    written = parallel.for_each_table(
        spark,
        args.job_run_id,
        partial(write_gold_table, args, frames),
        {gold.name: gold for gold in dataset.gold_tables},
        args.table_parallelism,
        sizes={gold.name: silver_rows.get(gold.rows_from, 0) for gold in dataset.gold_tables if gold.rows_from},
    )
    rows = {name: counted for name, ((counted, _), _) in written.items()}
    manifest_tables = {name: entry for name, ((_, entry), _) in written.items()}
    unreconciled = unreconciled_facts(dataset, rows, silver_rows)
    if unreconciled:
        raise AccountingError(
            f"gold version {args.run_id} not published, rows lost in the model: " + "; ".join(unreconciled)
        )
    manifest = {"version": args.run_id, "created_at": created_at, "tables": manifest_tables}
    manifest_path = layout.gold_manifest_path(args.lake_path, args.dataset, args.run_id)
    storage.write_text(spark, manifest_path, json.dumps(manifest, indent=2, sort_keys=True))
    return rows, sum(jobs for _, jobs in written.values())


def ruleset_reader(spark: SparkSession, rules_path: str) -> rulesets.RulesetReader:
    """Reads `<table>.dqdl` files from the --rules_path folder (S3 or local)."""
    folder = rules_path.rstrip("/")
    if not storage.list_files(spark, folder):
        raise RulesetError(f"--rules_path {rules_path}: no .dqdl files there")
    return lambda name: storage.read_text(spark, f"{folder}/{name}")


def load_table_rules(spark: SparkSession, args: JobArgs, dataset: Dataset) -> dict[str, TableRules]:
    if not args.rules_path:
        return rulesets.dataset_rules(dataset)
    names = {info.uri.rsplit("/", 1)[-1]: info for info in storage.list_files(spark, args.rules_path.rstrip("/"))}
    unknown = rulesets.unknown_ruleset_files(dataset, names)
    if unknown:
        tables = ", ".join(table.name for table in dataset.tables)
        raise RulesetError(
            f"--rules_path {args.rules_path}: {', '.join(unknown)} name no table of {dataset.name} ({tables})"
        )
    return rulesets.dataset_rules(dataset, ruleset_reader(spark, args.rules_path))


def write_quality_report(spark: SparkSession, args: JobArgs, report: QualityReport) -> None:
    extract = storage.read_text(spark, summary_path(args.lake_path, args.dataset, args.run_id, "extract"))
    extract_tables = json.loads(extract).get("tables", {}) if extract else {}
    extracted = [result for name, counts in extract_tables.items() for result in extract_results(name, counts)]
    data = replace(report, results=(*extracted, *report.results)).to_dict()
    base = layout.quality_report_path(args.lake_path, args.dataset, args.run_id)
    storage.write_text(spark, f"{base}.json", json.dumps(data, indent=2, sort_keys=True))
    storage.write_text(spark, f"{base}.md", render_markdown(data))


def checked_against(dataset: Dataset, table_rules: Mapping[str, TableRules]) -> dict[str, set[str]]:
    """Each table's parents: the tables its foreign keys and ReferentialIntegrity rules name."""
    references = {
        name: {rulesets.reference(rule).parent_table for rule in rules.rules
               if isinstance(rule, Rule) and rule.type == "ReferentialIntegrity"}
        for name, rules in table_rules.items()
    }  # fmt: skip
    return {t.name: {fk.parent_table for fk in t.foreign_keys} | references.get(t.name, set()) for t in dataset.tables}


def transform_tables(
    spark: SparkSession, args: JobArgs, dataset: Dataset, table_rules: Mapping[str, TableRules], now: datetime
) -> dict[str, TableOutcome]:
    """Every table, parents first (the tables of a wave side by side); stops after a wave in which a
    table's fail-severity row rule is broken."""
    outcomes: dict[str, TableOutcome] = {}
    keys = {table.name: table.key for table in dataset.tables}
    for wave in dataset.dependency_waves(checked_against(dataset, table_rules)):
        parents = Parents({name: outcome.silver for name, outcome in outcomes.items()}, keys)
        transformed = parallel.for_each_table(
            spark,
            args.job_run_id,
            partial(transform_with_rules, spark, args, table_rules, parents, now),
            {table.name: table for table in wave},
            args.table_parallelism,
        )
        outcomes |= {name: replace(outcome, counts=replace(outcome.counts, spark_jobs=jobs))
                     for name, (outcome, jobs) in transformed.items()}  # fmt: skip
        if any(outcomes[name].row_failures for name in transformed):
            break
    return outcomes


def transform_with_rules(
    spark: SparkSession,
    args: JobArgs,
    table_rules: Mapping[str, TableRules],
    parents: Parents,
    now: datetime,
    table: Table,
) -> TableOutcome:
    with model_failures_named(f"silver table {table.name}"):
        return transform_table(spark, args, table, table_rules[table.name], parents, now)


def quality_report(args: JobArgs, started_at: str, outcomes: Mapping[str, TableOutcome]) -> QualityReport:
    counted = ("rows_read", "rows_written", "rows_quarantined", "rows_superseded", "rows_deleted_at_source")
    return QualityReport(
        args.dataset,
        args.run_id,
        started_at,
        results=tuple(result for outcome in outcomes.values() for result in outcome.results),
        failures=tuple(failure for outcome in outcomes.values() for failure in outcome.failures),
        tables={name: {k: getattr(o.counts, k) for k in counted} for name, o in outcomes.items()},
    )


def publish_gold(
    spark: SparkSession,
    args: JobArgs,
    dataset: Dataset,
    summary: RunSummary,
    outcomes: Mapping[str, TableOutcome],
    because: str = "",
) -> None:
    """Writes the gold version and finishes the summary; because: why it was rebuilt, when raw was not."""
    empty = [name for name, outcome in outcomes.items() if outcome.silver is None]
    totals = summary.totals()
    counted = f"{totals['rows_written']} clean rows, {totals['rows_quarantined']} quarantined"
    if empty:
        # An empty table is more often a broken export than a real one: the gold already published
        # (if any) stays, and the run says so as a warning, so the notification is not a plain "OK".
        not_written = f"no usable rows in {', '.join(empty)}: gold not written"
        summary.warnings.append(
            f"{not_written}, the gold published before (if any) stays as it was, with the rows of earlier deliveries"
        )
        summary.finish("no_usable_rows", f"{not_written} ({counted})")
        return
    usable = {name: outcome.silver for name, outcome in outcomes.items() if outcome.silver is not None}
    silver_rows = {name: counts.rows_written for name, counts in summary.tables.items()}
    rows, summary.spark_jobs = write_gold(spark, args, dataset, usable, silver_rows, summary.started_at)
    for name, count in rows.items():
        summary.outputs[f"gold.{name}"] = str(count)
    summary.finish("succeeded", "; ".join(filter(None, [counted, f"gold version {args.run_id} written", because])))


def run_transform(spark: SparkSession, args: JobArgs, now: datetime | None = None) -> RunSummary:
    dataset = get_dataset(args.dataset)
    summary = new_summary("transform", args.dataset, args.run_id, args.job_run_id, now)
    state_path = layout.transform_state_path(args.lake_path, args.dataset)
    table_rules = load_table_rules(spark, args, dataset)
    library = files_fingerprint(resources.files("etl_lib"))
    fingerprints = inputs_fingerprints(spark, args.lake_path, dataset, table_rules, library)
    previous = previous_state(storage.read_text(spark, state_path))
    if not args.reprocess and previous.get("fingerprints") == fingerprints:
        since = previous.get("run_id")
        summary.finish("up_to_date", f"raw data, rules and job code unchanged since run {since}; nothing rewritten")
        return summary
    refuse_used_run_id(spark, args)
    outcomes: dict[str, TableOutcome] = {}
    with session_settings(spark, {**reading_settings(spark), **MODEL_SETTINGS}):
        try:
            started = datetime.fromisoformat(summary.started_at)
            outcomes = transform_tables(spark, args, dataset, table_rules, started)
            summary.tables.update({name: outcome.counts for name, outcome in outcomes.items()})
            failures = [failure for outcome in outcomes.values() for failure in outcome.failures]
            if failures:
                raise DataQualityError("; ".join(failures))
            summary.check_accounting()
        finally:
            write_quality_report(spark, args, quality_report(args, summary.started_at, outcomes))
        report = layout.quality_report_path(args.lake_path, args.dataset, args.run_id)
        summary.outputs["quality_report"] = f"{report}.md"
        publish_gold(spark, args, dataset, summary, outcomes, rebuilt_because(previous, fingerprints))
    storage.write_text(spark, state_path, json.dumps({"fingerprints": fingerprints, "run_id": args.run_id}))
    return summary
