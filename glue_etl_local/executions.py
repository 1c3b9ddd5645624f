"""Start a Step Functions execution and follow it state by state (against AWS or the local cloud)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class Followed:
    arn: str
    status: str
    output: dict[str, Any] | None
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(default_factory=list)


def describe_event(event: dict[str, Any], started: datetime) -> str | None:
    """One line for the events a person cares about (states entered and left, failures, retries)."""
    elapsed = (event["timestamp"] - started).total_seconds()
    kind = event["type"]
    if kind.endswith("StateEntered"):
        return f"{elapsed:7.1f}s  -> {event['stateEnteredEventDetails']['name']}"
    if kind.endswith("StateExited"):
        return f"{elapsed:7.1f}s  <- {event['stateExitedEventDetails']['name']}"
    if kind == "TaskFailed":
        details = event.get("taskFailedEventDetails", {})
        cause = str(details.get("cause", ""))
        return f"{elapsed:7.1f}s  !! {details.get('error')}: {cause[:200]}"
    if kind in ("ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted", "ExecutionSucceeded"):
        return f"{elapsed:7.1f}s  == {kind.removeprefix('Execution').upper()}"
    return None


# Failures the state machine handles itself (a lease held by another run), not the run's outcome.
EXPECTED_TASK_ERRORS = {"DynamoDB.ConditionalCheckFailedException", "Sfn.ExecutionDoesNotExistException"}


def first_failure(events: list[dict[str, Any]]) -> tuple[str, str, str] | None:
    """(state, error, cause) of the first task failure that was not part of the lease protocol."""
    state = ""
    for event in events:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskFailed":
            details = event.get("taskFailedEventDetails", {})
            if details.get("error") not in EXPECTED_TASK_ERRORS:
                return state, str(details.get("error", "")), str(details.get("cause", ""))
    return None


def error_message(cause: str) -> str:
    """Glue's ErrorMessage when the cause is a Glue job run (JSON), else the cause itself."""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause
    return str(parsed.get("ErrorMessage") or cause) if isinstance(parsed, dict) else cause


def outcome_line(followed: Followed) -> str:
    """What happened, in one line: the state, and the failed step with Glue's error message."""
    states = [e["stateEnteredEventDetails"]["name"] for e in followed.events if e["type"].endswith("StateEntered")]
    config = (followed.output or {}).get("config", {})
    run = f"{config.get('dataset', '?')} run {config.get('run_id', followed.arn.rsplit(':', 1)[-1])}"
    if followed.status == "SUCCEEDED" and states and states[-1] == "Ignored":
        return f"SUCCEEDED (ignored): {(followed.output or {}).get('ignored', 'not a delivery')}"
    if followed.status == "SUCCEEDED" and states and states[-1] == "Coalesced":
        return f"SUCCEEDED (coalesced): {run} was folded into the execution running it; it runs once more after that"
    if followed.status == "SUCCEEDED":
        return f"SUCCEEDED: {run}"
    failure = first_failure(followed.events)
    if failure is None:
        return f"{followed.status}: {followed.error or ''} {followed.cause or ''}".strip()
    state, error, cause = failure
    return f"{followed.status} at {state}: {error_message(cause).splitlines()[0] if cause else error}"


def start_and_follow(
    sfn: Any,
    state_machine_arn: str,
    execution_input: dict[str, Any],
    name: str,
    show: Callable[[str], None] = print,
    poll_seconds: float = 0.5,
    timeout_seconds: float = 3600,
) -> Followed:
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(execution_input))[
        "executionArn"
    ]
    return follow(sfn, arn, show, poll_seconds, timeout_seconds)


def follow(
    sfn: Any, arn: str, show: Callable[[str], None] = print, poll_seconds: float = 0.5, timeout_seconds: float = 3600
) -> Followed:
    """Prints the execution's states as they happen and returns it once it has ended."""
    seen = 0
    deadline = time.monotonic() + timeout_seconds
    started: datetime | None = None
    events: list[dict[str, Any]] = []
    while True:
        description = sfn.describe_execution(executionArn=arn)
        started = started or description["startDate"]
        events = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn):
            events.extend(page["events"])
        for event in events[seen:]:
            line = describe_event(event, started)
            if line:
                show(line)
        seen = len(events)
        if description["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {arn} still {description['status']} after {timeout_seconds}s")
        time.sleep(poll_seconds)
    output = json.loads(description["output"]) if description.get("output") else None
    return Followed(
        arn=arn,
        status=description["status"],
        output=output,
        error=description.get("error"),
        cause=description.get("cause"),
        events=events,
    )


def entered_states(sfn: Any, arn: str) -> list[str]:
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]


def follow_delivery(
    sfn: Any, state_machine_arn: str, known: set[str], show: Callable[[str], None] = print, timeout: float = 3600
) -> tuple[Followed | None, list[Followed]]:
    """After files were dropped in landing: waits for the executions they started (those not in
    known), follows the one that runs the delivery (it takes the dataset's lease), and returns it
    with every new execution once none is running."""
    deadline = time.monotonic() + timeout
    runner: Followed | None = None
    while True:
        new = [e for e in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
               if e["executionArn"] not in known]  # fmt: skip
        if runner is None:
            running = next((e for e in new if "Extract" in entered_states(sfn, e["executionArn"])), None)
            if running is not None:
                runner = follow(sfn, running["executionArn"], show, timeout_seconds=timeout)
        if new and all(e["status"] != "RUNNING" for e in new):
            return runner, [follow(sfn, e["executionArn"], lambda _: None) for e in new]
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running after {timeout}s")
        time.sleep(1)
