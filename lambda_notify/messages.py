"""Pure formatting of pipeline notifications: no AWS calls, fully testable.

`format_notification(event, summaries)` never raises: a malformed or partial event still gives a
clear (degraded) message that says what is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

STEPS = ("extract", "transform", "load")
SUBJECT_LIMIT = 99  # SNS email subjects must stay under 100 characters
SMS_LIMIT = 160
# SNS refuses a message of more than 256 KiB (all of its JSON, which holds the email twice).
SNS_MESSAGE_LIMIT = 262_144
# A producer re-sending every file of a big delivery gives a warning per file: the email lists the
# first ones, the run summaries hold them all.
WARNINGS_SHOWN = 20
# The `outcome` message attribute of every notification, for subscriptions' filter policies.
OUTCOMES = ("succeeded", "succeeded_with_warnings", "failed", "unknown")


@dataclass(frozen=True)
class Notification:
    subject: str
    email: str
    sms: str
    dataset: str
    outcome: str  # one of OUTCOMES

    def sns_message(self) -> str:
        """The Message for SNS publish with MessageStructure=json, within SNS's size limit (an
        email too long for it is cut, and says so)."""
        email = self.email
        while True:
            message = json.dumps({"default": email, "email": email, "sms": self.sms})
            size = len(message.encode("utf-8"))
            if size <= SNS_MESSAGE_LIMIT:
                return message
            # Kept in proportion to the bytes allowed (JSON spends 1 to 12 bytes on a character),
            # a little less, and checked again.
            kept = int(len(email) * SNS_MESSAGE_LIMIT / size * 0.98) - len(CUT_NOTE)
            email = email[: max(kept, 0)] + CUT_NOTE

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """What a subscription's filter policy selects on: a team's own datasets (`dataset`), or
        only the runs that need someone (`outcome`: failed, unknown, succeeded_with_warnings)."""
        return {
            "dataset": {"DataType": "String", "StringValue": self.dataset},
            "outcome": {"DataType": "String", "StringValue": self.outcome},
        }


def _region(execution_arn: str) -> str | None:
    parts = execution_arn.split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


def execution_link(execution_arn: str) -> str | None:
    region = _region(execution_arn)
    if not region:
        return None
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}"


def job_run_link(region: str, job_name: str, job_run_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/gluestudio/home?region={region}"
        f"#/job/{quote(job_name, safe='')}/run/{job_run_id}"
    )


def job_logs_link(region: str, job_run_id: str) -> str:
    # CloudWatch's console URL escapes '/' in the group name as $252F.
    group = "/aws-glue/jobs/output".replace("/", "$252F")
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#logsV2:log-groups/log-group/{group}/log-events/{job_run_id}"
    )


def parse_cause(error: Any) -> dict[str, Any]:
    """Step Functions puts the failed Glue job run (JSON) in Cause; other errors give plain text."""
    if not isinstance(error, dict):
        return {}
    cause = error.get("Cause")
    if isinstance(cause, str):
        try:
            parsed = json.loads(cause)
        except ValueError:
            return {"ErrorMessage": cause}
        return parsed if isinstance(parsed, dict) else {"ErrorMessage": cause}
    return {}


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def failed_step(event: dict[str, Any], cause: dict[str, Any]) -> str | None:
    jobs = _mapping(event.get("jobs"))
    by_job_name = {name: step for step, name in jobs.items()}
    if cause.get("JobName") in by_job_name:
        return str(by_job_name[cause["JobName"]])
    steps = _mapping(event.get("steps"))
    return next((step for step in STEPS if step not in steps), None)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


CUT_NOTE = "\n… (cut to fit an SNS message: the run summaries in the lake hold everything)\n"


def _warning_lines(flagged: list[str], dataset: str, run_id: str) -> list[str]:
    shown = [f"  - {warning}" for warning in flagged[:WARNINGS_SHOWN]]
    if len(flagged) > WARNINGS_SHOWN:
        more = len(flagged) - WARNINGS_SHOWN
        shown.append(f"  ... and {more:,} more warning(s), every one in the run summaries (_runs/{dataset}/{run_id}/)")
    return shown


def _step_lines(event: dict[str, Any], failed: str | None, region: str | None) -> list[str]:
    steps = _mapping(event.get("steps"))
    lines = []
    for step in STEPS:
        result = steps.get(step)
        if isinstance(result, dict):
            seconds = result.get("execution_time_seconds")
            took = f" in {seconds}s" if isinstance(seconds, int | float) else ""
            lines.append(f"  {step.capitalize():<10} {result.get('state', 'UNKNOWN')}{took}")
            if region and result.get("job_name") and result.get("job_run_id"):
                lines.append(f"             run:  {job_run_link(region, result['job_name'], result['job_run_id'])}")
                lines.append(f"             logs: {job_logs_link(region, result['job_run_id'])}")
        elif step == failed:
            lines.append(f"  {step.capitalize():<10} FAILED")
        else:
            lines.append(f"  {step.capitalize():<10} not run")
    return lines


def _table_lines(summaries: dict[str, Any]) -> list[str]:
    lines = []
    for job in ("extract", "transform", "load"):
        summary = summaries.get(job)
        if not isinstance(summary, dict):
            continue
        lines.append(f"  {job}: {summary.get('status', '?')} - {summary.get('message', '')}")
        tables = summary.get("tables") or {}
        for name, counts in sorted(tables.items()):
            superseded = counts.get("rows_superseded", 0)
            deleted = counts.get("rows_deleted_at_source", 0)
            lines.append(
                f"    {name:<24} written {counts.get('rows_written', 0):>12,}"
                f"   quarantined {counts.get('rows_quarantined', 0):>10,}"
                + (f"   older versions {superseded:,}" if superseded else "")
                + (f"   deleted at the source {deleted:,}" if deleted else "")
            )
    return lines


def s3_console_link(uri: str, region: str | None) -> str | None:
    if not uri.startswith("s3://") or not region:
        return None
    bucket, _, key = uri[len("s3://") :].partition("/")
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={quote(key, safe='/')}"


def _rule_outcome(rule: dict[str, Any]) -> str:
    """Rows a row rule broke, or a table rule's Glue DQ outcome and failure reason (aggregates only)."""
    if rule.get("checked", 2) != 1:  # a table rule is checked once, on the whole table
        return f"{rule.get('broken', 0):,} row(s)"
    reason = rule.get("detail") or ""
    return f"{rule.get('outcome', 'Failed')}" + (f": {reason}" if reason else "")


def _quality_lines(summaries: dict[str, Any], config: dict[str, Any], region: str | None) -> list[str]:
    quality = summaries.get("quality")
    if not isinstance(quality, dict):
        return []
    lines = [
        f"Data quality: {str(quality.get('status', '?')).upper()} - {quality.get('rules_broken', '?')} of "
        f"{quality.get('rules_checked', '?')} rules broken by at least one row"
    ]
    for failure in quality.get("failures") or []:
        lines.append(f"  FAILED {failure}")
    broken = [r for r in quality.get("rules") or [] if isinstance(r, dict) and r.get("broken")]
    for rule in broken[:8]:
        lines.append(f"  {rule.get('table')}: {rule.get('rule')} {_rule_outcome(rule)} ({rule.get('status')})")
    if len(broken) > 8:
        lines.append(f"  ... and {len(broken) - 8} more rules in the report")
    lake, dataset, run_id = config.get("lake_path"), config.get("dataset"), config.get("run_id")
    if isinstance(lake, str) and dataset and run_id:
        report = f"{lake.rstrip('/')}/_runs/{dataset}/{run_id}/quality.md"
        link = s3_console_link(report, region)
        lines.append(f"  Report: {report}" + (f"\n          {link}" if link else ""))
    return lines


NOTHING_NEW = ("no_new_files", "no_new_rows")


def quiet_reason(event: Any, summaries: dict[str, Any]) -> str | None:
    """Why no message is sent, or None. Only one case is quiet: a run started by the pipeline
    itself (by a landing object, or to pick up files that arrived during another run) that found
    its files already processed by another run. Failures and runs started by a person always tell."""
    config = _mapping(_mapping(event).get("config"))
    extract = _mapping(summaries.get("extract"))
    started_by = config.get("rerun_of") or config.get("landing_key")
    if _mapping(event).get("status") == "SUCCEEDED" and started_by and extract.get("status") in NOTHING_NEW:
        return f"run {config.get('run_id')} (started for {started_by}) found nothing new: another run processed it"
    return None


def warnings(summaries: dict[str, Any]) -> list[str]:
    """What the jobs flagged without failing: schema drift, unclaimed or re-delivered files."""
    found = []
    for job in STEPS:
        listed = _mapping(summaries.get(job)).get("warnings")
        found += [str(w) for w in listed] if isinstance(listed, list) else []
    return found


def totals(summaries: dict[str, Any]) -> tuple[int, int] | None:
    """(rows written to silver, rows quarantined by extract and transform), when known."""
    transform = summaries.get("transform")
    if not isinstance(transform, dict) or not transform.get("tables"):
        return None
    written = sum(t.get("rows_written", 0) for t in transform["tables"].values())
    quarantined = sum(
        t.get("rows_quarantined", 0)
        for job in ("extract", "transform")
        if isinstance(summaries.get(job), dict)
        for t in (summaries[job].get("tables") or {}).values()
    )
    return written, quarantined


def format_notification(event: Any, summaries: dict[str, Any] | None = None) -> Notification:
    summaries = summaries or {}
    if not isinstance(event, dict):
        event = {}
    problems = []
    config = _mapping(event.get("config"))
    if not config:
        problems.append("the event has no pipeline configuration")
    status = str(event.get("status") or "UNKNOWN").upper()
    if status not in ("SUCCEEDED", "FAILED"):
        problems.append(f"unexpected status {event.get('status')!r}")
    dataset = str(config.get("dataset") or "unknown dataset")
    run_id = str(config.get("run_id") or event.get("execution_name") or "unknown run")
    execution_arn = str(event.get("execution_arn") or "")
    region = _region(execution_arn)
    link = execution_link(execution_arn)

    cause = parse_cause(event.get("error"))
    step = failed_step(event, cause) if status == "FAILED" else None
    error_name = _mapping(event.get("error")).get("Error")
    error_message = str(cause.get("ErrorMessage") or error_name or "no error message was given")

    counts = totals(summaries)
    flagged = warnings(summaries)
    succeeded = "succeeded_with_warnings" if flagged else "succeeded"
    outcome = {"SUCCEEDED": succeeded, "FAILED": "failed"}.get(status, "unknown")
    if status == "SUCCEEDED":
        headline = f"succeeded{' with warnings' if flagged else ''}: {dataset} run {run_id}"
        detail = f", {counts[0]:,} rows, {counts[1]:,} quarantined" if counts else ""
        noted = f", {len(flagged)} warning(s)" if flagged else ""
        sms = f"Glue ETL OK: {dataset} {run_id}{detail}{noted}"
    elif status == "FAILED":
        where = f" at {step.capitalize()}" if step else ""
        headline = f"FAILED{where}: {dataset} run {run_id}"
        sms = f"Glue ETL FAILED{where}: {dataset} {run_id}: {error_message}"
    else:
        headline = f"status unknown: {dataset} run {run_id}"
        sms = f"Glue ETL status unknown: {dataset} {run_id}"

    body = [f"Glue ETL pipeline {headline}", ""]
    body += [f"Dataset:   {dataset}", f"Run id:    {run_id}"]
    if event.get("execution_start_time"):
        body.append(f"Started:   {event['execution_start_time']}")
    if link:
        body.append(f"Execution: {link}")
    if status == "FAILED":
        body += ["", f"Failed step: {step.capitalize() if step else 'unknown'}", f"Error: {error_message}"]
        if error_name and error_name != error_message:
            body.append(f"Error type: {error_name}")
    if flagged:
        body += ["", "Warnings:", *_warning_lines(flagged, dataset, run_id)]
    body += ["", "Steps:", *_step_lines(event, step, region)]
    table_lines = _table_lines(summaries)
    if table_lines:
        body += ["", "Rows per table:", *table_lines]
    if counts:
        body += ["", f"Total: {counts[0]:,} clean rows, {counts[1]:,} quarantined"]
    quality_lines = _quality_lines(summaries, config, region)
    if quality_lines:
        body += ["", *quality_lines]
    if config.get("lake_path"):
        body += ["", f"Lake: {config['lake_path']}  (run summaries in _runs/{dataset}/{run_id}/)"]
    if problems:
        body += ["", "Note: this notification is incomplete: " + "; ".join(problems) + "."]

    return Notification(
        subject=_shorten(f"[Glue ETL] {headline}", SUBJECT_LIMIT),
        email="\n".join(body) + "\n",
        sms=_shorten(sms, SMS_LIMIT),
        dataset=dataset,
        outcome=outcome,
    )
