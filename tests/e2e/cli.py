"""The real command-line tools (`aws`, `glue-etl`) against a local cloud, as users run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from glue_etl_local import packaging
from glue_etl_local.cloud.server import LocalCloud

BIN = Path(sys.executable).parent


def run(cloud: LocalCloud, *command: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **cloud.environment}
    return subprocess.run(
        command, env=environment, capture_output=True, text=True, check=False, cwd=packaging.PROJECT_ROOT
    )


def aws(cloud: LocalCloud, *args: str) -> dict[str, Any]:
    result = run(cloud, str(BIN / "aws"), *args, "--endpoint-url", cloud.endpoint_url, "--output", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else {}


def deploy(cloud: LocalCloud, env_name: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    return run(
        cloud, str(BIN / "glue-etl"), "deploy", "--env", env_name, "--endpoint-url", cloud.endpoint_url,
        "--parameters", "cloudformation/parameters/dev.json", *overrides,
    )  # fmt: skip


def stack_outputs(cloud: LocalCloud, stack: str) -> dict[str, str]:
    (description,) = aws(cloud, "cloudformation", "describe-stacks", "--stack-name", stack)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in description["Outputs"]}


def executions(cloud: LocalCloud, state_machine_arn: str) -> list[dict[str, Any]]:
    listed = aws(cloud, "stepfunctions", "list-executions", "--state-machine-arn", state_machine_arn)
    return list(listed["executions"])


def wait_until_idle(cloud: LocalCloud, state_machine_arn: str, at_least: int, timeout: float = 600) -> list[dict]:
    """Every execution of the state machine once none is running (and at least `at_least` exist)."""
    sfn = cloud.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        listed = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
        if len(listed) >= at_least and all(e["status"] != "RUNNING" for e in listed):
            return [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]
        assert time.monotonic() < deadline, f"executions still running after {timeout}s: {listed}"
        time.sleep(1)


def states_entered(cloud: LocalCloud, execution_arn: str) -> list[str]:
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)
    return [e["stateEnteredEventDetails"]["name"] for e in history["events"] if e["type"].endswith("StateEntered")]


def read_json(cloud: LocalCloud, uri: str) -> dict[str, Any]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return dict(json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()))
