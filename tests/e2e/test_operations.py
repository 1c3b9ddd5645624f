"""The deployed template in operation: deliveries of many files, executions that overlap or die,
several datasets in one account (and who hears of which), and objects that are not deliveries.
Driven through the AWS CLI and boto3, with S3 events reaching the stack's own landing rule as on AWS."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import duckdb
import pytest

from glue_etl_local.cloud import notifications
from glue_etl_local.cloud.server import LocalCloud
from glue_etl_local.samples import generate_consultations, generate_tpch
from tests.e2e import cli
from tests.integration.test_malformed_files import CONSULTATIONS_HEADER, consultation

ENV_NAME = "ops"
STACK = f"{ENV_NAME}-glue-etl"
PREFIX = f"{ENV_NAME}_glue_etl"
ON_CALL = "+15555550199"
# The email hears of every run, the on-call phone of failures only; a nightly run of both datasets.
PARAMETERS = ("NotificationEmail=ops@example.com", f"NotificationPhoneNumber={ON_CALL}", "SmsNotifications=failures",
              "DeliverySettleSeconds=3", "ScheduleExpression=cron(0 3 * * ? *)",
              "ScheduledDatasets=consultations,tpch")  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("ops")
    with LocalCloud(root / "cloud", retry_time_scale=0.001) as cloud:
        result = cli.deploy(cloud, ENV_NAME, *PARAMETERS)
        assert result.returncode == 0, result.stdout + result.stderr
        yield cloud, cli.stack_outputs(cloud, STACK), root


def copy_folder(cloud: LocalCloud, folder: Path, destination: str) -> None:
    copied = cli.run(cloud, str(cli.BIN / "aws"), "s3", "cp", "--recursive", str(folder), destination,
                     "--endpoint-url", cloud.endpoint_url)  # fmt: skip
    assert copied.returncode == 0, copied.stderr


def new_executions(cloud, outputs, before: set[str], at_least: int) -> list[dict]:
    finished = cli.wait_until_idle(cloud, outputs["StateMachineArn"], at_least=len(before) + at_least)
    return [e for e in finished if e["executionArn"] not in before]


def execution_arns(cloud, outputs) -> set[str]:
    return {e["executionArn"] for e in cli.executions(cloud, outputs["StateMachineArn"])}


def processing_run(cloud, outputs, dataset: str, executions: list[dict]) -> str:
    """The run id of the one execution that extracted the delivery (the others found nothing new)."""
    configs = [(e, json.loads(e["output"])["config"]) for e in executions]
    ran = [config["run_id"] for e, config in configs
           if config["dataset"] == dataset and "Extract" in cli.states_entered(cloud, e["executionArn"])]  # fmt: skip
    extracts = {r: cli.read_json(cloud, f"{outputs['LakePath']}/_runs/{dataset}/{r}/extract.json") for r in ran}
    (run_id,) = [r for r, summary in extracts.items() if summary["status"] == "succeeded"]
    return run_id


def glue_job_runs(cloud, outputs) -> int:
    return len(cli.aws(cloud, "glue", "get-job-runs", "--job-name", outputs["ExtractJobName"])["JobRuns"])


def tables(cloud, database: str) -> dict[str, str]:
    listed = cli.aws(cloud, "glue", "get-tables", "--database-name", database)["TableList"]
    return {t["Name"]: t["StorageDescriptor"]["Location"] for t in listed}


def test_objects_that_are_not_deliveries_of_a_known_dataset_start_no_job(stack):
    cloud, outputs, _ = stack
    before = execution_arns(cloud, outputs)
    s3 = cloud.client("s3")
    for key in ("landing/nope/orders.csv", "landing/tpch/", "landing/tpch/_temporary/0/part.csv", "landing/x.csv"):
        s3.put_object(Bucket=outputs["LakeBucket"], Key=key, Body=b"a,b\n1,2\n")
    ended = new_executions(cloud, outputs, before, at_least=4)
    assert [e["status"] for e in ended] == ["SUCCEEDED"] * 4
    assert all(cli.states_entered(cloud, e["executionArn"])[-1] == "Ignored" for e in ended)
    reasons = sorted(json.loads(e["output"])["ignored"] for e in ended)
    assert reasons[0].startswith("landing object landing/nope/orders.csv is not a delivery of a known dataset")
    assert glue_job_runs(cloud, outputs) == 0
    assert notifications.deliveries(cloud.region, outputs["NotificationTopicArn"]) == []


def test_a_whole_tpch_delivery_copied_at_once_runs_once_and_completely(stack):
    cloud, outputs, root = stack
    generate_tpch(root / "tpch", 0.01)
    lineitems = sum(1 for _ in (root / "tpch" / "lineitem.csv").open()) - 1
    before = execution_arns(cloud, outputs)
    copy_folder(cloud, root / "tpch", f"{outputs['LandingPath']}/tpch/")
    ended = new_executions(cloud, outputs, before, at_least=8)  # one execution per object, as on AWS
    assert {e["status"] for e in ended} == {"SUCCEEDED"}
    run_id = processing_run(cloud, outputs, "tpch", ended)
    load = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/tpch/{run_id}/load.json")
    assert load["tables"]["fact_sales"]["rows_written"] == lineitems
    transform = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/tpch/{run_id}/transform.json")
    assert transform["totals"]["rows_quarantined"] == 0  # no child before its parent: no orphans
    published = tables(cloud, f"{PREFIX}_tpch")
    assert published["fact_sales"].endswith(f"/gold/tpch/fact_sales/version={run_id}")
    subjects = [d.subject for d in notifications.deliveries(cloud.region, outputs["NotificationTopicArn"])]
    assert subjects == [f"[Glue ETL] succeeded: tpch run {run_id}"]  # one email, no failure


def test_each_dataset_publishes_to_its_own_database_also_when_both_run_at_once(stack):
    cloud, outputs, root = stack
    sample = generate_consultations(root / "consultations", rows=300, files=2, seed=4)
    (root / "tpch-more").mkdir()
    (root / "tpch-more" / "region_more.csv").write_text("r_regionkey,r_name,r_comment\n90,ARCTIC,c\n")
    before = execution_arns(cloud, outputs)
    deliveries = [threading.Thread(target=copy_folder, args=(cloud, root / folder, f"{outputs['LandingPath']}/{name}/"))
                  for folder, name in (("consultations", "consultations"), ("tpch-more", "tpch"))]  # fmt: skip
    for delivery in deliveries:
        delivery.start()
    for delivery in deliveries:
        delivery.join()
    ended = new_executions(cloud, outputs, before, at_least=3)
    assert {e["status"] for e in ended} == {"SUCCEEDED"}
    run_id = processing_run(cloud, outputs, "consultations", ended)
    tpch_run = processing_run(cloud, outputs, "tpch", ended)
    tpch_extract = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/tpch/{tpch_run}/extract.json")
    assert tpch_extract["tables"]["region"]["rows_written"] == 1
    consultations, tpch = tables(cloud, f"{PREFIX}_consultations"), tables(cloud, f"{PREFIX}_tpch")
    assert set(consultations) == {"fact_consultation", "agg_monthly_activity"}
    assert set(tpch) == {"dim_customer", "dim_supplier", "dim_part", "dim_date", "fact_sales"}
    assert all("/gold/consultations/" in location for location in consultations.values())
    assert all("/gold/tpch/" in location for location in tpch.values())
    load = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/consultations/{run_id}/load.json")
    assert load["tables"]["fact_consultation"]["rows_written"] == sample.clean_rows


def gold_straight_from_parquet(cloud, outputs, dataset: str, sql: str) -> list[list[str | None]]:
    """The same SQL over the published version's Parquet, found through its manifest (not the catalog)."""
    location = tables(cloud, f"{PREFIX}_{dataset}")
    version = next(iter(location.values())).rsplit("version=", 1)[1]
    manifest = cli.read_json(cloud, f"{outputs['LakePath']}/gold/{dataset}/_manifests/{version}.json")
    connection = duckdb.connect()
    for name, entry in manifest["tables"].items():
        files = f"{cloud.s3_folder(entry['location'])}/**/*.parquet"
        connection.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{files}', hive_partitioning = true)")
    return [[None if v is None else str(v) for v in row] for row in connection.execute(sql).fetchall()]


def test_the_stacks_named_queries_run_in_athena_over_the_published_gold(stack):
    cloud, outputs, _ = stack
    ids = cli.aws(cloud, "athena", "list-named-queries", "--work-group", outputs["AthenaWorkGroup"])["NamedQueryIds"]
    named = [cli.aws(cloud, "athena", "get-named-query", "--named-query-id", i)["NamedQuery"] for i in ids]
    assert sorted(q["Database"] for q in named) == [f"{PREFIX}_consultations", f"{PREFIX}_tpch", f"{PREFIX}_tpch"]
    for query in named:
        started = cli.aws(cloud, "athena", "start-query-execution", "--query-string", query["QueryString"],
                          "--query-execution-context", f"Database={query['Database']}",
                          "--work-group", outputs["AthenaWorkGroup"])  # fmt: skip
        execution_id = started["QueryExecutionId"]
        state = cli.aws(cloud, "athena", "get-query-execution", "--query-execution-id", execution_id)
        assert state["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
        result = cli.aws(cloud, "athena", "get-query-results", "--query-execution-id", execution_id)["ResultSet"]
        rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in result["Rows"]]
        dataset = query["Database"].removeprefix(f"{PREFIX}_")
        expected = gold_straight_from_parquet(cloud, outputs, dataset, query["QueryString"])
        assert rows[1:] == expected, query["Name"]
        assert len(expected) > 0, query["Name"]
    shortcut = cli.run(cloud, str(cli.BIN / "glue-etl"), "query", "SELECT count(*) AS n FROM fact_sales",
                       "--stack", STACK, "--endpoint-url", cloud.endpoint_url)  # fmt: skip
    assert shortcut.returncode == 0, shortcut.stderr
    assert shortcut.stdout.splitlines()[2].strip() == str(tables_rows(cloud, outputs, "fact_sales"))


def tables_rows(cloud, outputs, table: str) -> int:
    location = tables(cloud, f"{PREFIX}_tpch")[table]
    version = location.rsplit("version=", 1)[1]
    return cli.read_json(cloud, f"{outputs['LakePath']}/gold/tpch/_manifests/{version}.json")["tables"][table]["rows"]


def test_two_executions_started_at_the_same_moment_never_fail_and_gold_stays_whole(stack):
    cloud, outputs, _ = stack
    sfn = cloud.client("stepfunctions")
    before = execution_arns(cloud, outputs)
    rows_before = tables(cloud, f"{PREFIX}_consultations")
    started = []

    def start(name: str) -> None:
        request = {"dataset": "consultations", "reprocess": "true"}
        started.append(sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name=name,
                                           input=json.dumps(request))["executionArn"])  # fmt: skip

    threads = [threading.Thread(target=start, args=(f"together-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ended = new_executions(cloud, outputs, before, at_least=3)  # the two, and the run asked for by the second
    assert {e["status"] for e in ended} == {"SUCCEEDED"}
    paths = {e["name"]: cli.states_entered(cloud, e["executionArn"]) for e in ended}
    together = [paths[f"together-{n}"] for n in (1, 2)]
    assert sorted(p[-1] for p in together) == ["Coalesced", "Succeeded"]  # one ran, one was folded in
    published = tables(cloud, f"{PREFIX}_consultations")
    assert published != rows_before  # the reprocessing run published a new version ...
    version = published["fact_consultation"].rsplit("version=", 1)[1]
    manifest = cli.read_json(cloud, f"{outputs['LakePath']}/gold/consultations/_manifests/{version}.json")
    folder = published["fact_consultation"].removeprefix("s3://").split("/", 1)[1]
    listed = cloud.client("s3").list_objects_v2(Bucket=outputs["LakeBucket"], Prefix=folder)
    assert manifest["tables"]["fact_consultation"]["rows"] > 0
    assert any(o["Key"].endswith(".parquet") for o in listed["Contents"])  # ... whose files are all there


def test_a_run_stopped_while_holding_the_lease_does_not_block_the_next(stack):
    cloud, outputs, _ = stack
    sfn = cloud.client("stepfunctions")
    request = json.dumps({"dataset": "consultations", "reprocess": "true"})
    stopped = sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name="stopped", input=request)
    deadline = time.monotonic() + 120
    while "Extract" not in cli.states_entered(cloud, stopped["executionArn"]):
        assert time.monotonic() < deadline, "the first run never reached Extract"
        time.sleep(0.5)
    cli.aws(cloud, "stepfunctions", "stop-execution", "--execution-arn", stopped["executionArn"])
    while sfn.describe_execution(executionArn=stopped["executionArn"])["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the first run was not stopped"
        time.sleep(0.2)
    assert sfn.describe_execution(executionArn=stopped["executionArn"])["status"] == "ABORTED"
    lease = cloud.client("dynamodb").get_item(
        TableName=outputs["LeaseTableName"], Key={"dataset": {"S": "consultations"}}
    )
    assert lease["Item"]["holder"]["S"] == stopped["executionArn"]  # aborted runs cannot give the lease back

    arn = sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name="next", input=request)["executionArn"]
    (ended,) = [
        e for e in cli.wait_until_idle(cloud, outputs["StateMachineArn"], at_least=1) if e["executionArn"] == arn
    ]
    assert ended["status"] == "SUCCEEDED"
    assert "TakeOverLease" in cli.states_entered(cloud, arn)
    lease = cloud.client("dynamodb").get_item(
        TableName=outputs["LeaseTableName"], Key={"dataset": {"S": "consultations"}}
    )
    assert "Item" not in lease  # released at the end


def test_each_subscriber_hears_of_the_runs_it_asked_for(stack):
    """The on-call phone gets failures only (SmsNotifications=failures); a team subscribed with a
    filter policy on the dataset, as the README shows, gets its own dataset's runs only."""
    cloud, outputs, _ = stack
    topic = outputs["NotificationTopicArn"]
    only_consultations = json.dumps({"FilterPolicy": json.dumps({"dataset": ["consultations"]})})
    team = cli.aws(cloud, "sns", "subscribe", "--topic-arn", topic, "--protocol", "email",
                   "--notification-endpoint", "consultations-team@example.com",
                   "--attributes", only_consultations, "--return-subscription-arn")  # fmt: skip
    sfn = cloud.client("stepfunctions")
    runs = {"told-ok": "consultations", "told-failed": "no_such_dataset"}
    try:
        for name, dataset in runs.items():
            request = json.dumps({"dataset": dataset})
            sfn.start_execution(stateMachineArn=outputs["StateMachineArn"], name=name, input=request)
        ended = {e["name"]: e["status"] for e in cli.wait_until_idle(cloud, outputs["StateMachineArn"], at_least=2)}
        every = notifications.deliveries(cloud.region, topic)
    finally:  # the other tests' runs are not the team's business
        cli.aws(cloud, "sns", "unsubscribe", "--subscription-arn", team["SubscriptionArn"])
    assert (ended["told-ok"], ended["told-failed"]) == ("SUCCEEDED", "FAILED")
    received = {name: {(d.protocol, d.endpoint) for d in every if name in d.text} for name in runs}
    assert received["told-ok"] == {("email", "ops@example.com"), ("email", "consultations-team@example.com")}
    assert received["told-failed"] == {("email", "ops@example.com"), ("sms", ON_CALL)}
    # An alarm (a run that timed out, dead letters) publishes without attributes: the phone still hears of it.
    cli.aws(cloud, "sns", "publish", "--topic-arn", topic, "--subject", "ALARM: ops-glue-etl-executions-timed-out",
            "--message", "alarm-timed-out")  # fmt: skip
    every = notifications.deliveries(cloud.region, topic)
    assert {(d.protocol, d.endpoint) for d in every if d.text == "alarm-timed-out"} == {
        ("email", "ops@example.com"), ("sms", ON_CALL)}  # fmt: skip


def run_job_by_hand(cloud, job_name: str, arguments: dict[str, str]) -> dict:
    """`aws glue start-job-run`, as from the console, followed until it ends."""
    started = cli.aws(cloud, "glue", "start-job-run", "--job-name", job_name, "--arguments", json.dumps(arguments))
    deadline = time.monotonic() + 300
    while True:
        run = cli.aws(cloud, "glue", "get-job-run", "--job-name", job_name, "--run-id", started["JobRunId"])["JobRun"]
        if run["JobRunState"] not in ("STARTING", "RUNNING", "STOPPING"):
            return run
        assert time.monotonic() < deadline, "the job run never ended"
        time.sleep(0.5)


def test_a_job_started_by_hand_under_a_running_execution_refuses_to_write(stack):
    cloud, outputs, _ = stack
    lease_key = json.dumps({"dataset": {"S": "consultations"}})
    holder = outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + ":nightly"
    item = {"dataset": {"S": "consultations"}, "holder": {"S": holder}}
    cli.aws(cloud, "dynamodb", "put-item", "--table-name", outputs["LeaseTableName"], "--item", json.dumps(item))
    arguments = {"--dataset": "consultations", "--lake_path": outputs["LakePath"], "--run_id": "by-hand"}
    try:
        refused = run_job_by_hand(cloud, outputs["TransformJobName"], arguments)
    finally:
        cli.aws(cloud, "dynamodb", "delete-item", "--table-name", outputs["LeaseTableName"], "--key", lease_key)
    assert refused["JobRunState"] == "FAILED"
    assert "dataset consultations is being run by execution nightly" in refused["ErrorMessage"]
    assert "started by hand" in refused["ErrorMessage"]
    summary = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/consultations/by-hand/transform.json")
    assert summary["status"] == "failed"
    assert summary["tables"] == {}  # refused before reading or writing anything

    # With nobody holding the lease, the same job started by hand runs.
    again = run_job_by_hand(cloud, outputs["TransformJobName"], {**arguments, "--run_id": "by-hand-2"})
    assert again["JobRunState"] == "SUCCEEDED", again.get("ErrorMessage")


def test_a_file_sent_again_through_s3_is_read_once_and_a_corrected_one_replaces_its_rows(stack):
    """The producer's re-sends, through the deployed path (S3 event, execution, Glue jobs on S3):
    the same bytes start a run that finds nothing new and sends no email; other bytes under the same
    name replace the file's rows, and the email says how many records each delivery had."""
    cloud, outputs, _ = stack
    topic, lake = outputs["NotificationTopicArn"], outputs["LakePath"]
    bucket, key = outputs["LakeBucket"], "landing/consultations/consultations_2025_09.csv"
    s3 = cloud.client("s3")
    first = CONSULTATIONS_HEADER + b"".join(consultation(n) for n in (901, 902, 903))

    def deliver(content: bytes) -> list[dict]:
        before = execution_arns(cloud, outputs)
        s3.put_object(Bucket=bucket, Key=key, Body=content)
        ended = new_executions(cloud, outputs, before, at_least=1)
        assert {e["status"] for e in ended} == {"SUCCEEDED"}
        return ended

    run_id = processing_run(cloud, outputs, "consultations", deliver(first))
    emails = len(notifications.deliveries(cloud.region, topic))
    resent = deliver(first)
    (again,) = [json.loads(e["output"])["config"]["run_id"] for e in resent]
    assert cli.read_json(cloud, f"{lake}/_runs/consultations/{again}/extract.json")["status"] == "no_new_files"
    assert len(notifications.deliveries(cloud.region, topic)) == emails  # nothing new: no email

    corrected = deliver(CONSULTATIONS_HEADER + consultation(901, montant="99.00") + consultation(904))
    fixed = processing_run(cloud, outputs, "consultations", corrected)
    extract = cli.read_json(cloud, f"{lake}/_runs/consultations/{fixed}/extract.json")
    assert extract["tables"]["consultations"]["rows_written"] == 2
    assert any(f"run {run_id} (3 record(s) before, 2 now)" in warning for warning in extract["warnings"])
    (email,) = [d for d in notifications.deliveries(cloud.region, topic)
                if d.protocol == "email" and fixed in (d.subject or "")]  # fmt: skip
    assert email.subject == f"[Glue ETL] succeeded with warnings: consultations run {fixed}"
    assert "(3 record(s) before, 2 now)" in email.text
    rows = gold_straight_from_parquet(cloud, outputs, "consultations",
        "SELECT consultation_id, montant FROM fact_consultation WHERE consultation_id > 900 ORDER BY 1")  # fmt: skip
    assert rows == [["901", "99.00"], ["904", "25.00"]]


def test_the_schedule_starts_a_run_of_each_scheduled_dataset(stack):
    """The schedule's own input (as the deployed rule holds it) starts one execution that starts one
    run per dataset, each taking its own dataset's lease and running the jobs for it."""
    cloud, outputs, _ = stack
    (target,) = cli.aws(cloud, "events", "list-targets-by-rule", "--rule", f"{STACK}-schedule")["Targets"]
    assert target["Arn"] == outputs["StateMachineArn"]
    before = execution_arns(cloud, outputs)
    cli.aws(cloud, "stepfunctions", "start-execution", "--state-machine-arn", outputs["StateMachineArn"],
            "--name", "nightly", "--input", target["Input"])  # fmt: skip
    ended = {e["name"]: e for e in new_executions(cloud, outputs, before, at_least=3)}
    nightly = ended.pop("nightly")
    assert nightly["status"] == "SUCCEEDED"
    assert cli.states_entered(cloud, nightly["executionArn"])[-1] == "StartedEachDataset"
    assert "Extract" not in cli.states_entered(cloud, nightly["executionArn"])
    started = {run["dataset"]: run["execution_arn"] for run in json.loads(nightly["output"])}
    assert sorted(started) == ["consultations", "tpch"]
    assert sorted(e["executionArn"] for e in ended.values()) == sorted(started.values())
    for dataset, arn in started.items():
        run = next(e for e in ended.values() if e["executionArn"] == arn)
        assert run["status"] == "SUCCEEDED", dataset
        assert "Extract" in cli.states_entered(cloud, arn)
        config = json.loads(run["output"])["config"]
        assert (config["dataset"], config["source_path"]) == (dataset, f"{outputs['LandingPath']}/{dataset}")
        extract = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/{dataset}/{config['run_id']}/extract.json")
        assert extract["dataset"] == dataset


def test_with_a_delivery_marker_only_the_marker_starts_the_run_and_it_does_not_wait(stack):
    """A producer that writes `_SUCCESS` last (as Spark and Hadoop do): its data objects start
    nothing, the marker starts one run over the whole delivery. Last in this module: it redeploys the
    stack with the marker."""
    cloud, outputs, root = stack
    marked = cli.deploy(cloud, ENV_NAME, *PARAMETERS, "DeliveryMarker=_SUCCESS")
    assert marked.returncode == 0, marked.stdout + marked.stderr
    sample = generate_consultations(root / "marked", rows=200, files=2, seed=9, start_year=2025, first_id=5001)
    before, jobs_before = execution_arns(cloud, outputs), glue_job_runs(cloud, outputs)
    delivery = f"{outputs['LandingPath']}/consultations/2025-01-31/"
    copy_folder(cloud, root / "marked", delivery)
    data_objects = new_executions(cloud, outputs, before, at_least=2)
    assert all(cli.states_entered(cloud, e["executionArn"])[-1] == "Ignored" for e in data_objects)
    assert all("is part of a delivery that its marker _SUCCESS starts" in json.loads(e["output"])["ignored"]
               for e in data_objects)  # fmt: skip
    assert glue_job_runs(cloud, outputs) == jobs_before

    key = f"{delivery.removeprefix('s3://').split('/', 1)[1]}_SUCCESS"
    cloud.client("s3").put_object(Bucket=outputs["LakeBucket"], Key=key, Body=b"")
    (run,) = new_executions(cloud, outputs, before | {e["executionArn"] for e in data_objects}, at_least=1)
    assert run["status"] == "SUCCEEDED"
    entered = cli.states_entered(cloud, run["executionArn"])
    assert "Extract" in entered
    assert "SettleDelivery" not in entered  # a complete delivery: nothing to wait for
    run_id = json.loads(run["output"])["config"]["run_id"]
    extract = cli.read_json(cloud, f"{outputs['LakePath']}/_runs/consultations/{run_id}/extract.json")
    assert extract["tables"]["consultations"]["rows_read"] == sample.rows
    assert len(extract["tables"]["consultations"]["files"]) == 2  # the marker is not data
