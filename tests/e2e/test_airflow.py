"""The Airflow DAGs (airflow/dags) run by `airflow dags test` in Airflow 3 with the Amazon provider,
against the local cloud: the operators make their real AWS calls there, the Glue jobs run for real."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from glue_etl_local import airflow_runner
from tests.e2e.conftest import Deployed

STATE_MACHINE_DAG, GLUE_JOBS_DAG = "glue_etl_state_machine", "glue_etl_glue_jobs"


@pytest.fixture(scope="module")
def environment(deployed: Deployed, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    pipeline = deployed.pipeline
    variables = {
        "state_machine_arn": pipeline.state_machine_arn,
        "glue_job_prefix": pipeline.job_names["extract"].removesuffix("-extract"),
        "landing_root": pipeline.landing_path("consultations").removesuffix("/consultations"),
        "catalog_database_prefix": pipeline.database_prefix,
        "notify_function": pipeline.function_name,
        "default_dataset": "consultations",
        "poke_seconds": "2",
        "deferrable": "false",
    }
    home = tmp_path_factory.mktemp("airflow-home")
    return airflow_runner.airflow_environment(home, deployed.cloud.endpoint_url, deployed.cloud.region, variables)


def dags_test(environment: dict[str, str], dag_id: str, **conf: Any) -> subprocess.CompletedProcess[str]:
    return airflow_runner.dags_test(dag_id, conf, environment)


def output(result: subprocess.CompletedProcess[str]) -> str:
    return result.stdout + result.stderr


def executions(deployed: Deployed) -> dict[str, str]:
    sfn = deployed.cloud.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=deployed.pipeline.state_machine_arn)["executions"]
    return {e["name"]: e["status"] for e in listed}


def test_airflow_state_machine_dag_runs_the_pipeline_and_reports_success(deployed, environment):
    lake = deployed.lake("airflow-state-machine")
    result = dags_test(environment, STATE_MACHINE_DAG, dataset="consultations", execution_input={"lake_path": lake})
    assert result.returncode == 0, output(result)[-3000:]
    started = {name: status for name, status in executions(deployed).items() if name.startswith("airflow-")}
    assert list(started.values()) == ["SUCCEEDED"]
    (name,) = started
    assert f":{name}: SUCCEEDED" in output(result)
    assert deployed.read_json(f"{lake}/_runs/consultations/{name}/load.json")["status"] == "succeeded"
    assert [d.protocol for d in deployed.deliveries_for(name)] == ["email", "sms"]


def test_airflow_state_machine_dag_runs_each_dataset_and_fails_naming_the_failed_step_and_glue_error(
    deployed, environment
):
    lake = deployed.lake("airflow-datasets")
    before = set(executions(deployed))
    result = dags_test(
        environment, STATE_MACHINE_DAG, datasets="consultations, nope", execution_input={"lake_path": lake}
    )
    assert result.returncode != 0
    started = {name: status for name, status in executions(deployed).items() if name not in before}
    assert sorted(started.values()) == ["FAILED", "SUCCEEDED"]
    succeeded = next(name for name, status in started.items() if status == "SUCCEEDED")
    assert "consultations: execution arn:aws:states:" in output(result)
    assert "nope: execution arn:aws:states:" in output(result)
    assert f":{succeeded}: SUCCEEDED" in output(result)
    assert deployed.read_json(f"{lake}/_runs/consultations/{succeeded}/load.json")["status"] == "succeeded"
    assert ": FAILED at Extract: JobFailedError: extract failed for dataset nope: " in output(result)
    assert "unknown dataset 'nope'" in output(result)
    assert "DagRun failed" in output(result) or "state=failed" in output(result)


def test_airflow_glue_jobs_dag_runs_the_three_jobs_and_notifies(deployed, environment):
    lake = deployed.lake("airflow-glue-jobs")
    result = dags_test(environment, GLUE_JOBS_DAG, dataset="consultations", lake_path=lake)
    assert result.returncode == 0, output(result)[-3000:]
    glue = deployed.cloud.client("glue")
    runs = {job: [r for r in glue.get_job_runs(JobName=name)["JobRuns"] if r["Arguments"]["--lake_path"] == lake]
            for job, name in deployed.pipeline.job_names.items()}  # fmt: skip
    assert {job: [r["JobRunState"] for r in job_runs] for job, job_runs in runs.items()} == {
        "extract": ["SUCCEEDED"], "transform": ["SUCCEEDED"], "load": ["SUCCEEDED"]}  # fmt: skip
    run_id = runs["load"][0]["Arguments"]["--run_id"]
    summary = deployed.read_json(f"{lake}/_runs/consultations/{run_id}/load.json")
    assert summary["status"] == "succeeded"
    tables = glue.get_tables(DatabaseName=deployed.pipeline.database("consultations"))["TableList"]
    assert any(t["StorageDescriptor"]["Location"].startswith(f"{lake}/gold/") for t in tables)
    email = next(d for d in deployed.deliveries_for(run_id) if d.protocol == "email")
    assert email.subject.startswith("[Glue ETL] succeeded")


def test_airflow_glue_jobs_dag_failure_is_notified_and_fails_the_run(deployed, environment):
    result = dags_test(environment, GLUE_JOBS_DAG, dataset="nope", lake_path=deployed.lake("airflow-nope"))
    assert result.returncode != 0
    assert "notification FAILED: Lambda answered 200" in output(result)
    assert "Glue job extract failed" in output(result)
    emails = [d for d in deployed.deliveries_for("nope") if d.protocol == "email"]
    assert any(d.subject.startswith("[Glue ETL] FAILED") for d in emails)


def test_airflow_glue_jobs_dag_passes_the_arguments_the_state_machine_builds(environment):
    """The DAG's Glue job arguments are the ASL's (state_machine/pipeline.asl.json), job by job, but
    the lease's holder: the DAG's tasks hold no lease, so their jobs refuse to run under an execution."""
    script = (
        "import json; from airflow.dag_processing.dagbag import DagBag; "
        f"dag = DagBag(dag_folder={str(airflow_runner.DAGS_FOLDER)!r}).dags[{GLUE_JOBS_DAG!r}]; "
        "print(json.dumps({t.task_id: sorted(t.script_args) for t in dag.tasks if hasattr(t, 'script_args')}))"
    )
    python = str(airflow_runner.AIRFLOW_VENV / "bin" / "python")
    printed = subprocess.run([python, "-c", script], env=environment, capture_output=True, text=True, check=True)
    dag_arguments = json.loads(printed.stdout.strip().splitlines()[-1])
    definition = json.loads(airflow_runner.packaging.ASL_PATH.read_text())
    asl_arguments = {
        job.lower(): sorted(
            key.removesuffix(".$")
            for key in definition["States"][job]["Parameters"]["Arguments"]
            if key != "--lease_holder.$"
        )
        for job in ("Extract", "Transform", "Load")
    }
    assert dag_arguments == asl_arguments
