"""The pure parts of the JDBC support: secrets -> endpoints, SQL text, watermarks, versions."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from etl_lib import jdbc, warehouse, watermarks
from etl_lib.connections import SecretError, endpoint_from_secret, resolve_endpoint
from etl_lib.datasets import get_dataset
from etl_lib.datasets.base import Column, JdbcSource, Table
from etl_lib.steps.transform import newest_versions

RDS_SECRET = {"engine": "postgres", "host": "db.internal", "port": 5433, "dbname": "shop", "username": "etl",
              "password": "s3cret"}  # fmt: skip


def test_an_rds_style_secret_becomes_a_jdbc_endpoint_that_never_shows_its_password():
    endpoint = endpoint_from_secret(RDS_SECRET, "oltp")
    assert endpoint.url == "jdbc:postgresql://db.internal:5433/shop"
    assert (endpoint.user, endpoint.driver) == ("etl", "org.postgresql.Driver")
    assert "s3cret" not in repr(endpoint)
    url_secret = {"url": "jdbc:redshift://dw:5439/analytics?ssl=true&password=x", "username": "u", "password": "p"}
    redshift = endpoint_from_secret(url_secret, "dw")
    assert redshift.driver == "com.amazon.redshift.jdbc42.Driver"
    assert redshift.display_url == "jdbc:redshift://dw:5439/analytics"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({**RDS_SECRET, "password": ""}, "secret oltp: missing field(s) password"),
        ({"username": "u", "password": "p"}, "secret oltp: missing field(s) engine, host, dbname"),
        ({**RDS_SECRET, "engine": "oracle"}, "secret oltp: engine 'oracle' is not one of"),
        ({"url": "postgresql://h/db", "username": "u", "password": "p"}, "secret oltp: url must be a jdbc: URL"),
    ],
)
def test_a_secret_that_does_not_describe_a_database_gives_one_line_without_its_values(document, message):
    with pytest.raises(SecretError) as raised:
        endpoint_from_secret(document, "oltp")
    assert str(raised.value).startswith(message)
    assert "s3cret" not in str(raised.value)


def test_file_secrets_for_local_runs(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text(json.dumps(RDS_SECRET))
    assert resolve_endpoint(f"file:{path}").url == "jdbc:postgresql://db.internal:5433/shop"
    with pytest.raises(SecretError, match="cannot read the file"):
        resolve_endpoint(f"file:{tmp_path / 'missing.json'}")
    path.write_text("[1]")
    with pytest.raises(SecretError, match="not a JSON object"):
        resolve_endpoint(f"file:{path}")


def test_incremental_queries_quote_names_and_only_take_validated_watermarks():
    source = JdbcSource("public.sales_order", "last_updated")
    assert jdbc.incremental_query(source, ["id", "last_updated"], None, "timestamp") == (
        'SELECT "id", "last_updated" FROM "public"."sales_order"'
    )
    assert jdbc.incremental_query(source, ["id"], "2026-11-21 10:00:00.5", "timestamp").endswith(
        """WHERE "last_updated" > TIMESTAMP '2026-11-21 10:00:00.5'"""
    )
    assert jdbc.sql_literal("42", "bigint") == "42"
    assert jdbc.sql_literal("2026-01-31", "date") == "DATE '2026-01-31'"
    refused = [("2026-01-01'; DROP TABLE x; --", "timestamp", "is not a timestamp"),
               ("1 OR 1=1", "int", "is not a number"), ("a", "string", "cannot be a watermark")]  # fmt: skip
    for value, type_name, message in refused:
        with pytest.raises(ValueError, match=message):
            jdbc.sql_literal(value, type_name)


def test_every_read_of_a_run_is_bounded_by_one_upper_value_fixed_first():
    source = JdbcSource("public.sales_order", "last_updated")
    window = jdbc.incremental_query(source, ["id"], "2026-11-21 10:00:00", "timestamp", "2026-11-22 08:00:00.25")
    assert window.endswith(
        """WHERE "last_updated" > TIMESTAMP '2026-11-21 10:00:00'"""
        """ AND "last_updated" <= TIMESTAMP '2026-11-22 08:00:00.25'"""
    )
    assert jdbc.upper_bound_query(source, None, "timestamp") == (
        'SELECT max("last_updated") AS upper FROM "public"."sales_order"'
    )
    lagging = JdbcSource("public.sales_order", "last_updated", safety_lag_seconds=300)
    assert jdbc.upper_bound_query(lagging, "2026-11-21 10:00:00", "timestamp").endswith(
        """WHERE "last_updated" > TIMESTAMP '2026-11-21 10:00:00'"""
        """ AND "last_updated" <= LOCALTIMESTAMP - INTERVAL '300' SECOND"""
    )
    with pytest.raises(ValueError, match="is not a timestamp"):
        jdbc.incremental_query(source, ["id"], None, "timestamp", "now() --")


def test_merge_updates_every_non_key_column_and_inserts_new_keys():
    sql = warehouse.merge_sql("dw.dim_customer", "dw.stg_dim_customer_1", ["customer_id", "email"], ["customer_id"])
    assert sql == (
        'MERGE INTO "dw"."dim_customer" AS t USING "dw"."stg_dim_customer_1" AS s ON t."customer_id" = s."customer_id"'
        ' WHEN MATCHED THEN UPDATE SET "email" = s."email"'
        ' WHEN NOT MATCHED THEN INSERT ("customer_id", "email") VALUES (s."customer_id", s."email")'
    )
    key_only = warehouse.merge_sql("dw.dim_date", "dw.stg", ["date_key"], ["date_key"])
    assert "WHEN MATCHED" not in key_only
    assert warehouse.staging_table("dim_date", "r1") != warehouse.staging_table("dim_date", "r2")


def test_rows_whose_key_gold_no_longer_holds_are_deleted_by_every_key_column():
    sql = warehouse.removed_rows_sql("dw.fact", "dw.stg", ["order_id", "line"])
    assert sql == (
        'DELETE FROM "dw"."fact" WHERE NOT EXISTS (SELECT 1 FROM "dw"."stg" AS s'
        ' WHERE s."order_id" = "dw"."fact"."order_id" AND s."line" = "dw"."fact"."line")'
    )


def test_tables_another_dataset_loads_are_named_with_their_dataset():
    owners = {"dim_customer": "retail", "dim_date": "retail_eu", "dim_staff": "retail_eu"}
    tables = ["dim_customer", "dim_date", "dim_new"]
    assert warehouse.tables_of_other_datasets(owners, "retail_eu", tables) == ["dim_customer (dataset retail)"]
    assert warehouse.tables_of_other_datasets(owners, "retail", tables) == ["dim_date (dataset retail_eu)"]
    assert warehouse.tables_of_other_datasets({}, "retail", tables) == []
    with pytest.raises(
        warehouse.WarehouseError,
        match=r"^warehouse schema dw holds dim_date \(dataset retail_eu\), "
        "loaded by another dataset: dataset retail would merge",
    ):
        warehouse.refuse_tables_of_other_datasets("warehouse schema dw", "retail", ["dim_date (dataset retail_eu)"])


def test_watermarks_commit_over_the_previous_ones_and_restart_when_the_column_changes():
    committed = {"customer": watermarks.entry("last_updated", "2026-01-01 00:00:00", "r1", 30)}
    pending = {"sales_order": watermarks.entry("last_updated", "2026-02-01 00:00:00", "r2", 5)}
    merged = watermarks.parse(watermarks.render(watermarks.committed_with(committed, pending)))
    assert watermarks.value_of(merged, "customer", "last_updated") == "2026-01-01 00:00:00"
    assert watermarks.value_of(merged, "sales_order", "last_updated") == "2026-02-01 00:00:00"
    assert watermarks.value_of(merged, "customer", "modified_at") is None
    assert watermarks.value_of(merged, "staff", "last_updated") is None
    assert watermarks.parse(None) == {}


def test_a_table_declares_exactly_one_source():
    columns = (Column("id", "int"), Column("last_updated", "timestamp"))
    with pytest.raises(ValueError, match="exactly one source"):
        Table("t", columns, ("id",))
    with pytest.raises(ValueError, match="'changed_at' is not a declared column"):
        Table("t", columns, ("id",), jdbc=JdbcSource("public.t", "changed_at"))
    retail = get_dataset("retail")
    assert [t.name for t in retail.jdbc_tables] == [
        "currency",
        "address",
        "customer",
        "staff",
        "product",
        "sales_order",
    ]
    assert retail.file_tables == ()
    assert len(retail.warehouse_tables) == len(retail.gold_tables)


def test_newest_versions_keep_the_latest_row_of_each_key_and_every_row_without_a_key(spark):
    table = get_dataset("retail").table("staff")
    at = datetime.fromisoformat
    rows = [
        (1, "Sales", at("2026-01-01 00:00:00"), at("2026-03-01 00:00:00")),
        (1, "Dispatch", at("2026-01-02 00:00:00"), at("2026-03-02 00:00:00")),
        (2, "Sales", at("2026-01-01 00:00:00"), at("2026-03-01 00:00:00")),
        (None, "A", at("2026-01-01 00:00:00"), at("2026-03-01 00:00:00")),
        (None, "B", at("2026-01-01 00:00:00"), at("2026-03-01 00:00:00")),
    ]
    frame = spark.createDataFrame(
        rows, "staff_id int, department string, last_updated timestamp, _ingested_at timestamp"
    )
    kept = sorted((row.staff_id or 0, row.department) for row in newest_versions(frame, table).collect())
    assert kept == [(0, "A"), (0, "B"), (1, "Dispatch"), (2, "Sales")]


def test_gold_columns_the_warehouse_table_lacks_are_added_with_their_types():
    staging = [("currency_id", "integer"), ("Rate", warehouse.column_type_sql("numeric", None, "12", "4")),
               ("name", warehouse.column_type_sql("character varying", "40", None, None)),
               ("source_system", warehouse.column_type_sql("text", None, None, None))]  # fmt: skip
    assert warehouse.added_columns_sql("retail_dw.dim_currency", staging, ["currency_id", "rate", "name"]) == [
        'ALTER TABLE "retail_dw"."dim_currency" ADD COLUMN "source_system" text'
    ]
    assert warehouse.added_columns_sql("retail_dw.dim_currency", staging, ["currency_id"])[:2] == [
        'ALTER TABLE "retail_dw"."dim_currency" ADD COLUMN "Rate" numeric(12,4)',
        'ALTER TABLE "retail_dw"."dim_currency" ADD COLUMN "name" character varying(40)',
    ]
