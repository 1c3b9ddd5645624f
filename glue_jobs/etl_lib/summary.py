"""Run summaries: what each job read, wrote and quarantined per table, as JSON.

The accounting invariant (rows read = rows written + rows quarantined, + rows superseded by a
newer version of their key and rows deleted at the source for database tables) is checked here, before
a job commits, and a mismatch fails the job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime


class AccountingError(RuntimeError):
    """Rows went missing between a job's input and its outputs."""


@dataclass
class TableCounts:
    rows_read: int = 0
    rows_written: int = 0
    rows_quarantined: int = 0
    rows_superseded: int = 0  # older versions of a key read from a database; the newest one is used
    rows_deleted_at_source: int = 0  # newest versions whose key the database no longer holds (track_deletes)
    output_path: str | None = None
    quarantine_path: str | None = None
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    file_records: dict[str, int] = field(default_factory=dict)  # landing file -> the records counted in it
    notes: list[str] = field(default_factory=list)
    undeclared_columns: list[str] = field(default_factory=list)  # delivered but not declared: not loaded
    replaced_files: list[str] = field(default_factory=list)  # re-delivered with other content
    spark_jobs: int = 0  # Spark jobs this table's work started: the fixed price paid per table

    def balanced(self) -> bool:
        set_aside = self.rows_superseded + self.rows_deleted_at_source
        return self.rows_read == self.rows_written + self.rows_quarantined + set_aside


@dataclass
class RunSummary:
    job: str
    dataset: str
    run_id: str
    job_run_id: str
    started_at: str
    status: str = "running"
    message: str = ""
    finished_at: str | None = None
    duration_seconds: float | None = None
    tables: dict[str, TableCounts] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    # What a person should know although nothing failed (schema drift, unclaimed or re-delivered files).
    warnings: list[str] = field(default_factory=list)
    unclaimed_files: list[str] = field(default_factory=list)
    # Every Spark job the step started, its tables' included; a step sets the jobs it counted in
    # groups of its own (transform's gold tables) and run_job adds the rest.
    spark_jobs: int = 0

    def totals(self) -> dict[str, int]:
        return {
            "rows_read": sum(t.rows_read for t in self.tables.values()),
            "rows_written": sum(t.rows_written for t in self.tables.values()),
            "rows_quarantined": sum(t.rows_quarantined for t in self.tables.values()),
            "rows_superseded": sum(t.rows_superseded for t in self.tables.values()),
            "rows_deleted_at_source": sum(t.rows_deleted_at_source for t in self.tables.values()),
        }

    def check_accounting(self) -> None:
        broken = [
            f"{name}: read {t.rows_read} != written {t.rows_written} + quarantined {t.rows_quarantined}"
            + (f" + superseded {t.rows_superseded}" if t.rows_superseded else "")
            + (f" + deleted at the source {t.rows_deleted_at_source}" if t.rows_deleted_at_source else "")
            for name, t in self.tables.items()
            if not t.balanced()
        ]
        if broken:
            raise AccountingError(f"{self.job} {self.dataset}: rows lost: " + "; ".join(broken))

    def finish(self, status: str, message: str, now: datetime | None = None) -> None:
        end = now or datetime.now(UTC)
        self.status = status
        self.message = message
        self.finished_at = end.isoformat(timespec="seconds")
        started = datetime.fromisoformat(self.started_at)
        self.duration_seconds = round((end - started).total_seconds(), 3)

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["totals"] = self.totals()
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def new_summary(job: str, dataset: str, run_id: str, job_run_id: str, now: datetime | None = None) -> RunSummary:
    started = (now or datetime.now(UTC)).isoformat(timespec="milliseconds")
    return RunSummary(job=job, dataset=dataset, run_id=run_id, job_run_id=job_run_id, started_at=started)


def summary_path(lake_path: str, dataset: str, run_id: str, job: str) -> str:
    return f"{lake_path}/_runs/{dataset}/{run_id}/{job}.json"


# The summary is also one line of the job's log (CloudWatch on Glue, which takes events of up to
# 256 KB): 10,000 landing files make a summary of megabytes, whose per-file lists the lake keeps.
LOG_LINE_LIMIT = 200_000
PER_FILE = ("files", "file_records", "notes", "replaced_files")
LISTED = 20


def log_line(summary: RunSummary, whole_at: str) -> str:
    """The summary as one JSON line for the job's log; past LOG_LINE_LIMIT characters, without each
    table's per-file lists and with the first warnings and unclaimed files only, naming where the
    whole summary is (whole_at)."""
    data = summary.to_dict()
    line = json.dumps({"run_summary": data})
    if len(line) <= LOG_LINE_LIMIT:
        return line
    tables = {name: {key: value for key, value in asdict(counts).items() if key not in PER_FILE}
              for name, counts in summary.tables.items()}  # fmt: skip
    shortened = {
        **data,
        "tables": tables,
        "warnings": summary.warnings[:LISTED],
        "unclaimed_files": summary.unclaimed_files[:LISTED],
        "left_out": f"per-file lists, {len(summary.warnings)} warning(s) and {len(summary.unclaimed_files)} "
        f"unclaimed file(s) in all: the whole summary is {whole_at}",
    }
    return json.dumps({"run_summary": shortened})
