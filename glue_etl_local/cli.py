"""`glue-etl`: run the Glue jobs locally, exactly as Glue runs them, and generate sample data.

glue-etl job extract --dataset tpch --source_path DIR --lake_path DIR [--run_id ID]
glue-etl run --dataset tpch --source DIR --lake DIR [--json]
glue-etl run --dataset retail --lake DIR --source-secret file:SECRET.json [--warehouse-secret file:SECRET.json]
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

from etl_lib.args import JOBS, parse_args
from glue_etl_local import packaging, samples
from glue_etl_local.hadoop_fs import local_session
from glue_etl_local.run_lock import dataset_run_lock


def run_job_script(job: str, job_args: Sequence[str]) -> Any:
    """Runs the entry script Glue runs (its main, in this process so the JVM is shared), after any
    other local run of the same dataset and lake."""
    args = parse_args(job, job_args)
    local_session("glue-etl")  # the job reuses it
    module = runpy.run_path(str(packaging.JOB_SCRIPTS_DIR / f"{job}.py"), run_name=f"glue_job_{job}")
    with dataset_run_lock(args.lake_path, args.dataset, args.run_id):
        return module["main"](list(job_args))


def new_run_id() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]


def step_argv(
    job: str,
    dataset: str,
    lake: str,
    run_id: str,
    source: str | None = None,
    reprocess: bool = False,
    rules_path: str | None = None,
    **secrets: str | None,
) -> list[str]:
    """One step's job arguments as the state machine passes them (source: extract's landing folder;
    rules_path: transform's rulesets; secrets: references, passed to every step that is given one)."""
    argv = ["--JOB_NAME", f"local-{job}", "--JOB_RUN_ID", f"{run_id}-{job}", "--dataset", dataset, "--lake_path", lake,
            "--run_id", run_id, "--reprocess", str(reprocess).lower()]  # fmt: skip
    for name, value in secrets.items():
        argv += [f"--{name}", value] if value else []
    argv += ["--source_path", source] if job == "extract" and source else []
    argv += ["--rules_path", rules_path] if job == "transform" and rules_path else []
    return argv


def run_pipeline(
    dataset: str, source: str | None, lake: str, run_id: str, reprocess: bool = False, **secrets: str | None
) -> dict[str, Any]:
    """extract -> transform -> load, as the state machine runs them; returns the combined summary.
    secrets: source_secret, warehouse_secret, warehouse_schema (references, as the jobs take them),
    rules_path (transform: a folder of <table>.dqdl rulesets)."""
    from etl_lib.job import Step, run_job
    from etl_lib.steps import run_extract, run_load, run_transform

    local_session("glue-etl")  # the jobs reuse it
    steps: dict[str, Step] = {"extract": run_extract, "transform": run_transform, "load": run_load}
    combined: dict[str, Any] = {"dataset": dataset, "run_id": run_id, "lake": lake, "jobs": {}}
    with dataset_run_lock(lake, dataset, run_id):  # the three jobs after any other local run's
        for job, step in steps.items():
            argv = step_argv(job, dataset, lake, run_id, source, reprocess, **secrets)
            combined["jobs"][job] = run_job(job, argv, step, echo=False).to_dict()
    return combined


def format_summary(combined: dict[str, Any]) -> str:
    lines = [f"Pipeline {combined['dataset']}  run {combined['run_id']}  lake {combined['lake']}"]
    for job, summary in combined["jobs"].items():
        lines.append(f"\n{job:<10} {summary['status']:<18} {summary['duration_seconds']:>7.1f}s  {summary['message']}")
        if summary["tables"]:
            lines.append(f"  {'table':<22}{'read':>12}{'written':>12}{'quarantined':>13}{'superseded':>12}")
            for name, counts in summary["tables"].items():
                read, written, quarantined, superseded = (
                    counts[k] for k in ("rows_read", "rows_written", "rows_quarantined", "rows_superseded")
                )
                lines.append(f"  {name:<22}{read:>12,}{written:>12,}{quarantined:>13,}{superseded:>12,}")
                for rule, count in sorted(counts["quarantine_by_rule"].items()):
                    lines.append(f"  {'':<22}{'':>24}{count:>13,}  {rule}")
    return "\n".join(lines)


def serve_local_cloud(workdir: Path, port: int, deploy: bool) -> int:
    from glue_etl_local.cloud import stack
    from glue_etl_local.cloud.notifications import Inbox
    from glue_etl_local.cloud.server import LocalCloud

    with LocalCloud(workdir, port=port) as cloud:
        print(f"Local cloud listening on {cloud.endpoint_url}. Use it with:")
        for key, value in cloud.environment.items():
            print(f"  export {key}={value}")
        if deploy:
            pipeline = stack.deploy_stack(cloud, settle_seconds=5, show_commands=print)
            print(f"Pipeline deployed from cloudformation/pipeline.yaml as stack {pipeline.name}-glue-etl")
            print(f"  state machine: {pipeline.state_machine_arn}")
            print(f"  landing: {pipeline.landing_path('<dataset>')}   lake: {pipeline.lake_path}")
            print("  files copied to landing start the pipeline, as on AWS (aws s3 cp --recursive ...)")
        inbox = Inbox(cloud.region, workdir / "inbox").start()
        print(f"Email and SMS the topic delivers are shown here and kept in {workdir / 'inbox'}. Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopping")
        finally:
            inbox.stop()
    return 0


def start_execution(args: argparse.Namespace) -> int:
    import boto3

    from glue_etl_local.cloud.notifications import read_inbox
    from glue_etl_local.executions import outcome_line, start_and_follow

    sfn = boto3.client("stepfunctions", endpoint_url=args.endpoint_url, region_name=args.region)
    state_machine_arn = args.state_machine_arn
    if state_machine_arn is None:
        cloudformation = boto3.client("cloudformation", endpoint_url=args.endpoint_url, region_name=args.region)
        state_machine_arn = stack_outputs(cloudformation, args.stack)["StateMachineArn"]
    followed = start_and_follow(sfn, state_machine_arn, json.loads(args.input), args.name or new_run_id())
    print(f"\nExecution {followed.arn}")
    print(outcome_line(followed))
    if args.json:
        print(json.dumps({"status": followed.status, "error": followed.error, "cause": followed.cause,
                          "output": followed.output}, indent=2, default=str))  # fmt: skip
    if args.inbox is not None and followed.output:
        time.sleep(2)  # the local cloud writes its inbox every second
        for message in read_inbox(args.inbox, str(followed.output.get("config", {}).get("run_id"))):
            print(message)
    if followed.output:
        config = followed.output.get("config", {})
        summaries = f"_runs/{config.get('dataset')}/{config.get('run_id')}/"
        print(f"  output: lake {config.get('lake_path')}, run summaries in {summaries}")
    return 0 if followed.status == "SUCCEEDED" else 1


def query_command(args: argparse.Namespace) -> int:
    import boto3

    from glue_etl_local.queries import QueryFailedError, format_table, run_athena_query

    session = {"endpoint_url": args.endpoint_url, "region_name": args.region}
    outputs = stack_outputs(boto3.client("cloudformation", **session), args.stack)
    database = args.database or f"{outputs['GlueDatabasePrefix']}_{args.dataset}"
    athena = boto3.client("athena", **session)
    try:
        columns, rows = run_athena_query(athena, args.sql, database, outputs.get("AthenaWorkGroup"))
    except (QueryFailedError, athena.exceptions.InvalidRequestException) as error:
        print(f"query failed: {error}", file=sys.stderr)
        return 1
    print(format_table(columns, rows))
    print(f"({len(rows)} row(s), database {database})")
    return 0


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    (description,) = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    return {item["OutputKey"]: item["OutputValue"] for item in description.get("Outputs", [])}


def check_definition(path: Path | None) -> int:
    """Substitutes every placeholder with a sample value and runs statelint on the result."""
    import subprocess
    import tempfile

    definition = (path or packaging.ASL_PATH).read_text()
    values = {name: f"sample-{name}" for name in packaging.placeholders(definition)}
    values.update(
        {name: "arn:aws:lambda:eu-west-1:123456789012:function:notify" for name in values if name.endswith("Arn")}
    )
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(packaging.substitute(definition, values))
    statelint = Path(sys.executable).with_name("statelint")
    result = subprocess.run([str(statelint), handle.name], check=False)
    Path(handle.name).unlink()
    if result.returncode == 0:
        print(f"statelint: {path or packaging.ASL_PATH} is valid after substitution")
    return result.returncode


def diagram_command(write: Path | None, check: Path | None) -> int:
    from glue_etl_local import diagram

    block = diagram.readme_block(packaging.ASL_PATH.read_text())
    target = write or check
    if target is None:
        print(block)
        return 0
    current = target.read_text()
    updated = diagram.replace_block(current, block)
    if check is not None:
        if updated != current:
            print(f"{check}: the state machine diagram is out of date; run glue-etl diagram --write {check}")
            return 1
        return 0
    target.write_text(updated)
    return 0


def rules_command(action: str, dataset_name: str, folder: Path | None) -> int:
    """export: every table's ruleset (the dataset's key and foreign keys included) as DQDL files
    in a folder, a starting point for --rules_path; check: a --rules_path folder, as transform reads it."""
    from etl_lib.datasets import get_dataset
    from etl_lib.rules import rulesets

    dataset = get_dataset(dataset_name)
    if action == "export":
        for table, rules in rulesets.dataset_rules(dataset).items():
            text = rulesets.ruleset_text(rules)
            if folder is None:
                print(f"# {table}.dqdl\n{text}")
            else:
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{table}.dqdl").write_text(text)
        if folder is not None:
            print(f"wrote {len(dataset.tables)} rulesets of dataset {dataset_name} to {folder}")
        return 0
    if folder is None or not folder.is_dir():
        raise ValueError("glue-etl rules check needs --rules-path DIR (a folder of <table>.dqdl files)")
    files = {path.name: path for path in folder.glob("*.dqdl")}
    unknown = rulesets.unknown_ruleset_files(dataset, files)
    if unknown:
        raise ValueError(f"{folder}: {', '.join(unknown)} name no table of dataset {dataset_name}")
    checked = rulesets.dataset_rules(dataset, lambda name: files[name].read_text() if name in files else None)
    counts = ", ".join(f"{name} {len(checked[name[:-5]].rules)} rules" for name in sorted(files))
    print(f"{folder}: valid DQDL for dataset {dataset_name} ({counts or 'no .dqdl files: built-in rulesets'})")
    return 0


def docker_command(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from glue_etl_local import docker

    project = packaging.PROJECT_ROOT
    if args.action == "build":
        command = docker.build_command(project)
    elif args.action == "test":
        command = docker.pytest_command(project, args.rest, args.aws_config, args.profile)
    else:
        if not args.rest or args.rest[0] not in JOBS:
            raise ValueError(f"glue-etl docker job needs a job name first ({', '.join(JOBS)})")
        command = docker.job_command(project, args.rest[0], args.rest[1:], args.aws_config, args.profile)
    if args.print:
        print(shlex.join(command))
        return 0
    return subprocess.run(command, check=False).returncode


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glue-etl", description="Run the Glue ETL suite locally.")
    commands = parser.add_subparsers(dest="command")

    job = commands.add_parser("job", help="run one Glue job script with the arguments Glue would pass")
    job.add_argument("job", choices=JOBS)
    job.add_argument("job_args", nargs=argparse.REMAINDER, help="--dataset ... --lake_path ... (Glue style)")

    run = commands.add_parser("run", help="run extract, transform and load in order")
    run.add_argument("--dataset")
    run.add_argument("--source", default=None, help="landing folder (or s3:// URI) of a dataset of files")
    run.add_argument("--source-secret", default=None, help="database secret: a Secrets Manager id or file:PATH")
    run.add_argument("--warehouse-secret", default=None, help="warehouse secret, to upsert gold tables with a key")
    run.add_argument("--warehouse-schema", default=None, help="warehouse schema (default: <dataset>_dw)")
    run.add_argument("--lake", help="lake root: raw/, silver/, quarantine/, gold/ go below it")
    run.add_argument("--run-id", default=None)
    run.add_argument("--reprocess", action="store_true", help="re-read every landing file, not only new ones")
    run.add_argument("--rules-path", default=None, help="a folder of <table>.dqdl rulesets replacing the built-in ones")
    run.add_argument("--json", action="store_true", help="print the combined run summary as JSON")

    demo = commands.add_parser("demo", help="the whole pipeline in the local cloud (make demo)")
    demo.add_argument("--workdir", type=Path, default=Path(".local/demo"))
    demo.add_argument("--tpch-scale", type=float, default=0.01)

    demo_airflow = commands.add_parser("demo-airflow", help="the Airflow DAG starting the pipeline in the local cloud")
    demo_airflow.add_argument("--workdir", type=Path, default=Path(".local/demo-airflow"))
    demo_jdbc = commands.add_parser("demo-jdbc", help="retail from PostgreSQL to a warehouse, in the local cloud")
    demo_jdbc.add_argument("--workdir", type=Path, default=Path(".local/demo-jdbc"))
    warehouses = ["postgres", "snowflake"]
    demo_jdbc.add_argument("--warehouse", choices=warehouses, default="postgres", help="where load upserts gold")

    sample_db = commands.add_parser("sample-db", help="apply the retail sample's SQL to a PostgreSQL database")
    sample_db.add_argument("script", choices=["schema", "seed", "updates"])
    sample_db.add_argument("--conninfo", help='libpq string, e.g. "host=db dbname=shop user=etl"')

    cloud = commands.add_parser("local-cloud", help="serve the local cloud on 127.0.0.1 for the AWS CLI")
    cloud.add_argument("--port", type=int, default=4566)
    cloud.add_argument("--workdir", type=Path, default=Path(".local/cloud"))
    cloud.add_argument("--no-deploy", action="store_true", help="start empty (deploy with CloudFormation)")

    start = commands.add_parser("start", help="start a pipeline execution and follow it state by state")
    target = start.add_mutually_exclusive_group(required=True)
    target.add_argument("--state-machine-arn")
    target.add_argument("--stack", help="take the state machine from this stack's outputs (e.g. dev-glue-etl)")
    start.add_argument("--input", default="{}", help='execution input as JSON, e.g. {"dataset": "tpch"}')
    start.add_argument("--name", default=None, help="execution name (default: a timestamped run id)")
    start.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4566 for the local cloud")
    start.add_argument("--region", default=None)
    start.add_argument(
        "--json", action="store_true", help="also print the execution's status, error and output as JSON"
    )
    start.add_argument(
        "--inbox", type=Path, default=None,
        help="the local cloud's inbox folder: show the email and SMS of this run when it ends",
    )  # fmt: skip

    query = commands.add_parser("query", help="run SQL in Athena over the published gold tables")
    query.add_argument("sql")
    query.add_argument("--stack", default="local-glue-etl", help="the pipeline's stack (default: the local cloud's)")
    query.add_argument("--dataset", default="tpch", help="query this dataset's Glue database")
    query.add_argument("--database", default=None, help="a Glue database (instead of --dataset's)")
    query.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4566 for the local cloud")
    query.add_argument("--region", default=None)

    deploy = commands.add_parser("deploy", help="package and deploy the stacks with the AWS CLI (make deploy)")
    deploy.add_argument("--env", default="dev", help="environment name: stacks <env>-glue-etl(-bootstrap)")
    deploy.add_argument("--parameters", type=Path, default=None, help="CloudFormation parameters JSON file")
    deploy.add_argument("--endpoint-url", default=None, help="e.g. http://127.0.0.1:4566 for the local cloud")
    deploy.add_argument("--region", default=None)
    deploy.add_argument("overrides", nargs="*", metavar="Key=Value", help="parameter overrides")

    deploy_airflow = commands.add_parser(
        "deploy-airflow", help="the optional MWAA stack and the DAGs (make deploy-airflow)"
    )
    deploy_airflow.add_argument("--env", default="dev")
    deploy_airflow.add_argument("--parameters", type=Path, default=None, help="CloudFormation parameters JSON file")
    deploy_airflow.add_argument("--endpoint-url", default=None)
    deploy_airflow.add_argument("--region", default=None)
    deploy_airflow.add_argument("overrides", nargs="*", metavar="Key=Value", help="parameter overrides")

    check = commands.add_parser("check-definition", help="statelint the state machine after substitution")
    check.add_argument("--definition", type=Path, default=None)

    diagram = commands.add_parser("diagram", help="the state machine as a Mermaid diagram, from the ASL file")
    mode = diagram.add_mutually_exclusive_group()
    mode.add_argument("--write", type=Path, help="replace the diagram block in this README")
    mode.add_argument("--check", type=Path, help="fail if this README's diagram differs from the ASL")

    docker = commands.add_parser("docker", help="build, test or run a job in the Glue 5.0 image (needs Docker)")
    docker.add_argument("action", choices=["build", "test", "job"])
    docker.add_argument("rest", nargs=argparse.REMAINDER, help="test: pytest arguments; job: JOB then Glue arguments")
    docker.add_argument("--print", action="store_true", help="print the docker command instead of running it")
    docker.add_argument("--aws-config", type=Path, default=None, help="mount this ~/.aws (read-only) for real S3")
    docker.add_argument("--profile", default=None, help="AWS_PROFILE inside the container")

    rules = commands.add_parser("rules", help="export a dataset's DQDL rulesets to a folder, or check a folder")
    rules.add_argument("action", choices=["export", "check"])
    rules.add_argument("--dataset")
    rules.add_argument("--rules-path", type=Path, help="export: where to write; check: the folder to validate")

    generate = commands.add_parser("generate", help="generate sample landing data")
    generate.add_argument("dataset", choices=["tpch", "consultations"])
    generate.add_argument("--output", type=Path)
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
                args.dataset,
                _absolute(args.source) if args.source else None,
                _absolute(args.lake),
                args.run_id or new_run_id(),
                args.reprocess,
                source_secret=args.source_secret,
                warehouse_secret=args.warehouse_secret,
                warehouse_schema=args.warehouse_schema,
                rules_path=_absolute(args.rules_path) if args.rules_path else None,
            )
            print(json.dumps(combined, indent=2) if args.json else format_summary(combined))
        elif args.command == "demo":
            from glue_etl_local.demo import run_demo

            return run_demo(args.workdir.resolve(), args.tpch_scale)
        elif args.command == "demo-airflow":
            from glue_etl_local.demo import run_airflow_demo

            return run_airflow_demo(args.workdir.resolve())
        elif args.command == "demo-jdbc":
            from glue_etl_local.demo import run_jdbc_demo

            return run_jdbc_demo(args.workdir.resolve(), args.warehouse)
        elif args.command == "sample-db":
            from glue_etl_local.postgres import apply_script

            apply_script(args.conninfo, args.script)
            print(f"applied the retail sample's {args.script}.sql")
        elif args.command == "local-cloud":
            return serve_local_cloud(args.workdir, args.port, deploy=not args.no_deploy)
        elif args.command == "start":
            return start_execution(args)
        elif args.command == "query":
            return query_command(args)
        elif args.command == "diagram":
            return diagram_command(args.write, args.check)
        elif args.command == "deploy-airflow":
            from glue_etl_local.deploy import deploy_airflow, read_parameters

            deploy_airflow(args.env, read_parameters(args.parameters, args.overrides), args.endpoint_url, args.region)
        elif args.command == "deploy":
            from glue_etl_local.deploy import deploy, read_parameters

            deploy(args.env, read_parameters(args.parameters, args.overrides), args.endpoint_url, args.region)
        elif args.command == "rules":
            return rules_command(args.action, args.dataset, args.rules_path)
        elif args.command == "docker":
            return docker_command(args)
        elif args.command == "check-definition":
            return check_definition(args.definition)
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
