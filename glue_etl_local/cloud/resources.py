"""Creates the pipeline's resources in the local cloud from the project's own files, by API calls.

(The CloudFormation template does the same on AWS; this is the quick path for the demo and the
e2e tests.)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from etl_lib.datasets import available_datasets
from glue_etl_local import packaging
from glue_etl_local.cloud.server import ACCOUNT_ID, LocalCloud

EMAIL = "data-team@example.com"
PHONE = "+15555550100"


@dataclass(frozen=True)
class Pipeline:
    name: str
    lake_bucket: str
    artifacts_bucket: str
    state_machine_arn: str
    topic_arn: str
    function_name: str
    database_prefix: str
    lease_table: str
    job_names: dict[str, str] = field(default_factory=dict)

    def database(self, dataset: str) -> str:
        """Each dataset publishes to its own Glue database (the load job creates it)."""
        return f"{self.database_prefix}_{dataset}"

    @property
    def lake_path(self) -> str:
        return f"s3://{self.lake_bucket}/lake"

    def landing_path(self, dataset: str) -> str:
        return f"s3://{self.lake_bucket}/landing/{dataset}"


def deploy(
    cloud: LocalCloud,
    name: str = "glue-etl",
    default_dataset: str = "tpch",
    job_arguments: Mapping[str, Mapping[str, str]] | None = None,
    settle_seconds: int = 0,
) -> Pipeline:
    """job_arguments: extra default arguments by job, e.g. {"extract": {"--source_secret": ARN}}."""
    s3, glue, iam = cloud.client("s3"), cloud.client("glue"), cloud.client("iam")
    sns, lam, sfn = cloud.client("sns"), cloud.client("lambda"), cloud.client("stepfunctions")
    lake_bucket, artifacts_bucket = f"{name}-lake-{ACCOUNT_ID}", f"{name}-artifacts-{ACCOUNT_ID}"
    location = {"LocationConstraint": cloud.region}
    for bucket in (lake_bucket, artifacts_bucket):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration=location)

    s3.put_object(Bucket=artifacts_bucket, Key="glue/etl_lib.zip", Body=packaging.library_zip())
    for job in packaging.JOBS:
        s3.put_object(Bucket=artifacts_bucket, Key=f"glue/{job}.py", Body=packaging.job_script(job))

    services = ["glue.amazonaws.com", "lambda.amazonaws.com", "states.amazonaws.com"]
    statement = {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": services}}
    trust = {"Version": "2012-10-17", "Statement": [statement]}
    role_arn = iam.create_role(RoleName=f"{name}-local", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]

    database_prefix = name.replace("-", "_")
    lease_table = f"{name}-leases"
    cloud.client("dynamodb").create_table(
        TableName=lease_table,
        AttributeDefinitions=[{"AttributeName": "dataset", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "dataset", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    job_names = {}
    for job in packaging.JOBS:
        job_names[job] = f"{name}-{job}"
        glue.create_job(
            Name=job_names[job],
            Role=role_arn,
            GlueVersion="5.0",
            Command={
                "Name": "glueetl",
                "ScriptLocation": f"s3://{artifacts_bucket}/glue/{job}.py",
                "PythonVersion": "3",
            },
            DefaultArguments={
                "--extra-py-files": f"s3://{artifacts_bucket}/glue/etl_lib.zip",
                "--job-language": "python",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-metrics": "true",
                **(job_arguments or {}).get(job, {}),
            },
            ExecutionProperty={"MaxConcurrentRuns": 1},
            MaxRetries=0,
            Timeout=120,
            WorkerType="G.1X",
            NumberOfWorkers=2,
        )

    topic_arn = sns.create_topic(Name=f"{name}-notifications")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="email", Endpoint=EMAIL)
    sns.subscribe(TopicArn=topic_arn, Protocol="sms", Endpoint=PHONE)

    function_name = f"{name}-notify"
    function_arn = lam.create_function(
        FunctionName=function_name,
        Runtime="python3.13",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": packaging.lambda_zip()},
        Timeout=60,
        Environment={"Variables": {"TOPIC_ARN": topic_arn, "LOG_LEVEL": "INFO"}},
    )["FunctionArn"]

    definition = packaging.substitute(
        packaging.ASL_PATH.read_text(),
        {
            "ExtractJobName": job_names["extract"],
            "TransformJobName": job_names["transform"],
            "LoadJobName": job_names["load"],
            "NotifyFunctionArn": function_arn,
            "DefaultDataset": default_dataset,
            "LakePath": f"s3://{lake_bucket}/lake",
            "LandingRoot": f"s3://{lake_bucket}/landing",
            "CatalogDatabasePrefix": database_prefix,
            "LeaseTable": lease_table,
            "Datasets": ",".join(available_datasets()),
            "DeliverySettleSeconds": str(settle_seconds),
        },
    )
    state_machine_arn = sfn.create_state_machine(
        name=f"{name}-pipeline", definition=definition, roleArn=role_arn, type="STANDARD"
    )["stateMachineArn"]
    return Pipeline(
        name=name,
        lake_bucket=lake_bucket,
        artifacts_bucket=artifacts_bucket,
        state_machine_arn=state_machine_arn,
        topic_arn=topic_arn,
        function_name=function_name,
        database_prefix=database_prefix,
        lease_table=lease_table,
        job_names=job_names,
    )


def database_job_arguments(cloud: LocalCloud, secret: Mapping[str, Any], name: str = "retail/oltp") -> dict[str, Any]:
    """Stores a database secret in the cloud's Secrets Manager and returns the jobs' default
    arguments that use it: extract reads the database, load upserts it as the warehouse."""
    arn = cloud.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(dict(secret)))["ARN"]
    return {"extract": {"--source_secret": arn}, "load": {"--warehouse_secret": arn}}


def upload_folder(cloud: LocalCloud, folder: Any, destination: str) -> int:
    """Uploads every file below folder to s3://bucket/prefix (what `aws s3 cp --recursive` does)."""
    from glue_etl_local.cloud.glue_runner import s3_location

    bucket, prefix = s3_location(destination)
    s3 = cloud.client("s3")
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}")
    return len(files)
