"""`make demo`: the whole pipeline in the local cloud, as a user would see it on AWS."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

from glue_etl_local import samples
from glue_etl_local.cloud import notifications, resources
from glue_etl_local.cloud.server import LocalCloud
from glue_etl_local.executions import start_and_follow


def _rule(title: str) -> str:
    return f"\n=== {title} " + "=" * max(3, 76 - len(title))


def run_demo(workdir: Path, tpch_scale: float = 0.01, show: Callable[[str], None] = print) -> int:
    """Starts the local cloud, deploys, runs one execution per dataset; 0 when all succeeded."""
    shutil.rmtree(workdir, ignore_errors=True)
    started = time.monotonic()
    show("Starting the local cloud (moto + a local Glue worker with Spark) ...")
    failures = 0
    with LocalCloud(workdir / "cloud") as cloud:
        pipeline = resources.deploy(cloud)
        show(f"Local cloud at {cloud.endpoint_url}; state machine {pipeline.state_machine_arn}")
        data = workdir / "sample-data"
        samples.generate_consultations(data / "consultations", rows=2000)
        samples.generate_tpch(data / "tpch", tpch_scale)
        sfn = cloud.client("stepfunctions")
        delivered = 0
        for dataset in ("consultations", "tpch"):
            count = resources.upload_folder(cloud, data / dataset, pipeline.landing_path(dataset))
            show(_rule(f"{dataset}: {count} file(s) uploaded to {pipeline.landing_path(dataset)}"))
            followed = start_and_follow(
                sfn, pipeline.state_machine_arn, {"dataset": dataset}, f"demo-{dataset}-{int(time.time())}", show
            )
            failures += followed.status != "SUCCEEDED"
            show(_rule(f"{dataset}: notifications as they would arrive"))
            messages = notifications.deliveries(cloud.region, pipeline.topic_arn)
            for delivery in messages[delivered:]:
                show(notifications.render(delivery))
            delivered = len(messages)
        tables = cloud.client("glue").get_tables(DatabaseName=pipeline.database)["TableList"]
        show(_rule("published gold tables (Glue Data Catalog)"))
        for table in sorted(tables, key=lambda t: t["Name"]):
            show(f"  {pipeline.database}.{table['Name']:<24} {table['StorageDescriptor']['Location']}")
    show(f"\nDemo finished in {time.monotonic() - started:.0f}s: {2 - failures} of 2 executions succeeded.")
    return 1 if failures else 0
