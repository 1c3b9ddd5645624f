"""Null markers (Table.null_values): a database export writes NULL (or \\N) where a value is missing."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from etl_lib.datasets import consultations as consultations_module
from tests.integration.conftest import published_location, run_all
from tests.integration.test_malformed_files import CONSULTATIONS_HEADER, consultation


def test_declared_null_markers_read_the_files_again_and_reach_gold_as_nulls(spark, tmp_path, monkeypatch):
    landing, lake = tmp_path / "landing", tmp_path / "lake"
    landing.mkdir()
    rows = [consultation(1, patient_age="NULL", montant="\\N"), consultation(2), consultation(3, sexe="NULL")]
    (landing / "consultations_2024_03.csv").write_bytes(CONSULTATIONS_HEADER + b"".join(rows))
    before = run_all("consultations", landing, lake, "r1")
    assert before["extract"]["tables"]["consultations"]["quarantine_by_rule"] == {"parse:patient_age": 1}
    assert before["transform"]["tables"]["consultations"]["quarantine_by_rule"] == {
        'ColumnValues "gender" in ["F","M",NULL]': 1
    }

    table = replace(consultations_module.CONSULTATIONS, null_values=("NULL", "\\N"))
    monkeypatch.setattr(consultations_module, "DATASET", replace(consultations_module.DATASET, tables=(table,)))
    after = run_all("consultations", landing, lake, "r2")
    assert any("read again under the new declaration" in warning for warning in after["extract"]["warnings"])
    assert after["extract"]["tables"]["consultations"]["rows_quarantined"] == 0
    assert after["transform"]["tables"]["consultations"]["rows_quarantined"] == 0
    gold = spark.read.parquet(published_location(lake, "consultations", "fact_consultation")).collect()
    found = {row.consultation_id: (row.patient_age, row.age_group, row.montant, row.gender) for row in gold}
    assert found[1][:3] == (None, None, None)
    assert found[3][3] is None
    assert found[2] == (40, "adulte", Decimal("25.00"), "F")
