"""The retail dataset through the real state machine in the local cloud: a real PostgreSQL as the
source and the warehouse, credentials in (local) Secrets Manager, the jobs as Glue runs them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glue_etl_local.cloud import notifications, stack
from glue_etl_local.cloud.server import LocalCloud
from glue_etl_local.executions import Followed, start_and_follow
from glue_etl_local.postgres import RETAIL_SQL
from tests.conftest import CHANGED_BY_UPDATES, RetailDatabase

pytestmark = pytest.mark.postgres


@pytest.fixture
def cloud_with_retail(retail_db: RetailDatabase, tmp_path: Path) -> Iterator[tuple[LocalCloud, stack.Pipeline]]:
    with LocalCloud(tmp_path / "cloud", retry_time_scale=0.001) as cloud:
        document = json.loads(Path(retail_db.secret.removeprefix("file:")).read_text())
        secrets = stack.store_database_secret(cloud, document)
        yield cloud, stack.deploy_stack(cloud, default_dataset="retail", parameters=secrets)


def run(cloud: LocalCloud, pipeline: stack.Pipeline, name: str) -> Followed:
    sfn = cloud.client("stepfunctions")
    return start_and_follow(sfn, pipeline.state_machine_arn, {}, f"{name}-{time.time_ns()}", lambda _: None)


def read_summary(cloud: LocalCloud, pipeline: stack.Pipeline, run_id: str, job: str) -> dict[str, Any]:
    key = f"lake/_runs/retail/{run_id}/{job}.json"
    return json.loads(cloud.client("s3").get_object(Bucket=pipeline.lake_bucket, Key=key)["Body"].read())


def test_the_state_machine_extracts_incrementally_and_upserts_the_warehouse(cloud_with_retail, retail_db):
    cloud, pipeline = cloud_with_retail
    first = run(cloud, pipeline, "retail-first")
    assert first.status == "SUCCEEDED", first.cause
    first_id = first.output["config"]["run_id"]
    assert sum(t["rows_read"] for t in read_summary(cloud, pipeline, first_id, "extract")["tables"].values()) == 1108
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()

    retail_db.execute((RETAIL_SQL / "updates.sql").read_text())
    second = run(cloud, pipeline, "retail-second")
    assert second.status == "SUCCEEDED", second.cause
    second_id = second.output["config"]["run_id"]
    extract = read_summary(cloud, pipeline, second_id, "extract")
    assert {name: t["rows_read"] for name, t in extract["tables"].items()} == CHANGED_BY_UPDATES
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    load = read_summary(cloud, pipeline, second_id, "load")
    assert "fact_sales_order +20/~996/-0" in load["outputs"]["warehouse"]

    tables = cloud.client("glue").get_tables(DatabaseName=pipeline.database("retail"))["TableList"]
    assert {t["Name"] for t in tables} >= {"dim_customer", "fact_sales_order"}
    deliveries = [d for d in notifications.deliveries(cloud.region, pipeline.topic_arn) if second_id in d.text]
    email = next(d for d in deliveries if d.protocol == "email")
    assert email.subject == f"[Glue ETL] succeeded: retail run {second_id}"
