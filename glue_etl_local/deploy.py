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
CAPABILITIES = "CAPABILITY_NAMED_IAM"
NO_UPDATES = "No updates are to be performed"


class DeployError(RuntimeError):
    pass


def build_release(directory: Path) -> str:
    """Writes the release files into directory and returns its version (a content hash)."""
    shutil.rmtree(directory, ignore_errors=True)
    files = {
        **{f"glue/{job}.py": packaging.job_script(job) for job in packaging.JOBS},
        "glue/etl_lib.zip": packaging.library_zip(),
        "lambda/notify.zip": packaging.lambda_zip(),
        "state_machine/pipeline.asl.json": packaging.ASL_PATH.read_bytes(),
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
    cli: AwsCli, stack: str, template: Path, parameters: Mapping[str, str], tags: Mapping[str, str]
) -> dict[str, str]:
    exists = stack_outputs(cli, stack) is not None
    args = [
        "cloudformation",
        "update-stack" if exists else "create-stack",
        "--stack-name", stack,
        "--template-body", f"file://{template}",
        "--capabilities", CAPABILITIES,
        "--parameters", *[f"ParameterKey={key},ParameterValue={value}" for key, value in parameters.items()],
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
    version = build_release(build_dir)
    prefix = f"releases/{version}"
    cli.run(["s3", "sync", str(build_dir), f"s3://{bootstrap['ArtifactsBucket']}/{prefix}/", "--only-show-errors"])
    stack_parameters = {
        **parameters,
        "EnvironmentName": environment,
        "ArtifactsBucket": bootstrap["ArtifactsBucket"],
        "ArtifactsPrefix": prefix,
        "KmsKeyArn": bootstrap["KeyArn"],
        "AccessLogsBucket": bootstrap["AccessLogsBucket"],
    }
    outputs = deploy_stack(cli, f"{environment}-glue-etl", TEMPLATES / "pipeline.yaml", stack_parameters, tags)
    show(f"Deployed release {version} as stack {environment}-glue-etl:")
    for key, value in sorted(outputs.items()):
        show(f"  {key}: {value}")
    return outputs
