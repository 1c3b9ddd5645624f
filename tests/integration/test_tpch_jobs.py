"""TPC-H at scale factor 0.01 through the three job scripts, with a handful of injected defects."""

import csv
import json
import shutil
from decimal import ROUND_HALF_UP, Decimal

import pytest
from pyspark.sql import functions as F

from glue_etl_local.samples import generate_tpch
from tests.integration.conftest import merged_rule_counts, published_location, run_all, run_job

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
        'IsPrimaryKey "o_orderkey"': 1,
        'ReferentialIntegrity "o_custkey" "customer.c_custkey" = 1.0': 1,
    }
    assert merged_rule_counts(extract, transform, table="lineitem") == {
        'ReferentialIntegrity "l_orderkey" "orders.o_orderkey" = 1.0': 1,
        "parse:l_shipdate": 1,
        '(ColumnValues "l_discount" >= 0) and (ColumnValues "l_discount" <= 1)': 1,
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


ORDERS_RULES = """Rules = [
    ColumnValues "o_orderstatus" in ["F","O","P"],
    # severity: warn
    ColumnValues "o_totalprice" > 100000 where "o_orderstatus = 'F'" with threshold >= 0.99,
    ColumnValues "o_orderpriority" in ["1-URGENT","2-HIGH","3-MEDIUM","4-NOT SPECIFIED","5-LOW"] with threshold = 1.0
]"""
LINEITEM_RULES = """Rules = [
    ColumnValues "l_shipmode" != "AIR" where "l_returnflag = 'R'",
    # severity: warn
    ReferentialIntegrity "l_partkey" "part.p_partkey" >= 0.99
]"""


def test_a_dqdl_ruleset_with_where_threshold_and_referential_integrity(spark, tpch, tmp_path):
    root, _, _ = tpch
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "orders.dqdl").write_text(ORDERS_RULES)
    (rules / "lineitem.dqdl").write_text(LINEITEM_RULES)
    summary = run_job("transform", "tpch", root / "lake", "dq1", rules_path=str(rules))
    raw = {name: spark.read.parquet(str(root / f"lake/raw/tpch/{name}")) for name in ("orders", "lineitem")}
    finished = raw["orders"].where("o_orderstatus = 'F'")
    expected_share = finished.where("o_totalprice > 100000").count() / finished.count()
    air_returns = raw["lineitem"].where("l_returnflag = 'R' AND l_shipmode = 'AIR'").count()
    assert 0 < expected_share < 0.99  # the sample exercises the threshold
    assert air_returns > 0

    quality = json.loads((root / "lake/_runs/tpch/dq1/quality.json").read_text())
    results = {(r["table"], r["rule"]): r for r in quality["rules"] if r["stage"] == "transform"}
    where_rule = 'ColumnValues "l_shipmode" != "AIR" where "l_returnflag = \'R\'"'
    assert (results["lineitem", where_rule]["broken"], results["lineitem", where_rule]["status"]) == (
        air_returns, "quarantined")  # fmt: skip
    threshold = 'ColumnValues "o_totalprice" > 100000 where "o_orderstatus = \'F\'" with threshold >= 0.99'
    assert (results["orders", threshold]["outcome"], results["orders", threshold]["status"]) == ("Failed", "warned")
    assert results["orders", threshold]["evaluated_metrics"] == {
        "Column.o_totalprice.ColumnValues.Compliance": pytest.approx(expected_share)}  # fmt: skip
    priorities = next(r for (table, rule), r in results.items() if table == "orders" and "o_orderpriority" in rule)
    assert (priorities["outcome"], priorities["severity"]) == ("Passed", "fail")
    reference = results["lineitem", 'ReferentialIntegrity "l_partkey" "part.p_partkey" >= 0.99']
    assert (reference["outcome"], reference["evaluated_metrics"]) == (
        "Passed", {"Column.l_partkey.ReferentialIntegrity": 1.0})  # fmt: skip
    # The model's own rules are still checked: the orphan order and its line are quarantined.
    assert results["orders", 'ReferentialIntegrity "o_custkey" "customer.c_custkey" = 1.0']["broken"] == 1
    lineitem = summary["tables"]["lineitem"]
    assert lineitem["quarantine_by_rule"][where_rule] == air_returns
    assert lineitem["rows_read"] == lineitem["rows_written"] + lineitem["rows_quarantined"]
    assert "## Details" in (root / "lake/_runs/tpch/dq1/quality.md").read_text()


def test_a_parent_delivered_in_a_later_run_brings_its_orphaned_children_into_gold(spark, tpch, tmp_path):
    """The order's customer lands after the run that read the order and its line (both quarantined as
    orphans); the next run reads only the new file, checks the children again from raw, and publishes
    them: nothing quarantines them any more and every row is accounted for."""
    root, clean_lineitems, _ = tpch
    lake = tmp_path / "lake"
    shutil.copytree(root / "lake", lake)  # the module's lake stays as the other tests read it
    header, first_customer = read_rows(root / "landing/customer.csv")[:2]
    late = root / "landing/customer_late.csv"  # the last test of the module to read its landing
    with late.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows([header, ["999999999", *first_customer[1:]]])
    try:
        summaries = run_all("tpch", root / "landing", lake, "late_parent")
    finally:
        late.unlink()
    extract, transform = summaries["extract"], summaries["transform"]
    assert {name: counts["rows_read"] for name, counts in extract["tables"].items() if counts["rows_read"]} == {
        "customer": 1}  # fmt: skip
    for table in ("orders", "lineitem"):
        assert not any("ReferentialIntegrity" in rule for rule in transform["tables"][table]["quarantine_by_rule"])
        counts = transform["tables"][table]
        assert counts["rows_read"] == counts["rows_written"] + counts["rows_quarantined"] + counts["rows_superseded"]
    fact = spark.read.parquet(published_location(lake, "tpch", "fact_sales"))
    assert fact.where(F.col("order_key") == int(UNKNOWN_CUSTOMER_ORDER)).count() == 1
    assert fact.count() == len(clean_lineitems) + 1
    dim_customer = spark.read.parquet(published_location(lake, "tpch", "dim_customer"))
    assert dim_customer.where(F.col("customer_key") == 999999999).count() == 1
