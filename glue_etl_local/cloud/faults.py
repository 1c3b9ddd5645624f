"""Fault injection for the local cloud: what the e2e tests use to exercise Retry and Catch paths."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class _Fault:
    error: str
    message: str
    remaining: int


@dataclass
class FaultPlan:
    """Counted faults per job or function name; each fires `times` times, then the call succeeds."""

    _start_job_run: dict[str, _Fault] = field(default_factory=dict)
    _job_failure: dict[str, _Fault] = field(default_factory=dict)
    _lambda_invoke: dict[str, _Fault] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse_start_job_run(
        self, job_name: str, times: int = 1, error: str = "ConcurrentRunsExceededException", message: str = ""
    ) -> None:
        """StartJobRun answers with a Glue error (ConcurrentRunsExceededException, AWSGlueException ...)."""
        self._start_job_run[job_name] = _Fault(error, message or f"injected {error}", times)

    def fail_job(self, job_name: str, message: str, times: int = 1) -> None:
        """The job run ends FAILED with this ErrorMessage (the script is not run)."""
        self._job_failure[job_name] = _Fault("JobFailed", message, times)

    def fail_lambda_invoke(
        self, function_name: str, times: int = 1, error: str = "TooManyRequestsException", message: str = ""
    ) -> None:
        """Invoke answers with a Lambda service error before the handler runs."""
        self._lambda_invoke[function_name] = _Fault(error, message or "Rate exceeded", times)

    def clear(self) -> None:
        with self._lock:
            self._start_job_run.clear()
            self._job_failure.clear()
            self._lambda_invoke.clear()

    def _take(self, faults: dict[str, _Fault], name: str) -> _Fault | None:
        with self._lock:
            fault = faults.get(name)
            if fault is None or fault.remaining <= 0:
                return None
            fault.remaining -= 1
            return fault

    def take_start_job_run(self, job_name: str) -> _Fault | None:
        return self._take(self._start_job_run, job_name)

    def take_job_failure(self, job_name: str) -> _Fault | None:
        return self._take(self._job_failure, job_name)

    def take_lambda_invoke(self, function_name: str) -> _Fault | None:
        return self._take(self._lambda_invoke, function_name)
