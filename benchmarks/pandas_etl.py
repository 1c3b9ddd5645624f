"""The tpch dataset's ETL in pandas (pyarrow-backed): the same typed raw, rules, deduplication,
foreign keys and gold star schema as the Spark jobs, for the benchmark's comparison."""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from benchmarks.peer_rules import passes, simple_rules
from etl_lib.datasets.tpch import DATASET

TYPES = {"int": pa.int32(), "bigint": pa.int64(), "string": pa.string(), "date": pa.date32(),
         "decimal(15,2)": pa.decimal128(15, 2)}  # fmt: skip


def _read(landing: Path, table) -> pa.Table:
    files = sorted(p for p in landing.rglob("*.csv") if fnmatch.fnmatch(p.name, table.file_pattern))
    types = {c.name: TYPES[c.type] for c in table.columns}
    parts = []
    for path in files:
        data = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=types))
        parts.append(data.append_column("_source_file", pa.array([str(path)] * data.num_rows, pa.string())))
    return pa.concat_tables(parts)


def _valid(frame: pd.DataFrame, table) -> pd.Series:
    keep = pd.Series(True, index=frame.index)
    for column in table.key:
        keep &= frame[column].notna()
    for rule in simple_rules(table):
        keep &= passes(frame, rule)
    return keep.fillna(False).astype(bool)


def _date_key(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y%m%d").astype("int32")


def run(landing: Path, lake: Path, threads: int) -> dict[str, float]:
    pa.set_cpu_count(threads)
    timings = {}
    started = time.perf_counter()
    for table in DATASET.tables:
        (lake / "raw").mkdir(parents=True, exist_ok=True)
        pq.write_table(_read(landing, table), lake / "raw" / f"{table.name}.parquet")
    timings["extract"] = time.perf_counter() - started

    started = time.perf_counter()
    silver: dict[str, pd.DataFrame] = {}
    for table in DATASET.tables_in_dependency_order():
        frame = pq.read_table(lake / "raw" / f"{table.name}.parquet").to_pandas(types_mapper=pd.ArrowDtype)
        frame = frame[_valid(frame, table)]
        frame = frame.sort_values("_source_file", ascending=False).drop_duplicates(list(table.key))
        for fk in table.foreign_keys:
            parent = silver[fk.parent_table]
            if len(fk.columns) == 1:
                frame = frame[frame[fk.columns[0]].isin(parent[fk.parent_columns[0]])]
        silver[table.name] = frame
        (lake / "silver").mkdir(parents=True, exist_ok=True)
        frame.to_parquet(lake / "silver" / f"{table.name}.parquet", index=False)

    region = silver["region"][["r_regionkey", "r_name"]]
    geography = silver["nation"].merge(region, left_on="n_regionkey", right_on="r_regionkey")
    geography = geography[["n_nationkey", "n_name", "r_name"]].rename(
        columns={"n_name": "nation_name", "r_name": "region_name"}
    )
    customer = silver["customer"].merge(geography, how="left", left_on="c_nationkey", right_on="n_nationkey")
    supplier = silver["supplier"].merge(geography, how="left", left_on="s_nationkey", right_on="n_nationkey")
    lineitem, orders = silver["lineitem"], silver["orders"]
    fact = lineitem.merge(
        orders[["o_orderkey", "o_custkey", "o_orderdate"]], left_on="l_orderkey", right_on="o_orderkey"
    )
    price = pa.array(fact["l_extendedprice"].array)
    discount = pa.array(fact["l_discount"].array)
    gross_share = pc.subtract(pa.scalar(1, pa.decimal128(15, 2)), discount)
    net = pc.cast(pc.round(pc.multiply(price, gross_share), 2, round_mode="half_up"), pa.decimal128(18, 2))
    order_dates = pd.to_datetime(fact["o_orderdate"].astype("datetime64[ms]"))
    gold = {
        "dim_customer": pd.DataFrame({"customer_key": customer["c_custkey"], "name": customer["c_name"],
                                      "account_balance": customer["c_acctbal"],
                                      "nation_name": customer["nation_name"], "region_name": customer["region_name"]}),
        "dim_supplier": pd.DataFrame({"supplier_key": supplier["s_suppkey"], "name": supplier["s_name"],
                                      "account_balance": supplier["s_acctbal"],
                                      "nation_name": supplier["nation_name"], "region_name": supplier["region_name"]}),
        "dim_part": pd.DataFrame({"part_key": silver["part"]["p_partkey"], "size": silver["part"]["p_size"],
                                  "retail_price": silver["part"]["p_retailprice"]}),
    }  # fmt: skip
    dates = pd.concat(
        [orders["o_orderdate"], lineitem["l_shipdate"], lineitem["l_commitdate"], lineitem["l_receiptdate"]]
    )
    days = pd.date_range(pd.to_datetime(dates.min()), pd.to_datetime(dates.max()), freq="D")
    gold["dim_date"] = pd.DataFrame(
        {"date_key": days.strftime("%Y%m%d").astype("int32"), "year": days.year, "quarter": days.quarter,
         "month": days.month, "day_of_month": days.day}
    )  # fmt: skip
    fact_table = pa.table({
        "order_key": pa.array(fact["l_orderkey"].array), "line_number": pa.array(fact["l_linenumber"].array),
        "customer_key": pa.array(fact["o_custkey"].array), "part_key": pa.array(fact["l_partkey"].array),
        "supplier_key": pa.array(fact["l_suppkey"].array),
        "order_date_key": pa.array(_date_key(fact["o_orderdate"].astype("datetime64[ms]"))),
        "quantity": pa.array(fact["l_quantity"].array), "extended_price": price, "discount": discount,
        "tax": pa.array(fact["l_tax"].array), "net_revenue": net,
        "order_year": pa.array(order_dates.dt.year.astype("int32")),
        "order_month": pa.array(order_dates.dt.month.astype("int32")),
    })  # fmt: skip
    for name, frame in gold.items():
        (lake / "gold").mkdir(parents=True, exist_ok=True)
        frame.to_parquet(lake / "gold" / f"{name}.parquet", index=False)
    pads.write_dataset(fact_table, lake / "gold" / "fact_sales", format="parquet",
                       partitioning=["order_year", "order_month"], partitioning_flavor="hive")  # fmt: skip
    timings["transform"] = time.perf_counter() - started
    timings["load"] = 0.0
    return timings
