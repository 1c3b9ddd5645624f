"""One test per moto patch of the local cloud. If moto's internals move, these fail first."""

import io
import json
import time
import zipfile

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

from glue_etl_local.cloud import patches
from glue_etl_local.cloud.faults import FaultPlan
from glue_etl_local.cloud.lambda_runner import LambdaRunner

REGION = "eu-west-1"
ROLE = "arn:aws:iam::123456789012:role/test"
GLUE_SYNC = {
    "StartAt": "Run",
    "States": {"Run": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                       "Parameters": {"JobName": "job"}, "ResultSelector": {"state.$": "$.JobRunState"},
                       "End": True}},
}  # fmt: skip


@pytest.fixture
def aws(offline_aws):
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                "Action": "sts:AssumeRole"}]}  # fmt: skip
        boto3.client("iam").create_role(RoleName="test", AssumeRolePolicyDocument=json.dumps(trust))
        glue = boto3.client("glue", region_name=REGION)
        glue.create_job(Name="job", Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://b/job.py"})
        yield glue


def run_state_machine(definition):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name=f"sm{time.time_ns()}", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    return run_state_machine_arn(arn)


def test_unpatched_moto_still_breaks_sync_tasks_and_the_patch_fixes_them(aws):
    broken = run_state_machine(GLUE_SYNC)
    assert broken["status"] == "FAILED"
    assert "interrupt_all" in broken["cause"], "moto fixed .sync tasks: drop patch_sync_integration"
    undo = patches.patch_sync_integration()
    try:
        assert run_state_machine(GLUE_SYNC)["status"] == "SUCCEEDED"
    finally:
        undo()


def test_sync_patch_refuses_an_unrecognised_method(monkeypatch):
    cls = patches.state_task_service_callback.StateTaskServiceCallback
    monkeypatch.setattr(patches, "UNGUARDED_CALL", "this call is not in the source")
    with pytest.raises(RuntimeError, match="moto changed"):
        patches.patch_sync_integration()
    assert cls._eval_integration_pattern.__module__.endswith("state_task_service_callback")


def test_glue_runs_wait_for_the_runner_and_report_its_outcome(aws):
    started = []
    faults = FaultPlan()
    undo = patches.patch_glue_job_runs(lambda job, run: started.append(run), faults)
    try:
        run_id = aws.start_job_run(JobName="job", Arguments={"--dataset": "tpch"})["JobRunId"]
        assert aws.get_job_run(JobName="job", RunId=run_id)["JobRun"]["JobRunState"] == "STARTING"
        (run,) = started
        assert run.arguments == {"--dataset": "tpch"}
        patches.finish_job_run(run, succeeded=False, error_message="ValueError: boom")
        job_run = aws.get_job_run(JobName="job", RunId=run_id)["JobRun"]
        assert (job_run["JobRunState"], job_run["ErrorMessage"]) == ("FAILED", "ValueError: boom")
        assert job_run["ExecutionTime"] >= 1

        faults.refuse_start_job_run("job", times=1, error="AWSGlueException", message="Rate exceeded")
        with pytest.raises(ClientError) as refused:
            aws.start_job_run(JobName="job")
        assert refused.value.response["Error"]["Code"] == "AWSGlueException"
        aws.start_job_run(JobName="job")
    finally:
        undo()
    unpatched = aws.start_job_run(JobName="job")["JobRunId"]
    assert aws.get_job_run(JobName="job", RunId=unpatched)["JobRun"]["JobRunState"] == "SUCCEEDED"


def function_zip(source):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_lambda_code_runs_in_process_with_its_environment(aws, tmp_path):
    faults = FaultPlan()
    undo = patches.patch_lambda_invoke(LambdaRunner(tmp_path, REGION).invoke, faults)
    try:
        lam = boto3.client("lambda", region_name=REGION)
        source = "import os\ndef handle(event, context):\n    if event.get('boom'): raise ValueError('bad')\n" \
                 "    return {'greeting': os.environ['GREETING'] + event['name']}\n"  # fmt: skip
        code = {"ZipFile": function_zip(source)}
        environment = {"Variables": {"GREETING": "hi "}}
        lam.create_function(
            FunctionName="f", Runtime="python3.13", Role=ROLE, Handler="app.handle", Code=code, Environment=environment
        )
        answer = lam.invoke(FunctionName="f", Payload=json.dumps({"name": "ana"}))
        assert json.load(answer["Payload"]) == {"greeting": "hi ana"}
        failed = lam.invoke(FunctionName="f", Payload=json.dumps({"boom": True}))
        assert failed["FunctionError"]
        assert json.load(failed["Payload"])["errorType"] == "ValueError"
        faults.fail_lambda_invoke("f", times=1)
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName="f", Payload="{}")
        assert refused.value.response["Error"]["Code"] == "TooManyRequestsException"
    finally:
        undo()


def test_retry_clock_records_full_waits_and_sleeps_a_fraction():
    clock = patches.ScaledClock(0.001)
    undo = patches.patch_retry_clock(clock)
    try:
        assert retrier_decl.time is clock
        started = time.monotonic()
        retrier_decl.time.sleep(30)
        assert time.monotonic() - started < 1
        assert clock.waits == [30.0]
    finally:
        undo()
    assert retrier_decl.time is time


STACK = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"Tags": [{"Key": "project", "Value": "glue-etl"}],
                "KeyPolicy": {"Version": "2012-10-17", "Statement": []}}},
        "Database": {"Type": "AWS::Glue::Database", "Properties": {"CatalogId": "123456789012",
                     "DatabaseInput": {"Name": "gold_db"}}},
        "Job": {"Type": "AWS::Glue::Job", "Properties": {"Name": "cfn-job", "Role": ROLE, "GlueVersion": "5.0",
                "Command": {"Name": "glueetl", "ScriptLocation": "s3://b/x.py"}, "NumberOfWorkers": 3,
                "WorkerType": "G.1X", "DefaultArguments": {"--extra-py-files": "s3://b/lib.zip"}}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}},
        "Email": {"Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": {"Ref": "Topic"},
                  "Protocol": "email", "Endpoint": "a@example.com"}},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": "cfn-machine", "RoleArn": ROLE,
            "DefinitionString": json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${Greeting}",
                                                                            "End": True}}}),
            "DefinitionSubstitutions": {"Greeting": {"Ref": "Database"}}}},
    },
    "Outputs": {"Machine": {"Value": {"Fn::GetAtt": ["Machine", "Arn"]}}},
}  # fmt: skip


def create_stack():
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(StackName=f"s{time.time_ns()}", TemplateBody=json.dumps(STACK))


def test_unpatched_moto_cannot_deploy_the_template_resources(aws):
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    only = {name: STACK["Resources"][name] for name in ("Database", "Job", "Topic", "Email")}
    cloudformation.create_stack(StackName="skipped", TemplateBody=json.dumps({"Resources": only}))
    assert "cfn-job" not in aws.list_jobs()["JobNames"], "moto now creates AWS::Glue::Job: review cfn_models"
    assert aws.get_databases()["DatabaseList"] == [], "moto now creates AWS::Glue::Database: review cfn_models"
    assert boto3.client("sns", region_name=REGION).list_subscriptions()["Subscriptions"] == []
    key_only = {"Resources": {"Key": STACK["Resources"]["Key"]}}
    with pytest.raises(KeyError, match="TagKey"):
        cloudformation.create_stack(StackName="key", TemplateBody=json.dumps(key_only))


def test_cloudformation_models_create_runnable_resources(aws):
    undo = [patches.patch_cloudformation_models(), patches.patch_kms_key_tags(), patches.patch_sync_integration()]
    try:
        create_stack()
        assert aws.get_database(Name="gold_db")["Database"]["Name"] == "gold_db"
        job = aws.get_job(JobName="cfn-job")["Job"]
        assert (job["NumberOfWorkers"], job["DefaultArguments"]["--extra-py-files"]) == (3, "s3://b/lib.zip")
        sns = boto3.client("sns", region_name=REGION)
        assert [s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]] == ["a@example.com"]
        kms = boto3.client("kms", region_name=REGION)
        (key,) = kms.list_keys()["Keys"]
        assert kms.list_resource_tags(KeyId=key["KeyId"])["Tags"] == [{"TagKey": "project", "TagValue": "glue-etl"}]
        machine = next(
            m
            for m in boto3.client("stepfunctions", region_name=REGION).list_state_machines()["stateMachines"]
            if m["name"] == "cfn-machine"
        )
        execution = run_state_machine_arn(machine["stateMachineArn"])
        assert execution["status"] == "SUCCEEDED"  # created in the executing backend
        assert execution["output"].strip('"') == "gold_db"  # DefinitionSubstitutions applied
    finally:
        for step in reversed(undo):
            step()


PHONE_STACK = {
    "Parameters": {"Phone": {"Type": "String", "Default": ""}},
    "Conditions": {"HasPhone": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Phone"}, ""]}]}},
    "Resources": {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}},
        "Sms": {"Type": "AWS::SNS::Subscription", "Condition": "HasPhone",
                "Properties": {"TopicArn": {"Ref": "Topic"}, "Protocol": "sms", "Endpoint": {"Ref": "Phone"}}},
    },
}  # fmt: skip


@pytest.mark.parametrize("patched", [False, True])
def test_a_stack_update_removes_and_adds_resources_whose_condition_changed(aws, patched):
    undo = [patches.patch_cloudformation_models()] + ([patches.patch_conditional_updates()] if patched else [])
    cloudformation, sns = boto3.client("cloudformation", region_name=REGION), boto3.client("sns", region_name=REGION)

    def deploy(phone):
        parameters = [{"ParameterKey": "Phone", "ParameterValue": phone}]
        cloudformation.update_stack(StackName="alerts", TemplateBody=json.dumps(PHONE_STACK), Parameters=parameters)
        return [s["Endpoint"] for s in sns.list_subscriptions()["Subscriptions"]]

    try:
        phone = [{"ParameterKey": "Phone", "ParameterValue": "+15555550100"}]
        cloudformation.create_stack(StackName="alerts", TemplateBody=json.dumps(PHONE_STACK), Parameters=phone)
        if not patched:  # what the patch is for: moto updates the subscription with an empty endpoint
            with pytest.raises(ClientError, match="Invalid SMS endpoint"):
                deploy("")
            return
        assert deploy("") == []
        assert deploy("+15555550101") == ["+15555550101"]
        assert deploy("+15555550102") == ["+15555550102"]
    finally:
        for step in reversed(undo):
            step()


def run_state_machine_arn(arn):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    execution = sfn.start_execution(stateMachineArn=arn, name=f"e{time.time_ns()}")["executionArn"]
    for _ in range(100):
        description = sfn.describe_execution(executionArn=execution)
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


LANDING_RULE = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {"object": {"key": [{"prefix": "landing/"}]}},
}


def landing_pipeline(bucket_with_events):
    """A bucket created by CloudFormation with EventBridge enabled, a rule like the template's, and a
    state machine that just echoes its input."""
    template = {"Resources": {"Lake": {"Type": "AWS::S3::Bucket", "Properties": {
        "BucketName": "lake", "NotificationConfiguration": {"EventBridgeConfiguration": {
            "EventBridgeEnabled": bucket_with_events}}}}}}  # fmt: skip
    boto3.client("cloudformation", region_name=REGION).create_stack(StackName="s", TemplateBody=json.dumps(template))
    sfn = boto3.client("stepfunctions", region_name=REGION)
    echo = {"StartAt": "Echo", "States": {"Echo": {"Type": "Pass", "End": True}}}
    arn = sfn.create_state_machine(name="echo", definition=json.dumps(echo), roleArn=ROLE)["stateMachineArn"]
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="landing", EventPattern=json.dumps(LANDING_RULE))
    transformer = {"InputPathsMap": {"key": "$.detail.object.key"}, "InputTemplate": '{"landing_key": <key>}'}
    events.put_targets(Rule="landing", Targets=[{"Id": "p", "Arn": arn, "RoleArn": ROLE,
                                                  "InputTransformer": transformer}])  # fmt: skip
    return sfn, arn


def started_inputs(sfn, arn):
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    return sorted(json.loads(sfn.describe_execution(executionArn=e["executionArn"])["input"])["landing_key"]
                  for e in executions)  # fmt: skip


def test_unpatched_moto_starts_nothing_for_an_uploaded_landing_object(aws):
    sfn, arn = landing_pipeline(bucket_with_events=True)
    boto3.client("s3", region_name=REGION).put_object(Bucket="lake", Key="landing/tpch/orders.csv", Body=b"x")
    assert sfn.list_executions(stateMachineArn=arn)["executions"] == [], "moto delivers S3 events now: drop patches"


def test_uploads_start_one_execution_each_with_the_rules_input(aws):
    undo = [patches.patch_bucket_eventbridge_configuration(), patches.patch_eventbridge_state_machine_targets()]
    try:
        sfn, arn = landing_pipeline(bucket_with_events=True)
        s3 = boto3.client("s3", region_name=REGION)
        for key in ("landing/tpch/orders.csv", "landing/tpch/lineitem.csv", "lake/raw/x.parquet"):
            s3.put_object(Bucket="lake", Key=key, Body=b"x")
        assert started_inputs(sfn, arn) == ["landing/tpch/lineitem.csv", "landing/tpch/orders.csv"]
    finally:
        for step in reversed(undo):
            step()


def test_a_bucket_without_eventbridge_notifications_starts_nothing(aws):
    undo = [patches.patch_bucket_eventbridge_configuration(), patches.patch_eventbridge_state_machine_targets()]
    try:
        sfn, arn = landing_pipeline(bucket_with_events=False)
        boto3.client("s3", region_name=REGION).put_object(Bucket="lake", Key="landing/tpch/orders.csv", Body=b"x")
        assert started_inputs(sfn, arn) == []
    finally:
        for step in reversed(undo):
            step()


def test_a_scheduled_rule_on_the_same_state_machine_starts_nothing_for_events(aws):
    """A rule with only a schedule matches no event (moto's empty pattern matches all of them: every
    lake object written would start a run)."""
    undo = [patches.patch_bucket_eventbridge_configuration(), patches.patch_eventbridge_state_machine_targets()]
    try:
        sfn, arn = landing_pipeline(bucket_with_events=True)
        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
        events.put_targets(Rule="nightly", Targets=[{"Id": "p", "Arn": arn, "RoleArn": ROLE, "Input": "{}"}])
        boto3.client("s3", region_name=REGION).put_object(Bucket="lake", Key="landing/tpch/orders.csv", Body=b"x")
        assert started_inputs(sfn, arn) == ["landing/tpch/orders.csv"]  # the landing rule's run only
    finally:
        for step in reversed(undo):
            step()


def test_target_input_is_the_constant_the_path_the_template_or_the_event():
    event = {"detail": {"object": {"key": 'landing/tpch/a "b".csv', "size": 3}}}
    json_template = {"InputPathsMap": {"key": "$.detail.object.key", "size": "$.detail.object.size"},
                     "InputTemplate": '{"landing_key": <key>, "bytes": <size>}'}  # fmt: skip
    assert json.loads(patches.target_input({"InputTransformer": json_template}, event)) == {
        "landing_key": 'landing/tpch/a "b".csv', "bytes": 3}  # fmt: skip
    text_template = {"InputPathsMap": {"key": "$.detail.object.key"}, "InputTemplate": '"new object <key>"'}
    assert patches.target_input({"InputTransformer": text_template}, event) == '"new object landing/tpch/a "b".csv"'
    assert json.loads(patches.target_input({}, event)) == event
    assert patches.target_input({"Input": '{"datasets": "tpch"}'}, event) == '{"datasets": "tpch"}'
    assert json.loads(patches.target_input({"InputPath": "$.detail.object"}, event)) == event["detail"]["object"]


DESCRIBE = {"StartAt": "Describe", "States": {"Describe": {
    "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:describeExecution",
    "Parameters": {"ExecutionArn.$": "$.arn"}, "ResultSelector": {"status.$": "$.Status", "started.$": "$.StartDate"},
    "End": True}}}  # fmt: skip


def describe_through_the_sdk_integration(arn_to_describe):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    name = f"d{time.time_ns()}"
    arn = sfn.create_state_machine(name=name, definition=json.dumps(DESCRIBE), roleArn=ROLE)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps({"arn": arn_to_describe}))
    for _ in range(100):
        description = sfn.describe_execution(executionArn=execution["executionArn"])
        if description["status"] != "RUNNING":
            return description
        time.sleep(0.1)
    raise AssertionError("execution did not finish")


def test_service_integrations_take_and_give_pascal_case_only_when_patched(aws):
    sfn = boto3.client("stepfunctions", region_name=REGION)
    waiting = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 5, "End": True}}}
    machine = sfn.create_state_machine(name="waiting", definition=json.dumps(waiting), roleArn=ROLE)
    running = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="running")["executionArn"]
    broken = describe_through_the_sdk_integration(running)
    assert broken["status"] == "FAILED", "moto normalises integrations now: drop patch_service_integration_casing"
    undo = patches.patch_service_integration_casing()
    try:
        described = describe_through_the_sdk_integration(running)
        assert described["status"] == "SUCCEEDED", described.get("cause")
        assert json.loads(described["output"])["status"] == "RUNNING"
        assert json.loads(described["output"])["started"].startswith("20")  # a timestamp as ISO text
        missing = describe_through_the_sdk_integration(running.replace(":running", ":missing"))
        assert missing["error"] == "Sfn.ExecutionDoesNotExistException"
        parameters = {"StateMachineArn": machine["stateMachineArn"], "Name": "started", "Input": {"a": 1}}
        start = {"StartAt": "Start", "States": {"Start": {
            "Type": "Task", "Resource": "arn:aws:states:::states:startExecution", "End": True,
            "Parameters": parameters}}}  # fmt: skip
        assert run_state_machine(start)["status"] == "SUCCEEDED"
        started = sfn.describe_execution(executionArn=running.replace(":running", ":started"))
        assert json.loads(started["input"]) == {"a": 1}
    finally:
        undo()


def query_rows(sql, database):
    athena = boto3.client("athena", region_name=REGION)
    execution = athena.start_query_execution(QueryString=sql, QueryExecutionContext={"Database": database})
    rows = athena.get_query_results(QueryExecutionId=execution["QueryExecutionId"])["ResultSet"]["Rows"]
    return [[cell.get("VarCharValue") for cell in row["Data"]] for row in rows]


def test_athena_runs_queries_over_the_catalogs_parquet_only_when_patched(aws, tmp_path):
    import duckdb

    folder = tmp_path / "s3" / "lake" / "gold" / "sales" / "version=v1"
    (folder / "year=2024").mkdir(parents=True)
    duckdb.sql("SELECT * FROM (VALUES (1, 10.5), (2, NULL)) t(id, amount)").write_parquet(
        str(folder / "year=2024" / "part-0.parquet")
    )
    glue = boto3.client("glue", region_name=REGION)
    glue.create_database(DatabaseInput={"Name": "gold_tpch"})
    storage = {"Location": "s3://lake/gold/sales/version=v1", "Columns": [{"Name": "id", "Type": "int"}]}
    glue.create_table(DatabaseName="gold_tpch", TableInput={"Name": "sales", "StorageDescriptor": storage})
    sql = "SELECT id, amount, year FROM sales ORDER BY id"
    assert query_rows(sql, "gold_tpch") == [], "moto's Athena runs queries now: drop patch_athena_queries"
    undo = patches.patch_athena_queries(lambda uri: tmp_path / "s3" / uri.removeprefix("s3://"))
    try:
        assert query_rows(sql, "gold_tpch") == [["id", "amount", "year"], ["1", "10.5", "2024"], ["2", None, "2024"]]
        assert query_rows("SELECT count(*) AS n FROM gold_tpch.sales", "gold_tpch") == [["n"], ["2"]]
        with pytest.raises(ClientError, match="InvalidRequestException"):
            query_rows("SELECT * FROM missing_table", "gold_tpch")
    finally:
        undo()
