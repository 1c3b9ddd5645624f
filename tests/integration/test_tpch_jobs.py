"""TPC-H at scale factor 0.01 through the three job scripts, with a handful of injected defects."""

import csv
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pyspark.sql import functions as F

from glue_etl_local.samples import generate_tpch
from tests.integration.conftest import merged_rule_counts, published_location, run_all

UNKNOWN_CUSTOMER_ORDER = "99999991"


def read_rows(path):
    with path.open(newline="") as handle:
        return list(csv.reader(handle))


def append_lines(path, lines):
    with path.open("a", newline="") as handle:
        handle.writelines(line + "\n" for line in lines)


@pytest.fixture(scope="module")
def tpch(tmp_path_factory):
    root = tmp_path_factory.mktemp("tpch")
    landing = root / "landing"
    generate_tpch(landing, 0.01)
    clean_lineitems = read_rows(landing / "lineitem.csv")[1:]
    first_order = (landing / "orders.csv").read_text().splitlines()[1]
    first_line = read_rows(landing / "lineitem.csv")[1]

    def lineitem(orderkey, linenumber, shipdate=first_line[10], discount=first_line[6]):
        values = [orderkey, *first_line[1:3], str(linenumber), *first_line[4:6], discount, *first_line[7:10], shipdate,
                  *first_line[11:15], "injected"]  # fmt: skip
        return ",".join(values)

    append_lines(landing / "orders.csv", [
        first_order,  # an exact re-delivery of an order: one copy is kept
        f"{UNKNOWN_CUSTOMER_ORDER},999999999,O,10.00,1996-01-02,5-LOW,Clerk#1,0,orphan order",
    ])  # fmt: skip
    append_lines(landing / "lineitem.csv", [
        lineitem(UNKNOWN_CUSTOMER_ORDER, 1),  # its order is quarantined, so it is an orphan too
        lineitem("1", 90, shipdate="1996-02-30"),
        lineitem("1", 91, discount="1.50"),
        lineitem("1", 92) + ",one field too many",
    ])  # fmt: skip
    summaries = run_all("tpch", landing, root / "lake", "sf001")
    return root, clean_lineitems, summaries


def test_defects_are_quarantined_with_reasons_and_nothing_is_lost(tpch):
    _, clean_lineitems, summaries = tpch
    assert all(s["status"] == "succeeded" for s in summaries.values())
    extract, transform = summaries["extract"], summaries["transform"]
    assert merged_rule_counts(extract, transform, table="orders") == {
        "duplicate_key": 1,
        "foreign_key:o_custkey->customer": 1,
    }
    assert merged_rule_counts(extract, transform, table="lineitem") == {
        "foreign_key:l_orderkey->orders": 1,
        "parse:l_shipdate": 1,
        "range:l_discount": 1,
        "malformed_record": 1,
    }
    assert extract["tables"]["lineitem"]["rows_read"] == len(clean_lineitems) + 4
    assert transform["tables"]["lineitem"]["rows_written"] == len(clean_lineitems)


def test_fact_sales_has_one_row_per_lineitem_and_exact_net_revenue(spark, tpch):
    root, clean_lineitems, _ = tpch
    fact = spark.read.parquet(published_location(root / "lake", "tpch", "fact_sales"))
    cent = Decimal("0.01")
    expected = sum(
        (Decimal(row[5]) * (1 - Decimal(row[6]))).quantize(cent, rounding=ROUND_HALF_UP) for row in clean_lineitems
    )
    totals = fact.agg(F.count("*").alias("rows"), F.sum("net_revenue").alias("revenue")).collect()[0]
    assert totals.rows == len(clean_lineitems)
    assert totals.revenue == expected
    assert fact.where(F.col("order_key") == int(UNKNOWN_CUSTOMER_ORDER)).count() == 0


def test_dimensions_are_complete_and_facts_join_to_them(spark, tpch):
    root, _, _ = tpch
    lake = root / "lake"

    def gold(name):
        return spark.read.parquet(published_location(lake, "tpch", name))

    customers = read_rows(root / "landing/customer.csv")[1:]
    dim_customer, fact, dim_date = gold("dim_customer"), gold("fact_sales"), gold("dim_date")
    assert dim_customer.count() == len(customers)
    assert dim_customer.where(F.col("nation_name").isNull() | F.col("region_name").isNull()).count() == 0
    assert gold("dim_part").count() == len(read_rows(root / "landing/part.csv")) - 1
    assert gold("dim_supplier").count() == len(read_rows(root / "landing/supplier.csv")) - 1
    for key, dim, dim_key in [
        ("customer_key", dim_customer, "customer_key"),
        ("part_key", gold("dim_part"), "part_key"),
        ("supplier_key", gold("dim_supplier"), "supplier_key"),
        ("order_date_key", dim_date, "date_key"),
        ("receipt_date_key", dim_date, "date_key"),
    ]:
        assert fact.join(dim, fact[key] == dim[dim_key], "left_anti").count() == 0, key
    assert dim_date.count() == dim_date.select("date_key").distinct().count()


def test_fact_sales_is_partitioned_by_order_year_and_month(tpch):
    root, _, _ = tpch
    location = published_location(root / "lake", "tpch", "fact_sales")
    years = sorted(p.name for p in (root / "lake" / location.split("/lake/", 1)[1]).iterdir() if p.is_dir())
    assert years[0] == "order_year=1992"
    assert years[-1] == "order_year=1998"
