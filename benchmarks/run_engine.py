"""One engine's ETL run, in its own process so its peak memory can be measured:
`python -m benchmarks.run_engine ENGINE LANDING LAKE THREADS` prints the stage timings as JSON."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path


def main() -> None:
    engine, landing, lake, threads = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
    started = time.perf_counter()
    if engine in ("spark", "spark-incremental"):
        from glue_etl_local.cli import run_pipeline

        run_id = "bench-incremental" if engine == "spark-incremental" else "bench"
        combined = run_pipeline("tpch", str(landing), str(lake), run_id)
        stages = {job: summary["duration_seconds"] for job, summary in combined["jobs"].items()}
        statuses = {job: summary["status"] for job, summary in combined["jobs"].items()}
    else:
        module = __import__(f"benchmarks.{engine}_etl", fromlist=["run"])
        stages = module.run(landing, lake, threads)
        statuses = {}
    print(json.dumps({"stages": stages, "statuses": statuses, "inside_seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
