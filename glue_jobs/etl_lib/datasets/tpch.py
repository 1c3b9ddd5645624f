"""TPC-H, as `tpchgen-cli csv` delivers it, modelled into a sales star schema."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_lib.datasets.base import (
    Column,
    Dataset,
    ForeignKey,
    GoldTable,
    Table,
)
from etl_lib.modelling import build_dim_date, date_key

MONEY = "decimal(15,2)"
PHONE = r"^\d{2}-\d{3}-\d{3}-\d{4}$"

REGION = Table(
    name="region",
    file_pattern="region*.csv",
    key=("r_regionkey",),
    columns=(
        Column("r_regionkey", "int"),
        Column("r_name", "string"),
        Column("r_comment", "string"),
    ),
)
NATION = Table(
    name="nation",
    file_pattern="nation*.csv",
    key=("n_nationkey",),
    columns=(
        Column("n_nationkey", "int"),
        Column("n_name", "string"),
        Column("n_regionkey", "int"),
        Column("n_comment", "string"),
    ),
    foreign_keys=(ForeignKey(("n_regionkey",), "region", ("r_regionkey",)),),
)
CUSTOMER = Table(
    name="customer",
    file_pattern="customer*.csv",
    key=("c_custkey",),
    columns=(
        Column("c_custkey", "bigint"),
        Column("c_name", "string"),
        Column("c_address", "string"),
        Column("c_nationkey", "int"),
        Column("c_phone", "string"),
        Column("c_acctbal", MONEY),
        Column("c_mktsegment", "string"),
        Column("c_comment", "string"),
    ),
    foreign_keys=(ForeignKey(("c_nationkey",), "nation", ("n_nationkey",)),),
)
SUPPLIER = Table(
    name="supplier",
    file_pattern="supplier*.csv",
    key=("s_suppkey",),
    columns=(
        Column("s_suppkey", "bigint"),
        Column("s_name", "string"),
        Column("s_address", "string"),
        Column("s_nationkey", "int"),
        Column("s_phone", "string"),
        Column("s_acctbal", MONEY),
        Column("s_comment", "string"),
    ),
    foreign_keys=(ForeignKey(("s_nationkey",), "nation", ("n_nationkey",)),),
)
PART = Table(
    name="part",
    file_pattern="part.*csv",  # part.csv or part.N.csv, never partsupp.csv
    key=("p_partkey",),
    columns=(
        Column("p_partkey", "bigint"),
        Column("p_name", "string"),
        Column("p_mfgr", "string"),
        Column("p_brand", "string"),
        Column("p_type", "string"),
        Column("p_size", "int"),
        Column("p_container", "string"),
        Column("p_retailprice", MONEY),
        Column("p_comment", "string"),
    ),
)
PARTSUPP = Table(
    name="partsupp",
    file_pattern="partsupp*.csv",
    key=("ps_partkey", "ps_suppkey"),
    columns=(
        Column("ps_partkey", "bigint"),
        Column("ps_suppkey", "bigint"),
        Column("ps_availqty", "int"),
        Column("ps_supplycost", MONEY),
        Column("ps_comment", "string"),
    ),
    foreign_keys=(
        ForeignKey(("ps_partkey",), "part", ("p_partkey",)),
        ForeignKey(("ps_suppkey",), "supplier", ("s_suppkey",)),
    ),
)
ORDERS = Table(
    name="orders",
    file_pattern="orders*.csv",
    key=("o_orderkey",),
    columns=(
        Column("o_orderkey", "bigint"),
        Column("o_custkey", "bigint"),
        Column("o_orderstatus", "string"),
        Column("o_totalprice", MONEY),
        Column("o_orderdate", "date"),
        Column("o_orderpriority", "string"),
        Column("o_clerk", "string"),
        Column("o_shippriority", "int"),
        Column("o_comment", "string"),
    ),
    foreign_keys=(ForeignKey(("o_custkey",), "customer", ("c_custkey",)),),
)
LINEITEM = Table(
    name="lineitem",
    file_pattern="lineitem*.csv",
    key=("l_orderkey", "l_linenumber"),
    columns=(
        Column("l_orderkey", "bigint"),
        Column("l_partkey", "bigint"),
        Column("l_suppkey", "bigint"),
        Column("l_linenumber", "int"),
        Column("l_quantity", MONEY),
        Column("l_extendedprice", MONEY),
        Column("l_discount", MONEY),
        Column("l_tax", MONEY),
        Column("l_returnflag", "string"),
        Column("l_linestatus", "string"),
        Column("l_shipdate", "date"),
        Column("l_commitdate", "date"),
        Column("l_receiptdate", "date"),
        Column("l_shipinstruct", "string"),
        Column("l_shipmode", "string"),
        Column("l_comment", "string"),
    ),
    foreign_keys=(
        ForeignKey(("l_orderkey",), "orders", ("o_orderkey",)),
        ForeignKey(("l_partkey",), "part", ("p_partkey",)),
        ForeignKey(("l_suppkey",), "supplier", ("s_suppkey",)),
    ),
)


def build_dim_customer(customer: DataFrame, nation: DataFrame, region: DataFrame) -> DataFrame:
    geography = nation.join(region, nation.n_regionkey == region.r_regionkey).select(
        "n_nationkey", F.col("n_name").alias("nation_name"), F.col("r_name").alias("region_name")
    )
    return customer.join(geography, customer.c_nationkey == geography.n_nationkey, "left").select(
        F.col("c_custkey").alias("customer_key"),
        F.col("c_name").alias("name"),
        F.col("c_address").alias("address"),
        F.col("c_phone").alias("phone"),
        F.col("c_acctbal").alias("account_balance"),
        F.col("c_mktsegment").alias("market_segment"),
        "nation_name",
        "region_name",
    )


def build_dim_supplier(supplier: DataFrame, nation: DataFrame, region: DataFrame) -> DataFrame:
    geography = nation.join(region, nation.n_regionkey == region.r_regionkey).select(
        "n_nationkey", F.col("n_name").alias("nation_name"), F.col("r_name").alias("region_name")
    )
    return supplier.join(geography, supplier.s_nationkey == geography.n_nationkey, "left").select(
        F.col("s_suppkey").alias("supplier_key"),
        F.col("s_name").alias("name"),
        F.col("s_address").alias("address"),
        F.col("s_phone").alias("phone"),
        F.col("s_acctbal").alias("account_balance"),
        "nation_name",
        "region_name",
    )


def build_dim_part(part: DataFrame) -> DataFrame:
    return part.select(
        F.col("p_partkey").alias("part_key"),
        F.col("p_name").alias("name"),
        F.col("p_mfgr").alias("manufacturer"),
        F.col("p_brand").alias("brand"),
        F.col("p_type").alias("type"),
        F.col("p_size").alias("size"),
        F.col("p_container").alias("container"),
        F.col("p_retailprice").alias("retail_price"),
    )


def net_revenue(extended_price: str, discount: str) -> SparkColumn:
    """extendedprice * (1 - discount), kept exact at two decimals."""
    return (F.col(extended_price) * (F.lit(1) - F.col(discount))).cast("decimal(18,2)")


def build_fact_sales(lineitem: DataFrame, orders: DataFrame) -> DataFrame:
    joined = lineitem.join(orders, lineitem.l_orderkey == orders.o_orderkey, "inner")
    return joined.select(
        F.col("l_orderkey").alias("order_key"),
        F.col("l_linenumber").alias("line_number"),
        F.col("o_custkey").alias("customer_key"),
        F.col("l_partkey").alias("part_key"),
        F.col("l_suppkey").alias("supplier_key"),
        date_key("o_orderdate").alias("order_date_key"),
        date_key("l_shipdate").alias("ship_date_key"),
        date_key("l_commitdate").alias("commit_date_key"),
        date_key("l_receiptdate").alias("receipt_date_key"),
        F.col("o_orderdate").alias("order_date"),
        F.col("l_shipdate").alias("ship_date"),
        F.col("l_commitdate").alias("commit_date"),
        F.col("l_receiptdate").alias("receipt_date"),
        F.col("l_quantity").alias("quantity"),
        F.col("l_extendedprice").alias("extended_price"),
        F.col("l_discount").alias("discount"),
        F.col("l_tax").alias("tax"),
        net_revenue("l_extendedprice", "l_discount").alias("net_revenue"),
        F.col("l_returnflag").alias("return_flag"),
        F.col("l_linestatus").alias("line_status"),
        F.col("o_orderstatus").alias("order_status"),
        F.col("o_orderpriority").alias("order_priority"),
        F.col("l_shipmode").alias("ship_mode"),
        F.year("o_orderdate").alias("order_year"),
        F.month("o_orderdate").alias("order_month"),
    )


def build_gold(silver: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    lineitem, orders = silver["lineitem"], silver["orders"]
    return {
        "dim_customer": build_dim_customer(silver["customer"], silver["nation"], silver["region"]),
        "dim_supplier": build_dim_supplier(silver["supplier"], silver["nation"], silver["region"]),
        "dim_part": build_dim_part(silver["part"]),
        "dim_date": build_dim_date(
            [
                (orders, "o_orderdate"),
                (lineitem, "l_shipdate"),
                (lineitem, "l_commitdate"),
                (lineitem, "l_receiptdate"),
            ]
        ),
        "fact_sales": build_fact_sales(lineitem, orders),
    }


DATASET = Dataset(
    name="tpch",
    tables=(REGION, NATION, CUSTOMER, SUPPLIER, PART, PARTSUPP, ORDERS, LINEITEM),
    gold_tables=(
        GoldTable("dim_customer"),
        GoldTable("dim_supplier"),
        GoldTable("dim_part"),
        GoldTable("dim_date"),
        GoldTable("fact_sales", partition_by=("order_year", "order_month"), rows_from="lineitem"),
    ),
    build_gold=build_gold,
)
