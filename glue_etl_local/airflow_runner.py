"""Airflow against the local cloud: `airflow dags test` of the suite's DAGs (airflow/dags), in the
Airflow virtualenv (.venv-airflow, see requirements-airflow.txt), with the Amazon connection's
`endpoint_url` pointing at the local cloud, so the operators make their real AWS calls there."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from glue_etl_local import packaging

AIRFLOW_VENV = packaging.PROJECT_ROOT / ".venv-airflow"
DAGS_FOLDER = packaging.PROJECT_ROOT / "airflow" / "dags"


def airflow_environment(home: Path, endpoint_url: str, region: str, variables: Mapping[str, str]) -> dict[str, str]:
    connection = {"conn_type": "aws", "extra": {"endpoint_url": endpoint_url, "region_name": region}}
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "AWS_"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": region,
        **{f"AIRFLOW_VAR_GLUE_ETL_{name.upper()}": value for name, value in variables.items()},
    }


def dags_test(
    dag_id: str, conf: Mapping[str, object], environment: Mapping[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """One DAG run with no scheduler (`airflow dags test`); the metadata database is created first."""
    airflow = str(AIRFLOW_VENV / "bin" / "airflow")
    if not Path(environment["AIRFLOW_HOME"], "airflow.db").exists():
        subprocess.run([airflow, "db", "migrate"], env=dict(environment), check=True, capture_output=True, text=True)
    command = [airflow, "dags", "test", dag_id, "--conf", json.dumps(dict(conf))]
    return subprocess.run(command, env=dict(environment), capture_output=True, text=True, timeout=timeout, check=False)
