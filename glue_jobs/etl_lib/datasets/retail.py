"""A retail operational database (PostgreSQL), read incrementally by `last_updated`, modelled
into a sales star schema that the load job can upsert into a warehouse.

The sample database (schema, seed and an updates script) is in glue_etl_local/sql/retail.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_lib.datasets.base import (
    Column,
    Dataset,
    ForeignKey,
    GoldTable,
    JdbcSource,
    Table,
)
from etl_lib.modelling import build_dim_date, date_key

CHANGE_TRACKING = (Column("created_at", "timestamp"), Column("last_updated", "timestamp"))


def source(table: str, key: str) -> JdbcSource:
    """Large reads are split into 4 range queries on the integer key; rows deleted in the database
    leave gold (each run also reads the table's keys)."""
    return JdbcSource(f"public.{table}", "last_updated", partition_column=key, num_partitions=4, track_deletes=True)


def oltp_table(
    name: str,
    key: str,
    columns: tuple[Column, ...],
    foreign_keys: tuple[ForeignKey, ...] = (),
) -> Table:
    """public.<name>: an integer key, the given columns, created_at and last_updated."""
    return Table(
        name=name,
        key=(key,),
        jdbc=source(name, key),
        columns=(Column(key, "int"), *columns, *CHANGE_TRACKING),
        foreign_keys=foreign_keys,
    )


CURRENCY = oltp_table(
    "currency",
    "currency_id",
    (Column("currency_code", "string"), Column("currency_name", "string")),
)
ADDRESS = oltp_table(
    "address",
    "address_id",
    (
        Column("address_line", "string"),
        Column("city", "string"),
        Column("postal_code", "string"),
        Column("country", "string"),
    ),
)
CUSTOMER = oltp_table(
    "customer",
    "customer_id",
    (
        Column("customer_name", "string"),
        Column("email", "string"),
        Column("address_id", "int"),
    ),
    foreign_keys=(ForeignKey(("address_id",), "address", ("address_id",)),),
)
STAFF = oltp_table(
    "staff",
    "staff_id",
    (
        Column("first_name", "string"),
        Column("last_name", "string"),
        Column("department", "string"),
        Column("email", "string"),
    ),
)
PRODUCT = oltp_table(
    "product",
    "product_id",
    (
        Column("product_name", "string"),
        Column("category", "string"),
        Column("list_price", "decimal(10,2)"),
    ),
)
SALES_ORDER = oltp_table(
    "sales_order",
    "sales_order_id",
    (
        Column("customer_id", "int"),
        Column("staff_id", "int"),
        Column("product_id", "int"),
        Column("currency_id", "int"),
        Column("units_sold", "int"),
        Column("unit_price", "decimal(10,2)"),
        Column("agreed_delivery_date", "date"),
    ),
    foreign_keys=(
        ForeignKey(("customer_id",), "customer", ("customer_id",)),
        ForeignKey(("staff_id",), "staff", ("staff_id",)),
        ForeignKey(("product_id",), "product", ("product_id",)),
        ForeignKey(("currency_id",), "currency", ("currency_id",)),
    ),
)


def build_dim_customer(customer: DataFrame, address: DataFrame) -> DataFrame:
    return customer.join(address, "address_id", "left").select(
        "customer_id", "customer_name", "email", "address_line", "city", "postal_code", "country"
    )


def build_fact_sales_order(sales_order: DataFrame) -> DataFrame:
    return sales_order.select(
        "sales_order_id",
        date_key(F.to_date("created_at")).alias("order_date_key"),
        date_key("agreed_delivery_date").alias("delivery_date_key"),
        "customer_id",
        "staff_id",
        "product_id",
        "currency_id",
        "units_sold",
        "unit_price",
        # int x decimal(10,2) is exactly a decimal(21,2): no order's total overflows it (decimal(14,2) did
        # from a trillion, as NULL on Spark 3.5 and a failed run on Spark 4)
        (F.col("units_sold") * F.col("unit_price")).cast("decimal(21,2)").alias("total_amount"),
        F.col("created_at").alias("ordered_at"),
        "last_updated",
        F.year("created_at").alias("order_year"),
    )


def build_gold(silver: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    orders = silver["sales_order"].withColumn("order_date", F.to_date("created_at"))
    return {
        "dim_currency": silver["currency"].select("currency_id", "currency_code", "currency_name"),
        "dim_customer": build_dim_customer(silver["customer"], silver["address"]),
        "dim_staff": silver["staff"].select("staff_id", "first_name", "last_name", "department", "email"),
        "dim_product": silver["product"].select("product_id", "product_name", "category", "list_price"),
        "dim_date": build_dim_date([(orders, "order_date"), (orders, "agreed_delivery_date")]),
        "fact_sales_order": build_fact_sales_order(silver["sales_order"]),
    }


DATASET = Dataset(
    name="retail",
    tables=(CURRENCY, ADDRESS, CUSTOMER, STAFF, PRODUCT, SALES_ORDER),
    gold_tables=(
        GoldTable("dim_currency", key=("currency_id",)),
        GoldTable("dim_customer", key=("customer_id",)),
        GoldTable("dim_staff", key=("staff_id",)),
        GoldTable("dim_product", key=("product_id",)),
        GoldTable("dim_date", key=("date_key",)),
        GoldTable("fact_sales_order", partition_by=("order_year",), key=("sales_order_id",), rows_from="sales_order"),
    ),
    build_gold=build_gold,
)
