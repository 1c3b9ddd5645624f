import importlib
import json

import boto3
import pytest
from moto import mock_aws

REGION = "eu-west-1"


@pytest.fixture
def aws(offline_aws, monkeypatch):
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="notify")["TopicArn"]
        queue = sqs.create_queue(QueueName="inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": REGION})
        monkeypatch.setenv("TOPIC_ARN", topic)
        import lambda_notify.handler as handler

        yield importlib.reload(handler), sqs, queue, s3


def received(sqs, queue):
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    return [json.loads(m["Body"]) for m in messages]


def test_publishes_with_counts_read_from_the_run_summaries(aws):
    handler, sqs, queue, s3 = aws
    summary = {"status": "succeeded", "message": "ok", "tables": {"t": {"rows_written": 7, "rows_quarantined": 2}}}
    s3.put_object(Bucket="lake", Key="lake/_runs/tpch/r1/transform.json", Body=json.dumps(summary))
    event = {"status": "SUCCEEDED", "config": {"dataset": "tpch", "run_id": "r1", "lake_path": "s3://lake/lake"}}
    result = handler.handler(event, None)
    assert result["sms"] == "Glue ETL OK: tpch r1, 7 rows, 2 quarantined"
    (body,) = received(sqs, queue)
    assert body["Subject"] == "[Glue ETL] succeeded: tpch run r1"
    assert "Total: 7 clean rows, 2 quarantined" in body["Message"]  # SQS gets the default text


def test_a_run_with_a_warning_for_each_of_10000_files_is_still_published(aws):
    handler, sqs, queue, s3 = aws
    warnings = [f"orders_{i:05}.csv was delivered again with other content: it replaces the delivery read by run r0"
                for i in range(10_000)]  # fmt: skip
    summary = {"status": "succeeded", "message": "ok", "warnings": warnings, "tables": {}}
    s3.put_object(Bucket="lake", Key="lake/_runs/tpch/r1/extract.json", Body=json.dumps(summary))
    event = {"status": "SUCCEEDED", "config": {"dataset": "tpch", "run_id": "r1", "lake_path": "s3://lake/lake"}}
    handler.handler(event, None)
    (body,) = received(sqs, queue)
    assert "... and 9,980 more warning(s)" in body["Message"]


def test_missing_summaries_degrade_the_message_not_the_alert(aws):
    handler, sqs, queue, _ = aws
    handler.handler({"status": "FAILED", "config": {"dataset": "x", "run_id": "r", "lake_path": "s3://nope/l"}}, None)
    (body,) = received(sqs, queue)
    assert body["Subject"] == "[Glue ETL] FAILED at Extract: x run r"  # nothing ran: Extract failed


def test_a_subscription_can_take_only_its_datasets_failures(aws):
    handler, sqs, _, _ = aws
    sns = boto3.client("sns", region_name=REGION)
    queue = sqs.create_queue(QueueName="retail-on-call")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"dataset": ["retail"], "outcome": ["failed", "unknown"]}
    sns.subscribe(TopicArn=handler.settings().topic_arn, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"FilterPolicy": json.dumps(policy)})  # fmt: skip
    for dataset, status in (("retail", "SUCCEEDED"), ("tpch", "FAILED"), ("retail", "FAILED")):
        handler.handler({"status": status, "config": {"dataset": dataset, "run_id": f"{dataset}-{status}"}}, None)
    (body,) = received(sqs, queue)
    assert body["Subject"] == "[Glue ETL] FAILED at Extract: retail run retail-FAILED"
    assert body["MessageAttributes"]["outcome"] == {"Type": "String", "Value": "failed"}


def test_refuses_to_run_without_a_topic(aws, monkeypatch):
    monkeypatch.delenv("TOPIC_ARN")
    handler = importlib.reload(aws[0])
    with pytest.raises(RuntimeError, match="TOPIC_ARN is not set"):
        handler.handler({}, None)


def test_a_rerun_that_found_nothing_new_sends_nothing_and_any_other_run_does(aws):
    handler, sqs, queue, s3 = aws
    config = {"dataset": "tpch", "run_id": "r2", "lake_path": "s3://lake/lake", "rerun_of": "r1"}
    s3.put_object(Bucket="lake", Key="lake/_runs/tpch/r2/extract.json", Body=json.dumps({"status": "no_new_files"}))
    assert handler.handler({"status": "SUCCEEDED", "config": config}, None) == {
        "skipped": "run r2 (started for r1) found nothing new: another run processed it"
    }
    by_event = {**config, "rerun_of": None, "landing_key": "landing/tpch/orders.csv"}
    assert "landing/tpch/orders.csv" in handler.handler({"status": "SUCCEEDED", "config": by_event}, None)["skipped"]
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)
    handler.handler({"status": "FAILED", "config": config}, None)  # a failure is always told
    s3.put_object(Bucket="lake", Key="lake/_runs/tpch/r2/extract.json", Body=json.dumps({"status": "succeeded"}))
    handler.handler({"status": "SUCCEEDED", "config": config}, None)  # the rerun found files: told
    handler.handler({"status": "SUCCEEDED", "config": {**config, "rerun_of": None}}, None)
    assert len(received(sqs, queue)) == 3


def test_the_release_zip_runs_the_handler_with_only_what_the_lambda_runtime_has(tmp_path):
    """Extracted alone, the zip imports with boto3 (which the runtime has) and without this venv's
    site-packages: Powertools and typing_extensions come inside it."""
    import subprocess
    import sys
    import sysconfig
    import zipfile

    from glue_etl_local import packaging

    folder = tmp_path / "function"
    zipfile.ZipFile(__import__("io").BytesIO(packaging.lambda_zip())).extractall(folder)
    runtime = tmp_path / "runtime"  # boto3 and its dependencies only, as in the python3.13 runtime
    site = sysconfig.get_paths()["purelib"]
    for name in ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six.py"):
        source = __import__("pathlib").Path(site) / name
        (runtime / name).parent.mkdir(parents=True, exist_ok=True)
        (runtime / name).symlink_to(source)
    code = "import handler; print(handler.LOGGER.service, handler.format_notification({}).subject)"
    environment = {"PYTHONPATH": f"{folder}:{runtime}", "AWS_DEFAULT_REGION": "eu-west-1", "PATH": "/usr/bin"}
    result = subprocess.run([sys.executable, "-S", "-c", code], env=environment, capture_output=True, text=True,
                            cwd=tmp_path, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("glue-etl-notify [Glue ETL] status unknown")
