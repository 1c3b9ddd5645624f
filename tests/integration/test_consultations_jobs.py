import shutil

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from etl_lib.job import JobFailedError
from etl_lib.rules import rulesets
from glue_etl_local.samples import FULL_HEADER, generate_consultations
from tests.integration.conftest import merged_rule_counts, published_location, read_summary, run_all, run_job

GOLD = "fact_consultation"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("consultations")
    sample = generate_consultations(root / "landing", rows=1200, files=2, seed=11)
    summaries = run_all("consultations", root / "landing", root / "lake", "run1")
    return root, sample, summaries


def test_every_injected_defect_is_quarantined_with_its_rule(first_run):
    _, sample, summaries = first_run
    assert all(s["status"] == "succeeded" for s in summaries.values())
    got = merged_rule_counts(summaries["extract"], summaries["transform"], table="consultations")
    assert got == sample.expected_quarantine_by_rule()
    assert summaries["extract"]["tables"]["consultations"]["rows_read"] == sample.rows
    assert summaries["transform"]["tables"]["consultations"]["rows_written"] == sample.clean_rows
    assert summaries["load"]["tables"][GOLD]["rows_written"] == sample.clean_rows


def test_gold_has_renamed_columns_calendar_and_age_groups(spark, first_run):
    root, sample, _ = first_run
    gold = spark.read.parquet(published_location(root / "lake", "consultations", GOLD))
    assert {"consultation_id", "centre_id", "gender", "year", "month", "age_group"} <= set(gold.columns)
    assert not {"id_consultation", "id_centre", "sexe"} & set(gold.columns)
    assert gold.count() == sample.clean_rows
    assert gold.select("consultation_id").distinct().count() == sample.clean_rows
    bad_groups = gold.where(
        ((F.col("patient_age") < 12) & (F.col("age_group") != "enfant"))
        | ((F.col("patient_age").between(12, 17)) & (F.col("age_group") != "adolescent"))
        | ((F.col("patient_age").between(18, 64)) & (F.col("age_group") != "adulte"))
        | ((F.col("patient_age") >= 65) & (F.col("age_group") != "senior"))
    )
    assert bad_groups.count() == 0
    assert gold.where(F.month("date_consultation") != F.col("month")).count() == 0
    # The second file has no `sexe` column: its rows have a NULL gender, the first file's do not.
    silver = spark.read.parquet(str(root / "lake/silver/consultations/consultations"))
    by_file = {r._source_file.rsplit("/", 1)[1]: r.genders for r in silver.groupBy("_source_file").agg(
        F.count("gender").alias("genders")).collect()}  # fmt: skip
    assert by_file["consultations_2024_02.csv"] == 0
    assert by_file["consultations_2024_01.csv"] > 0
    assert gold.where(F.trim("diagnostic") == "").count() == 0


def test_outputs_are_snappy_parquet_partitioned_by_year_and_month(first_run):
    root, _, _ = first_run
    location = published_location(root / "lake", "consultations", GOLD)
    files = list((root / "lake").glob(f"gold/consultations/{GOLD}/*/year=*/month=*/*.parquet"))
    assert files
    assert all(f.name.endswith(".snappy.parquet") for f in files)
    assert all(str(f).startswith(location) for f in files)


def test_quarantined_rows_keep_their_values_and_reasons(spark, first_run):
    root, _, _ = first_run
    extract_q = spark.read.parquet(str(root / "lake/quarantine/consultations/extract/consultations"))
    transform_q = spark.read.parquet(str(root / "lake/quarantine/consultations/transform/consultations"))
    for frame in (extract_q, transform_q):
        assert frame.where(F.col("_rule").isNull() | (F.length("_reason") == 0)).count() == 0
    bad_dates = extract_q.where(F.col("_rule") == "parse:date_consultation").collect()
    assert bad_dates
    assert all(r.date_consultation in r._reason for r in bad_dates)


def test_second_run_with_nothing_new_rewrites_nothing(first_run):
    root, _, _ = first_run
    before = published_location(root / "lake", "consultations", GOLD)
    again = run_all("consultations", root / "landing", root / "lake", "run2")
    assert [again[j]["status"] for j in ("extract", "transform", "load")] == [
        "no_new_files", "up_to_date", "already_published"]  # fmt: skip
    assert published_location(root / "lake", "consultations", GOLD) == before


def test_reprocessing_the_same_input_gives_the_same_gold(spark, first_run):
    root, _, _ = first_run
    lake = root / "lake"
    first = spark.read.parquet(published_location(lake, "consultations", GOLD)).drop("_ingested_at", "_run_id")
    first = first.localCheckpoint()
    raw_before = spark.read.parquet(str(lake / "raw/consultations/consultations")).count()
    rerun = run_all("consultations", root / "landing", lake, "run3", reprocess="true")
    assert rerun["load"]["status"] == "succeeded"
    assert spark.read.parquet(str(lake / "raw/consultations/consultations")).count() == raw_before
    second = spark.read.parquet(published_location(lake, "consultations", GOLD)).drop("_ingested_at", "_run_id")
    assert published_location(lake, "consultations", GOLD).endswith("version=run3")
    assert_df_equality(first, second, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)
    versions = sorted(p.name for p in (lake / f"gold/consultations/{GOLD}").iterdir())
    assert versions == ["version=run1", "version=run3"]  # the published one and the one before


def test_a_new_file_is_the_only_one_extracted(tmp_path, first_run):
    root, sample, _ = first_run
    lake = tmp_path / "lake"
    shutil.copytree(root / "lake", lake)
    extra = generate_consultations(
        tmp_path / "more", rows=100, files=1, seed=99, defect_rate=0, start_year=2025, first_id=100_000
    )
    shutil.copy(extra.files[0], root / "landing" / "consultations_2025_01.csv")
    try:
        summaries = run_all("consultations", root / "landing", lake, "run4")
    finally:
        (root / "landing" / "consultations_2025_01.csv").unlink()
    extracted = summaries["extract"]["tables"]["consultations"]
    assert [f.rsplit("/", 1)[1] for f in extracted["files"]] == ["consultations_2025_01.csv"]
    assert extracted["rows_read"] == 100
    assert summaries["load"]["tables"][GOLD]["rows_written"] == sample.clean_rows + 100


def test_no_usable_rows_writes_nothing_and_says_so(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    rows = [",".join(FULL_HEADER)] + [f"{i},2024-05-0{i},C001,P1,40,F,generaliste,,20,25.00" for i in range(1, 4)]
    (landing / "consultations_empty.csv").write_text("\n".join(rows) + "\n")
    summaries = run_all("consultations", landing, tmp_path / "lake", "r1")
    transform = summaries["transform"]
    assert transform["status"] == "no_usable_rows"
    assert "no usable rows in consultations" in transform["message"]
    assert transform["warnings"] == [
        "no usable rows in consultations: gold not written, the gold published before (if any) stays as it was, "
        "with the rows of earlier deliveries"
    ]
    assert transform["tables"]["consultations"]["rows_quarantined"] == 3
    assert not (tmp_path / "lake/silver/consultations/consultations").exists()
    assert not (tmp_path / "lake/gold").exists()
    assert summaries["load"]["status"] == "nothing_to_publish"


def test_missing_required_column_fails_with_one_line(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    (landing / "consultations_bad.csv").write_text("id_consultation,id_centre,diagnostic\n1,C001,grippe\n")
    with pytest.raises(JobFailedError) as raised:
        run_job("extract", "consultations", tmp_path / "lake", "r1", landing)
    message = str(raised.value)
    assert "\n" not in message
    assert (
        "consultations_bad.csv: missing required column(s) date_consultation, id_patient, patient_age, specialite,"
        " duree_minutes, montant for table consultations"
    ) in message
    failed = read_summary(tmp_path / "lake", "consultations", "r1", "extract")
    assert failed["status"] == "failed"
    assert "date_consultation" in failed["message"]
    assert not (tmp_path / "lake/_state/consultations/extract_ledger.json").exists()


def test_a_later_delivery_of_the_same_id_replaces_the_earlier_row(spark, tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    header = ",".join(FULL_HEADER)
    (landing / "consultations_a.csv").write_text(f"{header}\n1,2024-05-01,C001,P1,40,F,generaliste,grippe,20,25.00\n")
    run_all("consultations", landing, tmp_path / "lake", "r1")
    (landing / "consultations_b.csv").write_text(f"{header}\n1,2024-05-01,C001,P1,40,F,generaliste,angine,20,30.00\n")
    summaries = run_all("consultations", landing, tmp_path / "lake", "r2")
    assert summaries["transform"]["tables"]["consultations"]["quarantine_by_rule"] == {
        'IsPrimaryKey "consultation_id"': 1
    }
    gold = spark.read.parquet(published_location(tmp_path / "lake", "consultations", GOLD)).collect()
    assert [(r.consultation_id, r.diagnostic) for r in gold] == [(1, "angine")]


def test_a_changed_ruleset_is_applied_by_the_next_run_without_new_data(spark, tmp_path, monkeypatch):
    """A team tightens a shipped rule and deploys: the next run rebuilds silver and gold under it
    even though no file arrived, and the run after that has nothing to do again."""
    generate_consultations(tmp_path / "landing", rows=200, files=1, seed=5)
    first = run_all("consultations", tmp_path / "landing", tmp_path / "lake", "r1")
    shipped = rulesets.builtin_ruleset_text("consultations", "consultations")
    stricter = shipped.replace('IsComplete "centre_id",', 'IsComplete "centre_id",\n    ColumnValues "montant" <= 50,')
    assert stricter != shipped
    monkeypatch.setattr(rulesets, "builtin_ruleset_text", lambda dataset, table: stricter)
    second = run_all("consultations", tmp_path / "landing", tmp_path / "lake", "r2")
    assert second["transform"]["status"] == "succeeded"
    assert second["transform"]["message"].endswith("raw unchanged; the rules changed since run r1")
    broken = second["transform"]["tables"]["consultations"]["quarantine_by_rule"].get('ColumnValues "montant" <= 50')
    assert broken
    written = second["transform"]["tables"]["consultations"]["rows_written"]
    assert written < first["transform"]["tables"]["consultations"]["rows_written"]
    gold = spark.read.parquet(published_location(tmp_path / "lake", "consultations", GOLD))
    assert gold.count() == written
    assert gold.where(F.col("montant") > 50).count() == 0
    third = run_all("consultations", tmp_path / "landing", tmp_path / "lake", "r3")
    assert [third[job]["status"] for job in ("extract", "transform", "load")] == [
        "no_new_files", "up_to_date", "already_published"]  # fmt: skip
