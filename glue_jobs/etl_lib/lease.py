"""One run per dataset, also for a job started outside the state machine.

The state machine holds the dataset's lease (a DynamoDB item, key `dataset`, attribute `holder`:
the execution's ARN) from extract to load, and passes its ARN to each job as `--lease_holder`. A
job given the lease table checks it before it writes (and extract again before its commit, the
ledger): a run that does not hold a lease someone else holds (a job started by hand from the
console, an Airflow task, an execution whose lease was taken over) would write under a running
execution, so it fails instead, naming the holder."""

from __future__ import annotations

from typing import Any

from etl_lib.args import JobArgs


class LeaseHeldError(RuntimeError):
    """Another execution holds the dataset's lease; the message names it."""


def execution_name(arn: str) -> str:
    """The execution's name: the last part of its ARN."""
    return arn.rsplit(":", 1)[-1]


def lease_conflict(dataset: str, holder: str | None, this_run: str | None) -> str | None:
    """Why this run must not write (holder: who holds the lease now, None when nobody does;
    this_run: the execution that started this job, None for a job started by hand), or None."""
    if holder is None or holder == this_run:
        return None
    started = f"by execution {execution_name(this_run)}" if this_run else "by hand"
    return (
        f"dataset {dataset} is being run by execution {execution_name(holder)}, which holds its lease; "
        f"this job run (started {started}) would write under it: start runs through the state machine, "
        "which waits for the running one"
    )


def current_holder(client: Any, table: str, dataset: str) -> str | None:
    item = client.get_item(TableName=table, Key={"dataset": {"S": dataset}}, ConsistentRead=True).get("Item") or {}
    holder = item.get("holder", {}).get("S")
    return str(holder) if holder else None


def refuse_when_leased_by_another(args: JobArgs, client: Any | None = None) -> None:
    """Raises LeaseHeldError when another execution holds the dataset's lease (only when the job
    is given the lease table: local runs without the state machine have none)."""
    if args.lease_table is None:
        return
    if client is None:
        import boto3

        client = boto3.client("dynamodb")
    conflict = lease_conflict(args.dataset, current_holder(client, args.lease_table, args.dataset), args.lease_holder)
    if conflict:
        raise LeaseHeldError(conflict)
