import datetime as dt
import hashlib
import re
from dataclasses import replace
from decimal import Decimal

import pytest
from chispa import assert_df_equality

from etl_lib.datasets import available_datasets, get_dataset
from etl_lib.datasets.base import Column, Dataset, ForeignKey, Table
from etl_lib.datasets.consultations import with_calendar_and_age_group
from etl_lib.datasets.retail import build_fact_sales_order
from etl_lib.datasets.tpch import build_dim_customer, build_fact_sales
from etl_lib.modelling import build_dim_date
from etl_lib.steps.extract import assign_files
from etl_lib.storage import FileInfo


def test_registry_finds_both_datasets_and_rejects_unknown_names():
    assert {"tpch", "consultations"} <= set(available_datasets())
    assert get_dataset("tpch").name == "tpch"
    with pytest.raises(ValueError, match="unknown dataset 'sales'; available: "):
        get_dataset("sales")
    with pytest.raises(ValueError, match="unknown dataset"):
        get_dataset("../base")


def test_tables_come_parents_first():
    order = [t.name for t in get_dataset("tpch").tables_in_dependency_order()]
    for child, parent in [("nation", "region"), ("customer", "nation"), ("orders", "customer"), ("lineitem", "orders")]:
        assert order.index(parent) < order.index(child)


def test_landing_files_are_claimed_by_the_name_of_what_they_hold():
    names = ["part.csv.gz", "partsupp.csv.bz2", "lineitem.3.csv.gz", "orders.csv", "orders.csv.zip", "orders.csv.GZ",
             "orders.gz", "region.csv.gz.tmp"]  # fmt: skip
    files = [FileInfo(uri=f"file:/landing/{name}", path=f"/landing/{name}", name=name, size=1, modified_ms=0)
             for name in names]  # fmt: skip
    by_table, unclaimed = assign_files(files, get_dataset("tpch").tables)
    claimed = {table: sorted(info.name for info in infos) for table, infos in by_table.items()}
    assert claimed == {"part": ["part.csv.gz"], "partsupp": ["partsupp.csv.bz2"], "lineitem": ["lineitem.3.csv.gz"],
                       "orders": ["orders.csv"]}  # fmt: skip
    assert [uri.rsplit("/", 1)[1] for uri in unclaimed] == ["orders.csv.zip", "orders.csv.GZ", "orders.gz",
                                                            "region.csv.gz.tmp"]  # fmt: skip


def test_foreign_key_cycle_is_reported():
    def table(name, parent):
        return Table(name, (Column("k", "int"),), ("k",), "x", foreign_keys=(ForeignKey(("k",), parent, ("k",)),))

    dataset = Dataset("cyclic", (table("a", "b"), table("b", "a")), (), lambda silver: {})
    with pytest.raises(ValueError, match="foreign keys form a cycle among a, b"):
        dataset.tables_in_dependency_order()


@pytest.mark.parametrize(
    ("age", "group"),
    [(0, "enfant"), (11, "enfant"), (12, "adolescent"), (17, "adolescent"), (18, "adulte"), (64, "adulte"),
     (65, "senior"), (104, "senior"), (None, None)],
)  # fmt: skip
def test_age_groups_at_every_boundary(spark, age, group):
    df = spark.createDataFrame([(dt.date(2024, 3, 9), age)], "date_consultation date, patient_age int")
    row = with_calendar_and_age_group(df).collect()[0]
    assert (row.age_group, row.year, row.month) == (group, 2024, 3)


def test_calendar_of_a_missing_date_is_null(spark):
    df = spark.createDataFrame([(None, 30)], "date_consultation date, patient_age int")
    row = with_calendar_and_age_group(df).collect()[0]
    assert (row.year, row.month, row.age_group) == (None, None, "adulte")


def test_dim_customer_carries_nation_and_region_names(spark):
    customer = spark.createDataFrame(
        [
            (1, "Alice", "addr", 7, "phone", Decimal("1.00"), "BUILDING", "c"),
            (2, "Bob", None, 9, None, None, None, None),
        ],
        "c_custkey bigint, c_name string, c_address string, c_nationkey int, c_phone string, "
        "c_acctbal decimal(15,2), c_mktsegment string, c_comment string",
    )
    nation = spark.createDataFrame(
        [(7, "FRANCE", 3, "n")], "n_nationkey int, n_name string, n_regionkey int, n_comment string"
    )
    region = spark.createDataFrame([(3, "EUROPE", "r")], "r_regionkey int, r_name string, r_comment string")
    dim = build_dim_customer(customer, nation, region).select("customer_key", "nation_name", "region_name")
    expected = spark.createDataFrame(
        [(1, "FRANCE", "EUROPE"), (2, None, None)], "customer_key bigint, nation_name string, region_name string"
    )
    assert_df_equality(dim, expected, ignore_row_order=True, ignore_nullable=True)


def test_fact_sales_net_revenue_and_partitions(spark):
    lineitem = spark.createDataFrame(
        [(1, 10, 20, 1, Decimal("2.00"), Decimal("100.00"), Decimal("0.10"), Decimal("0.05"), "N", "O",
          dt.date(1996, 3, 13), dt.date(1996, 2, 12), dt.date(1996, 3, 22), "MAIL")],
        "l_orderkey bigint, l_partkey bigint, l_suppkey bigint, l_linenumber int, l_quantity decimal(15,2), "
        "l_extendedprice decimal(15,2), l_discount decimal(15,2), l_tax decimal(15,2), l_returnflag string, "
        "l_linestatus string, l_shipdate date, l_commitdate date, l_receiptdate date, l_shipmode string",
    )  # fmt: skip
    orders = spark.createDataFrame(
        [(1, 370, "O", dt.date(1996, 1, 2), "5-LOW"), (2, 5, "F", dt.date(1995, 1, 1), "1-URGENT")],
        "o_orderkey bigint, o_custkey bigint, o_orderstatus string, o_orderdate date, o_orderpriority string",
    )
    rows = build_fact_sales(lineitem, orders).collect()
    assert len(rows) == 1
    fact = rows[0]
    assert fact.net_revenue == Decimal("90.00")
    assert (fact.customer_key, fact.order_date_key, fact.ship_date_key) == (370, 19960102, 19960313)
    assert (fact.order_year, fact.order_month, fact.order_status) == (1996, 1, "O")


def test_an_orders_total_is_exact_for_any_quantity_and_price_its_columns_hold(spark):
    from etl_lib.runtime import MODEL_SETTINGS, session_settings

    orders = spark.createDataFrame(
        [(1, dt.datetime(2024, 1, 2, 9), dt.date(2024, 1, 9), 1, 1, 1, 1, 2_147_483_647, Decimal("99999999.99"),
          dt.datetime(2024, 1, 2, 9))],
        "sales_order_id int, created_at timestamp, agreed_delivery_date date, customer_id int, staff_id int, "
        "product_id int, currency_id int, units_sold int, unit_price decimal(10,2), last_updated timestamp",
    )  # fmt: skip
    with session_settings(spark, MODEL_SETTINGS):  # as transform builds gold: an overflow fails, not NULL
        (fact,) = build_fact_sales_order(orders).collect()
    assert fact.total_amount == Decimal("214748364678525163.53")


def test_dim_date_covers_every_day_between_all_columns(spark):
    a = spark.createDataFrame([(dt.date(2024, 2, 27),), (None,)], "d date")
    b = spark.createDataFrame([(dt.date(2024, 3, 2),)], "e date")
    dim = build_dim_date([(a, "d"), (b, "e")]).orderBy("date").collect()
    assert [r.date_key for r in dim] == [20240227, 20240228, 20240229, 20240301, 20240302]
    assert [r.is_weekend for r in dim] == [False, False, False, False, True]
    assert dim[0].day_name == "Tuesday"
    assert dim[0].quarter == 1


def test_dim_date_reads_a_frame_once_for_all_its_date_columns(spark):
    shipped = spark.createDataFrame(
        [(dt.date(2024, 3, 1), None, dt.date(2024, 3, 4)), (dt.date(2024, 2, 28), None, None)],
        "ship date, commit date, receipt date",
    )
    ordered = spark.createDataFrame([(dt.date(2024, 3, 2),)], "ordered date")
    dim = build_dim_date([(ordered, "ordered"), (shipped, "ship"), (shipped, "commit"), (shipped, "receipt")])
    assert [r.date for r in dim.orderBy("date").collect()] == [dt.date(2024, 2, 28) + dt.timedelta(d) for d in range(6)]
    scans = dim._jdf.queryExecution().optimizedPlan().toString().count("LogicalRDD")
    assert scans == 2  # one per frame, not one per column


def test_every_fact_table_declares_the_silver_table_it_has_one_row_per():
    from etl_lib.steps.transform import unreconciled_facts

    facts = {name: [g.rows_from for g in get_dataset(name).gold_tables if g.name.startswith("fact_")]
             for name in available_datasets()}  # fmt: skip
    assert facts == {"tpch": ["lineitem"], "consultations": ["consultations"], "retail": ["sales_order"]}
    tpch = get_dataset("tpch")
    assert unreconciled_facts(tpch, {"fact_sales": 10}, {"lineitem": 10}) == []
    assert unreconciled_facts(tpch, {"fact_sales": 9}, {"lineitem": 10}) == [
        "fact_sales has 9 rows but lineitem has 10"
    ]


def region_in(encoding: str) -> Table:
    return Table(
        name="region", file_pattern="region*.csv", key=("k",), columns=(Column("k", "int"),), encoding=encoding
    )


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-8-sig", "cp1252", "windows-1252", "latin-1", "ISO-8859-15",
                                      "cp1250", "koi8-r", "cp437"])  # fmt: skip
def test_encodings_of_a_byte_a_character_that_keep_ascii_are_declarable(encoding):
    assert region_in(encoding).encoding == encoding


@pytest.mark.parametrize(
    ("encoding", "problem"),
    [
        ("utf-16", "cannot be read by lines"),  # ASCII letters as two bytes, one of them NUL
        ("utf-16-le", "cannot be read by lines"),
        ("shift_jis", "cannot be read by lines"),  # a lead byte and an ASCII '|' make one character
        ("gbk", "cannot be read by lines"),
        ("cp037", "cannot be read by lines"),  # EBCDIC: ASCII letters are other bytes
        ("rot13", "is not an encoding Python knows"),  # a text transform, not an encoding
        ("ansi", "is not an encoding Python knows"),
    ],
)
def test_an_encoding_the_files_cannot_be_split_in_is_refused_where_it_is_declared(encoding, problem):
    with pytest.raises(ValueError, match=f"^table 'region': encoding '{encoding}' {problem}"):
        region_in(encoding)


def test_declaring_utf8_leaves_the_reading_digest_as_it_was_and_another_encoding_changes_it():
    """Files read before tables could declare an encoding are not read again for it."""
    table = region_in("utf-8")
    before = hashlib.sha256(repr((table.columns, table.delimiter, table.multiline)).encode()).hexdigest()[:16]
    assert table.reading == region_in("UTF-8").reading == before
    assert region_in("cp1252").reading == region_in("windows-1252").reading != before
    assert region_in("latin-1").reading != region_in("cp1252").reading


@pytest.mark.parametrize("null_values", ["NULL", ("NULL", ""), ("  ",), (None,)])
def test_null_markers_are_declared_as_a_tuple_of_non_blank_strings(null_values):
    with pytest.raises(ValueError, match=r"^table 'region': null_values must be a tuple of non-blank strings"):
        Table(name="region", file_pattern="r*.csv", key=("k",), columns=(Column("k", "int"),), null_values=null_values)


def test_declaring_null_markers_changes_the_reading_digest():
    table = region_in("utf-8")
    assert replace(table, null_values=("NULL",)).reading != table.reading
    assert replace(table, null_values=()).reading == table.reading


def test_a_fallback_encoding_reads_a_utf8_tables_files_that_are_not_utf8():
    table = replace(region_in("utf-8"), fallback_encoding="windows-1252")
    assert (table.charsets, table.encoding_label) == (("utf-8", "cp1252"), "UTF-8 or CP1252")
    assert table.reading != region_in("utf-8").reading
    for encoding, fallback in [("cp1252", "latin-1"), ("utf-8", "UTF8")]:
        with pytest.raises(ValueError, match="a fallback encoding reads a UTF-8 table's files that are not UTF-8"):
            replace(region_in(encoding), fallback_encoding=fallback)
    with pytest.raises(ValueError, match="encoding 'utf-16' cannot be read by lines"):
        replace(region_in("utf-8"), fallback_encoding="utf-16")


def test_a_decimal_separator_is_a_point_or_a_comma_and_declaring_one_reads_the_files_again():
    assert replace(region_in("utf-8"), decimal_separator=",").reading != region_in("utf-8").reading
    with pytest.raises(ValueError, match=re.escape("decimal_separator must be '.' or ',', not ';'")):
        replace(region_in("utf-8"), decimal_separator=";")


@pytest.mark.parametrize(("decimal", "thousands"), [(".", "."), (",", ","), (".", "_")])
def test_a_thousands_separator_is_a_known_one_that_is_not_the_decimal_separator(decimal, thousands):
    with pytest.raises(ValueError, match="thousands_separator must be one of"):
        replace(region_in("utf-8"), decimal_separator=decimal, thousands_separator=thousands)
    assert replace(region_in("utf-8"), thousands_separator="\u00a0").reading != region_in("utf-8").reading
