"""One line per outcome for `glue-etl start`, from the execution's history."""

import json

from glue_etl_local.executions import Followed, outcome_line


def entered(name):
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def failed(error, cause):
    return {"type": "TaskFailed", "taskFailedEventDetails": {"error": error, "cause": cause}}


def test_a_failed_run_names_the_step_and_glues_own_message_not_the_whole_json():
    message = "ArgumentError: unknown dataset 'nope'; available: consultations, retail, tpch"
    glue_run = {"JobName": "dev-glue-etl-extract", "JobRunState": "FAILED", "ErrorMessage": message}
    events = [entered("AcquireLease"), failed("DynamoDB.ConditionalCheckFailedException", "held"),
              entered("TakeOverLease"), entered("Extract"), failed("States.TaskFailed", json.dumps(glue_run)),
              entered("NotifyFailure"), entered("PipelineFailed")]  # fmt: skip
    followed = Followed("arn:x:execution:sm:r1", "FAILED", None, "PipelineFailed", "...", events)
    assert outcome_line(followed) == (
        "FAILED at Extract: ArgumentError: unknown dataset 'nope'; available: consultations, retail, tpch"
    )


def test_quiet_endings_say_why():
    ignored = Followed("arn:x:execution:sm:r2", "SUCCEEDED", {"ignored": "landing object landing/x is not ..."}, None,
                       None, [entered("Ignored")])  # fmt: skip
    assert outcome_line(ignored) == "SUCCEEDED (ignored): landing object landing/x is not ..."
    output = {"config": {"dataset": "tpch", "run_id": "r3"}}
    coalesced = Followed("arn:x:execution:sm:r3", "SUCCEEDED", output, None, None, [entered("Coalesced")])
    assert outcome_line(coalesced).startswith("SUCCEEDED (coalesced): tpch run r3 was folded into")
    succeeded = Followed("arn:x:execution:sm:r3", "SUCCEEDED", output, None, None, [entered("Succeeded")])
    assert outcome_line(succeeded) == "SUCCEEDED: tpch run r3"
