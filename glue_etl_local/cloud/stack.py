"""The pipeline in the local cloud: `cloudformation/pipeline.yaml` deployed the way users deploy it
(`glue-etl deploy`, the AWS CLI against the cloud's endpoint), with local parameters; names come
from the stack's outputs. There is no second description of the deployment."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glue_etl_local import deploy as deployment
from glue_etl_local.cloud.server import LocalCloud

EMAIL = "data-team@example.com"
PHONE = "+15555550100"
PARAMETERS_FILE = deployment.TEMPLATES / "parameters" / "dev.json"


@dataclass(frozen=True)
class Pipeline:
    name: str  # the environment name: every resource is named <name>-glue-etl-...
    lake_bucket: str
    state_machine_arn: str
    topic_arn: str
    function_name: str
    database_prefix: str
    lease_table: str
    work_group: str  # Athena's, with the stack's named queries
    job_names: dict[str, str]

    @property
    def lake_path(self) -> str:
        return f"s3://{self.lake_bucket}/lake"

    def landing_path(self, dataset: str) -> str:
        return f"s3://{self.lake_bucket}/landing/{dataset}"

    def database(self, dataset: str) -> str:
        """Each dataset publishes to its own Glue database (the load job creates it)."""
        return f"{self.database_prefix}_{dataset}"


def pipeline_from_outputs(name: str, outputs: Mapping[str, str]) -> Pipeline:
    return Pipeline(
        name=name,
        lake_bucket=outputs["LakeBucket"],
        state_machine_arn=outputs["StateMachineArn"],
        topic_arn=outputs["NotificationTopicArn"],
        function_name=outputs["NotifyFunctionName"],
        database_prefix=outputs["GlueDatabasePrefix"],
        lease_table=outputs["LeaseTableName"],
        work_group=outputs["AthenaWorkGroup"],
        job_names={job: outputs[f"{job.capitalize()}JobName"] for job in ("extract", "transform", "load")},
    )


def deploy_stack(
    cloud: LocalCloud,
    name: str = "local",
    default_dataset: str = "tpch",
    parameters: Mapping[str, str] | None = None,
    settle_seconds: int = 0,
    landing_events: bool = True,
    show_commands: Callable[[str], None] = lambda _: None,
    show: Callable[[str], None] = print,
) -> Pipeline:
    """Deploys both stacks of the template into the cloud (parameters override dev.json's), printing
    the AWS CLI commands with show_commands and, with show, which resource types moto cannot model."""
    values = {
        **deployment.read_parameters(PARAMETERS_FILE, []),
        "NotificationEmail": EMAIL,
        "NotificationPhoneNumber": PHONE,
        "DefaultDataset": default_dataset,
        "DeliverySettleSeconds": str(settle_seconds),
        "LandingRuleState": "ENABLED" if landing_events else "DISABLED",
        **(parameters or {}),
    }
    outputs = deployment.deploy(
        name, values, endpoint_url=cloud.endpoint_url, region=cloud.region, build_dir=cloud.workdir / "release",
        show=show_commands,
    )  # fmt: skip
    if cloud.unmodelled.types:
        show(
            f"Deployed; not modelled by the local cloud (AWS creates them): {', '.join(sorted(cloud.unmodelled.types))}"
        )
    return pipeline_from_outputs(name, outputs)


def store_database_secret(
    cloud: LocalCloud, secret: Mapping[str, Any], name: str = "retail/oltp", parameter: str | None = None
) -> dict[str, str]:
    """Stores a database secret in the cloud's Secrets Manager; returns the stack parameters that
    use it: extract reads the database, load upserts it as the warehouse (or only `parameter`)."""
    arn = cloud.client("secretsmanager").create_secret(Name=name, SecretString=json.dumps(dict(secret)))["ARN"]
    return {parameter: arn} if parameter else {"SourceSecretArn": arn, "WarehouseSecretArn": arn}


def upload_folder(cloud: LocalCloud, folder: Path, destination: str) -> int:
    """Uploads every file below folder to s3://bucket/prefix (what `aws s3 cp --recursive` does)."""
    from glue_etl_local.cloud.glue_runner import s3_location

    bucket, prefix = s3_location(destination)
    s3 = cloud.client("s3")
    files = [path for path in sorted(folder.rglob("*")) if path.is_file()]
    for path in files:
        s3.upload_file(str(path), bucket, f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}")
    return len(files)
