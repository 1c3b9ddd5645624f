"""Dollars per pipeline run on AWS, from the benchmark's measured stage times.

    python -m benchmarks.cost [--results benchmarks/results/tpch.json]

The model (every number is a parameter below, change it to your prices and sizes):
- a Glue job run is billed per second with a 1-minute minimum, at $0.44 per DPU-hour (Standard)
  or $0.29 (Flex); a G.1X worker is 1 DPU with 4 vCPUs, and one worker is the driver;
- a stage's compute time on Glue = the measured local time x local cores / executor cores, plus a
  fixed start-up (Glue 5.x starts in about 10-30 s; 20 s assumed), per job;
- larger scale factors grow like the measured scaling between the two largest benchmarked ones;
- Step Functions Standard: $0.025 per 1,000 state transitions (about 20 per run); the notify Lambda
  and S3 requests are negligible next to Glue.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

PRICE_PER_DPU_HOUR = {"STANDARD": 0.44, "FLEX": 0.29}
STARTUP_SECONDS = 20.0
LOCAL_CORES = 2
VCPUS_PER_G1X = 4
TRANSITIONS_PER_RUN = 20
PRICE_PER_TRANSITION = 0.025 / 1000
STAGES = ("extract", "transform", "load")


def stage_times(results: list[dict], scale: float) -> dict[str, float]:
    """Measured (or extrapolated from the two largest measured scales) local seconds per stage."""
    measured = sorted({r["scale"] for r in results if r["engine"] == "spark"})
    by_scale = {r["scale"]: r["stages"] for r in results if r["engine"] == "spark"}
    if scale in by_scale:
        return {stage: float(by_scale[scale][stage]) for stage in STAGES}
    low, high = measured[-2], measured[-1]
    times = {}
    for stage in STAGES:
        a, b = max(by_scale[low][stage], 0.01), max(by_scale[high][stage], 0.01)
        exponent = math.log(b / a) / math.log(high / low)
        times[stage] = b * (scale / high) ** exponent
    return times


def run_cost(local: dict[str, float], workers: int, execution_class: str) -> tuple[float, float]:
    """(dollars, DPU-seconds) of one pipeline run with `workers` G.1X workers per job."""
    executor_cores = (workers - 1) * VCPUS_PER_G1X
    dpu_seconds = 0.0
    for stage in STAGES:
        seconds = STARTUP_SECONDS + local[stage] * LOCAL_CORES / executor_cores
        dpu_seconds += max(seconds, 60.0) * workers
    dollars = dpu_seconds / 3600 * PRICE_PER_DPU_HOUR[execution_class] + TRANSITIONS_PER_RUN * PRICE_PER_TRANSITION
    return dollars, dpu_seconds


SIZES = ((1.0, 2), (10.0, 5), (100.0, 20))  # scale factor, G.1X workers per job


def table(results: list[dict]) -> str:
    measured = sorted({r["scale"] for r in results if r["engine"] == "spark"})
    lines = [
        "Glue 5.1, G.1X workers, per pipeline run (three job runs and the state machine's transitions)",
        "",
        "| SF | stage times | workers (G.1X) | DPU-seconds | Standard $/run | Flex $/run |",
        "| ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for scale, workers in SIZES:
        local = stage_times(results, scale)
        source = "measured" if scale in measured else f"extrapolated from SF {measured[-2]:g}-{measured[-1]:g}"
        standard, dpu_seconds = run_cost(local, workers, "STANDARD")
        flex, _ = run_cost(local, workers, "FLEX")
        lines.append(f"| {scale:g} | {source} | {workers} | {dpu_seconds:,.0f} | ${standard:.3f} | ${flex:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=Path(__file__).parent / "results" / "tpch.json")
    args = parser.parse_args()
    print(table(json.loads(args.results.read_text())))


if __name__ == "__main__":
    main()
