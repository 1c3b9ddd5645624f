"""Job arguments: parsed once, with getResolvedOptions semantics, into a frozen JobArgs.

Glue passes `--KEY value` pairs (plus many of its own, such as `--TempDir` or
`--job-bookmark-option`), so unknown keys are ignored, unlike awsglue's getResolvedOptions
this parser also handles optional arguments with defaults.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

JOBS = ("extract", "transform", "load")
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}
# A run id names folders (version=<run_id>) and files: no separators, no "..", no ":".
_RUN_ID_PATTERN = re.compile(r"^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Tables a step works on side by side (steps/parallel.py): enough to keep executors busy while
# the driver plans the next table's jobs, few enough that a table's memory is not shared too thin.
DEFAULT_TABLE_PARALLELISM = 4


class ArgumentError(ValueError):
    """A missing or malformed job argument; its message is one line naming the argument."""


@dataclass(frozen=True)
class JobArgs:
    job: str
    job_name: str
    job_run_id: str
    dataset: str
    lake_path: str
    run_id: str
    source_path: str | None = None
    reprocess: bool = False
    catalog_database: str | None = None
    shuffle_partitions: int | None = None
    table_parallelism: int = DEFAULT_TABLE_PARALLELISM
    rules_path: str | None = None
    # Secret references (a Secrets Manager id or ARN, or file:PATH locally), never credentials.
    source_secret: str | None = None
    warehouse_secret: str | None = None
    warehouse_schema: str | None = None
    # The state machine's lease (etl_lib.lease): its DynamoDB table, and the execution that holds it.
    lease_table: str | None = None
    lease_holder: str | None = None

    def as_glue_arguments(self) -> dict[str, str]:
        """The arguments as Glue's Job.init expects them (every value a string)."""
        values = {
            "JOB_NAME": self.job_name,
            "JOB_RUN_ID": self.job_run_id,
            "dataset": self.dataset,
            "lake_path": self.lake_path,
            "run_id": self.run_id,
            "source_path": self.source_path,
            "reprocess": str(self.reprocess).lower(),
            "table_parallelism": str(self.table_parallelism),
            "catalog_database": self.catalog_database,
            "rules_path": self.rules_path,
            "source_secret": self.source_secret,
            "warehouse_secret": self.warehouse_secret,
            "warehouse_schema": self.warehouse_schema,
            "lease_table": self.lease_table,
            "lease_holder": self.lease_holder,
        }
        return {key: value for key, value in values.items() if value is not None}


def _collect_options(argv: Sequence[str]) -> dict[str, str]:
    options: dict[str, str] = {}
    index = 0
    while index < len(argv):
        token = argv[index]
        index += 1
        if not token.startswith("--"):
            continue
        key, has_value, value = token[2:].partition("=")
        if not has_value:
            if index < len(argv) and not argv[index].startswith("--"):
                value = argv[index]
                index += 1
            else:
                value = ""
        options[key] = value
    return options


def _parse_bool(job: str, key: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ArgumentError(f"{job}: --{key} must be true or false, got {raw!r}")


def _require(job: str, options: dict[str, str], key: str) -> str:
    value = options.get(key, "").strip()
    if not value:
        raise ArgumentError(f"{job}: missing required argument --{key}")
    return value


def _optional(options: dict[str, str], key: str) -> str | None:
    value = options.get(key, "").strip()
    return value or None


def _positive_int(job: str, options: dict[str, str], key: str) -> int | None:
    raw = _optional(options, key)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise ArgumentError(f"{job}: --{key} must be a positive integer, got {raw!r}")
    return int(raw)


def parse_args(job: str, argv: Sequence[str]) -> JobArgs:
    """Parse the argument vector Glue (or the local runner) gives a job script."""
    if job not in JOBS:
        raise ArgumentError(f"unknown job {job!r}; expected one of {', '.join(JOBS)}")
    options = _collect_options(argv)
    job_name = options.get("JOB_NAME", "").strip() or f"local-{job}"
    job_run_id = options.get("JOB_RUN_ID", "").strip() or "local"
    run_id = _optional(options, "run_id") or job_run_id
    if not _RUN_ID_PATTERN.match(run_id):
        raise ArgumentError(
            f"{job}: --run_id {run_id!r} may only contain letters, digits and _.- (1-128 chars, "
            "not starting with . and without ..)"
        )
    source_path = _optional(options, "source_path") if job == "extract" else None
    warehouse_schema = _optional(options, "warehouse_schema")
    if warehouse_schema is not None and not _IDENTIFIER.match(warehouse_schema):
        raise ArgumentError(f"{job}: --warehouse_schema must be a plain SQL identifier, got {warehouse_schema!r}")
    return JobArgs(
        job=job,
        job_name=job_name,
        job_run_id=job_run_id,
        dataset=_require(job, options, "dataset"),
        lake_path=_require(job, options, "lake_path").rstrip("/"),
        run_id=run_id,
        source_path=source_path.rstrip("/") if source_path else None,
        reprocess=_parse_bool(job, "reprocess", options.get("reprocess", "false")),
        catalog_database=_optional(options, "catalog_database"),
        shuffle_partitions=_positive_int(job, options, "shuffle_partitions"),
        table_parallelism=_positive_int(job, options, "table_parallelism") or DEFAULT_TABLE_PARALLELISM,
        rules_path=_optional(options, "rules_path"),
        source_secret=_optional(options, "source_secret"),
        warehouse_secret=_optional(options, "warehouse_secret"),
        warehouse_schema=warehouse_schema,
        lease_table=_optional(options, "lease_table"),
        lease_holder=_optional(options, "lease_holder"),
    )
