"""What every entry script does: parse arguments, build the runtime, run the step, record the
summary, commit. A failure still leaves a summary (status "failed") and surfaces as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from pyspark.sql import SparkSession

from etl_lib.args import JobArgs, parse_args
from etl_lib.errors import failure_line
from etl_lib.lease import refuse_when_leased_by_another
from etl_lib.runtime import counting_spark_jobs, create_runtime
from etl_lib.steps import write_summary
from etl_lib.summary import RunSummary, log_line, new_summary

Step = Callable[[SparkSession, JobArgs], RunSummary]


class JobFailedError(RuntimeError):
    """A job failed; the message is the one line a person needs (also Glue's ErrorMessage)."""


def run_job(job: str, argv: Sequence[str], step: Step, echo: bool = True) -> RunSummary:
    """Runs a step as a Glue job; with echo, the summary goes to stdout (the job's log on Glue)."""
    args = parse_args(job, argv)
    runtime = create_runtime(args)
    try:
        refuse_when_leased_by_another(args)
        summary, jobs = counting_spark_jobs(runtime.spark, args.job_run_id, lambda: step(runtime.spark, args))
        # The step's own jobs, its tables' and what it counted in groups of its own (transform's gold tables).
        in_tables = sum(counts.spark_jobs for counts in summary.tables.values())
        summary = replace(summary, spark_jobs=jobs + in_tables + summary.spark_jobs)
    except Exception as error:
        failed = new_summary(job, args.dataset, args.run_id, args.job_run_id)
        message = failure_line(error)
        failed.finish("failed", message)
        print(log_line(failed, write_summary(runtime.spark, args, failed)), file=sys.stderr)
        raise JobFailedError(f"{job} failed for dataset {args.dataset}: {message}") from error
    whole_at = write_summary(runtime.spark, args, summary)
    if echo:
        print(log_line(summary, whole_at))
    runtime.commit()
    return summary
