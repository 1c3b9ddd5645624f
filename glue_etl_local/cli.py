"""`glue-etl`: run the Glue jobs locally, exactly as Glue runs them, and generate sample data.

glue-etl job extract --dataset tpch --source_path DIR --lake_path DIR [--run_id ID]
glue-etl run --dataset tpch --source DIR --lake DIR [--json]
glue-etl generate tpch --scale 0.1 --output DIR
glue-etl generate consultations --rows 2000 --output DIR
"""

from __future__ import annotations

import argparse
import json
import runpy
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import etl_lib
from etl_lib.args import JOBS
from glue_etl_local import samples

JOB_SCRIPTS = Path(etl_lib.__file__).resolve().parent.parent


def job_script(job: str) -> Path:
    return JOB_SCRIPTS / f"{job}.py"


def run_job_script(job: str, job_args: Sequence[str]) -> Any:
    """Runs the entry script Glue runs (its main, in this process so the JVM is shared)."""
    module = runpy.run_path(str(job_script(job)), run_name=f"glue_job_{job}")
    return module["main"](list(job_args))


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def run_pipeline(dataset: str, source: str, lake: str, run_id: str, reprocess: bool = False) -> dict[str, Any]:
    """extract -> transform -> load, as the state machine runs them; returns the combined summary."""
    from etl_lib.job import Step, run_job
    from etl_lib.steps import run_extract, run_load, run_transform

    common = ["--dataset", dataset, "--lake_path", lake, "--run_id", run_id, "--reprocess", str(reprocess).lower()]
    steps: dict[str, Step] = {"extract": run_extract, "transform": run_transform, "load": run_load}
    combined: dict[str, Any] = {"dataset": dataset, "run_id": run_id, "lake": lake, "jobs": {}}
    for job, step in steps.items():
        extra = ["--source_path", source] if job == "extract" else []
        argv = ["--JOB_NAME", f"local-{job}", "--JOB_RUN_ID", f"{run_id}-{job}", *common, *extra]
        combined["jobs"][job] = run_job(job, argv, step, echo=False).to_dict()
    return combined


def format_summary(combined: dict[str, Any]) -> str:
    lines = [f"Pipeline {combined['dataset']}  run {combined['run_id']}  lake {combined['lake']}"]
    for job, summary in combined["jobs"].items():
        lines.append(f"\n{job:<10} {summary['status']:<18} {summary['duration_seconds']:>7.1f}s  {summary['message']}")
        if summary["tables"]:
            lines.append(f"  {'table':<22}{'read':>12}{'written':>12}{'quarantined':>13}")
            for name, counts in summary["tables"].items():
                read, written, quarantined = (counts[k] for k in ("rows_read", "rows_written", "rows_quarantined"))
                lines.append(f"  {name:<22}{read:>12,}{written:>12,}{quarantined:>13,}")
                for rule, count in sorted(counts["quarantine_by_rule"].items()):
                    lines.append(f"  {'':<22}{'':>24}{count:>13,}  {rule}")
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glue-etl", description="Run the Glue ETL suite locally.")
    commands = parser.add_subparsers(dest="command", required=True)

    job = commands.add_parser("job", help="run one Glue job script with the arguments Glue would pass")
    job.add_argument("job", choices=JOBS)
    job.add_argument("job_args", nargs=argparse.REMAINDER, help="--dataset ... --lake_path ... (Glue style)")

    run = commands.add_parser("run", help="run extract, transform and load in order")
    run.add_argument("--dataset", required=True)
    run.add_argument("--source", required=True, help="landing folder (or s3:// URI) of the dataset")
    run.add_argument("--lake", required=True, help="lake root: raw/, silver/, quarantine/, gold/ go below it")
    run.add_argument("--run-id", default=None)
    run.add_argument("--reprocess", action="store_true", help="re-read every landing file, not only new ones")
    run.add_argument("--json", action="store_true", help="print the combined run summary as JSON")

    generate = commands.add_parser("generate", help="generate sample landing data")
    generate.add_argument("dataset", choices=["tpch", "consultations"])
    generate.add_argument("--output", required=True, type=Path)
    generate.add_argument("--scale", type=float, default=0.1, help="tpch scale factor (1 = 1 GB of CSV)")
    generate.add_argument("--parts", type=int, default=None, help="tpch: files per table")
    generate.add_argument("--rows", type=int, default=2000, help="consultations rows")
    generate.add_argument("--files", type=int, default=2, help="consultations files")
    generate.add_argument("--seed", type=int, default=7)
    return parser


def _absolute(location: str) -> str:
    return location if "://" in location else str(Path(location).resolve())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "job":
            run_job_script(args.job, args.job_args)
        elif args.command == "run":
            combined = run_pipeline(
                args.dataset, _absolute(args.source), _absolute(args.lake), args.run_id or new_run_id(), args.reprocess
            )
            print(json.dumps(combined, indent=2) if args.json else format_summary(combined))
        elif args.dataset == "tpch":
            files = samples.generate_tpch(args.output, args.scale, args.parts)
            print(f"generated {len(files)} TPC-H file(s) at scale factor {args.scale} in {args.output}")
        else:
            sample = samples.generate_consultations(args.output, args.rows, args.files, args.seed)
            injected = ", ".join(f"{k}={v}" for k, v in sample.defects.items() if v)
            print(f"generated {sample.rows} consultations in {len(sample.files)} file(s) ({injected}) in {args.output}")
    except Exception as error:  # noqa: BLE001 - one clear line for the person at the terminal
        print(f"glue-etl: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
