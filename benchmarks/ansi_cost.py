"""What transform's ANSI mode costs (etl_lib.runtime.MODEL_SETTINGS: a value a model cannot hold
fails the run instead of becoming NULL).

    python -m benchmarks.ansi_cost LANDING [--runs 2]

Extracts a TPC-H landing folder once, then runs transform on a fresh copy of that lake with ANSI
mode on and off, alternately, in one Spark session (after a warm-up transform, so neither pays for
the JVM's start), and prints each run's seconds and the mean ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

from etl_lib import runtime
from etl_lib.job import run_job
from etl_lib.steps import run_extract, run_transform
from glue_etl_local.cli import step_argv
from glue_etl_local.hadoop_fs import local_session


def transform_seconds(extracted: Path, lake: Path, ansi: bool) -> float:
    shutil.rmtree(lake, ignore_errors=True)
    shutil.copytree(extracted, lake)
    settings = dict(runtime.MODEL_SETTINGS) if ansi else {}
    with mock.patch.dict(runtime.MODEL_SETTINGS, settings, clear=True):
        summary = run_job("transform", step_argv("transform", "tpch", str(lake), "bench"), run_transform, echo=False)
    if summary.status != "succeeded" or summary.duration_seconds is None:
        raise SystemExit(f"transform {summary.status}: {summary.message}")
    return summary.duration_seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--runs", type=int, default=2)
    options = parser.parse_args()
    local_session("bench-ansi-cost")
    with tempfile.TemporaryDirectory(prefix="ansi-cost-") as work:
        extracted, lake = Path(work) / "extracted", Path(work) / "lake"
        extract_argv = step_argv("extract", "tpch", str(extracted), "bench", str(options.landing))
        run_job("extract", extract_argv, run_extract, echo=False)
        transform_seconds(extracted, lake, ansi=True)  # warm-up
        seconds: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(options.runs):
            for ansi in (True, False):
                seconds[ansi].append(transform_seconds(extracted, lake, ansi))
    print(f"transform of {options.landing}, {options.runs} runs each, alternating\n")
    print("| ANSI mode | runs s | mean s |\n| --- | --- | ---: |")
    for ansi, runs in seconds.items():
        print(f"| {'on' if ansi else 'off'} | {', '.join(f'{s:.1f}' for s in runs)} | {statistics.mean(runs):.1f} |")
    print(f"\nANSI mode on / off: {statistics.mean(seconds[True]) / statistics.mean(seconds[False]):.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
