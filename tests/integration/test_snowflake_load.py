"""The load job upserting gold into Snowflake (the fakesnow emulator behind the real connector,
key-pair authentication, the lake as an external stage): first load, idempotent re-run, updated keys
and rows that left gold, and a load failing inside its transaction."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from etl_lib.job import JobFailedError
from glue_etl_local.snowflake_emulator import LocalSnowflake
from tests.conftest import RetailDatabase
from tests.integration.conftest import copy_gold, run_all, run_job, with_gold_column, with_retail_copy

pytestmark = pytest.mark.postgres
TABLES = ("DIM_CURRENCY", "DIM_CUSTOMER", "DIM_STAFF", "DIM_PRODUCT", "DIM_DATE", "FACT_SALES_ORDER")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[LocalSnowflake]:
    with LocalSnowflake(tmp_path / "snowflake-home", tmp_path / "lake") as snowflake:
        yield snowflake


def schema(snowflake: LocalSnowflake) -> str:
    return f"{snowflake.database}.RETAIL_DW"


def run(db: RetailDatabase, snowflake: LocalSnowflake, lake: Path, run_id: str) -> dict[str, dict[str, Any]]:
    return run_all("retail", None, lake, run_id, source_secret=db.secret, warehouse_secret=snowflake.secret_file())


def snapshot(snowflake: LocalSnowflake) -> dict[str, list[tuple[Any, ...]]]:
    return {table: snowflake.query(f"SELECT * FROM {schema(snowflake)}.{table} ORDER BY 1") for table in TABLES}


def loaded_version(snowflake: LocalSnowflake) -> list[tuple[Any, ...]]:
    return snowflake.query(f"SELECT DATASET, VERSION FROM {schema(snowflake)}.ETL_LOAD_STATE")


def orders(snowflake: LocalSnowflake) -> set[tuple[Any, ...]]:
    table = f"{schema(snowflake)}.FACT_SALES_ORDER"
    rows = snowflake.query(f"SELECT SALES_ORDER_ID, CUSTOMER_ID, UNITS_SOLD, UNIT_PRICE FROM {table}")
    return {(order, customer, units, Decimal(str(price))) for order, customer, units, price in rows}


def test_snowflake_first_load_matches_the_source_and_records_the_version(retail_db, warehouse, tmp_path):
    summaries = run(retail_db, warehouse, tmp_path / "lake", "r1")
    assert summaries["load"]["status"] == "succeeded"
    assert f"upserted 6 table(s) into Snowflake schema {schema(warehouse)}" in summaries["load"]["message"]
    assert orders(warehouse) == retail_db.valid_orders_in_source()
    assert len(orders(warehouse)) == 996
    assert loaded_version(warehouse) == [("retail", "r1")]
    # The partition column lives in folder names, not in the Parquet files: the load sets it.
    fact = f"{schema(warehouse)}.FACT_SALES_ORDER"
    years = warehouse.query(f"SELECT count(*), count(ORDER_YEAR), min(ORDER_YEAR), max(ORDER_YEAR) FROM {fact}")
    source_years = retail_db.query(
        "SELECT min(extract(year FROM created_at))::int, max(extract(year FROM created_at))::int FROM sales_order"
    )[0]
    assert years == [(996, 996, *source_years)]
    assert warehouse.query(f"SHOW TABLES LIKE 'STG_%' IN SCHEMA {schema(warehouse)}") == []


def test_snowflake_rerun_of_a_loaded_version_changes_nothing(retail_db, warehouse, tmp_path):
    lake = tmp_path / "lake"
    run(retail_db, warehouse, lake, "r1")
    before = snapshot(warehouse)
    again = run_job("load", "retail", lake, "r1", warehouse_secret=warehouse.secret_file())
    assert f"Snowflake schema {schema(warehouse)} already has version r1" in again["message"]
    assert snapshot(warehouse) == before
    assert loaded_version(warehouse) == [("retail", "r1")]


def test_snowflake_update_of_existing_keys_and_of_rows_that_leave_gold(retail_db, warehouse, tmp_path):
    lake = tmp_path / "lake"
    run(retail_db, warehouse, lake, "r1")
    retail_db.execute(Path("glue_etl_local/sql/retail/updates.sql").read_text())
    # Two orders corrected to zero units: quarantined by the next run, so gold and the warehouse lose them.
    retail_db.execute("UPDATE sales_order SET units_sold = 0, last_updated = now() WHERE sales_order_id IN (11, 12)")
    second = run(retail_db, warehouse, lake, "r2")
    assert orders(warehouse) == retail_db.valid_orders_in_source()
    assert len(orders(warehouse)) == 1016 - 2
    emails = dict(warehouse.query(f"SELECT CUSTOMER_ID, EMAIL FROM {schema(warehouse)}.DIM_CUSTOMER"))
    assert emails == dict(retail_db.query("SELECT customer_id, email FROM customer"))
    prices = warehouse.query(f"SELECT PRODUCT_ID, LIST_PRICE FROM {schema(warehouse)}.DIM_PRODUCT ORDER BY 1")
    assert prices == [
        (p, Decimal(str(v))) for p, v in retail_db.query("SELECT product_id, list_price FROM product ORDER BY 1")
    ]
    assert loaded_version(warehouse) == [("retail", "r2")]
    # Every row of the new version is upserted by key: 994 orders already there, 20 new ones, 2 gone.
    assert "fact_sales_order +20/~994/-2" in second["load"]["message"]


def test_snowflake_load_failing_inside_its_transaction_keeps_the_previous_state(retail_db, warehouse, tmp_path):
    lake = tmp_path / "lake"
    run(retail_db, warehouse, lake, "r1")
    before = snapshot(warehouse)
    retail_db.execute(Path("glue_etl_local/sql/retail/updates.sql").read_text())
    # The version record is the transaction's last statement: make it fail after every upsert ran.
    for statement in (f"ALTER TABLE {schema(warehouse)}.ETL_LOAD_STATE ADD COLUMN GUARD INTEGER",
                      f"UPDATE {schema(warehouse)}.ETL_LOAD_STATE SET GUARD = 1",
                      f"ALTER TABLE {schema(warehouse)}.ETL_LOAD_STATE ALTER COLUMN GUARD SET NOT NULL"):  # fmt: skip
        warehouse.execute(statement)
    run_job("extract", "retail", lake, "r2", source_secret=retail_db.secret)
    run_job("transform", "retail", lake, "r2")
    with pytest.raises(JobFailedError, match=f"loading retail version r2 into Snowflake {schema(warehouse)}: "):
        run_job("load", "retail", lake, "r2", warehouse_secret=warehouse.secret_file())
    assert snapshot(warehouse) == before
    assert warehouse.query(f"SELECT DATASET, VERSION FROM {schema(warehouse)}.ETL_LOAD_STATE") == [("retail", "r1")]
    assert warehouse.query(f"SHOW TABLES LIKE 'STG_%' IN SCHEMA {schema(warehouse)}") == []
    # Fixed, the same run loads.
    warehouse.execute(f"ALTER TABLE {schema(warehouse)}.ETL_LOAD_STATE DROP COLUMN GUARD")
    retried = run_job("load", "retail", lake, "r2", warehouse_secret=warehouse.secret_file())
    assert retried["status"] == "succeeded"
    assert orders(warehouse) == retail_db.valid_orders_in_source()
    assert loaded_version(warehouse) == [("retail", "r2")]


def test_snowflake_a_gold_column_added_later_is_added_to_the_target_table(retail_db, warehouse, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    run(retail_db, warehouse, lake, "r1")
    before = snapshot(warehouse)["DIM_CURRENCY"]
    with_gold_column(monkeypatch, "dim_currency", "source_system", "erp")
    run_job("extract", "retail", lake, "r2", source_secret=retail_db.secret)
    run_job("transform", "retail", lake, "r2", reprocess="true")  # (a new library version runs it too)
    load = run_job("load", "retail", lake, "r2", warehouse_secret=warehouse.secret_file())
    assert load["status"] == "succeeded"
    after = warehouse.query(f"SELECT * FROM {schema(warehouse)}.DIM_CURRENCY ORDER BY 1")
    assert [row[:-1] for row in after] == before
    assert {row[-1] for row in after} == {"erp"}
    assert loaded_version(warehouse) == [("retail", "r2")]


def test_snowflake_a_second_dataset_given_the_same_schema_is_refused_not_merged(retail_db, warehouse, tmp_path,
                                                                                monkeypatch):  # fmt: skip
    lake = tmp_path / "lake"
    run(retail_db, warehouse, lake, "r1")
    before = snapshot(warehouse)
    with_retail_copy(monkeypatch, "retail_eu")
    copy_gold(lake, "retail", "retail_eu")
    with pytest.raises(
        JobFailedError,
        match=rf"Snowflake schema {schema(warehouse)} holds dim_currency \(dataset "
        r"retail\), .* dataset retail_eu would merge its rows into them",
    ):
        run_job("load", "retail_eu", lake, "e1", warehouse_secret=warehouse.secret_file(), warehouse_schema="retail_dw")
    assert snapshot(warehouse) == before
    assert loaded_version(warehouse) == [("retail", "r1")]
