"""What a run may not do: rewrite another run's gold version, commit after its lease was taken
over, abort on another table's rule before every table is known, carry row values into error
messages and notifications, or run under another local run of its dataset."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest

from etl_lib import lease
from etl_lib.job import JobFailedError
from glue_etl_local.cli import run_pipeline
from lambda_notify.messages import format_notification
from tests.integration.conftest import published_location, run_all, run_job
from tests.integration.test_malformed_files import CONSULTATIONS_HEADER, consultation


def deliver(landing, name, rows):
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_bytes(CONSULTATIONS_HEADER + b"".join(rows))


def test_a_reused_run_id_is_refused_and_the_published_version_is_untouched(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, "consultations_1.csv", [consultation(1), consultation(2)])
    run_all("consultations", landing, lake, "r1")
    version = lake / "gold/consultations/fact_consultation/version=r1"
    before = sorted((p.name, p.stat().st_mtime_ns) for p in version.rglob("*.parquet"))

    deliver(landing, "consultations_2.csv", [consultation(3)])
    run_job("extract", "consultations", lake, "r1", landing)
    with pytest.raises(JobFailedError, match="run id r1 already wrote gold version r1 of consultations"):
        run_job("transform", "consultations", lake, "r1")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in version.rglob("*.parquet")) == before
    # A new run id picks the new rows up.
    run_job("transform", "consultations", lake, "r2")
    run_job("load", "consultations", lake, "r2")
    assert published_location(lake, "consultations", "fact_consultation").endswith("version=r2")


def test_table_rule_failures_are_reported_together_once_every_table_is_known(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    (landing / "region.csv").write_text("r_regionkey,r_name,r_comment\n0,AFRICA,a\n1,AMERICA,b\n")
    (landing / "nation.csv").write_text("n_nationkey,n_name,n_regionkey,n_comment\n0,ALGERIA,0,x\n")
    rules = tmp_path / "rules"
    rules.mkdir()
    for table in ("region", "nation"):
        (rules / f"{table}.dqdl").write_text("Rules = [ RowCount > 999 ]")
    run_job("extract", "tpch", lake, "r1", landing)
    with pytest.raises(JobFailedError) as raised:
        run_job("transform", "tpch", lake, "r1", rules_path=str(rules))
    message = str(raised.value)
    assert "region: rule RowCount > 999 (severity fail): Value: 2 does not meet the constraint requirement" in message
    assert "nation: rule RowCount > 999 (severity fail): Value: 1 does not meet the constraint requirement" in message
    assert (lake / "silver/tpch/nation").exists()  # nation was validated, not aborted by region's rule
    quality = json.loads((lake / "_runs/tpch/r1/quality.json").read_text())
    failed = {(r["table"], r["outcome"], r["status"]) for r in quality["rules"] if r["rule"] == "RowCount > 999"}
    assert failed == {("region", "Failed", "failed"), ("nation", "Failed", "failed")}


def test_row_values_never_reach_the_error_message_or_the_notification(tmp_path):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, "consultations_1.csv", [consultation(1), consultation(2, diagnostic="seropositif-VIH")])
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "consultations.dqdl").write_text(
        'Rules = [\n  # severity: fail\n  ColumnValues "diagnostic" in ["grippe"]\n]'
    )
    run_job("extract", "consultations", lake, "r1", landing)
    with pytest.raises(JobFailedError) as raised:
        run_job("transform", "consultations", lake, "r1", rules_path=str(rules))
    message = str(raised.value)
    assert 'rule ColumnValues "diagnostic" in ["grippe"] (severity fail) broken by 1 row(s)' in message
    assert "e.g. the row at consultations_1.csv, consultation_id='2'" in message
    assert "VIH" not in message
    quality = (lake / "_runs/consultations/r1/quality.json").read_text()
    assert "VIH" not in quality
    event = {"status": "FAILED", "config": {"dataset": "consultations", "run_id": "r1", "lake_path": str(lake)},
             "error": {"Error": "States.TaskFailed", "Cause": json.dumps({"ErrorMessage": message})}}  # fmt: skip
    notification = format_notification(event, {"quality": json.loads(quality)})
    assert 'ColumnValues "diagnostic" in ["grippe"]' in notification.email
    assert "VIH" not in notification.email
    assert "VIH" not in notification.sms
    # The quarantine, in the lake, keeps the row as it was: values are data, not messages.
    assert "VIH" in "".join(p.read_bytes().decode("latin-1") for p in (lake / "quarantine").rglob("*.parquet"))


def test_a_model_that_drops_fact_rows_is_not_published(tmp_path, monkeypatch):
    from etl_lib.datasets import get_dataset
    from etl_lib.steps import transform

    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, "consultations_1.csv", [consultation(1), consultation(2), consultation(3)])
    consultations = get_dataset("consultations")

    def losing_a_row(silver):  # what an inner join on a key the rules let through would do
        gold = consultations.build_gold(silver)
        return {**gold, "fact_consultation": gold["fact_consultation"].where("consultation_id <> 2")}

    lossy = dataclasses.replace(consultations, build_gold=losing_a_row)
    monkeypatch.setattr(transform, "get_dataset", lambda name: lossy)
    run_job("extract", "consultations", lake, "r1", landing)
    with pytest.raises(
        JobFailedError, match="rows lost in the model: fact_consultation has 2 rows but consultations has 3"
    ):
        run_job("transform", "consultations", lake, "r1")
    assert not (lake / "gold/consultations/_manifests/r1.json").exists()  # load has nothing to publish


def test_a_value_the_model_cannot_hold_fails_the_run_naming_the_column_and_publishes_nothing(tmp_path):
    """A team's ruleset drops the bound on consultation length; one consultation of 2,000,000,000
    minutes makes the monthly average too large for its decimal(10,2). Spark 3.5 (Glue 5.x) wrote
    NULL there; Spark 4 (Glue 6.0) failed with an error quoting the value. Both now fail naming the
    table and the column, never the value, and the gold published before stays."""
    landing, lake, rules = tmp_path / "landing", tmp_path / "lake", tmp_path / "rules"
    deliver(landing, "consultations_1.csv", [consultation(1), consultation(2)])
    run_all("consultations", landing, lake, "r1")
    rules.mkdir()
    (rules / "consultations.dqdl").write_text('Rules = [ IsComplete "date_consultation" ]\n')
    deliver(landing, "consultations_2.csv", [consultation(3, duree_minutes="2000000000")])
    run_job("extract", "consultations", lake, "r2", landing)
    with pytest.raises(JobFailedError) as failed:
        run_job("transform", "consultations", lake, "r2", rules_path=str(rules))
    (line,) = str(failed.value).splitlines()[:1]
    assert line.endswith(
        "ModelError: gold table agg_monthly_activity: the model computed a decimal too large for decimal(10,2) (its "
        "decimal(10,2) columns: average_minutes) [NUMERIC_VALUE_OUT_OF_RANGE] for at least one row; nothing was "
        "published: widen the type in the model, or add a rule that quarantines the rows it cannot compute"
    )
    assert "2000000000" not in str(failed.value)
    assert not (lake / "gold/consultations/_manifests/r2.json").exists()
    run_job("load", "consultations", lake, "r2")
    assert published_location(lake, "consultations", "agg_monthly_activity").endswith("version=r1")


def test_an_extract_whose_lease_was_taken_over_while_it_read_does_not_commit(spark, tmp_path, monkeypatch):
    """Its execution was stopped and the next one took the lease over while its Glue job still ran:
    it must not write its ledger over the new holder's. The next run reads the files once."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, "consultations_2024_03.csv", [consultation(i) for i in (1, 2, 3)])
    execution = "arn:aws:states:eu-west-1:123456789012:execution:dev-glue-etl-pipeline:"
    holders = iter([execution + "stopped", execution + "next"])  # at the job's start, then at its commit
    monkeypatch.setattr(lease, "current_holder", lambda client, table, dataset: next(holders))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    options = {"lease_table": "leases", "lease_holder": execution + "stopped"}
    with pytest.raises(JobFailedError, match=r"being run by execution next, which holds its lease; this job run "
                                             r"\(started by execution stopped\) would write under it"):  # fmt: skip
        run_job("extract", "consultations", lake, "r1", landing, **options)
    assert not (lake / "_state/consultations/extract_ledger.json").exists()
    assert run_job("extract", "consultations", lake, "r2", landing)["tables"]["consultations"]["rows_written"] == 3
    raw = spark.read.parquet(str(lake / "raw/consultations/consultations")).collect()
    assert sorted(row.id_consultation for row in raw) == [1, 2, 3]


def test_overlapping_local_runs_of_a_dataset_run_one_after_the_other(tmp_path):
    """Two `glue-etl run`s started together on one lake (two terminals, two cron entries): the
    second waits for the first, then finds nothing new; neither writes under the other."""
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    deliver(landing, "consultations_1.csv", [consultation(i) for i in (1, 2, 3)])
    deliver(landing, "consultations_2.csv", [consultation(i) for i in (4, 5)])
    start = threading.Barrier(2)
    summaries: dict[str, dict] = {}
    errors: dict[str, str] = {}

    def run(run_id: str) -> None:
        start.wait()
        try:
            summaries[run_id] = run_pipeline("consultations", str(landing), str(lake), run_id)["jobs"]
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors[run_id] = str(error)

    runs = [threading.Thread(target=run, args=(run_id,)) for run_id in ("a", "b")]
    for thread in runs:
        thread.start()
    for thread in runs:
        thread.join(300)
    assert errors == {}
    first, second = sorted(summaries.values(), key=lambda jobs: jobs["extract"]["started_at"])
    assert second["extract"]["started_at"] >= first["load"]["finished_at"]
    assert [first[job]["status"] for job in ("extract", "transform", "load")] == ["succeeded"] * 3
    assert [second[job]["status"] for job in ("extract", "transform", "load")] == [
        "no_new_files", "up_to_date", "already_published"]  # fmt: skip
    assert first["extract"]["totals"]["rows_written"] == 5
    gold = json.loads((lake / "_catalog/consultations.json").read_text())["tables"]["fact_consultation"]
    assert gold["rows"] == 5
