import datetime as dt
from dataclasses import replace
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DecimalType, IntegerType, StringType, StructField, StructType

from etl_lib import parsing
from etl_lib.datasets.base import Column, Table
from etl_lib.rules import row_checks as quality
from etl_lib.steps.extract import charset_problem

TABLE = Table(
    name="t",
    file_pattern="t*.csv",
    key=("id",),
    columns=(
        Column("id", "int"),
        Column("day", "date", date_format="dd/MM/yyyy"),
        Column("amount", "decimal(6,2)"),
        Column("label", "string"),
        Column("extra", "string", optional_in_source=True),
    ),
)
STRINGS = StructType(
    [StructField(n, StringType()) for n in ("id", "day", "amount", "label", parsing.CORRUPT_RECORD, "_source_file")]
)


def test_to_typed_parses_declared_types_and_keeps_none(spark):
    rows = [("1", "31/12/2024", "12.5", "a", None, "f"), (None, None, None, None, None, "f")]
    df = parsing.with_declared_columns(spark.createDataFrame(rows, STRINGS), TABLE)
    typed = parsing.to_typed(parsing.with_typed_candidates(df, TABLE), TABLE, ["_source_file"])
    expected_schema = StructType(
        [
            StructField("id", IntegerType()),
            StructField("day", DateType()),
            StructField("amount", DecimalType(6, 2)),
            StructField("label", StringType()),
            StructField("extra", StringType()),
            StructField("_source_file", StringType()),
        ]
    )
    expected = spark.createDataFrame(
        [(1, dt.date(2024, 12, 31), Decimal("12.50"), "a", None, "f"), (None, None, None, None, None, "f")],
        expected_schema,
    )
    assert_df_equality(typed, expected, ignore_nullable=True, ignore_row_order=True)


def test_parse_checks_name_the_column_and_the_value(spark):
    rows = [
        ("1", "31/12/2024", "12.50", "ok", None, "f"),
        ("x", "31/12/2024", "1", "bad id", None, "f"),
        ("2", "2024-12-31", "1", "bad date format", None, "f"),
        ("3", "30/02/2024", "1", "impossible date", None, "f"),
        ("4", "01/01/2024", "1.234", "too many decimals", None, "f"),
        ("5", "01/01/2024", "12345.00", "overflow", None, "f"),
        ("6", None, " ", "blank is not a parse failure", None, "f"),
        ("7", "01/01/2024", "1", "caf\ufffd", None, "f"),
        (None, None, None, None, "6,7,8,9,10", "f"),
    ]
    df = parsing.with_typed_candidates(
        parsing.with_declared_columns(spark.createDataFrame(rows, STRINGS), TABLE), TABLE
    )
    checked = quality.Checked.of(df, parsing.parse_checks(TABLE))
    valid, rejected = quality.passing_rows(checked)[0], quality.broken_rows(checked)
    assert sorted(r.label for r in valid.collect()) == ["blank is not a parse failure", "ok"]
    reasons = {(r.label, r[quality.RULE]): r[quality.REASON] for r in rejected.collect()}
    assert reasons == {
        ("bad id", "parse:id"): "id='x' is not a valid int",
        ("bad date format", "parse:day"): "day='2024-12-31' is not a date (dd/MM/yyyy)",
        ("impossible date", "parse:day"): "day='30/02/2024' is not a date (dd/MM/yyyy)",
        ("too many decimals", "parse:amount"): "amount='1.234' is not a valid decimal(6,2) with at most 2 decimals",
        ("overflow", "parse:amount"): "amount='12345.00' is not a valid decimal(6,2) with at most 2 decimals",
        (None, "malformed_record"): "the record does not split into the header's fields: 6,7,8,9,10",
        ("caf\ufffd", "encoding:label"): "label contains bytes that are not valid UTF-8",
    }


def test_a_record_repeating_the_header_is_quarantined_also_where_every_column_is_a_string(spark):
    columns = (Column("code", "string"), Column("label", "string"), Column("note", "string", optional_in_source=True))
    labels = Table(name="l", file_pattern="l*.csv", key=("code",), columns=columns)
    rows = [
        ("code", " label ", None),  # a header without the optional column, padded
        ("code", "label", "note"),
        ("label", "code", None),  # another file's header, in its order
        ("code", "a label", None),  # one value that names its column is data
        ("x", "label", None),
        (None, None, None),
    ]
    df = spark.createDataFrame(rows, "code string, label string, note string")
    checked = quality.Checked.of(df, [parsing.repeated_header_check(labels)])
    kept = {(r.code, r.label) for r in quality.passing_rows(checked)[0].collect()}
    assert kept == {(None, None), ("code", "a label"), ("x", "label")}
    rules = [(r.label, r[quality.RULE], r[quality.REASON]) for r in quality.broken_rows(checked).collect()]
    assert sorted(rules) == [
        (" label ", "repeated_header", "the record repeats the file's header"),
        ("code", "repeated_header", "the record repeats the file's header"),
        ("label", "repeated_header", "the record repeats the file's header"),
    ]
    # Typing checks for it only where the records counted include the header again.
    assert "repeated_header" not in [check.rule for check in parsing.parse_checks(labels)]
    assert "repeated_header" in [check.rule for check in parsing.parse_checks(labels, repeated_header=True)]


def test_missing_optional_column_is_added_as_null(spark):
    df = spark.createDataFrame([("1",)], "id string")
    completed = parsing.with_declared_columns(df, TABLE)
    assert completed.columns == ["id", "day", "amount", "label", "extra"]
    assert completed.where(F.col("extra").isNull()).count() == 1


def test_an_encoding_is_usable_only_when_java_decodes_every_byte_as_python_does():
    assert charset_problem("cp1252", lambda content: content.decode("cp1252", errors="replace")) is None
    assert charset_problem("cp1252", lambda content: None) == (
        "(cp1252) is not an encoding Java (Spark's CSV reader) knows: have the files sent in UTF-8"
    )
    ibm874 = lambda content: content[:0x85].decode("cp874", errors="replace") + "\ufffd" * (256 - 0x85)  # noqa: E731
    assert (
        charset_problem("cp874", ibm874)
        == "(cp874): Java (Spark's CSV reader) decodes byte 0x85 otherwise than Python does"
    )
    assert charset_problem("utf-8", lambda content: None) is None  # UTF-8 is Spark's own: nothing to ask Java


def test_a_value_with_bytes_its_encoding_does_not_map_names_the_encoding(spark):
    rows = [("1", None, None, "x\ufffdy", None, "f")]
    df = parsing.with_declared_columns(spark.createDataFrame(rows, STRINGS), TABLE)
    checks = parsing.parse_checks(replace(TABLE, encoding="windows-1252"))
    rejected = quality.broken_rows(quality.Checked.of(parsing.with_typed_candidates(df, TABLE), checks)).collect()
    assert [(row[quality.RULE], row[quality.REASON]) for row in rejected] == [
        ("encoding:label", "label contains bytes that are not valid CP1252")
    ]


def test_declared_null_markers_are_null_in_every_column_and_stay_as_sent_in_quarantine(spark):
    table = replace(TABLE, null_values=("NULL", "\\N", "N/A"))
    rows = [
        ("NULL", " N/A ", "\\N", "NULL", None, "f"),  # every column a marker: all NULL, nothing quarantined
        ("2", "31/12/2024", "1.50", "NULL is not alone", None, "f"),  # a marker inside a value is data
        ("NULLX", "NULL", "N/A", "x", None, "f"),  # not a marker: quarantined with the values as sent
    ]
    df = parsing.with_declared_columns(spark.createDataFrame(rows, STRINGS), table)
    checked = quality.Checked.of(parsing.with_typed_candidates(df, table), parsing.parse_checks(table))
    valid, rejected = quality.passing_rows(checked)[0], quality.broken_rows(checked)
    typed = parsing.to_typed(valid, table, ["_source_file"]).collect()
    assert sorted((tuple(row[:4]) for row in typed), key=str) == [
        (2, dt.date(2024, 12, 31), Decimal("1.50"), "NULL is not alone"),
        (None, None, None, None),
    ]
    quarantined = rejected.select(*parsing.source_columns(rejected)).collect()
    assert [(row.id, row.day, row.amount, row[quality.REASON]) for row in quarantined] == [
        ("NULLX", "NULL", "N/A", "id='NULLX' is not a valid int")
    ]


def test_timestamps_read_iso_8601_or_their_declared_pattern_and_never_lose_digits_silently(spark):
    table = Table(
        name="events",
        file_pattern="events*.csv",
        key=("at",),
        columns=(Column("at", "timestamp"), Column("local", "timestamp", date_format="dd/MM/yyyy HH:mm")),
    )
    schema = StructType([StructField(name, StringType()) for name in ("at", "local", parsing.CORRUPT_RECORD)])
    rows = [
        ("2024-03-01 10:15:00", "01/03/2024 10:15", None),
        ("2024-03-01T10:15:00+02:00", None, None),  # an offset: the instant, in UTC
        ("2024-03-01 10:15:00.123456000", None, None),  # zeros past the microseconds lose nothing
        ("2024-03-01 10:15:00.123456789", None, None),
        (None, "2024-03-01 10:15", None),
    ]
    df = spark.createDataFrame(rows, schema)
    checked = quality.Checked.of(parsing.with_typed_candidates(df, table), parsing.parse_checks(table))
    valid, rejected = quality.passing_rows(checked)[0], quality.broken_rows(checked)
    typed = [tuple(row[:2]) for row in parsing.to_typed(valid, table, []).collect()]
    assert typed == [
        (dt.datetime(2024, 3, 1, 10, 15), dt.datetime(2024, 3, 1, 10, 15)),
        (dt.datetime(2024, 3, 1, 8, 15), None),
        (dt.datetime(2024, 3, 1, 10, 15, 0, 123456), None),
    ]
    assert sorted(row[quality.REASON] for row in rejected.collect()) == [
        "at='2024-03-01 10:15:00.123456789' is not a valid timestamp with at most 6 digits of a second",
        "local='2024-03-01 10:15' is not a timestamp (dd/MM/yyyy HH:mm)",
    ]


def test_a_decimal_comma_is_read_where_declared_and_a_value_with_a_point_too_is_no_number(spark):
    table = Table(
        name="prices",
        file_pattern="prices*.csv",
        key=("id",),
        columns=(Column("id", "int"), Column("amount", "decimal(8,2)"), Column("ratio", "double")),
        decimal_separator=",",
    )
    schema = StructType([StructField(name, StringType()) for name in ("id", "amount", "ratio", parsing.CORRUPT_RECORD)])
    rows = [("1", " 25,50 ", "0,125", None), ("2", "-3", "1e3", None), ("3", "1.234,50", None, None),
            ("4", "1,234", None, None), ("5", "25.50", None, None)]  # fmt: skip
    checked = quality.Checked.of(
        parsing.with_typed_candidates(spark.createDataFrame(rows, schema), table), parsing.parse_checks(table)
    )
    valid, rejected = quality.passing_rows(checked)[0], quality.broken_rows(checked)
    assert sorted(tuple(row[:3]) for row in parsing.to_typed(valid, table, []).collect()) == [
        (1, Decimal("25.50"), 0.125),
        (2, Decimal("-3.00"), 1000.0),
    ]
    comma = "decimal(8,2) with at most 2 decimals, written with a decimal comma"
    assert sorted(row[quality.REASON] for row in rejected.collect()) == [
        f"amount='1,234' is not a valid {comma}",  # three decimals: not a thousands separator
        f"amount='1.234,50' is not a valid {comma}",
        f"amount='25.50' is not a valid {comma}",
    ]


@pytest.mark.parametrize(
    ("decimal", "thousands", "read", "quarantined"),
    [
        ("," , "\u00a0", {"1\u00a0000,50": (Decimal("1000.50"), 1000), "-12\u00a0345,9": (Decimal("-12345.90"), None),
                          "7,25": (Decimal("7.25"), None)},
         ["12\u00a034", "1 000,50", "1.000,50"]),
        (".", ",", {"1,234.50": (Decimal("1234.50"), 1234), "1234.5": (Decimal("1234.50"), None)},
         ["12,34", "1,2345.0", "1.234,50"]),
        (",", ".", {"1.234,50": (Decimal("1234.50"), 1234), "1234,5": (Decimal("1234.50"), None)},
         ["1.23,4", "1234.5"]),
    ],
)  # fmt: skip
def test_digit_groups_are_joined_where_declared_and_a_number_grouped_otherwise_is_quarantined(
    spark, decimal, thousands, read, quarantined
):
    table = Table(
        name="sales",
        file_pattern="sales*.csv",
        key=("amount",),
        columns=(Column("amount", "decimal(12,2)"), Column("units", "int")),
        decimal_separator=decimal,
        thousands_separator=thousands,
    )
    integer_of = {"1\u00a0000,50": "1\u00a0000", "1,234.50": "1,234", "1.234,50": "1.234"}
    rows = [(text, integer_of.get(text), None) for text in read] + [(text, None, None) for text in quarantined]
    schema = StructType([StructField(name, StringType()) for name in ("amount", "units", parsing.CORRUPT_RECORD)])
    checked = quality.Checked.of(
        parsing.with_typed_candidates(spark.createDataFrame(rows, schema), table), parsing.parse_checks(table)
    )
    valid, rejected = quality.passing_rows(checked)[0], quality.broken_rows(checked)
    typed = {(row.amount, row.units) for row in parsing.to_typed(valid, table, []).collect()}
    assert typed == set(read.values())
    assert sorted(row.amount for row in rejected.collect()) == sorted(quarantined)
