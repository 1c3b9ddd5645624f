"""Static checks of cloudformation/*.yaml beyond cfn-lint and checkov (which `make lint` runs)."""

import json
from pathlib import Path

import pytest
from cfnlint.decode import decode_str

from glue_etl_local import packaging
from lambda_notify.messages import OUTCOMES

TEMPLATES = Path(packaging.PROJECT_ROOT) / "cloudformation"
# Actions that have no resource-level permissions in IAM, so "Resource": "*" is the only option.
UNSCOPABLE_ACTIONS = {
    "cloudwatch:PutMetricData",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    # What a Glue connection in a VPC needs; EC2 Describe* calls have no resource-level permissions.
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeRouteTables",
    "ec2:DescribeVpcAttribute",
}
UNTAGGABLE = {
    "AWS::S3::BucketPolicy", "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::Subscription",
    "AWS::KMS::Alias", "AWS::CloudWatch::Dashboard", "AWS::CloudWatch::Alarm", "AWS::Athena::NamedQuery",
    "AWS::Glue::Database", "AWS::Glue::SecurityConfiguration", "AWS::Events::Rule",
    "AWS::Logs::LogGroup", "AWS::Glue::Connection",
}  # fmt: skip


def load(name):
    template, problems = decode_str((TEMPLATES / name).read_text())
    assert not problems, problems
    return template


@pytest.fixture(params=["bootstrap.yaml", "pipeline.yaml"])
def template(request):
    return load(request.param)


def iam_statements(template):
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                # A conditional statement (Fn::If [condition, statement, AWS::NoValue]) is checked as written.
                for branch in statement["Fn::If"][1:] if "Fn::If" in statement else [statement]:
                    if branch != {"Ref": "AWS::NoValue"}:
                        yield logical_id, branch


def as_list(value):
    return value if isinstance(value, list) else [value]


def test_no_iam_statement_has_a_wildcard_action_or_an_unscoped_resource(template):
    for role, statement in iam_statements(template):
        actions = as_list(statement["Action"])
        for action in actions:
            assert "*" not in action, f"{role} {statement.get('Sid')}: wildcard action {action}"
        if "*" in as_list(statement["Resource"]):
            unscoped = set(actions) - UNSCOPABLE_ACTIONS
            assert not unscoped, f"{role} {statement.get('Sid')}: {unscoped} on Resource '*'"
        assert "NotAction" not in statement
        assert "NotResource" not in statement


def test_the_check_catches_a_wildcard(template):
    bad = {"Resources": {"R": {"Type": "AWS::IAM::Role", "Properties": {"Policies": [{"PolicyDocument": {
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}}]}}}}  # fmt: skip
    with pytest.raises(AssertionError, match="wildcard action s3:"):
        test_no_iam_statement_has_a_wildcard_action_or_an_unscoped_resource(bad)


def test_every_taggable_resource_is_tagged(template):
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] not in UNTAGGABLE:
            assert resource["Properties"].get("Tags"), f"{logical_id} ({resource['Type']}) has no tags"


def test_stateful_resources_are_retained(template):
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::KMS::Key"):
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id


def test_buckets_are_private_encrypted_versioned_and_tls_only(template):
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        properties = resource["Properties"]
        assert all(properties["PublicAccessBlockConfiguration"].values()), logical_id
        assert properties["VersioningConfiguration"]["Status"] == "Enabled", logical_id
        assert properties["LifecycleConfiguration"]["Rules"], logical_id
        assert properties["BucketEncryption"], logical_id
        policies = [r for r in resources.values() if r["Type"] == "AWS::S3::BucketPolicy"
                    and r["Properties"]["Bucket"] == {"Ref": logical_id}]  # fmt: skip
        (policy,) = policies
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert any(s["Condition"]["Bool"]["aws:SecureTransport"] == "false" for s in denies), logical_id


def test_state_machine_substitutions_fill_every_placeholder():
    machine = load("pipeline.yaml")["Resources"]["StateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == packaging.placeholders(packaging.ASL_PATH.read_text())
    assert machine["DefinitionS3Location"]["Key"] == {"Fn::Sub": "${ArtifactsPrefix}/state_machine/pipeline.asl.json"}


def argument_maps(job: dict) -> list[dict]:
    """A job's DefaultArguments, or each alternative of an Fn::If over them."""
    arguments = job["DefaultArguments"]
    return arguments["Fn::If"][1:] if "Fn::If" in arguments else [arguments]


def test_glue_jobs_run_the_chosen_glue_version_without_glue_retries_and_queue_beyond_the_limits():
    template = load("pipeline.yaml")
    assert template["Parameters"]["GlueVersion"]["Default"] == "5.1"
    assert template["Parameters"]["GlueVersion"]["AllowedValues"] == ["5.0", "5.1", "6.0"]
    jobs = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    assert len(jobs) == 3
    for job in jobs:
        assert job["GlueVersion"] == {"Ref": "GlueVersion"}
        assert job["MaxRetries"] == 0  # retries live in the state machine
        # several datasets at once: a run beyond MaxConcurrentRuns waits rather than fails
        assert job["JobRunQueuingEnabled"] is True
        assert job["SecurityConfiguration"] == {"Ref": "GlueSecurityConfiguration"}
        assert all(arguments["--enable-continuous-cloudwatch-log"] == "true" for arguments in argument_maps(job))


def test_parameter_file_names_only_template_parameters():
    for name, template in (("dev.json", "pipeline.yaml"), ("airflow-dev.json", "mwaa.yaml")):
        parameters = load(template)["Parameters"]
        for item in json.loads((TEMPLATES / "parameters" / name).read_text()):
            assert item["ParameterKey"] in parameters, f"{name}: unknown parameter {item['ParameterKey']}"


def test_templates_fit_the_way_the_deploy_passes_them():
    for name in ("bootstrap.yaml", "mwaa.yaml"):  # inline: --template-body
        assert (TEMPLATES / name).stat().st_size < 51_200, f"{name} needs --template-url"
    # from the release in the artifacts bucket: --template-url
    assert (TEMPLATES / "pipeline.yaml").stat().st_size < 1_000_000


def test_database_access_is_wired_only_through_secret_references_and_the_network_connection():
    template = load("pipeline.yaml")
    resources = template["Resources"]
    extract, load_job = resources["ExtractJob"]["Properties"], resources["LoadJob"]["Properties"]
    assert extract["DefaultArguments"]["--source_secret"] == {"Ref": "SourceSecretArn"}
    assert all(a["--warehouse_secret"] == {"Ref": "WarehouseSecretArn"} for a in argument_maps(load_job))
    with_modules, without = argument_maps(load_job)
    assert load_job["DefaultArguments"]["Fn::If"][0] == "HasLoadModules"
    assert with_modules["--additional-python-modules"] == {"Ref": "LoadPythonModules"}
    assert with_modules["--python-modules-installer-option"] == "--no-index"  # the wheels only, no internet
    assert {k: v for k, v in with_modules.items() if "python-modules" not in k} == without
    network = {
        "Fn::If": ["HasDatabaseNetwork", {"Connections": [{"Ref": "DatabaseConnection"}]}, {"Ref": "AWS::NoValue"}]
    }
    assert extract["Connections"] == network
    assert load_job["Connections"] == network
    assert "Connections" not in resources["TransformJob"]["Properties"]  # transform never touches a database
    assert resources["DatabaseConnection"]["Condition"] == "HasDatabaseNetwork"
    secret_reads = {
        s["Sid"]: s["Resource"] for _, s in iam_statements(template) if s["Action"] == "secretsmanager:GetSecretValue"
    }
    assert secret_reads == {"ReadSourceDatabaseSecret": {"Ref": "SourceSecretArn"},
                            "ReadWarehouseSecret": {"Ref": "WarehouseSecretArn"}}  # fmt: skip


def statements_of(template, role):
    return {statement["Sid"]: statement for logical_id, statement in iam_statements(template) if logical_id == role}


def test_the_lease_and_per_dataset_databases_are_granted_exactly():
    template = load("pipeline.yaml")
    machine = statements_of(template, "StateMachineRole")
    assert machine["HoldTheDatasetLease"]["Resource"] == {"Fn::GetAtt": ["LeaseTable", "Arn"]}
    assert set(machine["HoldTheDatasetLease"]["Action"]) == {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}  # fmt: skip
    own_executions = machine["SeeWhetherTheLeaseHolderRuns"]["Resource"]["Fn::Sub"]
    assert own_executions.endswith(":execution:${EnvironmentName}-glue-etl-pipeline:*")
    assert machine["RunAgainForDeliveriesThatArrivedMeanwhile"]["Action"] == "states:StartExecution"
    lease = template["Resources"]["LeaseTable"]["Properties"]
    assert lease["SSESpecification"]["KMSMasterKeyId"] == {"Ref": "KmsKeyArn"}
    assert lease["KeySchema"] == [{"AttributeName": "dataset", "KeyType": "HASH"}]
    jobs = statements_of(template, "GlueJobRole")
    assert jobs["SeeWhoHoldsTheDatasetLease"]["Action"] == "dynamodb:GetItem"  # read only: the jobs never take it
    assert jobs["SeeWhoHoldsTheDatasetLease"]["Resource"] == {"Fn::GetAtt": ["LeaseTable", "Arn"]}
    glue_jobs = [r["Properties"] for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Job"]
    assert all(a["--lease_table"] == {"Ref": "LeaseTable"} for job in glue_jobs for a in argument_maps(job))
    databases = [r["Fn::Sub"] for r in jobs["PublishGoldTables"]["Resource"]]
    assert any(r.endswith(":database/${EnvironmentName}_glue_etl_*") for r in databases)
    assert any(r.endswith(":table/${EnvironmentName}_glue_etl_*/*") for r in databases)
    assert jobs["ListOnlyTheFoldersTheJobsUse"]["Condition"]["StringLike"]["s3:prefix"] == [
        "landing", "landing/*", "lake", "lake/*", "tmp", "tmp/*"]  # fmt: skip
    events = statements_of(template, "EventsRole")["StartTheEncryptedStateMachine"]
    assert events["Condition"]["StringEquals"] == {
        "kms:EncryptionContext:aws:states:stateMachineArn": {"Ref": "StateMachine"}
    }
    named_queries = [r["Properties"]["Database"] for r in template["Resources"].values()
                     if r["Type"] == "AWS::Athena::NamedQuery"]  # fmt: skip
    assert named_queries == [{"Fn::Sub": "${EnvironmentName}_glue_etl_tpch"}] * 2 + [
        {"Fn::Sub": "${EnvironmentName}_glue_etl_consultations"}]  # fmt: skip


def test_every_notification_choice_filters_on_outcomes_the_lambda_sends():
    """A misspelt outcome in a filter policy would silently stop every message to that subscriber,
    and a policy on `outcome` alone would stop the alarms' messages, which carry no attributes."""
    template = load("pipeline.yaml")
    outcomes = template["Mappings"]["NotificationOutcomes"]
    for parameter, subscription in (("EmailNotifications", "EmailSubscription"),
                                    ("SmsNotifications", "SmsSubscription")):  # fmt: skip
        choices = template["Parameters"][parameter]["AllowedValues"]
        assert template["Parameters"][parameter]["Default"] == "all"
        assert sorted(choices) == sorted(["all", *outcomes])
        condition, every_run, filtered = template["Resources"][subscription]["Properties"]["FilterPolicy"]["Fn::If"]
        assert template["Conditions"][condition] == {"Fn::Equals": [{"Ref": parameter}, "all"]}
        assert every_run == {"Ref": "AWS::NoValue"}
        assert filtered == {"outcome": {"Fn::FindInMap": ["NotificationOutcomes", {"Ref": parameter}, "Outcomes"]}}
    for choice, values in outcomes.items():
        named = {value for value in values["Outcomes"] if isinstance(value, str)}
        assert named <= set(OUTCOMES), choice
        assert {"failed", "unknown"} <= named, choice
        # The alarms (timed out, aborted, dead letters) publish without attributes: they must get through.
        assert {"exists": False} in values["Outcomes"], choice


def test_the_schedule_starts_the_scheduled_datasets_through_the_state_machines_list_input():
    template = load("pipeline.yaml")
    (target,) = template["Resources"]["ScheduleRule"]["Properties"]["Targets"]
    assert target["Arn"] == {"Ref": "StateMachine"}
    assert target["Input"] == {"Fn::Sub": '{"datasets": "${ScheduledDatasets}"}'}
    pattern = template["Parameters"]["ScheduledDatasets"]["AllowedPattern"]
    assert pattern == "^([a-z][a-z0-9_]*(,[a-z][a-z0-9_]*)*)?$"
    assert template["Parameters"]["ScheduledDatasets"]["Default"] == ""  # the state machine's default dataset
