"""Static checks of state_machine/pipeline.asl.json: the file users deploy."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from glue_etl_local import packaging
from glue_etl_local.cli import check_definition

DEFINITION_TEXT = packaging.ASL_PATH.read_text()
DEFINITION = json.loads(DEFINITION_TEXT)
STATES = DEFINITION["States"]
TASKS = {name: state for name, state in STATES.items() if state["Type"] == "Task"}
GLUE_TASKS = {name: s for name, s in TASKS.items() if s["Resource"] == "arn:aws:states:::glue:startJobRun.sync"}


def test_passes_statelint_after_substitution():
    assert check_definition(None) == 0


def test_statelint_check_can_fail(tmp_path):
    broken = dict(DEFINITION, States=dict(STATES, Extract=dict(STATES["Extract"], Next="Nowhere")))
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(broken))
    assert check_definition(path) != 0


def test_three_glue_steps_in_order_then_the_lease_is_released_and_success_notified():
    assert list(GLUE_TASKS) == ["Extract", "Transform", "Load"]
    assert [STATES[n]["Next"] for n in GLUE_TASKS] == ["Transform", "Load", "ReleaseLease"]
    assert reachable("ReleaseLease") >= {"NotifySuccess", "Succeeded"}
    assert STATES["NotifySuccess"]["Next"] == "Succeeded"


def successors(name):
    state = STATES[name]
    found = [state.get("Next"), state.get("Default"), *(c["Next"] for c in state.get("Choices", []))]
    found += [catch["Next"] for catch in state.get("Catch", [])]
    return {n for n in found if n}


def reachable(start):
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(successors(name))
    return seen


def test_the_lease_is_taken_before_any_glue_job_and_given_back_on_every_outcome():
    before_extract = reachable(DEFINITION["StartAt"]) - reachable("Extract")
    assert {"AcquireLease", "TakeOverLease"} <= before_extract
    for lease_task in ("AcquireLease", "TakeOverLease"):
        assert STATES[lease_task]["Next"] == "Extract"
        assert STATES[lease_task]["Parameters"]["Item"]["holder"] == {"S.$": "$$.Execution.Id"}
    assert STATES["AcquireLease"]["Parameters"]["ConditionExpression"] == "attribute_not_exists(dataset)"
    # Every way out of a Glue step passes a release of the lease, and only the holder can release it.
    for name in GLUE_TASKS:
        terminals = {n for n in reachable(name) if STATES[n]["Type"] in ("Succeed", "Fail")}
        assert terminals == {"Succeeded", "NotificationFailed", "PipelineFailed"}, name
    assert "ReleaseLease" in reachable("Load")
    assert "ReleaseLeaseAfterFailure" in reachable("NotifyFailure")
    for release in ("ReleaseLease", "ReleaseLeaseAfterFailure"):
        assert STATES[release]["Parameters"]["ConditionExpression"] == "holder = :me"
    # An execution that finds the lease held by a running execution ends quietly, it never fails.
    assert STATES["IsHolderRunning"]["Choices"][0]["Next"] == "MarkPending"
    assert STATES["MarkPending"]["Next"] == "Coalesced"
    assert STATES["Coalesced"]["Type"] == "Succeed"


def test_landing_objects_of_unknown_datasets_and_hidden_paths_end_before_any_job():
    ignored = reachable("IgnoreLandingObject")
    assert ignored == {"IgnoreLandingObject", "Ignored"}
    assert STATES["IsKnownDataset"]["Default"] == "IgnoreLandingObject"
    marker, hidden, awaiting = STATES["CheckLandingKey"]["Choices"]
    assert [rule["StringMatches"] for rule in hidden["Or"]] == ["*/", "*/_*", "*/.*"]
    # A delivery marker (itself a hidden name) is checked first, and only when one is configured.
    assert marker["And"][1] == {"Variable": "$.config.landing_key", "StringMatches": "*/${DeliveryMarker}"}
    assert marker["And"][0]["Not"] == awaiting["Not"] == {"Variable": "$.config.delivery_marker", "StringEquals": ""}
    assert reachable("AwaitDeliveryMarker") == {"AwaitDeliveryMarker", "Ignored"}


def test_every_task_has_timeout_retry_and_catch():
    for name, task in TASKS.items():
        assert 0 < task["TimeoutSeconds"] <= 7200, name
        assert task["Retry"], name
        assert task["Catch"], name
        for retrier in task["Retry"]:
            assert "States.ALL" not in retrier["ErrorEquals"], f"{name} retries everything"
            assert retrier["MaxDelaySeconds"], name
            assert retrier["JitterStrategy"] == "FULL", name
    assert DEFINITION["TimeoutSeconds"] > sum(t["TimeoutSeconds"] for t in TASKS.values())


def test_glue_steps_retry_only_transient_glue_errors():
    for name, task in GLUE_TASKS.items():
        (retrier,) = task["Retry"]
        assert set(retrier["ErrorEquals"]) == {
            "Glue.ConcurrentRunsExceededException",
            "Glue.AWSGlueException",
            "Glue.ThrottlingException",
        }, name


def test_every_catch_keeps_the_context_and_failures_end_in_a_fail_state():
    for name, task in TASKS.items():
        for catch in task["Catch"]:
            assert catch["ResultPath"] not in (None, "$"), f"{name}'s catch replaces the run's context"
    for name in GLUE_TASKS:
        assert TASKS[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}
        ]
    after_failure = {n for n in reachable("NotifyFailure") if STATES[n]["Type"] in ("Succeed", "Fail")}
    assert after_failure == {"PipelineFailed"}
    quiet_endings = {n for n, s in STATES.items() if s["Type"] == "Succeed"}
    assert quiet_endings == {"Succeeded", "Ignored", "Coalesced", "StartedEachDataset"}


def test_a_list_of_datasets_starts_one_execution_of_each_and_runs_no_job_itself():
    fan_out = STATES["SeveralDatasets"]
    assert STATES["MergeInput"]["Next"] == "SeveralDatasets"
    assert fan_out["Choices"][0]["And"][1]["Not"] == {"Variable": "$.config.datasets", "StringEquals": ""}
    assert fan_out["Default"] == "FromLandingEvent"
    fan_out_states = {"ListDatasets", "StartEachDataset", "StartedEachDataset"}
    assert reachable("ListDatasets") == fan_out_states | reachable("NotifyFailure")
    assert "AcquireLease" not in reachable("ListDatasets")
    each = STATES["StartEachDataset"]
    assert STATES["ListDatasets"]["Parameters"]["datasets.$"] == "States.StringSplit($.config.datasets, ',')"
    assert each["ItemsPath"] == "$.datasets"
    start = each["ItemProcessor"]["States"][each["ItemProcessor"]["StartAt"]]
    assert start["Resource"] == "arn:aws:states:::states:startExecution"
    assert start["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
    # Each child gets this execution's input with its own dataset and no list (else it would fan out again).
    assert start["Parameters"]["Input.$"] == "States.JsonMerge($.input, $.only, false)"
    assert each["ItemSelector"]["input.$"] == "$$.Execution.Input"
    assert each["ItemSelector"]["only"]["dataset.$"] == "$$.Map.Item.Value"
    assert each["ItemSelector"]["only"]["datasets"] == ""
    assert start["TimeoutSeconds"] <= 60
    assert start["Retry"]
    assert each["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]


def test_no_names_or_arns_are_hard_coded():
    without_service_arns = DEFINITION_TEXT.replace("arn:aws:states:::", "")
    assert "arn:" not in without_service_arns
    assert not re.search(r"\b\d{12}\b", DEFINITION_TEXT)
    assert packaging.placeholders(DEFINITION_TEXT) == {
        "ExtractJobName", "TransformJobName", "LoadJobName", "NotifyFunctionArn",
        "DefaultDataset", "LakePath", "LandingRoot", "CatalogDatabasePrefix", "LeaseTable", "Datasets",
        "DeliverySettleSeconds", "DeliveryMarker",
    }  # fmt: skip


def test_substitution_refuses_a_missing_placeholder():
    with pytest.raises(ValueError, match="no value for placeholder"):
        packaging.substitute(DEFINITION_TEXT, {"ExtractJobName": "x"})


def test_glue_arguments_come_from_the_execution_config():
    for task in GLUE_TASKS.values():
        arguments = task["Parameters"]["Arguments"]
        assert arguments["--dataset.$"] == "$.config.dataset"
        assert arguments["--run_id.$"] == "$.config.run_id"
        assert arguments["--lake_path.$"] == "$.config.lake_path"
        assert arguments["--lease_holder.$"] == "$$.Execution.Id"  # the lease's holder, for the job to check


def test_readme_diagram_matches_the_definition():
    result = subprocess.run(
        [sys.executable, "-m", "glue_etl_local.cli", "diagram", "--check", "README.md"],
        capture_output=True, text=True, check=False, cwd=Path(packaging.PROJECT_ROOT),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
