import json

import pytest

from lambda_notify.messages import SMS_LIMIT, SNS_MESSAGE_LIMIT, format_notification

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:glue-etl-pipeline:run-42"
JOBS = {"extract": "etl-extract", "transform": "etl-transform", "load": "etl-load"}


def step(job, seconds):
    return {"job_name": JOBS[job], "job_run_id": f"jr_{job}", "state": "SUCCEEDED", "execution_time_seconds": seconds}


def event(status, **extra):
    base = {
        "status": status,
        "execution_arn": EXECUTION,
        "execution_name": "run-42",
        "execution_start_time": "2026-11-21T10:00:00Z",
        "config": {"dataset": "tpch", "run_id": "run-42", "lake_path": "s3://lake-bucket/lake"},
        "steps": {"extract": step("extract", 61), "transform": step("transform", 122), "load": step("load", 15)},
        "jobs": JOBS,
    }
    base.update(extra)
    return base


SUMMARIES = {
    "extract": {"status": "succeeded", "message": "ok", "tables": {
        "orders": {"rows_written": 1500, "rows_quarantined": 3}}},
    "transform": {"status": "succeeded", "message": "ok", "tables": {
        "orders": {"rows_written": 1490, "rows_quarantined": 10}}},
}  # fmt: skip


def test_success_email_has_steps_links_and_counts():
    note = format_notification(event("SUCCEEDED"), SUMMARIES)
    assert note.subject == "[Glue ETL] succeeded: tpch run run-42"
    assert "Dataset:   tpch" in note.email
    assert "Run id:    run-42" in note.email
    assert "Transform  SUCCEEDED in 122s" in note.email
    assert f"#/v2/executions/details/{EXECUTION}" in note.email
    assert "#/job/etl-transform/run/jr_transform" in note.email
    assert "log-group/$252Faws-glue$252Fjobs$252Foutput/log-events/jr_load" in note.email
    assert "orders                   written        1,490   quarantined         10" in note.email
    assert "Total: 1,490 clean rows, 13 quarantined" in note.email
    assert note.sms == "Glue ETL OK: tpch run-42, 1,490 rows, 13 quarantined"


def test_failure_names_the_step_and_carries_the_glue_error():
    cause = json.dumps({"JobName": "etl-transform", "Id": "jr_t", "JobRunState": "FAILED",
                        "ErrorMessage": "AccountingError: rows lost"})  # fmt: skip
    failed = event("FAILED", error={"Error": "States.TaskFailed", "Cause": cause})
    failed["steps"] = {"extract": step("extract", 61)}
    note = format_notification(failed, {})
    assert note.subject == "[Glue ETL] FAILED at Transform: tpch run run-42"
    assert "Failed step: Transform" in note.email
    assert "Error: AccountingError: rows lost" in note.email
    assert "Error type: States.TaskFailed" in note.email
    assert "Load       not run" in note.email
    assert note.sms == "Glue ETL FAILED at Transform: tpch run-42: AccountingError: rows lost"


def test_failure_without_a_glue_cause_infers_the_step_from_what_ran():
    failed = event("FAILED", error={"Error": "Glue.ConcurrentRunsExceededException", "Cause": "Job already running"})
    failed["steps"] = {"extract": step("extract", 1), "transform": step("transform", 2)}
    note = format_notification(failed)
    assert "Failed step: Load" in note.email
    assert "Error: Job already running" in note.email


@pytest.mark.parametrize("bad", [None, "text", [], {}, {"status": "FAILED"}, {"status": 7, "config": "x"}])
def test_malformed_events_still_give_a_clear_message(bad):
    note = format_notification(bad)
    assert note.subject.startswith("[Glue ETL] ")
    assert "Note: this notification is incomplete" in note.email
    assert note.sms.startswith("Glue ETL ")


def test_subject_and_sms_stay_within_limits():
    long = event("FAILED", error={"Error": "X", "Cause": "y" * 5000})
    long["config"]["dataset"] = "d" * 300
    note = format_notification(long)
    assert len(note.subject) < 100
    assert len(note.sms) <= SMS_LIMIT


def test_sns_message_structure_has_default_email_and_sms():
    note = format_notification(event("SUCCEEDED"))
    parts = json.loads(note.sns_message())
    assert set(parts) == {"default", "email", "sms"}
    assert parts["sms"] == note.sms
    assert parts["email"] == note.email


def test_quality_report_is_summarised_and_linked():
    age = 'ColumnValues "patient_age" <= 120'
    rules = [
        {"table": "consultations", "rule": age, "broken": 3, "checked": 40, "status": "failed"},
        {"table": "consultations", "rule": 'IsComplete "centre_id"', "broken": 0, "checked": 40, "status": "passed"},
        {"table": "consultations", "rule": "RowCount > 50", "broken": 1, "checked": 1, "status": "warned",
         "outcome": "Failed", "detail": "Value: 40 does not meet the constraint requirement (> 50)"},
    ]  # fmt: skip
    failure = f"consultations: rule {age} (severity fail) broken by 3 row(s)"
    quality = {"status": "failed", "rules_broken": 2, "rules_checked": 30, "failures": [failure], "rules": rules}
    note = format_notification(
        event("FAILED", error={"Error": "States.TaskFailed", "Cause": "{}"}), {"quality": quality}
    )
    assert "Data quality: FAILED - 2 of 30 rules broken by at least one row" in note.email
    assert f"  FAILED consultations: rule {age} (severity fail) broken by 3 row(s)" in note.email
    assert f"  consultations: {age} 3 row(s) (failed)" in note.email
    assert (
        "  consultations: RowCount > 50 Failed: Value: 40 does not meet the constraint requirement (> 50) (warned)"
        in note.email
    )
    assert "centre_id" not in note.email
    assert "Report: s3://lake-bucket/lake/_runs/tpch/run-42/quality.md" in note.email
    assert (
        "https://s3.console.aws.amazon.com/s3/object/lake-bucket?region=eu-west-1&prefix=lake/_runs/tpch/run-42/quality.md"
        in note.email
    )


def test_older_versions_of_database_rows_are_shown_so_the_counts_add_up():
    summaries = {"transform": {"status": "succeeded", "message": "ok", "tables": {
        "customer": {"rows_read": 37, "rows_written": 32, "rows_quarantined": 0, "rows_superseded": 5}}}}  # fmt: skip
    note = format_notification(event("SUCCEEDED"), summaries)
    assert "customer                 written           32   quarantined          0   older versions 5" in note.email
    counts = {"rows_read": 37, "rows_written": 30, "rows_quarantined": 0, "rows_superseded": 5,
              "rows_deleted_at_source": 2}  # fmt: skip
    deleted = {"transform": {"status": "succeeded", "message": "ok", "tables": {"customer": counts}}}
    note = format_notification(event("SUCCEEDED"), deleted)
    assert "quarantined          0   older versions 5   deleted at the source 2" in note.email


def test_warnings_change_the_subject_and_are_listed():
    warned = {**SUMMARIES, "extract": {**SUMMARIES["extract"], "warnings": [
        "2 landing file(s) match no table of tpch: ORDERS.CSV, notes.txt",
        "schema drift: undeclared column(s) r_extra not loaded"]}}  # fmt: skip
    note = format_notification(event("SUCCEEDED"), warned)
    assert note.subject == "[Glue ETL] succeeded with warnings: tpch run run-42"
    assert "Warnings:\n  - 2 landing file(s) match no table of tpch: ORDERS.CSV, notes.txt\n" in note.email
    assert "  - schema drift: undeclared column(s) r_extra not loaded" in note.email
    assert note.sms.endswith(", 2 warning(s)")
    assert format_notification(event("SUCCEEDED"), SUMMARIES).subject == "[Glue ETL] succeeded: tpch run run-42"


def test_a_warning_per_file_of_a_big_redelivery_lists_the_first_and_fits_an_sns_message():
    warnings = [f"orders_{i:05}.csv was delivered again with other content: it replaces the delivery read by run r1"
                for i in range(10_000)]  # fmt: skip
    note = format_notification(
        event("SUCCEEDED"), {**SUMMARIES, "extract": {**SUMMARIES["extract"], "warnings": warnings}}
    )
    assert "  - orders_00019.csv was delivered again" in note.email
    assert "orders_00020.csv" not in note.email
    assert "  ... and 9,980 more warning(s), every one in the run summaries (_runs/tpch/run-42/)" in note.email
    assert note.sms.endswith(", 10000 warning(s)")
    assert len(note.sns_message().encode()) <= SNS_MESSAGE_LIMIT


@pytest.mark.parametrize("character", ["y", "é", "\u2028", "\U0001f600"])
def test_an_email_too_long_for_sns_is_cut_and_says_so(character):
    long = event("FAILED", error={"Error": "X", "Cause": json.dumps({"ErrorMessage": character * 300_000})})
    note = format_notification(long)
    message = note.sns_message()
    assert len(message.encode()) <= SNS_MESSAGE_LIMIT
    email = json.loads(message)["email"]
    assert email.startswith("Glue ETL pipeline FAILED")
    assert email.endswith("(cut to fit an SNS message: the run summaries in the lake hold everything)\n")
    assert len(message.encode()) > SNS_MESSAGE_LIMIT - 20_000  # cut to fit, not to nothing


def test_message_attributes_name_the_dataset_and_the_outcome_for_filter_policies():
    warned = {**SUMMARIES, "load": {"status": "succeeded", "warnings": ["orders.csv was delivered again"]}}
    outcomes = {
        "succeeded": format_notification(event("SUCCEEDED"), SUMMARIES),
        "succeeded_with_warnings": format_notification(event("SUCCEEDED"), warned),
        "failed": format_notification(event("FAILED", error={"Error": "X", "Cause": "y"})),
        "unknown": format_notification(event("TIMED_OUT")),
    }
    for outcome, note in outcomes.items():
        assert note.message_attributes() == {
            "dataset": {"DataType": "String", "StringValue": "tpch"},
            "outcome": {"DataType": "String", "StringValue": outcome},
        }
    assert format_notification(None).message_attributes()["dataset"]["StringValue"] == "unknown dataset"
