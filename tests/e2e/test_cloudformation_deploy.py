"""The real template, deployed into the local cloud with the real AWS CLI, the way users deploy."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from glue_etl_local.cloud import notifications
from glue_etl_local.cloud.server import LocalCloud
from glue_etl_local.samples import generate_consultations
from tests.e2e import cli
from tests.e2e.cli import BIN, aws, run

ENV_NAME = "e2e"
STACK = f"{ENV_NAME}-glue-etl"


def deploy(cloud: LocalCloud, *overrides: str):
    return cli.deploy(cloud, ENV_NAME, *overrides)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("cfn")
    with LocalCloud(root / "cloud", retry_time_scale=0.001) as cloud:
        result = deploy(cloud, "NotificationEmail=data-team@example.com", "NotificationPhoneNumber=+15555550123",
                        "DeliverySettleSeconds=2")  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        (description,) = aws(cloud, "cloudformation", "describe-stacks", "--stack-name", STACK)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}
        inbox = notifications.Inbox(cloud.region, root / "inbox", lambda _: None).start()  # as glue-etl local-cloud
        yield cloud, outputs, root
        inbox.stop()


def test_deploy_creates_the_pipeline_from_the_template(stack):
    cloud, outputs, _ = stack
    for job in ("extract", "transform", "load"):
        job_description = aws(cloud, "glue", "get-job", "--job-name", outputs[f"{job.capitalize()}JobName"])["Job"]
        assert job_description["GlueVersion"] == "5.1"
        assert job_description["MaxRetries"] == 0
        assert job_description["Command"]["ScriptLocation"].endswith(f"/glue/{job}.py")
        assert job_description["DefaultArguments"]["--extra-py-files"].endswith("/glue/etl_lib.zip")
    subscriptions = aws(cloud, "sns", "list-subscriptions-by-topic", "--topic-arn", outputs["NotificationTopicArn"])
    assert {(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]} == {
        ("email", "data-team@example.com"), ("sms", "+15555550123")}  # fmt: skip
    machine = aws(cloud, "stepfunctions", "describe-state-machine", "--state-machine-arn", outputs["StateMachineArn"])
    definition = json.loads(machine["definition"])
    assert definition["States"]["Extract"]["Parameters"]["JobName"] == outputs["ExtractJobName"]
    assert "${" not in machine["definition"]


def test_files_copied_with_the_cli_start_the_deployed_pipeline_which_runs_them_once(stack):
    cloud, outputs, root = stack
    sample = generate_consultations(root / "sample", rows=300, files=2, seed=3)
    landing = f"{outputs['LandingPath']}/consultations/"
    copied = run(cloud, str(BIN / "aws"), "s3", "cp", "--recursive", str(root / "sample"), landing,
                 "--endpoint-url", cloud.endpoint_url)  # fmt: skip
    assert copied.returncode == 0, copied.stderr
    # The landing rule starts one execution per object; one runs the delivery, the other is folded into it.
    finished = cli.wait_until_idle(cloud, outputs["StateMachineArn"], at_least=2)
    assert {e["status"] for e in finished} == {"SUCCEEDED"}
    run_ids = [json.loads(e["output"])["config"]["run_id"] for e in finished
               if "Extract" in cli.states_entered(cloud, e["executionArn"])]  # fmt: skip
    summaries = {run_id: cli.read_json(cloud, f"{outputs['LakePath']}/_runs/consultations/{run_id}/extract.json")
                 for run_id in run_ids}  # fmt: skip
    (run_id,) = [run_id for run_id, summary in summaries.items() if summary["status"] == "succeeded"]
    assert summaries[run_id]["tables"]["consultations"]["rows_read"] == sample.rows
    deliveries = notifications.deliveries(cloud.region, outputs["NotificationTopicArn"])
    emails = [d for d in deliveries if d.protocol == "email" and "consultations" in d.subject]
    assert [email.subject for email in emails] == [f"[Glue ETL] succeeded: consultations run {run_id}"]
    assert emails[0].endpoint == "data-team@example.com"
    assert f"Total: {sample.clean_rows:,} clean rows" in emails[0].text


def test_landing_rule_matches_new_landing_objects_and_its_input_selects_the_dataset(stack):
    cloud, outputs, _ = stack
    rule = aws(cloud, "events", "describe-rule", "--name", f"{ENV_NAME}-glue-etl-landing")
    # moto's TestEventPattern API is a stub; its rule matcher (used to route events) is real.
    pattern = EventPattern.load(rule["EventPattern"])
    detail = {"bucket": {"name": outputs["LakeBucket"]}, "object": {"key": "landing/consultations/new.csv"}}
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    assert pattern.matches_event(event)
    event["detail"]["object"]["key"] = "lake/raw/x.parquet"
    assert not pattern.matches_event(event)
    targets = aws(cloud, "events", "list-targets-by-rule", "--rule", f"{ENV_NAME}-glue-etl-landing")["Targets"]
    (target,) = targets
    assert target["Arn"] == outputs["StateMachineArn"]
    assert target["InputTransformer"]["InputTemplate"] == '{"landing_key": <key>}'
    rule_input = json.dumps({"landing_key": "landing/consultations/new.csv"})  # what the InputTransformer sends
    started = run(cloud, str(BIN / "glue-etl"), "start", "--stack", STACK, "--endpoint-url", cloud.endpoint_url,
                  "--name", "from-event", "--input", rule_input)  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    execution = aws(cloud, "stepfunctions", "describe-execution", "--execution-arn",
                    f"{outputs['StateMachineArn'].replace(':stateMachine:', ':execution:')}:from-event")  # fmt: skip
    assert json.loads(execution["output"])["config"]["dataset"] == "consultations"


def test_make_start_prints_the_runs_email_and_sms_from_the_local_inbox(stack):
    cloud, _, root = stack
    started = run(cloud, str(BIN / "glue-etl"), "start", "--stack", STACK, "--endpoint-url", cloud.endpoint_url,
                  "--name", "cli-inbox", "--input", json.dumps({"dataset": "consultations"}),
                  "--inbox", str(root / "inbox"))  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    assert "SUCCEEDED: consultations run cli-inbox" in started.stdout
    assert "Subject: [Glue ETL] succeeded: consultations run cli-inbox" in started.stdout
    assert "--- SMS (" in started.stdout
    assert any(path.suffix == ".eml" for path in (root / "inbox").iterdir())


def test_a_parameter_change_updates_the_stack(stack):
    cloud, outputs, _ = stack
    result = deploy(
        cloud, "NotificationEmail=on-call@example.com", "NotificationPhoneNumber=+15555550123", "GlueNumberOfWorkers=4"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "aws cloudformation update-stack" in result.stdout
    (description,) = aws(cloud, "cloudformation", "describe-stacks", "--stack-name", STACK)["Stacks"]
    assert description["StackStatus"] == "UPDATE_COMPLETE"
    job = aws(cloud, "glue", "get-job", "--job-name", outputs["TransformJobName"])["Job"]
    assert job["NumberOfWorkers"] == 4
    subscriptions = aws(cloud, "sns", "list-subscriptions-by-topic", "--topic-arn", outputs["NotificationTopicArn"])
    assert ("email", "on-call@example.com") in {(s["Protocol"], s["Endpoint"]) for s in subscriptions["Subscriptions"]}


def test_deploy_airflow_creates_the_mwaa_stack_and_uploads_dags_wired_to_the_pipeline(stack, tmp_path):
    cloud, outputs, _ = stack
    vpc = aws(cloud, "ec2", "create-vpc", "--cidr-block", "10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [aws(cloud, "ec2", "create-subnet", "--vpc-id", vpc, "--cidr-block", f"10.8.{i}.0/24")
               for i in (1, 2)]  # fmt: skip
    subnet_ids = ",".join(subnet["Subnet"]["SubnetId"] for subnet in subnets)
    result = run(cloud, str(BIN / "glue-etl"), "deploy-airflow", "--env", ENV_NAME, "--endpoint-url",
                 cloud.endpoint_url, f"VpcId={vpc}", f"PrivateSubnetIds={subnet_ids}")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (description,) = aws(cloud, "cloudformation", "describe-stacks", "--stack-name", f"{STACK}-airflow")["Stacks"]
    bucket = next(o["OutputValue"] for o in description["Outputs"] if o["OutputKey"] == "DagsBucket")
    keys = {o["Key"] for o in aws(cloud, "s3api", "list-objects-v2", "--bucket", bucket)["Contents"]}
    assert keys == {"dags/glue_etl_dags.py", "requirements.txt", "startup.sh"}
    run(cloud, str(BIN / "aws"), "s3", "cp", f"s3://{bucket}/startup.sh", str(tmp_path / "startup.sh"),
        "--endpoint-url", cloud.endpoint_url)  # fmt: skip
    startup = (tmp_path / "startup.sh").read_text()
    assert f"export AIRFLOW_VAR_GLUE_ETL_STATE_MACHINE_ARN='{outputs['StateMachineArn']}'" in startup
    assert f"export AIRFLOW_VAR_GLUE_ETL_NOTIFY_FUNCTION='{outputs['NotifyFunctionName']}'" in startup
    role = aws(cloud, "iam", "get-role", "--role-name", f"{STACK}-airflow-{cloud.region}")["Role"]
    assert "airflow.amazonaws.com" in json.dumps(role["AssumeRolePolicyDocument"])


def test_a_snowflake_warehouse_ships_the_connector_wheels_to_the_load_job(stack):
    cloud, outputs, _ = stack
    result = deploy(cloud, "NotificationEmail=data-team@example.com", "NotificationPhoneNumber=+15555550123",
                    "DeliverySettleSeconds=2", "WarehouseEngine=snowflake")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    load = aws(cloud, "glue", "get-job", "--job-name", outputs["LoadJobName"])["Job"]["DefaultArguments"]
    modules = load["--additional-python-modules"].split(",")
    assert load["--python-modules-installer-option"] == "--no-index"  # from the artifacts bucket only
    names = [module.rsplit("/", 1)[1] for module in modules]
    assert any(n.startswith("snowflake_connector_python-4.8.1-cp311-") and "manylinux" in n for n in names)
    assert any(n.startswith("cryptography-") for n in names)
    for module in modules:
        bucket, _, key = module.removeprefix("s3://").partition("/")
        assert aws(cloud, "s3api", "head-object", "--bucket", bucket, "--key", key)["ContentLength"] > 0
    extract = aws(cloud, "glue", "get-job", "--job-name", outputs["ExtractJobName"])["Job"]["DefaultArguments"]
    assert "--additional-python-modules" not in extract
