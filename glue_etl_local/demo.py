"""`make demo` and `make demo-jdbc`: the whole pipeline in the local cloud, as a user would see it on AWS."""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from glue_etl_local import samples
from glue_etl_local.cloud import notifications, stack
from glue_etl_local.cloud.server import LocalCloud
from glue_etl_local.executions import follow_delivery, start_and_follow
from glue_etl_local.queries import format_table, run_athena_query


def _rule(title: str) -> str:
    return f"\n=== {title} " + "=" * max(3, 76 - len(title))


def run_demo(workdir: Path, tpch_scale: float = 0.01, show: Callable[[str], None] = print) -> int:
    """Starts the local cloud, deploys the template, drops each dataset's files in landing (which
    starts the pipeline, as on AWS) and follows the run; 0 when every execution succeeded."""
    shutil.rmtree(workdir, ignore_errors=True)
    started = time.monotonic()
    show("Starting the local cloud (moto + a local Glue worker with Spark) ...")
    failures = 0
    with LocalCloud(workdir / "cloud") as cloud:
        show("Deploying cloudformation/pipeline.yaml into it (glue-etl deploy) ...")
        pipeline = stack.deploy_stack(cloud, settle_seconds=2, show=show)
        show(f"Local cloud at {cloud.endpoint_url}; state machine {pipeline.state_machine_arn}")
        data = workdir / "sample-data"
        samples.generate_consultations(data / "consultations", rows=2000)
        samples.generate_tpch(data / "tpch", tpch_scale)
        sfn = cloud.client("stepfunctions")
        inbox = notifications.Inbox(cloud.region, workdir / "inbox", show)
        for dataset in ("consultations", "tpch"):
            known = {
                e["executionArn"] for e in sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]
            }
            count = stack.upload_folder(cloud, data / dataset, pipeline.landing_path(dataset))
            show(_rule(f"{dataset}: {count} file(s) uploaded to {pipeline.landing_path(dataset)}"))
            runner, every = follow_delivery(sfn, pipeline.state_machine_arn, known, show)
            failures += runner is None or any(f.status != "SUCCEEDED" for f in every)
            failed = sum(f.status != "SUCCEEDED" for f in every)
            show(f"{len(every)} execution(s): one per uploaded file and one follow-up; one ran the delivery, the "
                 f"others were folded into it or found nothing new; {failed} failed")  # fmt: skip
            show(_rule(f"{dataset}: notifications as they would arrive"))
            inbox.collect()
        show(_rule("published gold tables (Glue Data Catalog, one database per dataset)"))
        for dataset in ("consultations", "tpch"):
            database = pipeline.database(dataset)
            tables = cloud.client("glue").get_tables(DatabaseName=database)["TableList"]
            for table in sorted(tables, key=lambda t: t["Name"]):
                show(f"  {database}.{table['Name']:<24} {table['StorageDescriptor']['Location']}")
        show_named_query(cloud, pipeline.work_group, "tpch - net revenue by month", show)
    show(f"\nThe email and SMS are kept in {workdir / 'inbox'} (.eml opens in a mail client).")
    show(f"Demo finished in {time.monotonic() - started:.0f}s: "
         f"{'every execution succeeded' if not failures else f'{failures} delivery run(s) failed'}.")  # fmt: skip
    return 1 if failures else 0


def show_named_query(cloud: LocalCloud, work_group: str, name: str, show: Callable[[str], None]) -> None:
    """Runs one of the stack's Athena named queries (in the local cloud: DuckDB over the gold Parquet)."""
    athena = cloud.client("athena")
    ids = athena.list_named_queries(WorkGroup=work_group)["NamedQueryIds"]
    queries = [athena.get_named_query(NamedQueryId=i)["NamedQuery"] for i in ids]
    query = next(q for q in queries if q["Name"] == name)
    columns, rows = run_athena_query(athena, query["QueryString"], query["Database"], query.get("WorkGroup"))
    show(_rule(f"Athena named query '{name}' (glue-etl query runs your own SQL)"))
    show(format_table(columns, rows[:12]) + (f"\n... {len(rows) - 12} more row(s)" if len(rows) > 12 else ""))


def run_jdbc_demo(workdir: Path, warehouse: str = "postgres", show: Callable[[str], None] = print) -> int:
    """The retail dataset: a throwaway PostgreSQL seeded with the sample, credentials in the local
    Secrets Manager, two executions (before and after the updates script) upserting a warehouse:
    a schema in the same server, or (warehouse="snowflake") the local Snowflake emulator reading the
    lake as its external stage. 0 when both succeeded."""
    from glue_etl_local.postgres import LocalPostgres, apply_script
    from glue_etl_local.snowflake_emulator import LocalSnowflake

    shutil.rmtree(workdir, ignore_errors=True)
    started = time.monotonic()
    failures = 0
    with LocalPostgres() as postgres, LocalCloud(workdir / "cloud") as cloud, contextlib.ExitStack() as stack_:
        apply_script(postgres.conninfo(), "schema")
        apply_script(postgres.conninfo(), "seed")
        show(f"PostgreSQL on 127.0.0.1:{postgres.port}, database {postgres.database}: retail sample seeded")
        secrets = stack.store_database_secret(cloud, postgres.secret())
        if warehouse == "snowflake":  # its secret is filled in once the lake bucket's name is known
            secrets |= stack.store_database_secret(cloud, {}, "retail/snowflake", parameter="WarehouseSecretArn")
        pipeline = stack.deploy_stack(cloud, default_dataset="retail", parameters=secrets, show=show)
        count_warehouse = partial(_postgres_warehouse_counts, postgres.conninfo())
        if warehouse == "snowflake":
            lake = cloud.workdir / "s3" / pipeline.lake_bucket / "lake"
            snowflake = stack_.enter_context(LocalSnowflake(workdir / "snowflake", lake))
            cloud.client("secretsmanager").put_secret_value(
                SecretId=secrets["WarehouseSecretArn"], SecretString=json.dumps(snowflake.secret())
            )
            show(
                f"Snowflake emulator on 127.0.0.1 (database {snowflake.database}, stage {snowflake.stage} on the lake)"
            )
            count_warehouse = partial(_snowflake_warehouse_counts, snowflake)
        inbox = notifications.Inbox(cloud.region, workdir / "inbox", show)
        for step, script in (("first run: everything", None), ("after updates.sql: only the changes", "updates")):
            if script:
                apply_script(postgres.conninfo(), script)
            show(_rule(f"retail, {step}"))
            sfn = cloud.client("stepfunctions")
            followed = start_and_follow(sfn, pipeline.state_machine_arn, {}, f"demo-retail-{time.time_ns()}", show)
            failures += followed.status != "SUCCEEDED"
            inbox.collect()
            show(count_warehouse())
    show(f"\nDemo finished in {time.monotonic() - started:.0f}s: {2 - failures} of 2 executions succeeded.")
    return 1 if failures else 0


def _postgres_warehouse_counts(conninfo: str) -> str:
    import psycopg

    with psycopg.connect(conninfo) as connection:
        counts = connection.execute(
            "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE schemaname = 'retail_dw' ORDER BY 1"
        ).fetchall()
    return "warehouse retail_dw: " + ", ".join(f"{name} {rows:,}" for name, rows in counts)


def _snowflake_warehouse_counts(snowflake: Any) -> str:
    schema = f"{snowflake.database}.RETAIL_DW"
    tables = ("DIM_CURRENCY", "DIM_CUSTOMER", "DIM_STAFF", "DIM_PRODUCT", "DIM_DATE", "FACT_SALES_ORDER")
    counts = [(table, snowflake.query(f"SELECT count(*) FROM {schema}.{table}")[0][0]) for table in tables]
    version = snowflake.query(f"SELECT VERSION FROM {schema}.ETL_LOAD_STATE")[0][0]
    return f"Snowflake {schema} (version {version}): " + ", ".join(f"{name} {rows:,}" for name, rows in counts)


def run_airflow_demo(workdir: Path, show: Callable[[str], None] = print) -> int:
    """The state machine DAG (airflow/dags) run by `airflow dags test` against the local cloud:
    Airflow starts a real execution there and waits for it. 0 when the DAG run succeeded."""
    from glue_etl_local import airflow_runner

    shutil.rmtree(workdir, ignore_errors=True)
    started = time.monotonic()
    with LocalCloud(workdir / "cloud") as cloud:
        pipeline = stack.deploy_stack(cloud, default_dataset="consultations", landing_events=False, show=show)
        sample = samples.generate_consultations(workdir / "data" / "consultations", rows=400, seed=7)
        stack.upload_folder(cloud, workdir / "data" / "consultations", pipeline.landing_path("consultations"))
        show(f"uploaded {len(sample.files)} consultations file(s) to {pipeline.landing_path('consultations')}")
        variables = {"state_machine_arn": pipeline.state_machine_arn, "default_dataset": "consultations",
                     "poke_seconds": "2", "deferrable": "false"}  # fmt: skip
        (workdir / "airflow").mkdir(parents=True, exist_ok=True)
        environment = airflow_runner.airflow_environment(
            workdir / "airflow", cloud.endpoint_url, cloud.region, variables
        )
        show(_rule("airflow dags test glue_etl_state_machine (dataset consultations)"))
        result = airflow_runner.dags_test("glue_etl_state_machine", {"dataset": "consultations"}, environment)
        lines = (result.stdout + result.stderr).splitlines()
        (workdir / "airflow" / "dags-test.log").write_text("\n".join(lines))
        for line in lines:
            if "[DAG TEST] end task" in line or ": SUCCEEDED" in line or " FAILED at " in line or "DagRun" in line:
                show("  " + line.split("[airflow", 1)[0].strip())
        notifications.Inbox(cloud.region, workdir / "inbox", show).collect()
    outcome = "succeeded" if result.returncode == 0 else f"failed (log: {workdir / 'airflow' / 'dags-test.log'})"
    show(f"\nAirflow demo finished in {time.monotonic() - started:.0f}s: the DAG run {outcome}.")
    return result.returncode
