"""The tpch gold star schema the way most Glue jobs are written, for the benchmark's comparison:
Spark with its default settings, each CSV read with an inferred schema, no typing checks, no
quarantine, no deduplication, no foreign-key checks, no reconciliation, no raw or silver layer,
straight to the same gold tables. What the checks cost is the difference to our jobs."""

from __future__ import annotations

import os
import time
from pathlib import Path

from pyspark.sql import SparkSession

from etl_lib.datasets.tpch import DATASET

GOLD = {
    "dim_customer": """SELECT c_custkey AS customer_key, c_name AS name, c_address AS address, c_phone AS phone,
        c_acctbal AS account_balance, c_mktsegment AS market_segment, nation_name, region_name
        FROM customer LEFT JOIN geography g ON c_nationkey = g.n_nationkey""",
    "dim_supplier": """SELECT s_suppkey AS supplier_key, s_name AS name, s_address AS address, s_phone AS phone,
        s_acctbal AS account_balance, nation_name, region_name
        FROM supplier LEFT JOIN geography g ON s_nationkey = g.n_nationkey""",
    "dim_part": """SELECT p_partkey AS part_key, p_name AS name, p_mfgr AS manufacturer, p_brand AS brand,
        p_type AS type, p_size AS size, p_container AS container, p_retailprice AS retail_price FROM part""",
    "dim_date": """SELECT CAST(date_format(d, 'yyyyMMdd') AS INT) AS date_key, d AS date, year(d) AS year,
        quarter(d) AS quarter, month(d) AS month, dayofmonth(d) AS day_of_month, dayofweek(d) AS day_of_week,
        weekofyear(d) AS week_of_year
        FROM (SELECT explode(sequence(min(d), max(d), INTERVAL 1 DAY)) AS d FROM (
            SELECT o_orderdate AS d FROM orders UNION ALL SELECT l_shipdate FROM lineitem
            UNION ALL SELECT l_commitdate FROM lineitem UNION ALL SELECT l_receiptdate FROM lineitem))""",
    "fact_sales": """SELECT l_orderkey AS order_key, l_linenumber AS line_number, o_custkey AS customer_key,
        l_partkey AS part_key, l_suppkey AS supplier_key,
        CAST(date_format(o_orderdate, 'yyyyMMdd') AS INT) AS order_date_key,
        CAST(date_format(l_shipdate, 'yyyyMMdd') AS INT) AS ship_date_key,
        CAST(date_format(l_commitdate, 'yyyyMMdd') AS INT) AS commit_date_key,
        CAST(date_format(l_receiptdate, 'yyyyMMdd') AS INT) AS receipt_date_key,
        l_quantity AS quantity, l_extendedprice AS extended_price, l_discount AS discount, l_tax AS tax,
        CAST(l_extendedprice * (1 - l_discount) AS DECIMAL(18,2)) AS net_revenue,
        year(o_orderdate) AS order_year, month(o_orderdate) AS order_month
        FROM lineitem JOIN orders ON l_orderkey = o_orderkey""",
}


def run(landing: Path, lake: Path, threads: int) -> dict[str, float]:
    spark = (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", f"local[{threads}]"))
        .appName("typical-glue-job")
        .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter()
    for table in DATASET.tables:
        frame = spark.read.option("header", "true").option("inferSchema", "true").csv(f"{landing}/{table.file_pattern}")
        frame.createOrReplaceTempView(table.name)
    spark.sql("""SELECT n_nationkey, n_name AS nation_name, r_name AS region_name
                 FROM nation JOIN region ON n_regionkey = r_regionkey""").createOrReplaceTempView("geography")
    extract = time.perf_counter() - started
    started = time.perf_counter()
    for name, query in GOLD.items():
        writer = spark.sql(query).write.mode("overwrite")
        if name == "fact_sales":
            writer = writer.partitionBy("order_year", "order_month")
        writer.parquet(str(lake / "gold" / name))
    return {"extract": extract, "transform": time.perf_counter() - started, "load": 0.0}
