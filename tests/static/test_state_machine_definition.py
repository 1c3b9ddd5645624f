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


def test_three_glue_steps_in_order_then_success_notification():
    assert list(GLUE_TASKS) == ["Extract", "Transform", "Load"]
    assert [STATES[n]["Next"] for n in GLUE_TASKS] == ["Transform", "Load", "NotifySuccess"]
    assert STATES["NotifySuccess"]["Next"] == "Succeeded"


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


def test_every_catch_keeps_the_context_and_ends_in_a_fail_state():
    for name, task in TASKS.items():
        for catch in task["Catch"]:
            assert catch["ErrorEquals"] == ["States.ALL"]
            assert catch["ResultPath"] in ("$.error", "$.notification_error"), name
            target = STATES[catch["Next"]]
            if catch["Next"] == "NotifyFailure":
                target = STATES[target["Next"]]
            assert target["Type"] == "Fail", f"{name}'s catch path ends in {target['Type']}"
    for name in GLUE_TASKS:
        assert TASKS[name]["Catch"][0] == {
            "ErrorEquals": ["States.ALL"],
            "ResultPath": "$.error",
            "Next": "NotifyFailure",
        }
    assert not any(s["Type"] == "Succeed" for n, s in STATES.items() if n != "Succeeded")


def test_no_names_or_arns_are_hard_coded():
    without_service_arns = DEFINITION_TEXT.replace("arn:aws:states:::", "")
    assert "arn:" not in without_service_arns
    assert not re.search(r"\b\d{12}\b", DEFINITION_TEXT)
    assert packaging.placeholders(DEFINITION_TEXT) == {
        "ExtractJobName", "TransformJobName", "LoadJobName", "NotifyFunctionArn",
        "DefaultDataset", "LakePath", "LandingRoot", "CatalogDatabase",
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


def test_readme_diagram_matches_the_definition():
    result = subprocess.run(
        [sys.executable, "-m", "glue_etl_local.cli", "diagram", "--check", "README.md"],
        capture_output=True, text=True, check=False, cwd=Path(packaging.PROJECT_ROOT),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
