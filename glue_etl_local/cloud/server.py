"""LocalCloud: moto on 127.0.0.1 with the patches that make the pipeline run for real.

    with LocalCloud(workdir) as cloud:
        sfn = cloud.client("stepfunctions")

The same process serves the AWS CLI (`glue-etl local-cloud`): point it at `cloud.endpoint_url`.
"""

from __future__ import annotations

import logging
import os
import urllib.request
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
from moto.core.config import default_user_config
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from glue_etl_local import hadoop_fs
from glue_etl_local.cloud import patches, s3fs
from glue_etl_local.cloud.faults import FaultPlan
from glue_etl_local.cloud.glue_runner import GlueRunner
from glue_etl_local.cloud.lambda_runner import LambdaRunner

DEFAULT_REGION = "eu-west-1"
ACCOUNT_ID = "123456789012"  # moto's default account
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


class UnmodelledResources(logging.Filter):
    """moto logs one warning per template resource type it cannot create (alarms, Athena, policies):
    they are collected here, to be said once, in one line, instead."""

    def __init__(self) -> None:
        super().__init__()
        self.types: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith("No Moto CloudFormation support for "):
            self.types.add(message.rsplit(" ", 1)[-1])
            return False
        return True


class LocalCloud:
    def __init__(
        self, workdir: Path, port: int = 0, region: str = DEFAULT_REGION, retry_time_scale: float = 1.0
    ) -> None:
        """retry_time_scale < 1 shortens the state machine's Retry waits (they are still recorded
        at full length in `retry_clock.waits`)."""
        self.workdir = workdir.resolve()
        self.retry_clock = patches.ScaledClock(retry_time_scale)
        self.port = port
        self.region = region
        self.faults = FaultPlan()
        self._server: ThreadedMotoServer | None = None
        self._undo: list[Any] = []
        self._saved_environment: dict[str, str | None] = {}
        self.glue: GlueRunner | None = None
        self.unmodelled = UnmodelledResources()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        """What a client (boto3, the AWS CLI) needs to talk to this cloud."""
        return {
            **CREDENTIALS,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint_url,
        }

    def s3_folder(self, uri: str) -> Path:
        """The local folder that holds an s3:// location's files (what the Glue worker reads and writes)."""
        return self.workdir / "s3" / uri.removeprefix("s3://")

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def _set_environment(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def start(self) -> LocalCloud:
        self.workdir.mkdir(parents=True, exist_ok=True)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
        # The interpreter logs every caught task error with its whole parse tree; executions'
        # histories carry the same information readably.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        logging.getLogger("moto").addFilter(self.unmodelled)
        warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto", category=UserWarning)
        default_user_config["stepfunctions"]["execute_state_machine"] = True
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        # moto's backends are process-wide: a new cloud starts empty even after another one.
        reset = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        urllib.request.urlopen(reset, timeout=30).close()
        # moto's Step Functions calls Glue and Lambda through this port; the in-process Lambda
        # handler's boto3 clients find the cloud through AWS_ENDPOINT_URL.
        self._set_environment({**self.environment, "MOTO_PORT": str(self.port)})

        self.glue = GlueRunner(self.client("s3"), self.workdir / "s3", self.workdir / "glue-logs", self.faults)
        lambdas = LambdaRunner(self.workdir / "lambda-code", self.region)
        self._undo = [
            patches.patch_sync_integration(),
            patches.patch_glue_job_runs(self.glue.submit, self.faults),
            patches.patch_lambda_invoke(lambdas.invoke, self.faults),
            patches.patch_retry_clock(self.retry_clock),
            patches.patch_cloudformation_models(),
            patches.patch_conditional_updates(),
            patches.patch_kms_key_tags(),
            patches.patch_eventbridge_state_machine_targets(),
            patches.patch_bucket_eventbridge_configuration(),
            patches.patch_service_integration_casing(),
            patches.patch_athena_queries(self.s3_folder),
        ]
        jar = hadoop_fs.ensure_jar()
        self.glue.start_worker(s3fs.spark_settings(jar), {**self.environment, "SPARK_LOG_LEVEL": "ERROR"})
        self.glue.wait_until_ready()
        return self

    def stop(self) -> None:
        if self.glue is not None:
            self.glue.stop()
        for undo in reversed(self._undo):
            undo()
        self._undo = []
        if self._server is not None:
            self._server.stop()
            self._server = None
        logging.getLogger("moto").removeFilter(self.unmodelled)
        default_user_config["stepfunctions"]["execute_state_machine"] = False
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment = {}

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
