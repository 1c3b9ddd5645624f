"""The tpch dataset's ETL in DuckDB: the same typed raw, rules, deduplication, foreign keys and gold
star schema as the Spark jobs, for the benchmark's comparison."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from benchmarks.peer_rules import simple_rules, to_sql
from etl_lib.datasets.tpch import DATASET

TYPES = {"int": "INTEGER", "bigint": "BIGINT", "string": "VARCHAR", "date": "DATE", "decimal(15,2)": "DECIMAL(15,2)"}


def _rules_sql(table) -> str:
    key = [f"{column} IS NOT NULL" for column in table.key]
    return " AND ".join([*key, *(to_sql(rule) for rule in simple_rules(table))]) or "TRUE"


def run(landing: Path, lake: Path, threads: int) -> dict[str, float]:
    db = duckdb.connect()
    db.execute(f"SET threads = {threads}")
    for layer in ("raw", "silver", "gold"):
        (lake / layer).mkdir(parents=True, exist_ok=True)
    timings = {}
    started = time.perf_counter()
    for table in DATASET.tables:
        columns = ", ".join(f"'{c.name}': '{TYPES[c.type]}'" for c in table.columns)
        pattern = table.file_pattern
        db.execute(
            f"""COPY (SELECT *, filename AS _source_file, now() AS _ingested_at, 'bench' AS _run_id
                FROM read_csv('{landing}/**/{pattern}', header = true, columns = {{{columns}}}, filename = true))
                TO '{lake}/raw/{table.name}.parquet' (FORMAT parquet)"""
        )
    timings["extract"] = time.perf_counter() - started

    started = time.perf_counter()
    for table in DATASET.tables_in_dependency_order():
        key = ", ".join(table.key)
        joins = "".join(
            f" SEMI JOIN read_parquet('{lake}/silver/{fk.parent_table}.parquet') p{i}"
            f" ON {' AND '.join(f't.{c} = p{i}.{p}' for c, p in zip(fk.columns, fk.parent_columns, strict=True))}"
            for i, fk in enumerate(table.foreign_keys)
        )
        db.execute(
            f"""COPY (SELECT t.* FROM (
                    SELECT * FROM read_parquet('{lake}/raw/{table.name}.parquet') WHERE {_rules_sql(table)}
                    QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY _ingested_at DESC, _source_file DESC) = 1
                ) t{joins}) TO '{lake}/silver/{table.name}.parquet' (FORMAT parquet)"""
        )

    silver = {t.name: f"read_parquet('{lake}/silver/{t.name}.parquet')" for t in DATASET.tables}
    geography = (f"(SELECT n_nationkey, n_name AS nation_name, r_name AS region_name FROM {silver['nation']} "
                 f"JOIN {silver['region']} ON n_regionkey = r_regionkey)")  # fmt: skip
    gold = {
        "dim_customer": f"""SELECT c_custkey AS customer_key, c_name AS name, c_address AS address, c_phone AS phone,
            c_acctbal AS account_balance, c_mktsegment AS market_segment, nation_name, region_name
            FROM {silver["customer"]} LEFT JOIN {geography} g ON c_nationkey = g.n_nationkey""",
        "dim_supplier": f"""SELECT s_suppkey AS supplier_key, s_name AS name, s_address AS address, s_phone AS phone,
            s_acctbal AS account_balance, nation_name, region_name
            FROM {silver["supplier"]} LEFT JOIN {geography} g ON s_nationkey = g.n_nationkey""",
        "dim_part": f"""SELECT p_partkey AS part_key, p_name AS name, p_mfgr AS manufacturer, p_brand AS brand,
            p_type AS type, p_size AS size, p_container AS container, p_retailprice AS retail_price
            FROM {silver["part"]}""",
        "dim_date": f"""WITH bounds AS (SELECT min(d) AS low, max(d) AS high FROM (
                SELECT o_orderdate AS d FROM {silver["orders"]} UNION ALL SELECT l_shipdate FROM {silver["lineitem"]}
                UNION ALL SELECT l_commitdate FROM {silver["lineitem"]}
                UNION ALL SELECT l_receiptdate FROM {silver["lineitem"]}))
            SELECT CAST(strftime(d, '%Y%m%d') AS INTEGER) AS date_key, CAST(d AS DATE) AS date,
                   year(d) AS year, quarter(d) AS quarter, month(d) AS month, day(d) AS day_of_month,
                   dayofweek(d) + 1 AS day_of_week, weekofyear(d) AS week_of_year
            FROM bounds, generate_series(low, high, INTERVAL 1 DAY) s(d)""",
        "fact_sales": f"""SELECT l_orderkey AS order_key, l_linenumber AS line_number, o_custkey AS customer_key,
            l_partkey AS part_key, l_suppkey AS supplier_key,
            CAST(strftime(o_orderdate, '%Y%m%d') AS INTEGER) AS order_date_key,
            CAST(strftime(l_shipdate, '%Y%m%d') AS INTEGER) AS ship_date_key,
            CAST(strftime(l_commitdate, '%Y%m%d') AS INTEGER) AS commit_date_key,
            CAST(strftime(l_receiptdate, '%Y%m%d') AS INTEGER) AS receipt_date_key,
            l_quantity AS quantity, l_extendedprice AS extended_price, l_discount AS discount, l_tax AS tax,
            CAST(l_extendedprice * (1 - l_discount) AS DECIMAL(18,2)) AS net_revenue,
            year(o_orderdate) AS order_year, month(o_orderdate) AS order_month
            FROM {silver["lineitem"]} JOIN {silver["orders"]} ON l_orderkey = o_orderkey""",
    }
    for name, query in gold.items():
        target = f"{lake}/gold/{name}"
        partition = " , PARTITION_BY (order_year, order_month)" if name == "fact_sales" else ""
        suffix = "" if partition else ".parquet"
        db.execute(f"COPY ({query}) TO '{target}{suffix}' (FORMAT parquet{partition})")
    timings["transform"] = time.perf_counter() - started
    timings["load"] = 0.0  # publishing is a catalog pointer switch: nothing to compute
    return timings
