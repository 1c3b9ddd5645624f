"""What the three steps share: metadata column names, counting, the run summary file."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession

from etl_lib import layout, parsing, storage
from etl_lib.args import JobArgs
from etl_lib.datasets.base import Table
from etl_lib.rules import row_checks
from etl_lib.summary import RunSummary, summary_path

SOURCE_FILE = "_source_file"
FILE_ID = "_file_id"
INGESTED_AT = "_ingested_at"
RUN_ID = "_run_id"
# Increases with a record's place in its file (comparable within one file only): a later record
# of a key is a newer one. NULL for database rows and for raw written before it existed.
RECORD_POSITION = "_record_position"
METADATA = [SOURCE_FILE, INGESTED_AT, RUN_ID, RECORD_POSITION, FILE_ID]
METADATA_TYPES = {SOURCE_FILE: "string", INGESTED_AT: "timestamp", RUN_ID: "string", RECORD_POSITION: "bigint",
                  FILE_ID: "string"}  # fmt: skip


def raw_schema(table: Table) -> str:
    """The schema extract writes a table's raw in (DDL)."""
    return parsing.typed_schema(table, METADATA_TYPES)


def rule_counts(df: DataFrame) -> dict[str, int]:
    return {row[row_checks.RULE]: int(row["count"]) for row in df.groupBy(row_checks.RULE).count().collect()}


class RunIdReusedError(RuntimeError):
    """The run id already names a written gold version: a run never rewrites another's version."""


def refuse_used_run_id(spark: SparkSession, args: JobArgs) -> None:
    if storage.exists(spark, layout.gold_manifest_path(args.lake_path, args.dataset, args.run_id)):
        raise RunIdReusedError(
            f"run id {args.run_id} already wrote gold version {args.run_id} of {args.dataset}; "
            "start the run with a new run id (or none: the execution name is used)"
        )


def write_summary(spark: SparkSession, args: JobArgs, summary: RunSummary) -> str:
    path = summary_path(args.lake_path, args.dataset, args.run_id, args.job)
    storage.write_text(spark, path, summary.to_json())
    return path
