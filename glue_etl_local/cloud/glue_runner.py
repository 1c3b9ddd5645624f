"""Runs the local cloud's Glue job runs: one at a time, in the Glue worker process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from glue_etl_local.cloud import mirror
from glue_etl_local.cloud.faults import FaultPlan
from glue_etl_local.cloud.patches import finish_job_run


def job_argv(arguments: dict[str, str], job_name: str, job_run_id: str) -> list[str]:
    """The argument vector Glue gives a script: --JOB_NAME, --JOB_RUN_ID, then every argument."""
    argv = ["--JOB_NAME", job_name, "--JOB_RUN_ID", job_run_id]
    for key, value in arguments.items():
        argv += [key if key.startswith("--") else f"--{key}", str(value)]
    return argv


def s3_location(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"not an s3:// location: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


class GlueRunner:
    def __init__(self, s3: Any, buckets_dir: Path, logs_dir: Path, faults: FaultPlan) -> None:
        self.s3 = s3
        self.buckets_dir = buckets_dir
        self.logs_dir = logs_dir
        self.faults = faults
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glue-job-run")
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def start_worker(self, spark_settings: dict[str, str], environment: dict[str, str]) -> None:
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "glue_etl_local.cloud.glue_worker", json.dumps(spark_settings)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **environment, "GLUE_WORKER_LOG": str(self.logs_dir / "worker.log")},
            text=True,
            bufsize=1,
        )

    def _receive(self) -> dict[str, Any]:
        assert self._process is not None
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the local Glue worker stopped; see {self.logs_dir / 'worker.log'}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def wait_until_ready(self) -> None:
        self._receive()

    def stop(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
            self._process = None

    def submit(self, job: Any, run: Any) -> None:
        self._executor.submit(self._run, job, run)

    def _bucket_folders(self) -> dict[str, Path]:
        names = [bucket["Name"] for bucket in self.s3.list_buckets().get("Buckets", [])]
        return {name: self.buckets_dir / name for name in names}

    def _run(self, job: Any, run: Any) -> None:
        run.status = "RUNNING"
        fault = self.faults.take_job_failure(job.name)
        if fault is not None:
            finish_job_run(run, succeeded=False, error_message=fault.message)
            return
        try:
            result = self._run_script(job, run)
        except Exception as error:  # noqa: BLE001 - the run must end, whatever broke
            result = {"ok": False, "error": f"local cloud: {type(error).__name__}: {error}"}
        finish_job_run(run, succeeded=bool(result["ok"]), error_message=result.get("error"))

    def _run_script(self, job: Any, run: Any) -> dict[str, Any]:
        folders = self._bucket_folders()
        for bucket, folder in folders.items():
            mirror.download(self.s3, bucket, folder)
        script_bucket, script_key = s3_location(job.command["ScriptLocation"])
        script = folders[script_bucket] / script_key
        if not script.is_file():
            return {"ok": False, "error": f"script not found: {job.command['ScriptLocation']}"}
        extra_py_files = []
        for uri in filter(None, (run.arguments or {}).get("--extra-py-files", "").split(",")):
            bucket, key = s3_location(uri.strip())
            path = folders.get(bucket, self.buckets_dir / bucket) / key
            if not path.is_file():
                return {"ok": False, "error": f"--extra-py-files not found: {uri}"}
            extra_py_files.append(str(path))
        request = {
            "script": str(script),
            "argv": job_argv(run.arguments or {}, job.name, run.job_run_id),
            "mounts": {bucket: str(folder) for bucket, folder in folders.items()},
            "extra_py_files": extra_py_files,
            "log_path": str(self.logs_dir / job.name / f"{run.job_run_id}.log"),
        }
        with self._lock:
            assert self._process is not None
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(request) + "\n")
            result = self._receive()
        for bucket, folder in folders.items():
            mirror.upload(self.s3, bucket, folder)
        return result
