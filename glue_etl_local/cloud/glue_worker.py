"""The process that runs Glue job scripts for the local cloud, as Glue would run them.

One long-lived process (one Spark JVM for every job of the cloud, apart from the caller's own
Spark if it has one), fed one request at a time: mount the buckets, put --extra-py-files on
sys.path, set sys.argv, run the script as __main__, and answer with success or the one-line
error Glue would report.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import traceback
from pathlib import Path
from typing import Any


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(error).__name__}: {message}"[:2000] if message else type(error).__name__


def run_script(request: dict[str, Any]) -> dict[str, Any]:
    from etl_lib.runtime import local_spark_session
    from glue_etl_local.cloud.s3fs import mount_buckets

    spark = local_spark_session("local-cloud-glue")
    mount_buckets(spark, {bucket: Path(folder) for bucket, folder in request["mounts"].items()})
    for extra in reversed(request.get("extra_py_files", [])):
        if extra not in sys.path:
            sys.path.insert(0, extra)
            spark.sparkContext.addPyFile(extra)  # executors get --extra-py-files too, as on Glue
    log_path = Path(request["log_path"])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        sys.argv = [request["script"], *request["argv"]]
        try:
            runpy.run_path(request["script"], run_name="__main__")
        except SystemExit as exit_:
            if exit_.code not in (None, 0):
                return {"ok": False, "error": f"the script exited with status {exit_.code}"}
        except BaseException as error:  # noqa: BLE001 - every failure becomes the job run's ErrorMessage
            traceback.print_exc()
            return {"ok": False, "error": _one_line(error)}
    return {"ok": True}


def main() -> None:
    """`python -m glue_etl_local.cloud.glue_worker SETTINGS_JSON`: JSON requests on stdin, one per
    line; JSON answers on the original stdout. Everything else the process prints (Spark, the JVM)
    goes to the file named by GLUE_WORKER_LOG, so it can never corrupt the answers."""
    answers = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    log = open(os.environ.get("GLUE_WORKER_LOG", os.devnull), "a", encoding="utf-8")  # noqa: SIM115
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    from etl_lib.runtime import local_spark_session

    local_spark_session("local-cloud-glue", json.loads(sys.argv[1]))  # start the JVM before the first job
    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        answers.write(json.dumps(run_script(json.loads(line))) + "\n")


if __name__ == "__main__":
    main()
