"""Runs a Lambda function's deployed code in this process (moto would need Docker for it)."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import sys
import threading
import traceback
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

_LOCK = threading.RLock()


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Context:
    def __init__(self, function: Any) -> None:
        self.function_name = function.function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = function.function_arn
        self.memory_limit_in_mb = function.memory_size
        self.aws_request_id = "local"
        self.log_group_name = f"/aws/lambda/{function.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


class LambdaRunner:
    def __init__(self, code_dir: Path, region: str) -> None:
        self.code_dir = code_dir
        self.region = region
        self._modules: dict[tuple[str, str], ModuleType] = {}

    def _environment_of(self, function: Any) -> dict[str, str]:
        return {
            **{str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }

    def _load(self, function: Any) -> ModuleType:
        """Imports the handler module from the function's zip (once per code version: warm starts)."""
        module_name, _, _ = function.handler.rpartition(".")
        key = (function.code_sha_256, module_name)
        if key not in self._modules:
            folder = self.code_dir / function.code_sha_256.replace("/", "_").replace("+", "-")
            if not folder.exists():
                with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                    archive.extractall(folder)
            path = folder / (module_name.replace(".", "/") + ".py")
            spec = importlib.util.spec_from_file_location(f"lambda_{function.function_name}_{module_name}", path)
            if spec is None or spec.loader is None:
                raise ImportError(f"Unable to import module '{module_name}': no {path.name} in the function's code")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # as an import does: dataclasses look their module up there
            sys.path.insert(0, str(folder))
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(folder))
            self._modules[key] = module
        return self._modules[key]

    def invoke(self, function: Any, event: Any) -> tuple[str, bool, str]:
        """Returns (payload JSON, errored, logs) as moto's _invoke_lambda does."""
        logs = io.StringIO()
        with _LOCK, _environment(self._environment_of(function)), redirect_stdout(logs):
            try:
                module = self._load(function)
                handler = getattr(module, function.handler.rpartition(".")[2])
                payload = event if not isinstance(event, str) else json.loads(event or "{}")
                result = handler(payload, Context(function))
                return json.dumps(result), False, logs.getvalue()
            except Exception as error:  # noqa: BLE001 - returned as the Lambda error payload
                failure = {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "stackTrace": traceback.format_exc().splitlines(),
                }
                return json.dumps(failure), True, logs.getvalue()
