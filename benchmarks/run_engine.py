"""One engine's ETL run, in its own process so its peak memory can be measured:
`python -m benchmarks.run_engine ENGINE LANDING LAKE THREADS` prints the stage timings as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def run_in_local_cloud(landing: Path, lake: Path) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """The state machine in the local cloud, as `make demo` runs it: (stage seconds, statuses, gold folders)."""
    from glue_etl_local.cloud import stack
    from glue_etl_local.cloud.server import LocalCloud
    from glue_etl_local.executions import start_and_follow

    with LocalCloud(lake / "cloud") as cloud:
        pipeline = stack.deploy_stack(cloud, landing_events=False)  # one execution, started below
        stack.upload_folder(cloud, landing, pipeline.landing_path("tpch"))
        followed = start_and_follow(cloud.client("stepfunctions"), pipeline.state_machine_arn, {"dataset": "tpch"},
                                    "bench", lambda _: None)  # fmt: skip
        if followed.status != "SUCCEEDED":
            raise RuntimeError(f"execution {followed.status}: {followed.cause}")
        steps = followed.output["steps"] if followed.output else {}
        stages = {job: float(steps[job]["execution_time_seconds"]) for job in ("extract", "transform", "load")}
        glue = cloud.client("glue")
        folders = {}
        for table in glue.get_tables(DatabaseName=pipeline.database("tpch"))["TableList"]:
            location = table["StorageDescriptor"]["Location"].removeprefix("s3://")
            folders[table["Name"]] = str(lake / "cloud" / "s3" / location)
        return stages, {}, folders


def main() -> None:
    engine, landing, lake, threads = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    started = time.perf_counter()
    gold: dict[str, str] = {}
    spark_jobs = None
    if engine == "local-cloud":
        stages, statuses, gold = run_in_local_cloud(landing, lake)
    elif engine in ("spark", "spark-incremental"):
        from glue_etl_local.cli import run_pipeline

        run_id = "bench-incremental" if engine == "spark-incremental" else "bench"
        combined = run_pipeline("tpch", str(landing), str(lake), run_id)
        stages = {job: summary["duration_seconds"] for job, summary in combined["jobs"].items()}
        statuses = {job: summary["status"] for job, summary in combined["jobs"].items()}
        spark_jobs = sum(summary["spark_jobs"] for summary in combined["jobs"].values())
    else:
        module = __import__(f"benchmarks.{engine}_etl", fromlist=["run"])
        stages = module.run(landing, lake, threads)
        statuses = {}
    print(json.dumps({"stages": stages, "statuses": statuses, "gold": gold, "spark_jobs": spark_jobs,
                      "inside_seconds": time.perf_counter() - started}))  # fmt: skip


if __name__ == "__main__":
    main()
