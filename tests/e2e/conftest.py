"""The local cloud with the pipeline deployed, shared by a test module (patches undone after it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from glue_etl_local.cloud import notifications, stack
from glue_etl_local.cloud.server import LocalCloud
from glue_etl_local.executions import Followed, start_and_follow
from glue_etl_local.samples import ConsultationsSample, generate_consultations


@dataclass
class Deployed:
    cloud: LocalCloud
    pipeline: stack.Pipeline
    sample: ConsultationsSample

    def run(self, name: str, **execution_input: Any) -> Followed:
        sfn = self.cloud.client("stepfunctions")
        return start_and_follow(
            sfn, self.pipeline.state_machine_arn, execution_input, f"{name}-{time.time_ns()}", lambda _: None
        )

    def lake(self, name: str) -> str:
        return f"s3://{self.pipeline.lake_bucket}/{name}"

    def deliveries_for(self, run_id: str) -> list[notifications.Delivery]:
        every = notifications.deliveries(self.cloud.region, self.pipeline.topic_arn)
        return [d for d in every if run_id in d.text]

    def read_json(self, uri: str) -> dict[str, Any]:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        return json.loads(self.cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def entered(followed: Followed) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in followed.events if e["type"].endswith("StateEntered")]


def task_errors(followed: Followed) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in followed.events if e["type"] == "TaskFailed"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    root = tmp_path_factory.mktemp("local-cloud")
    with LocalCloud(root / "cloud", retry_time_scale=0.001) as cloud:
        # These tests start executions by hand: the sample's upload must not start any.
        pipeline = stack.deploy_stack(cloud, default_dataset="consultations", landing_events=False)
        sample = generate_consultations(root / "sample", rows=400, seed=5)
        stack.upload_folder(cloud, Path(root / "sample"), pipeline.landing_path("consultations"))
        yield Deployed(cloud, pipeline, sample)
