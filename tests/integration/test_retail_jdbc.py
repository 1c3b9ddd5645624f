"""The retail dataset against a real PostgreSQL server: incremental extraction by watermark and
an idempotent, atomic warehouse load, through the real Glue entry scripts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from etl_lib import jdbc
from etl_lib.connections import resolve_endpoint
from etl_lib.datasets import get_dataset
from etl_lib.job import JobFailedError
from glue_etl_local.postgres import RETAIL_SQL
from tests.conftest import CHANGED_BY_UPDATES, WAREHOUSE, RetailDatabase
from tests.integration.conftest import copy_gold, run_all, run_job, with_gold_column, with_retail_copy

pytestmark = pytest.mark.postgres

SOURCE_TABLES = ("currency", "address", "customer", "staff", "product", "sales_order")


def run_retail(db: RetailDatabase, lake: Path, run_id: str) -> dict[str, dict[str, Any]]:
    return run_all("retail", None, lake, run_id, source_secret=db.secret, warehouse_secret=db.secret)


def rows_read(summary: dict[str, Any]) -> dict[str, int]:
    return {name: counts["rows_read"] for name, counts in summary["tables"].items()}


def committed_watermarks(lake: Path) -> dict[str, Any]:
    path = lake / "_state" / "retail" / "jdbc_watermarks.json"
    return json.loads(path.read_text())["tables"] if path.exists() else {}


def warehouse_snapshot(db: RetailDatabase) -> dict[str, list[tuple[Any, ...]]]:
    tables = [row[0] for row in db.query(
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{WAREHOUSE}' ORDER BY 1")]  # fmt: skip
    return {table: db.query(f"SELECT * FROM {WAREHOUSE}.{table} ORDER BY 1") for table in tables}


def test_first_run_loads_everything_then_a_run_reads_only_the_changed_rows(retail_db, tmp_path):
    lake = tmp_path / "lake"
    first = run_retail(retail_db, lake, "r1")
    in_source = {table: retail_db.query(f"SELECT count(*) FROM {table}")[0][0] for table in SOURCE_TABLES}
    assert rows_read(first["extract"]) == in_source
    assert first["transform"]["tables"]["sales_order"]["quarantine_by_rule"] == {'ColumnValues "units_sold" >= 1': 4}
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    assert len(retail_db.orders_in_warehouse()) == 996
    newest = retail_db.query("SELECT max(last_updated) FROM sales_order")[0][0]
    assert committed_watermarks(lake)["sales_order"]["value"] == newest.isoformat(sep=" ")

    retail_db.execute((RETAIL_SQL / "updates.sql").read_text())
    since = {name: entry["value"] for name, entry in committed_watermarks(lake).items()}
    changed_in_source = {
        table: retail_db.query(f"SELECT count(*) FROM {table} WHERE last_updated > '{since[table]}'")[0][0]
        for table in SOURCE_TABLES
    }
    assert changed_in_source == CHANGED_BY_UPDATES

    second = run_retail(retail_db, lake, "r2")
    assert rows_read(second["extract"]) == CHANGED_BY_UPDATES
    assert second["transform"]["tables"]["sales_order"]["rows_superseded"] == 10  # the amended orders' old versions
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    assert len(retail_db.orders_in_warehouse()) == 1016
    emails = dict(retail_db.query(f"SELECT customer_id, email FROM {WAREHOUSE}.dim_customer WHERE customer_id <= 6"))
    assert emails == {i: (f"new.buyer{i}@example.com" if i <= 5 else f"buyer{i}@example.com") for i in range(1, 7)}
    prices = retail_db.query(
        f"SELECT count(*) FROM {WAREHOUSE}.dim_product d JOIN product p USING (product_id)"
        " WHERE d.list_price = p.list_price"
    )
    assert prices == [(25,)]
    assert retail_db.query(f"SELECT dataset, version FROM {WAREHOUSE}.etl_load_state") == [("retail", "r2")]


def test_running_the_same_run_twice_or_an_empty_run_leaves_identical_warehouse_tables(retail_db, tmp_path):
    lake = tmp_path / "lake"
    run_retail(retail_db, lake, "r1")
    loaded = warehouse_snapshot(retail_db)
    assert len(loaded["fact_sales_order"]) == 996

    again = run_retail(retail_db, lake, "r1")
    assert sum(rows_read(again["extract"]).values()) == 0
    assert again["load"]["status"] == "already_published"
    assert warehouse_snapshot(retail_db) == loaded

    nothing_new = run_retail(retail_db, lake, "r3")
    assert nothing_new["extract"]["status"] == "no_new_rows"
    assert nothing_new["transform"]["status"] == "up_to_date"
    assert warehouse_snapshot(retail_db) == loaded


def test_a_load_failing_mid_transaction_leaves_warehouse_and_watermark_unchanged(retail_db, tmp_path):
    lake = tmp_path / "lake"
    run_retail(retail_db, lake, "r1")
    before, watermarks_before = warehouse_snapshot(retail_db), committed_watermarks(lake)
    retail_db.execute((RETAIL_SQL / "updates.sql").read_text())
    # The fact table is merged after every dimension, so the failure comes once they have changed.
    retail_db.execute(f"""
        CREATE FUNCTION {WAREHOUSE}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'warehouse is refusing writes'; END $$;
        CREATE TRIGGER refuse BEFORE INSERT ON {WAREHOUSE}.fact_sales_order
            FOR EACH ROW EXECUTE FUNCTION {WAREHOUSE}.refuse();""")

    options = {"source_secret": retail_db.secret, "warehouse_secret": retail_db.secret}
    run_job("extract", "retail", lake, "r2", **options)
    run_job("transform", "retail", lake, "r2", **options)
    with pytest.raises(JobFailedError, match=r"merging fact_sales_order into retail_dw: .*refusing writes"):
        run_job("load", "retail", lake, "r2", **options)
    assert warehouse_snapshot(retail_db) == before
    assert committed_watermarks(lake) == watermarks_before
    assert not retail_db.query(f"SELECT 1 FROM pg_tables WHERE schemaname = '{WAREHOUSE}' AND tablename LIKE 'stg_%'")

    retail_db.execute(f"DROP TRIGGER refuse ON {WAREHOUSE}.fact_sales_order")
    retried = run_job("load", "retail", lake, "r2", **options)
    assert retried["status"] == "succeeded"
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    assert committed_watermarks(lake)["sales_order"]["run_id"] == "r2"


def test_large_reads_are_split_into_parallel_range_queries(retail_db, spark):
    table = get_dataset("retail").table("sales_order")
    assert table.jdbc is not None
    endpoint = resolve_endpoint(retail_db.secret)
    query = jdbc.incremental_query(table.jdbc, ["sales_order_id", "units_sold"], None, "timestamp")
    whole = jdbc.read_query(spark, endpoint, table.jdbc, query)
    split_source = dataclasses.replace(table.jdbc, partition_min_rows=500)
    split = jdbc.read_query(spark, endpoint, split_source, query)
    assert whole.rdd.getNumPartitions() == 1
    assert split.rdd.getNumPartitions() == 4
    assert sorted(split.collect()) == sorted(whole.collect())
    assert split.count() == 1000


def test_a_change_committed_while_a_run_reads_is_read_by_the_next_run_never_skipped(retail_db, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    options = {"source_secret": retail_db.secret, "warehouse_secret": retail_db.secret}
    fix_bound, read = jdbc.upper_bound, jdbc.read_query

    def bound_then_commit(spark, endpoint, source, watermark, type_name):
        upper = fix_bound(spark, endpoint, source, watermark, type_name)
        if source.table == "public.sales_order":  # another transaction commits while the run reads
            retail_db.execute("UPDATE sales_order SET units_sold = units_sold + 1 WHERE sales_order_id = 1")
        return upper

    def read_in_ranges(spark, endpoint, source, query):  # four range queries, as on a large table
        return read(spark, endpoint, dataclasses.replace(source, partition_min_rows=1), query)

    monkeypatch.setattr(jdbc, "upper_bound", bound_then_commit)
    monkeypatch.setattr(jdbc, "read_query", read_in_ranges)
    first = run_all("retail", None, lake, "r1", **options)
    monkeypatch.undo()
    (changed_at,) = retail_db.query("SELECT last_updated::text FROM sales_order WHERE sales_order_id = 1")[0]
    bound = committed_watermarks(lake)["sales_order"]["value"]
    assert bound < changed_at  # the window was fixed before the change, whenever each range was read
    (in_window,) = retail_db.query(f"SELECT count(*) FROM sales_order WHERE last_updated <= TIMESTAMP '{bound}'")[0]
    assert rows_read(first["extract"])["sales_order"] == in_window == 999  # all but the row that moved on

    second = run_retail(retail_db, lake, "r2")
    assert rows_read(second["extract"])["sales_order"] == 1  # read now, not skipped forever
    assert committed_watermarks(lake)["sales_order"]["value"] == changed_at.rstrip("0").rstrip(".")
    units = retail_db.query(f"SELECT units_sold FROM {WAREHOUSE}.fact_sales_order WHERE sales_order_id = 1")
    assert units == retail_db.query("SELECT units_sold FROM sales_order WHERE sales_order_id = 1")


def test_extract_without_a_source_secret_fails_in_one_line(tmp_path):
    with pytest.raises(JobFailedError) as raised:
        run_job("extract", "retail", tmp_path / "lake", "r1")
    assert "--source_secret is required: dataset retail reads currency, address" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_gold_column_added_later_is_added_to_the_warehouse_table(retail_db, tmp_path, monkeypatch):
    lake = tmp_path / "lake"
    run_retail(retail_db, lake, "r1")
    before = warehouse_snapshot(retail_db)["dim_currency"]
    with_gold_column(monkeypatch, "dim_currency", "source_system", "erp")
    options = {"source_secret": retail_db.secret, "warehouse_secret": retail_db.secret}
    run_job("extract", "retail", lake, "r2", **options)
    run_job("transform", "retail", lake, "r2", reprocess="true", **options)  # (a new library version runs it too)
    load = run_job("load", "retail", lake, "r2", **options)
    assert load["status"] == "succeeded"
    columns = [row[0] for row in retail_db.query(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'retail_dw' "
        "AND table_name = 'dim_currency' ORDER BY ordinal_position")]  # fmt: skip
    assert columns[-1] == "source_system"
    after = retail_db.query("SELECT * FROM retail_dw.dim_currency ORDER BY 1")
    assert [row[:-1] for row in after] == before
    assert {row[-1] for row in after} == {"erp"}


def test_a_second_dataset_given_the_same_warehouse_schema_is_refused_not_merged(retail_db, tmp_path, monkeypatch):
    """Two teams' datasets, one warehouse schema (the stack's WarehouseSchema): both have a
    dim_customer keyed by customer_id, but their customer 1 is not the same customer."""
    lake, shared = tmp_path / "lake", {"warehouse_schema": WAREHOUSE, "warehouse_secret": retail_db.secret}
    run_all("retail", None, lake, "r1", source_secret=retail_db.secret, **shared)
    loaded = warehouse_snapshot(retail_db)
    with_retail_copy(monkeypatch, "retail_eu")
    copy_gold(lake, "retail", "retail_eu")
    with pytest.raises(JobFailedError) as raised:
        run_job("load", "retail_eu", lake, "e1", **shared)
    assert (
        f"warehouse schema {WAREHOUSE} holds dim_currency (dataset retail), dim_customer (dataset retail), "
        "dim_date (dataset retail)"
    ) in str(raised.value)
    assert "dataset retail_eu would merge its rows into them; give each dataset its own schema" in str(raised.value)
    assert warehouse_snapshot(retail_db) == loaded
    assert run_job("load", "retail_eu", lake, "e1", warehouse_secret=retail_db.secret)["status"] == "succeeded"
    assert retail_db.query("SELECT dataset, version FROM retail_eu_dw.etl_load_state") == [("retail_eu", "r1")]


def test_a_row_that_leaves_gold_leaves_the_warehouse_too(retail_db, tmp_path):
    """An order corrected to zero units is quarantined by the next run, so gold no longer holds it:
    the warehouse must show that version too, not the new version plus the order gold dropped."""
    lake = tmp_path / "lake"
    run_retail(retail_db, lake, "r1")
    retail_db.execute("UPDATE sales_order SET units_sold = 0, last_updated = now() WHERE sales_order_id IN (11, 12)")
    second = run_retail(retail_db, lake, "r2")
    quarantined = second["transform"]["tables"]["sales_order"]["quarantine_by_rule"]
    assert quarantined == {'ColumnValues "units_sold" >= 1': 4 + 2}  # the seed's four and these two
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    assert "fact_sales_order +0/~994/-2" in second["load"]["outputs"]["warehouse"]


def test_rows_deleted_in_the_source_leave_gold_and_the_warehouse(retail_db, tmp_path):
    """A watermark never sees a deleted row; the run's key snapshot does: transform sets the rows
    aside as deleted at the source (accounted for), and the load deletes them from the warehouse.
    A key inserted again comes back."""
    lake = tmp_path / "lake"
    run_retail(retail_db, lake, "r1")
    retail_db.execute("DELETE FROM sales_order WHERE sales_order_id IN (21, 22, 23)")
    second = run_retail(retail_db, lake, "r2")
    assert rows_read(second["extract"])["sales_order"] == 0  # no row changed: only the keys tell
    orders = second["transform"]["tables"]["sales_order"]
    assert orders["rows_deleted_at_source"] == 3
    assert orders["rows_read"] == 1000
    assert (orders["rows_written"], orders["rows_quarantined"], orders["rows_superseded"]) == (993, 4, 0)
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    assert "fact_sales_order +0/~993/-3" in second["load"]["outputs"]["warehouse"]
    assert second["transform"]["totals"]["rows_deleted_at_source"] == 3

    columns = "customer_id, staff_id, product_id, currency_id, units_sold, unit_price, agreed_delivery_date"
    retail_db.execute(
        f"INSERT INTO sales_order (sales_order_id, {columns}) SELECT 22, {columns} FROM sales_order"
        " WHERE sales_order_id = 24"
    )
    third = run_retail(retail_db, lake, "r3")
    assert third["transform"]["tables"]["sales_order"]["rows_deleted_at_source"] == 2
    assert retail_db.orders_in_warehouse() == retail_db.valid_orders_in_source()
    assert len(retail_db.orders_in_warehouse()) == 994


def test_a_column_added_in_the_source_database_is_warned_about_and_not_loaded(retail_db, tmp_path):
    """A producer adding a column to a database table is schema drift, as a new column in a file is:
    named in the summary and warned about, its values not loaded until the team declares it."""
    lake = tmp_path / "lake"
    retail_db.execute("ALTER TABLE customer ADD COLUMN loyalty_tier text; UPDATE customer SET loyalty_tier = 'gold'")
    extract = run_job("extract", "retail", lake, "r1", source_secret=retail_db.secret)
    assert extract["tables"]["customer"]["undeclared_columns"] == ["loyalty_tier"]
    assert extract["tables"]["address"]["undeclared_columns"] == []
    assert extract["warnings"] == ["schema drift: undeclared column(s) loyalty_tier not loaded"]
    customers = retail_db.query("SELECT count(*) FROM customer")[0][0]
    assert extract["tables"]["customer"]["rows_written"] == customers  # the declared columns load as before
