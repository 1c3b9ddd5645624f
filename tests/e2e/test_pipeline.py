"""The real ASL, job scripts and Lambda, end to end in the local cloud."""

from glue_etl_local.samples import AGE_RULE, DEFECT_RULES
from tests.e2e.conftest import entered, task_errors


def test_empty_input_runs_the_default_dataset_and_notifies(deployed):
    followed = deployed.run("defaults")
    assert followed.status == "SUCCEEDED", followed.cause
    config = followed.output["config"]
    assert config["dataset"] == "consultations"
    assert config["source_path"] == deployed.pipeline.landing_path("consultations")
    assert config["run_id"] == followed.arn.rsplit(":", 1)[1]
    assert [s for s in entered(followed) if s in ("Extract", "Transform", "Load", "NotifySuccess")] == [
        "Extract", "Transform", "Load", "NotifySuccess"]  # fmt: skip

    transform = deployed.read_json(f"{config['lake_path']}/_runs/consultations/{config['run_id']}/transform.json")
    assert transform["tables"]["consultations"]["rows_written"] == deployed.sample.clean_rows

    glue = deployed.cloud.client("glue")
    tables = glue.get_tables(DatabaseName=deployed.pipeline.database("consultations"))["TableList"]
    locations = {t["Name"]: t["StorageDescriptor"]["Location"] for t in tables}
    assert locations["fact_consultation"].endswith(f"/gold/consultations/fact_consultation/version={config['run_id']}")

    quality = deployed.read_json(f"{config['lake_path']}/_runs/consultations/{config['run_id']}/quality.json")
    assert quality["status"] == "quarantined"
    broken = {(r["stage"], r["rule"]): r["broken"] for r in quality["rules"]}
    expected = deployed.sample.expected_quarantine_by_rule()
    diagnostic = DEFECT_RULES["blank_diagnostic"]
    assert broken[("transform", diagnostic)] == expected[diagnostic]
    assert broken[("extract", "malformed_record")] == expected["malformed_record"]
    report_uri = f"{config['lake_path']}/_runs/consultations/{config['run_id']}/quality.md"
    bucket, _, key = report_uri.removeprefix("s3://").partition("/")
    markdown = deployed.cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert markdown.startswith(f"# Data quality: consultations run {config['run_id']}")
    assert f"| consultations | transform | `{diagnostic}` | Failed | quarantine |" in markdown

    email, sms = sorted(deployed.deliveries_for(config["run_id"]), key=lambda d: d.protocol)
    assert (email.protocol, sms.protocol) == ("email", "sms")
    assert f"Report: {report_uri}" in email.text
    quarantined = deployed.sample.rows - deployed.sample.clean_rows
    assert email.subject == f"[Glue ETL] succeeded: consultations run {config['run_id']}"
    assert f"Total: {deployed.sample.clean_rows:,} clean rows, {quarantined:,} quarantined" in email.text
    assert sms.text == f"Glue ETL OK: consultations {config['run_id']}, {deployed.sample.clean_rows:,} rows, " \
                       f"{quarantined:,} quarantined"  # fmt: skip


def test_transient_glue_errors_are_retried_with_backoff(deployed):
    jobs = deployed.pipeline.job_names
    deployed.cloud.faults.refuse_start_job_run(jobs["extract"], times=2)
    deployed.cloud.faults.refuse_start_job_run(jobs["transform"], times=1, error="AWSGlueException",
                                               message="Rate exceeded")  # fmt: skip
    waits_before = len(deployed.cloud.retry_clock.waits)
    followed = deployed.run("retries", lake_path=deployed.lake("retries"))
    assert followed.status == "SUCCEEDED", followed.cause
    concurrency = "Glue.ConcurrentRunsExceededException"
    assert task_errors(followed) == [concurrency, concurrency, "Glue.AWSGlueException"]
    waits = deployed.cloud.retry_clock.waits[waits_before:]
    assert len(waits) == 3
    assert all(0 <= wait <= 300 for wait in waits)  # full jitter, capped by MaxDelaySeconds


def test_a_failing_transform_is_caught_notified_and_fails_the_execution(deployed):
    jobs = deployed.pipeline.job_names
    deployed.cloud.faults.fail_job(jobs["transform"], "AccountingError: transform consultations: rows lost")
    followed = deployed.run("catch", lake_path=deployed.lake("catch"))
    assert followed.status == "FAILED"
    assert followed.error == "PipelineFailed"
    assert followed.cause.startswith("States.TaskFailed: {")
    states = entered(followed)
    assert "Load" not in states
    assert states[-4:] == [
        "NotifyFailure",
        "ReleaseLeaseAfterFailure",
        "DeliveredMeanwhileAfterFailure",
        "PipelineFailed",
    ]
    run_id = followed.arn.rsplit(":", 1)[1]
    email, sms = sorted(deployed.deliveries_for(run_id), key=lambda d: d.protocol)
    assert email.subject == f"[Glue ETL] FAILED at Transform: consultations run {run_id}"
    assert "Error: AccountingError: transform consultations: rows lost" in email.text
    assert "Extract    SUCCEEDED" in email.text
    assert "Load       not run" in email.text
    assert sms.text.startswith(f"Glue ETL FAILED at Transform: consultations {run_id}: AccountingError")


def test_a_real_job_error_reaches_the_notification(deployed):
    followed = deployed.run("bad-dataset", dataset="no_such_dataset", lake_path=deployed.lake("bad"))
    assert followed.status == "FAILED"
    run_id = followed.arn.rsplit(":", 1)[1]
    email = next(d for d in deployed.deliveries_for(run_id) if d.protocol == "email")
    assert "Failed step: Extract" in email.text
    assert "unknown dataset 'no_such_dataset'; available: consultations, retail, tpch" in email.text


def test_a_lambda_service_error_is_retried(deployed):
    deployed.cloud.faults.fail_lambda_invoke(deployed.pipeline.function_name, times=2)
    followed = deployed.run("lambda-retry", lake_path=deployed.lake("lambda-retry"))
    assert followed.status == "SUCCEEDED", followed.cause
    assert task_errors(followed) == ["Lambda.TooManyRequestsException"] * 2
    run_id = followed.arn.rsplit(":", 1)[1]
    assert len(deployed.deliveries_for(run_id)) == 2  # one email and one SMS, sent once


def test_notification_that_keeps_failing_fails_the_execution(deployed):
    deployed.cloud.faults.fail_lambda_invoke(deployed.pipeline.function_name, times=10)
    try:
        followed = deployed.run("lambda-down", lake_path=deployed.lake("lambda-down"))
    finally:
        deployed.cloud.faults.clear()
    assert followed.status == "FAILED"
    assert followed.error == "NotificationFailed"
    assert task_errors(followed) == ["Lambda.TooManyRequestsException"] * 5  # first try + MaxAttempts 4


def test_a_fail_severity_rule_fails_the_run_and_the_notification_names_it(deployed):
    strict = f"Rules = [\n  {DEFECT_RULES['blank_diagnostic']},\n  # severity: fail\n  {AGE_RULE}\n]\n"
    rules_uri = f"s3://{deployed.pipeline.lake_bucket}/config/strict-rules/"
    deployed.cloud.client("s3").put_object(
        Bucket=deployed.pipeline.lake_bucket, Key="config/strict-rules/consultations.dqdl", Body=strict.encode()
    )
    followed = deployed.run("strict", lake_path=deployed.lake("strict"), rules_path=rules_uri)
    assert followed.status == "FAILED"
    assert "Load" not in entered(followed)
    run_id = followed.arn.rsplit(":", 1)[1]
    email = next(d for d in deployed.deliveries_for(run_id) if d.protocol == "email")
    assert email.subject == f"[Glue ETL] FAILED at Transform: consultations run {run_id}"
    out_of_range = deployed.sample.defects["age_out_of_range"]
    assert (f"DataQualityError: consultations: rule {AGE_RULE} (severity fail) broken by {out_of_range} row(s), "
            "e.g. the row at consultations_") in email.text  # fmt: skip
    assert "patient_age=" not in email.text  # where the row is, never its values
    assert "Data quality: FAILED" in email.text
    quality = deployed.read_json(f"{deployed.lake('strict')}/_runs/consultations/{run_id}/quality.json")
    assert quality["status"] == "failed"
