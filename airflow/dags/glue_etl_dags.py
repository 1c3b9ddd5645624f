"""The Glue ETL pipeline from Apache Airflow (Amazon MWAA or any Airflow 3 with the Amazon provider).

Two DAGs, the same arguments as the Step Functions state machine builds:

- `glue_etl_state_machine` starts the deployed state machine for a dataset, or one execution for
  each of several datasets, and waits for them: the state machine keeps doing what it does (the
  per-dataset lease, retries, the notification); the task log ends with each execution's outcome and,
  when it failed, the failed step and Glue's error, and the DAG run fails with any of them.
- `glue_etl_glue_jobs`, for teams that orchestrate with Airflow only: the three Glue jobs in order,
  then the same notification through the same notify Lambda, on success and on failure.

Everything deployment-specific is a DAG param (defaults from Airflow Variables written by
`make deploy-airflow`, so nothing is hard-coded); the AWS connection is `aws_default` unless the
`aws_conn_id` param says otherwise.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.models.param import Param
from airflow.providers.amazon.aws.hooks.lambda_function import LambdaHook
from airflow.providers.amazon.aws.hooks.step_function import StepFunctionHook
from airflow.providers.amazon.aws.operators.glue import GlueJobOperator
from airflow.providers.amazon.aws.operators.step_function import StepFunctionStartExecutionOperator
from airflow.providers.amazon.aws.sensors.step_function import StepFunctionExecutionSensor
from airflow.sdk import DAG, Variable, task
from airflow.sdk.exceptions import AirflowFailException
from airflow.utils.trigger_rule import TriggerRule

SCHEDULE = Variable.get("glue_etl_schedule", default=None)  # e.g. "@daily"; None: triggered runs only


def _setting(name: str, default: str = "") -> str:
    return str(Variable.get(f"glue_etl_{name}", default=default))


# Read when the DAG file is parsed (operators need them as values, not templates).
POKE_SECONDS = int(_setting("poke_seconds", "30"))  # how often to check on AWS
DEFERRABLE = _setting("deferrable", "true").lower() == "true"  # wait in the triggerer, not a worker slot

COMMON_PARAMS = {
    "dataset": Param(_setting("default_dataset", "tpch"), type="string", description="the dataset to run"),
    "aws_conn_id": Param(_setting("aws_conn_id", "aws_default"), type="string"),
}


def datasets_of(params: Mapping[str, Any]) -> list[str]:
    """The datasets a run is for: those listed in `datasets` (comma-separated), else `dataset`."""
    listed = [name.strip() for name in str(params.get("datasets") or "").split(",") if name.strip()]
    return list(dict.fromkeys(listed)) or [str(params["dataset"])]


def failed_step(history: list[dict[str, Any]]) -> tuple[str, str]:
    """The task state whose task failed last, and Glue's ErrorMessage (else the error's cause)."""
    state, failed, cause = "?", "?", ""
    for event in history:
        if event["type"].endswith("StateEntered"):
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskFailed":
            details = event.get("taskFailedEventDetails", {})
            failed, cause = state, details.get("cause", "") or details.get("error", "")
    with contextlib.suppress(ValueError, AttributeError):  # not JSON: the cause as it is
        cause = json.loads(cause).get("ErrorMessage", cause)
    return failed, cause.splitlines()[0] if cause else ""


# Both DAGs: triggered or on the Variable's schedule, no backfill, one run at a time.
DAG_SETTINGS: dict[str, Any] = {"schedule": SCHEDULE, "start_date": datetime(2026, 1, 1, tzinfo=UTC), "catchup": False,
                                "max_active_runs": 1, "tags": ["glue-etl"]}  # fmt: skip

with DAG(
    dag_id="glue_etl_state_machine",
    description="Start the Glue ETL state machine for each dataset and wait for the outcomes",
    **DAG_SETTINGS,
    params={
        **COMMON_PARAMS,
        "datasets": Param(
            _setting("datasets"),
            type="string",
            description="several datasets, comma-separated, one execution each; empty: dataset",
        ),
        "state_machine_arn": Param(_setting("state_machine_arn"), type="string", minLength=1),
        "execution_input": Param({}, type="object", description="more input: run_id, rules_path, reprocess, ..."),
    },
) as state_machine_dag:

    @task
    def execution_inputs(params: dict[str, Any] | None = None) -> list[str]:
        """Each execution's input: its dataset and whatever else the run was given."""
        params = params or {}
        given = params.get("execution_input", {})
        return [json.dumps({**given, "dataset": dataset}) for dataset in datasets_of(params)]

    inputs = execution_inputs()
    # One execution per dataset (a mapped task), each taking its own dataset's lease.
    start = StepFunctionStartExecutionOperator.partial(
        task_id="start_execution",
        state_machine_arn="{{ params.state_machine_arn }}",
        # also the pipeline's run id
        name="airflow-{{ dag.dag_id }}-{{ ts_nodash }}-{{ ti.map_index }}-{{ ti.try_number }}",
        aws_conn_id="{{ params.aws_conn_id }}",
        deferrable=DEFERRABLE,  # deferred, the task itself waits for the execution's end
        waiter_delay=POKE_SECONDS,
        waiter_max_attempts=24 * 3600 // POKE_SECONDS,
    ).expand(state_machine_input=inputs)
    wait = StepFunctionExecutionSensor.partial(
        task_id="wait_for_execution",
        aws_conn_id="{{ params.aws_conn_id }}",
        poke_interval=POKE_SECONDS,
        mode="reschedule",
    ).expand(execution_arn=start.output)

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def report_outcome(
        execution_arns: Sequence[str | None] | None, inputs: Sequence[str], params: dict[str, Any] | None = None
    ) -> list[str]:
        """Logs each execution's outcome on one line; fails the DAG run when any did not succeed or start."""
        arns = [arn for arn in execution_arns or [] if arn]
        client = StepFunctionHook(aws_conn_id=(params or {}).get("aws_conn_id", "aws_default")).get_conn()
        lines, failures = [], []
        for arn in arns:
            execution = client.describe_execution(executionArn=arn)
            outcome = f"{json.loads(execution['input'])['dataset']}: execution {arn}: {execution['status']}"
            if execution["status"] != "SUCCEEDED":
                history = client.get_execution_history(executionArn=arn, maxResults=1000)["events"]
                outcome += " at {}: {}".format(*failed_step(history))
                failures.append(outcome)
            print(outcome)
            lines.append(outcome)
        if len(arns) < len(inputs):
            failures.append(f"{len(inputs) - len(arns)} of {len(inputs)} execution(s) did not start")
        if failures:
            raise AirflowFailException("; ".join(failures))
        return lines

    wait >> report_outcome(start.output, inputs)


def _job(task_id: str, job: str, arguments: dict[str, str]) -> GlueJobOperator:
    return GlueJobOperator(
        task_id=task_id,
        job_name=f"{{{{ params.glue_job_prefix }}}}-{job}",
        script_args=arguments,
        aws_conn_id="{{ params.aws_conn_id }}",
        wait_for_completion=True,
        verbose=False,
        job_poll_interval=POKE_SECONDS,
        deferrable=DEFERRABLE,
        stop_job_run_on_kill=True,
    )


# The arguments the state machine gives the jobs (state_machine/pipeline.asl.json).
RUN = {"--dataset": "{{ params.dataset }}", "--run_id": "{{ run_id | replace(':', '-') | replace('+', '-') }}",
       "--lake_path": "{{ params.lake_path }}"}  # fmt: skip

with DAG(
    dag_id="glue_etl_glue_jobs",
    description="Run the Glue ETL jobs (extract, transform, load) directly, then notify",
    **DAG_SETTINGS,
    params={
        **COMMON_PARAMS,
        "glue_job_prefix": Param(_setting("glue_job_prefix", "dev-glue-etl"), type="string"),
        "lake_path": Param(_setting("lake_path"), type="string", minLength=1),
        "landing_root": Param(_setting("landing_root"), type="string"),
        "catalog_database_prefix": Param(_setting("catalog_database_prefix"), type="string"),
        "notify_function": Param(_setting("notify_function"), type="string", minLength=1),
        "rules_path": Param("", type="string"),
        "reprocess": Param(False, type="boolean", description="re-read every landing file, not only new ones"),
    },
) as glue_jobs_dag:
    source = {"--source_path": "{{ params.landing_root }}/{{ params.dataset }}"}
    catalog = {"--catalog_database": "{{ params.catalog_database_prefix }}_{{ params.dataset }}"}
    reprocess = {"--reprocess": "{{ params.reprocess | string | lower }}"}
    extract = _job("extract", "extract", {**RUN, **source, **reprocess})
    transform = _job("transform", "transform", {**RUN, **reprocess, "--rules_path": "{{ params.rules_path }}"})
    load = _job("load", "load", {**RUN, **catalog})

    @task(trigger_rule=TriggerRule.ALL_DONE)
    def notify(params: dict[str, Any] | None = None, ti: Any = None, run_id: str | None = None) -> str:
        """The state machine's notification event, for the same Lambda (email and SMS); fails the DAG
        run when a job failed, after the message is sent."""
        params = params or {}
        jobs = ["extract", "transform", "load"]
        states = ti.get_task_states(dag_id=ti.dag_id, task_ids=jobs, run_ids=[run_id]).get(run_id, {})
        failed = [job for job in jobs if states.get(job) != "success"]
        config = {"dataset": params["dataset"], "run_id": str(run_id).replace(":", "-").replace("+", "-"),
                  "lake_path": params["lake_path"]}  # fmt: skip
        event: dict[str, Any] = {"status": "FAILED" if failed else "SUCCEEDED", "config": config}
        if failed:
            event["error"] = {"Error": "AirflowTaskFailed", "Cause": f"Glue job {failed[0]} failed (see its task log)"}
        hook = LambdaHook(aws_conn_id=params.get("aws_conn_id", "aws_default"))
        response = hook.invoke_lambda(function_name=params["notify_function"], payload=json.dumps(event))
        print(f"notification {event['status']}: Lambda answered {response['StatusCode']}")
        if failed:
            raise AirflowFailException(f"Glue job {failed[0]} failed")
        return event["status"]

    extract >> transform >> load >> notify()
