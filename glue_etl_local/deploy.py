"""`make deploy`: package the release, upload it, create or update the stacks, with the AWS CLI.

Every AWS action is an `aws` command (printed as it runs), so the same path works against AWS and
against the local cloud (`--endpoint-url`). Two stacks: `<env>-glue-etl-bootstrap` (KMS key,
artifacts and access-log buckets) and `<env>-glue-etl` (everything else). The release is uploaded
under `releases/<content hash>/`, so a changed script or Lambda is a changed key: CloudFormation
updates exactly what changed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from glue_etl_local import packaging

TEMPLATES = packaging.PROJECT_ROOT / "cloudformation"
WHEEL_CACHE = packaging.PROJECT_ROOT / ".local" / "wheels"
CAPABILITIES = "CAPABILITY_NAMED_IAM"
# The pipeline stack is created from the release's copy of its template: a template given by URL may
# be 1 MB, one given inline only 51,200 bytes.
PIPELINE_TEMPLATE = "cloudformation/pipeline.yaml"
NO_UPDATES = "No updates are to be performed"


class DeployError(RuntimeError):
    pass


def build_release(directory: Path, extra: Mapping[str, bytes] | None = None) -> str:
    """Writes the release files (and extra ones, by name) into directory and returns its version
    (a content hash)."""
    shutil.rmtree(directory, ignore_errors=True)
    files = {
        **{f"glue/{job}.py": packaging.job_script(job) for job in packaging.JOBS},
        "glue/etl_lib.zip": packaging.library_zip(),
        "lambda/notify.zip": packaging.lambda_zip(),
        "state_machine/pipeline.asl.json": packaging.ASL_PATH.read_bytes(),
        PIPELINE_TEMPLATE: (TEMPLATES / "pipeline.yaml").read_bytes(),
        **(extra or {}),
    }
    digest = hashlib.sha256()
    for name in sorted(files):
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(files[name])
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()[:16]


def read_parameters(path: Path | None, overrides: Sequence[str]) -> dict[str, str]:
    """Parameters from a file (CloudFormation's list form or a flat object), then Key=Value overrides."""
    values: dict[str, str] = {}
    if path is not None:
        data = json.loads(path.read_text())
        if isinstance(data, list):
            values.update({item["ParameterKey"]: str(item["ParameterValue"]) for item in data})
        elif isinstance(data, dict):
            values.update({key: str(value) for key, value in data.items()})
        else:
            raise DeployError(f"{path}: expected a list of ParameterKey/ParameterValue or an object")
    for override in overrides:
        key, separator, value = override.partition("=")
        if not separator or not key:
            raise DeployError(f"parameter override {override!r} is not Key=Value")
        values[key] = value
    return values


class AwsCli:
    def __init__(self, endpoint_url: str | None, region: str | None, show: Callable[[str], None] = print) -> None:
        local = Path(sys.executable).with_name("aws")
        self.executable = str(local) if local.exists() else (shutil.which("aws") or "aws")
        self.endpoint_url = endpoint_url
        self.region = region
        self.show = show

    def command(self, args: Sequence[str]) -> list[str]:
        command = [self.executable, *args, "--output", "json"]
        if self.endpoint_url:
            command += ["--endpoint-url", self.endpoint_url]
        if self.region:
            command += ["--region", self.region]
        return command

    def run(self, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        self.show("$ aws " + " ".join(args))
        result = subprocess.run(self.command(args), capture_output=True, text=True, check=False)
        if check and result.returncode != 0:
            raise DeployError(f"aws {' '.join(args[:2])} failed: {result.stderr.strip()}")
        return result


def stack_outputs(cli: AwsCli, stack: str) -> dict[str, str] | None:
    result = cli.run(["cloudformation", "describe-stacks", "--stack-name", stack], check=False)
    if result.returncode != 0:
        if "does not exist" in result.stderr:
            return None
        raise DeployError(f"aws cloudformation describe-stacks failed: {result.stderr.strip()}")
    (description,) = json.loads(result.stdout)["Stacks"]
    return {item["OutputKey"]: item["OutputValue"] for item in description.get("Outputs", [])}


def deploy_stack(
    cli: AwsCli, stack: str, template: Path | str, parameters: Mapping[str, str], tags: Mapping[str, str]
) -> dict[str, str]:
    """Creates or updates the stack from a template file (`--template-body`) or an https URL of one in S3."""
    exists = stack_outputs(cli, stack) is not None
    source = ["--template-url", template] if isinstance(template, str) else ["--template-body", f"file://{template}"]
    args = [
        "cloudformation",
        "update-stack" if exists else "create-stack",
        "--stack-name", stack,
        *source,
        "--capabilities", CAPABILITIES,
        # The CLI's shorthand splits values at commas (a List<> parameter): escape them.
        "--parameters", *[f"ParameterKey={key},ParameterValue={value.replace(',', chr(92) + ',')}"
                          for key, value in parameters.items()],
        "--tags", *[f"Key={key},Value={value}" for key, value in tags.items()],
    ]  # fmt: skip
    result = cli.run(args, check=False)
    if result.returncode != 0:
        if exists and NO_UPDATES in result.stderr:
            cli.show(f"  {stack}: no changes")
        else:
            raise DeployError(f"{stack}: {result.stderr.strip()}")
    else:
        waiter = "stack-update-complete" if exists else "stack-create-complete"
        cli.run(["cloudformation", "wait", waiter, "--stack-name", stack])
    outputs = stack_outputs(cli, stack)
    if outputs is None:
        raise DeployError(f"{stack}: the stack disappeared during the deploy")
    return outputs


def deploy(
    environment: str,
    parameters: Mapping[str, str],
    endpoint_url: str | None = None,
    region: str | None = None,
    build_dir: Path = Path("dist/release"),
    show: Callable[[str], None] = print,
) -> dict[str, str]:
    cli = AwsCli(endpoint_url, region, show)
    tags = {"project": "glue-etl", "environment": environment}
    bootstrap = deploy_stack(
        cli, f"{environment}-glue-etl-bootstrap", TEMPLATES / "bootstrap.yaml", {"EnvironmentName": environment}, tags
    )
    # WarehouseEngine=snowflake: the load job gets the Snowflake connector's wheels from the release.
    parameters = dict(parameters)
    snowflake = parameters.pop("WarehouseEngine", "jdbc") == "snowflake"
    wheels = packaging.load_job_wheels(WHEEL_CACHE, parameters.get("GlueVersion", "5.1")) if snowflake else {}
    version = build_release(build_dir, wheels)
    prefix = f"releases/{version}"
    cli.run(["s3", "sync", str(build_dir), f"s3://{bootstrap['ArtifactsBucket']}/{prefix}/", "--only-show-errors"])
    if wheels:
        modules = [f"s3://{bootstrap['ArtifactsBucket']}/{prefix}/{name}" for name in wheels]
        parameters["LoadPythonModules"] = ",".join(modules)
    stack_parameters = {
        **parameters,
        "EnvironmentName": environment,
        "ArtifactsBucket": bootstrap["ArtifactsBucket"],
        "ArtifactsPrefix": prefix,
        "KmsKeyArn": bootstrap["KeyArn"],
        "AccessLogsBucket": bootstrap["AccessLogsBucket"],
    }
    template_url = f"https://{bootstrap['ArtifactsBucketDomainName']}/{prefix}/{PIPELINE_TEMPLATE}"
    outputs = deploy_stack(cli, f"{environment}-glue-etl", template_url, stack_parameters, tags)
    show(f"Deployed release {version} as stack {environment}-glue-etl:")
    for key, value in sorted(outputs.items()):
        show(f"  {key}: {value}")
    return outputs


AIRFLOW_REQUIREMENTS = "apache-airflow-providers-amazon==9.39.0\n"  # MWAA installs it under its own constraints


def airflow_bundle(directory: Path, pipeline: Mapping[str, str]) -> Path:
    """What MWAA reads from its bucket: the DAGs, requirements.txt, and startup.sh, which exports the
    DAGs' settings (Airflow Variables as AIRFLOW_VAR_* environment variables) from the pipeline's outputs."""
    shutil.rmtree(directory, ignore_errors=True)
    (directory / "dags").mkdir(parents=True)
    for dag in sorted((packaging.PROJECT_ROOT / "airflow" / "dags").glob("*.py")):
        shutil.copy(dag, directory / "dags" / dag.name)
    (directory / "requirements.txt").write_text(AIRFLOW_REQUIREMENTS)
    settings = {
        "STATE_MACHINE_ARN": pipeline["StateMachineArn"],
        "GLUE_JOB_PREFIX": pipeline["ExtractJobName"].removesuffix("-extract"),
        "LAKE_PATH": pipeline["LakePath"],
        "LANDING_ROOT": pipeline["LandingPath"],
        "CATALOG_DATABASE_PREFIX": pipeline["GlueDatabasePrefix"],
        "NOTIFY_FUNCTION": pipeline["NotifyFunctionName"],
    }
    lines = ["#!/bin/sh", "# Written by make deploy-airflow from the pipeline stack's outputs."]
    lines += [f"export AIRFLOW_VAR_GLUE_ETL_{name}='{value}'" for name, value in settings.items()]
    (directory / "startup.sh").write_text("\n".join(lines) + "\n")
    return directory


def deploy_airflow(
    environment: str,
    parameters: Mapping[str, str],
    endpoint_url: str | None = None,
    region: str | None = None,
    build_dir: Path = Path("dist/airflow"),
    show: Callable[[str], None] = print,
) -> dict[str, str]:
    """The optional MWAA stack (cloudformation/mwaa.yaml) for an environment whose pipeline is
    deployed, then the DAGs, requirements and startup script uploaded to its bucket."""
    cli = AwsCli(endpoint_url, region, show)
    bootstrap = stack_outputs(cli, f"{environment}-glue-etl-bootstrap")
    pipeline = stack_outputs(cli, f"{environment}-glue-etl")
    if bootstrap is None or pipeline is None:
        raise DeployError(f"deploy the pipeline first (make deploy ENV={environment}): its stacks are missing")
    stack_parameters = {**parameters, "EnvironmentName": environment, "KmsKeyArn": bootstrap["KeyArn"],
                        "AccessLogsBucket": bootstrap["AccessLogsBucket"]}  # fmt: skip
    tags = {"project": "glue-etl", "environment": environment}
    outputs = deploy_stack(cli, f"{environment}-glue-etl-airflow", TEMPLATES / "mwaa.yaml", stack_parameters, tags)
    bundle = airflow_bundle(build_dir, pipeline)
    cli.run(["s3", "sync", str(bundle), f"s3://{outputs['DagsBucket']}/", "--only-show-errors", "--delete"])
    show(f"Uploaded the DAGs to s3://{outputs['DagsBucket']}/dags/ for MWAA {outputs['AirflowEnvironmentName']}")
    return outputs
