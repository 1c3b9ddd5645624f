"""The same rows delivered as a few files or as many small ones: the per-file price of a run.

    python -m benchmarks.many_files [--files 2 1000 10000] [--rows N]

Generates the consultations sample with the same rows (by default two per file of the largest
case: 2,000 for 1,000 files) split into each number of files, runs the
three jobs on each in one Spark session (after a warm-up run, so no case pays for the JVM's
start), and prints seconds per step, Spark jobs, and the ratio to the fewest files.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from glue_etl_local.cli import run_pipeline
from glue_etl_local.samples import generate_consultations


def case_landing(work: Path, rows: int, files: int) -> Path:
    """The case's landing folder, generated on first use (the warm-up's 2 files hold other rows
    than a 2-file case: a folder per files and rows)."""
    landing = work / f"landing-{files}x{rows}"
    if not landing.exists():
        generate_consultations(landing, rows=rows, files=files, defect_rate=0.0)
    return landing


def run_case(work: Path, rows: int, files: int, run_id: str) -> tuple[float, dict[str, Any]]:
    landing, lake = case_landing(work, rows, files), work / f"lake-{files}x{rows}"
    shutil.rmtree(lake, ignore_errors=True)
    started = time.perf_counter()
    combined = run_pipeline("consultations", str(landing), str(lake), run_id)
    return time.perf_counter() - started, combined


def table(rows: int, results: list[tuple[int, float, dict[str, Any]]]) -> str:
    lines = [
        f"consultations, {rows:,} rows in each case; one Spark session, after a warm-up run",
        "",
        "| files | rows/file | extract s | transform s | load s | total s | Spark jobs | vs fewest files |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    baseline = results[0][1]
    for files, seconds, combined in results:
        jobs = combined["jobs"]
        steps = [f"{jobs[step]['duration_seconds']:.1f}" for step in ("extract", "transform", "load")]
        spark_jobs = sum(summary["spark_jobs"] for summary in jobs.values())
        ratio = f"{seconds / baseline:.2f}x"
        cells = [f"{files:,}", f"{rows // files:,}", *steps, f"{seconds:.1f}", str(spark_jobs), ratio]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, nargs="+", default=[2, 1000])
    parser.add_argument("--rows", type=int, help="rows in each case (default: twice the most files)")
    parser.add_argument("--output", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    rows = args.rows or 2 * max(args.files)
    with tempfile.TemporaryDirectory(prefix="many-files-") as scratch:
        work = Path(scratch)
        run_case(work, 20, 2, "warm-up")
        results = []
        for files in sorted(args.files):
            seconds, combined = run_case(work, rows, files, f"files-{files}")
            statuses = {job: summary["status"] for job, summary in combined["jobs"].items()}
            if statuses["transform"] != "succeeded":
                raise SystemExit(f"{files} files: {statuses}")
            results.append((files, seconds, combined))
            print(f"  {files} files: {seconds:.1f}s", flush=True)
    report = table(rows, results)
    print("\n" + report)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "many_files.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
