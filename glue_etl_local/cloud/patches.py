"""The changes made to moto (pinned in pyproject.toml) so that the pipeline really runs.

Each function installs one patch and returns a function that removes it. Each is covered by a
test in tests/unit/test_local_cloud_patches.py that fails loudly if moto's internals change.
"""

from __future__ import annotations

import inspect
import json
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaFunction
from moto.core.exceptions import JsonRESTError
from moto.glue.models import FakeJob, FakeJobRun
from moto.moto_api import state_manager
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback

from glue_etl_local.cloud.faults import FaultPlan

Undo = Callable[[], None]
UNGUARDED_CALL = "callback_endpoint.interrupt_all()"
GUARDED_CALL = "if callback_endpoint is not None:\n                callback_endpoint.interrupt_all()"


def patch_sync_integration() -> Undo:
    """`.sync` tasks (glue:startJobRun.sync) crash in moto 5.2.5 with 'NoneType' object has no
    attribute 'interrupt_all': the finally block calls it even without a callback endpoint.
    The method's source is recompiled with that one call guarded."""
    cls = state_task_service_callback.StateTaskServiceCallback
    original = cls._eval_integration_pattern
    source = textwrap.dedent(inspect.getsource(original))
    if source.count(UNGUARDED_CALL) != 1:
        raise RuntimeError("moto changed StateTaskServiceCallback._eval_integration_pattern: review the patch")
    namespace: dict[str, Any] = {}
    exec(compile(source.replace(UNGUARDED_CALL, GUARDED_CALL), inspect.getfile(original), "exec"),
         vars(state_task_service_callback), namespace)  # fmt: skip
    cls._eval_integration_pattern = namespace["_eval_integration_pattern"]

    def undo() -> None:
        cls._eval_integration_pattern = original

    return undo


class GlueServiceError(JsonRESTError):
    """A Glue API error with any code (e.g. AWSGlueException 'Rate exceeded')."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)


def patch_glue_job_runs(on_start: Callable[[FakeJob, FakeJobRun], None], faults: FaultPlan) -> Undo:
    """StartJobRun runs nothing in moto and jumps to SUCCEEDED. Here runs stay STARTING until
    `on_start` (the local cloud's runner) moves them; injected refusals raise Glue errors."""
    original_start = FakeJob.start_job_run
    original_as_dict = FakeJobRun.as_dict
    state_manager.set_transition("glue::job_run", {"progression": "manual", "times": 10**12})

    def start_job_run(self: FakeJob, *args: Any, **kwargs: Any) -> str:
        fault = faults.take_start_job_run(self.name)
        if fault is not None:
            raise GlueServiceError(fault.error, fault.message)
        run_id = original_start(self, *args, **kwargs)
        run = next(run for run in self.job_runs if run.job_run_id == run_id)
        run.glue_version = self.glue_version
        on_start(self, run)
        return str(run_id)

    def as_dict(self: FakeJobRun) -> dict[str, Any]:
        data = original_as_dict(self)
        data["ExecutionTime"] = int(getattr(self, "execution_time", 0))
        data["GlueVersion"] = getattr(self, "glue_version", None) or data.get("GlueVersion")
        data["LogGroupName"] = "/aws-glue/jobs"
        if getattr(self, "error_message", None):
            data["ErrorMessage"] = self.error_message
        if self.status in ("STARTING", "RUNNING"):
            data.pop("CompletedOn", None)
        return dict(data)

    FakeJob.start_job_run = start_job_run  # type: ignore[method-assign]
    FakeJobRun.as_dict = as_dict  # type: ignore[method-assign]

    def undo() -> None:
        FakeJob.start_job_run = original_start  # type: ignore[method-assign]
        FakeJobRun.as_dict = original_as_dict  # type: ignore[method-assign]
        state_manager.unset_transition("glue::job_run")

    return undo


def finish_job_run(run: FakeJobRun, succeeded: bool, error_message: str | None = None) -> None:
    run.completed_on = datetime.now(UTC).replace(tzinfo=None)
    run.modified_on = run.completed_on
    run.execution_time = max(1, int((run.completed_on - run.started_on).total_seconds()))
    run.error_message = error_message
    run.status = "SUCCEEDED" if succeeded else "FAILED"


def patch_lambda_invoke(invoke: Callable[[LambdaFunction, Any], tuple[str, bool, str]], faults: FaultPlan) -> Undo:
    """moto's Lambda needs Docker; here the function's own code runs in this process."""
    original = LambdaFunction._invoke_lambda

    def _invoke_lambda(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        fault = faults.take_lambda_invoke(self.function_name)
        if fault is not None:
            raise LambdaClientError(fault.error, fault.message)
        return invoke(self, event)

    LambdaFunction._invoke_lambda = _invoke_lambda  # type: ignore[method-assign]

    def undo() -> None:
        LambdaFunction._invoke_lambda = original  # type: ignore[method-assign]

    return undo


class ScaledClock:
    """Stands in for the `time` module inside moto's retrier: records each wait the state machine
    asks for (so tests can check the backoff) and sleeps only `scale` of it."""

    def __init__(self, scale: float) -> None:
        self.scale = scale
        self.waits: list[float] = []
        self._lock = threading.Lock()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.waits.append(float(seconds))
        time.sleep(max(0.0, seconds * self.scale))


def patch_retry_clock(clock: ScaledClock) -> Undo:
    """Retry waits of 30 s and more are right on AWS and too slow for a test suite."""
    if getattr(retrier_decl, "time", None) is not time:
        raise RuntimeError("moto changed how RetrierDecl waits (retrier_decl.time): review the patch")
    retrier_decl.time = clock  # type: ignore[assignment]

    def undo() -> None:
        retrier_decl.time = time

    return undo


def patch_cloudformation_models() -> Undo:
    """Adds the resource types the pipeline's template needs (see cfn_models) to moto's parser."""
    from moto.cloudformation import parsing

    from glue_etl_local.cloud.cfn_models import MODELS

    original_models = parsing.get_model_map
    original_names = parsing.get_name_type_map

    def get_model_map() -> dict[str, Any]:
        return {**original_models(), **MODELS}

    def get_name_type_map() -> dict[str, str]:
        return {**original_names(), **{t: m.cloudformation_name_type() for t, m in MODELS.items()}}

    parsing.get_model_map = get_model_map
    parsing.get_name_type_map = get_name_type_map

    def undo() -> None:
        parsing.get_model_map = original_models
        parsing.get_name_type_map = original_names

    return undo


def patch_conditional_updates() -> Undo:
    """A stack update honours resources' conditions, as CloudFormation does: moto updated a resource
    whose condition had turned false (a subscription whose phone parameter was emptied: the update
    failed on the empty endpoint) and never created one whose condition had turned true. Now the
    first is deleted and the second created."""
    from moto.cloudformation import parsing

    original = parsing.parse_and_update_resource
    if list(inspect.signature(original).parameters) != [
        "logical_id", "resource_json", "resources_map", "account_id", "region_name"]:  # fmt: skip
        raise RuntimeError("moto changed parse_and_update_resource: review patch_conditional_updates")

    def parse_and_update_resource(
        logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
    ) -> Any:
        condition = resource_json.get("Condition")
        existing = resources_map._parsed_resources.get(logical_id)
        if condition and not resources_map.lazy_condition_map[condition]:
            if existing is not None:
                resources_map._delete_resource(existing, resource_json)
            return None
        if existing is None:
            return parsing.parse_and_create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        return original(logical_id, resource_json, resources_map, account_id, region_name)

    parsing.parse_and_update_resource = parse_and_update_resource

    def undo() -> None:
        parsing.parse_and_update_resource = original

    return undo


def patch_kms_key_tags() -> Undo:
    """moto's AWS::KMS::Key expects the KMS API's TagKey/TagValue and fails with a 500 on
    CloudFormation's Key/Value tags."""
    from moto.kms.models import Key

    original = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:  # fmt: skip
        properties = cloudformation_json.get("Properties", {})
        tags = properties.get("Tags") or []
        properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} if "Key" in tag else tag for tag in tags]
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)

    def undo() -> None:
        Key.create_from_cloudformation_json = classmethod(original)

    return undo


def _json_path(document: Any, path: str) -> Any:
    """The value at a simple JSONPath ($.detail.object.key), or None."""
    value = document
    for part in path.removeprefix("$").strip(".").split("."):
        if not part:
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def target_input(target: dict[str, Any], event: dict[str, Any]) -> str:
    """What EventBridge passes a target: its constant Input, the event's value at its InputPath, the
    InputTemplate with each <name> replaced by its InputPathsMap value (as JSON in a JSON template,
    as text in a string template), or else the whole event."""
    if "Input" in target:
        return str(target["Input"])
    if "InputPath" in target:
        return json.dumps(_json_path(event, str(target["InputPath"])))
    transformer = target.get("InputTransformer")
    if not transformer:
        return json.dumps(event)
    template = str(transformer.get("InputTemplate", ""))
    as_json = template.lstrip().startswith(("{", "["))
    for name, path in transformer.get("InputPathsMap", {}).items():
        value = _json_path(event, path)
        text = json.dumps(value) if as_json or not isinstance(value, str) else value
        template = template.replace(f"<{name}>", text)
    return template


def patch_eventbridge_state_machine_targets() -> Undo:
    """moto routes S3's EventBridge events to rules, but a rule whose target is a state machine
    raises NotImplementedError (swallowed): nothing starts. Here such a target starts an execution,
    with the target's input applied (as EventBridge does for every target). A rule with a schedule
    and no event pattern matches no event (moto's empty pattern matches every one)."""
    from moto.events.models import Rule
    from moto.stepfunctions.responses import get_backend

    original = Rule.send_to_targets
    if "transform_input" not in inspect.signature(original).parameters:
        raise RuntimeError("moto changed events Rule.send_to_targets: review the patch")

    def send_to_targets(self: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
        machines = [t for t in self.targets if t["Arn"].split(":")[2:3] == ["states"]]
        others = [t for t in self.targets if t not in machines]
        matches = bool(self.event_pattern.get_pattern()) and self.event_pattern.matches_event(original_event)
        if machines and self.state == "ENABLED" and matches:
            for target in machines:
                execution_input = target_input(target, original_event)
                region = target["Arn"].split(":")[3]
                # A new uuid per event, as EventBridge names them (moto's executing backend would name
                # every unnamed execution "None", so the second one would be refused).
                name = str(uuid.uuid4())
                get_backend(self.account_id, region).start_execution(target["Arn"], name, execution_input)
        if others:
            saved = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input)
            finally:
                self.targets = saved

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]

    def undo() -> None:
        Rule.send_to_targets = original  # type: ignore[method-assign]

    return undo


def patch_bucket_eventbridge_configuration() -> Undo:
    """moto's AWS::S3::Bucket ignores NotificationConfiguration: a bucket the template configures
    with EventBridgeConfiguration would send no events. Here it is applied after creation."""
    from moto.s3.models import FakeBucket

    original = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> Any:  # fmt: skip
        bucket = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        notifications = cloudformation_json.get("Properties", {}).get("NotificationConfiguration", {})
        if notifications.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled") in (True, "true", "True"):
            bucket.set_notification_configuration({"EventBridgeConfiguration": {}})
        return bucket

    FakeBucket.create_from_cloudformation_json = classmethod(create_from_cloudformation_json)  # type: ignore[assignment]

    def undo() -> None:
        FakeBucket.create_from_cloudformation_json = classmethod(original)  # type: ignore[assignment]

    return undo


def _plain_values(value: Any) -> Any:
    """Timestamps as ISO text, as Step Functions passes them on (JSON has no dates)."""
    if isinstance(value, dict):
        return {key: _plain_values(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_values(item) for item in value]
    return value.isoformat() if isinstance(value, datetime) else value


def patch_service_integration_casing() -> Undo:
    """Service integrations (`arn:aws:states:::states:startExecution`, `aws-sdk:<service>:<action>`)
    take and return PascalCase names on AWS (`StateMachineArn`, `ExecutionArn`, `Status`) whatever
    the API's own casing. moto's port of the interpreter leaves that normalisation out (both methods
    are no-ops), so camelCase APIs such as Step Functions' fail, and timestamps in responses cannot
    be serialised. The casing maps come from botocore's service models, as in LocalStack."""
    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
        StateTaskService,
    )

    originals = {name: getattr(StateTaskService, name) for name in ("_normalise_parameters", "_normalise_response")}
    for method in originals.values():
        if not textwrap.dedent(inspect.getsource(method)).rstrip().endswith("pass"):
            raise RuntimeError("moto now normalises service integrations itself: drop patch_service_integration_casing")
    models = botocore.session.get_session()

    def operation(task: Any, service: str | None, action: str | None) -> Any:
        model = models.get_service_model(task._get_boto_service_name(service))
        by_python_name = {xform_name(name): name for name in model.operation_names}
        return model.operation_model(by_python_name[task._get_boto_service_action(action)])

    def normalise_parameters(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:  # fmt: skip
        self._to_boto_request(parameters, operation(self, boto_service_name, service_action_name).input_shape)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:  # fmt: skip
        if isinstance(response, dict):
            plain = _plain_values(response)
            response.clear()
            response.update(plain)
            shape = operation(self, boto_service_name, service_action_name).output_shape
            if shape is not None:
                self._from_boto_response(response, shape)

    StateTaskService._normalise_parameters = normalise_parameters  # type: ignore[method-assign]
    StateTaskService._normalise_response = normalise_response  # type: ignore[method-assign]

    def undo() -> None:
        for name, method in originals.items():
            setattr(StateTaskService, name, method)

    return undo


class AthenaQueryError(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidRequestException", message)


QUERIES = ("SELECT", "WITH", "VALUES", "SHOW", "DESCRIBE")


def patch_athena_queries(folder_of: Callable[[str], Any]) -> Undo:
    """moto's Athena runs nothing (every query returns no rows). Here a query runs for real in
    DuckDB over the tables of the cloud's Glue Data Catalog (see athena.py); DDL keeps moto's
    handling. folder_of maps an s3:// location to the folder holding its files."""
    import duckdb
    from moto.athena.models import AthenaBackend, QueryResults
    from moto.glue.models import glue_backends

    from glue_etl_local.cloud import athena

    original = AthenaBackend.start_query_execution
    if list(inspect.signature(original).parameters)[1:3] != ["query", "context"]:
        raise RuntimeError("moto changed AthenaBackend.start_query_execution: review patch_athena_queries")

    def start_query_execution(self: AthenaBackend, query: str, context: Any, *args: Any, **kwargs: Any) -> str:
        execution_id = original(self, query, context, *args, **kwargs)
        if not query.lstrip().upper().startswith(QUERIES):
            return execution_id
        glue = glue_backends[self.account_id][self.region_name]
        catalog = {
            database.name: {table.name: table.as_dict()["StorageDescriptor"]["Location"]
                            for table in glue.get_tables(database.name, None)}
            for database in glue.get_databases()
        }  # fmt: skip
        database = context.get("Database") if isinstance(context, dict) else None
        try:
            result = athena.run_query(query, database, catalog, folder_of)
        except duckdb.Error as error:
            raise AthenaQueryError(str(error).splitlines()[0]) from error
        rows, info = athena.result_set(result)
        self.query_results[execution_id] = QueryResults(rows, info)
        return execution_id

    AthenaBackend.start_query_execution = start_query_execution  # type: ignore[method-assign]

    def undo() -> None:
        AthenaBackend.start_query_execution = original  # type: ignore[method-assign]

    return undo
