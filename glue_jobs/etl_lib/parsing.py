"""Typing landing rows: strings as delivered -> declared Spark types, or a reason why not.

Pure functions over DataFrames. A value that is present but does not parse (a bad date, a
number with letters, more decimals than the declared scale) is a parse failure, never a
silent NULL; a record the CSV reader could not split is a malformed record.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_lib.datasets.base import ISO_DATE, SEPARATOR_NAMES, Column, Table
from etl_lib.rules.row_checks import Check, quoted

CORRUPT_RECORD = "_corrupt_record"


TYPED = "__typed__"  # prefix of the parsed candidate of each column (each value is parsed once)
WIDE = "__wide__"  # prefix of a decimal parsed with 10 more decimals, to detect rounding
VALUE = "__value__"  # prefix of a column's value with the table's null markers read as NULL
NUMBER = "__number__"  # prefix of a number the table writes in its own format, as Spark casts numbers


def value_name(column: Column, table: Table) -> str:
    """The column that holds a declared column's value: the text as delivered, or, when the table
    declares null markers (null_values), that text with a marker read as NULL."""
    return f"{VALUE}{column.name}" if table.null_values else column.name


def with_values(df: DataFrame, table: Table) -> DataFrame:
    """Adds each column's value without the table's null markers (a value that is one once
    trimmed), when it declares any, and the numbers it writes in its own format as Spark casts them."""
    if table.null_values:
        markers = sorted(set(table.null_values))
        df = df.withColumns(
            {value_name(column, table): F.when(F.trim(F.col(f"`{column.name}`")).isin(*markers), F.lit(None))
             .otherwise(F.col(f"`{column.name}`")) for column in table.columns}
        )  # fmt: skip
    numbers = {number_name(column, table): as_spark_number(F.col(f"`{value_name(column, table)}`"), column, table)
               for column in table.columns if _in_table_number_format(column, table)}  # fmt: skip
    return df.withColumns(numbers) if numbers else df


def _formatted_timestamp(column: Column) -> bool:
    return column.type == "timestamp" and column.date_format != ISO_DATE


def number_format_text(column: Column, table: Table) -> str:
    """How the table writes a column's numbers: `with a decimal comma and spaces between thousands`."""
    parts = [f"a decimal {SEPARATOR_NAMES[table.decimal_separator][0]}"] if _fractional(column) else []
    if table.thousands_separator:
        parts.append(f"{SEPARATOR_NAMES[table.thousands_separator][1]} between thousands")
    return "with " + " and ".join(parts)


# Digits of a second past the sixth that are not all zero: Spark keeps microseconds, and would drop them.
PAST_MICROSECONDS = r":\d\d\.\d{6}\d*[1-9]"


def _decimal_scale(type_name: str) -> int | None:
    if not type_name.startswith("decimal("):
        return None
    return int(type_name.rstrip(")").split(",")[1])


INTEGRAL = ("tinyint", "smallint", "int", "bigint")
FRACTIONAL = ("float", "double")  # and decimal(p,s): the types a decimal separator is read in


def _fractional(column: Column) -> bool:
    return column.type in FRACTIONAL or _decimal_scale(column.type) is not None


def _in_table_number_format(column: Column, table: Table) -> bool:
    """Whether a column holds numbers the table writes in its own format (decimal comma, digit groups)."""
    own_format = table.decimal_separator != "." or bool(table.thousands_separator)
    return own_format and (column.type in INTEGRAL or _fractional(column))


def number_name(column: Column, table: Table) -> str:
    """The column that holds a column's text as Spark casts it: its value, or for a number the
    table writes in its own format, that number rewritten (as_spark_number)."""
    return f"{NUMBER}{column.name}" if _in_table_number_format(column, table) else value_name(column, table)


def as_spark_number(text: SparkColumn, column: Column, table: Table) -> SparkColumn:
    """A number as the table writes it (decimal_separator, thousands_separator) as Spark casts
    numbers: trimmed, its digit groups joined, a decimal comma made a point; NULL where it does not
    follow the format (`1.234,50` where no thousands separator is declared, `12,34` where ',' is
    one), so it is quarantined rather than guessed at."""
    trimmed = F.trim(text)
    decimal = table.decimal_separator if _fractional(column) else "."

    def with_decimal_point(value: SparkColumn) -> SparkColumn:
        if decimal == ".":
            return value
        return F.when(F.instr(value, ".") > 0, F.lit(None)).otherwise(F.replace(value, F.lit(decimal), F.lit(".")))

    thousands = table.thousands_separator
    if not thousands:
        return with_decimal_point(trimmed)
    grouped = rf"^[+-]?\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+(?:{re.escape(decimal)}\d+)?$"
    joined = F.replace(trimmed, F.lit(thousands), F.lit(""))
    return (
        F.when(trimmed.rlike(grouped), with_decimal_point(joined))
        .when(F.instr(trimmed, thousands) > 0, F.lit(None))
        .otherwise(with_decimal_point(trimmed))
    )


def _wide_decimal_sql(column: Column, source: str) -> str:
    scale = _decimal_scale(column.type) or 0
    return f"try_cast(trim(`{source}`) AS decimal(38,{min(scale + 10, 30)}))"


def _declared_decimal(column: Column, wide_sql: str) -> SparkColumn:
    """A wide decimal in the declared precision, NULL when it does not fit: with try_cast, since
    under ANSI mode (Spark 4's default) a plain cast fails the whole job on one such value."""
    return F.expr(f"try_cast({wide_sql} AS {column.type})")


def parsed_value(column: Column, source: str) -> SparkColumn:
    """The typed value of a string column (source: the one holding its value; NULL when it does not parse)."""
    value = F.col(f"`{source}`")
    if column.type == "date":
        return F.to_date(F.try_to_timestamp(value, F.lit(column.date_format)))
    if _formatted_timestamp(column):
        return F.try_to_timestamp(value, F.lit(column.date_format))
    if column.type == "string":
        return value
    if _decimal_scale(column.type) is not None:
        return _declared_decimal(column, _wide_decimal_sql(column, source))
    return F.expr(f"try_cast(trim(`{source}`) AS {column.type})")


def with_typed_candidates(df: DataFrame, table: Table) -> DataFrame:
    """Adds the parsed value of every typed column once; checks and the raw output both read it."""
    candidates: dict[str, SparkColumn] = {}
    for column in table.columns:
        if column.type == "string":
            continue
        source = number_name(column, table)
        if _decimal_scale(column.type) is not None:
            candidates[f"{WIDE}{column.name}"] = F.expr(_wide_decimal_sql(column, source))
            candidates[f"{TYPED}{column.name}"] = _declared_decimal(column, f"`{WIDE}{column.name}`")
        else:
            candidates[f"{TYPED}{column.name}"] = parsed_value(column, source)
    df = with_values(df, table)
    if not candidates:
        return df
    with_wide = df.withColumns({k: v for k, v in candidates.items() if k.startswith(WIDE)})
    return with_wide.withColumns({k: v for k, v in candidates.items() if k.startswith(TYPED)})


def parse_check(column: Column, table: Table) -> Check | None:
    """The rule a present value breaks when it cannot be typed without loss (after with_typed_candidates)."""
    if column.type == "string":
        return None
    raw = F.col(f"`{value_name(column, table)}`")
    typed = F.col(f"`{TYPED}{column.name}`")
    present = raw.isNotNull() & (F.trim(raw) != "")
    description = f"a valid {column.type}"
    if column.type == "date" or _formatted_timestamp(column):
        description = f"a {column.type} ({column.date_format})"
    fails = present & typed.isNull()
    if column.type == "timestamp" and not _formatted_timestamp(column):
        fails = fails | (present & raw.rlike(PAST_MICROSECONDS))
        description += " with at most 6 digits of a second"
    scale = _decimal_scale(column.type)
    if scale is not None:
        fails = fails | (present & (typed != F.col(f"`{WIDE}{column.name}`")))
        description += f" with at most {scale} decimals"
    if _in_table_number_format(column, table):
        description += f", written {number_format_text(column, table)}"
    return Check(
        f"parse:{column.name}",
        fails,
        F.concat(F.lit(f"{column.name}="), quoted(column.name), F.lit(f" is not {description}")),
    )


def malformed_check() -> Check:
    return Check(
        "malformed_record",
        F.col(CORRUPT_RECORD).isNotNull(),
        F.concat(
            F.lit("the record does not split into the header's fields: "),
            F.substring(F.col(CORRUPT_RECORD), 1, 200),
        ),
    )


REPLACEMENT_CHARACTER = "\ufffd"  # what bytes the encoding does not map decode to


def encoding_check(column: str, encodings: str = "UTF-8") -> Check:
    return Check(
        f"encoding:{column}",
        F.col(f"`{column}`").contains(REPLACEMENT_CHARACTER),
        F.lit(f"{column} contains bytes that are not valid {encodings}"),
    )


def repeated_header_check(table: Table) -> Check:
    """A record that is a header again (files concatenated header and all, whatever their column
    order): every value it has is a declared column's name, in any case. Quarantined under its own
    rule rather than as a value that does not parse, and also in a table of strings only, where it
    would parse."""
    names = [column.name for column in table.columns]
    values = [F.col(f"`{name}`") for name in names]
    each = [value.isNull() | F.lower(F.trim(value)).isin(*sorted({name.lower() for name in names})) for value in values]
    return Check(
        "repeated_header",
        functools.reduce(operator.and_, each) & functools.reduce(operator.or_, [v.isNotNull() for v in values]),
        F.lit("the record repeats the file's header"),
    )


def parse_checks(table: Table, repeated_header: bool = False) -> list[Check]:
    """The checks typing applies; repeated_header: the records counted include the header again.
    That check is only added then: on a wide table one more check over every column can make the
    generated code of the pass too large for the JIT to compile (SF1 lineitem: 14 -> 49 s)."""
    checks = [malformed_check()]
    if repeated_header:
        checks.append(repeated_header_check(table))
    checks.extend(encoding_check(column.name, table.encoding_label) for column in table.columns)
    checks.extend(check for column in table.columns if (check := parse_check(column, table)) is not None)
    return checks


def with_declared_columns(df: DataFrame, table: Table) -> DataFrame:
    """Adds every declared column missing from the delivered file as NULL (optional columns)."""
    for column in table.columns:
        if column.name not in df.columns:
            df = df.withColumn(column.name, F.lit(None).cast("string"))
    return df


def to_typed(df: DataFrame, table: Table, metadata_columns: list[str]) -> DataFrame:
    """The declared columns with their declared types, followed by the metadata columns."""
    typed = [
        F.col(f"`{value_name(column, table) if column.type == 'string' else TYPED + column.name}`").alias(column.name)
        for column in table.columns
    ]
    return df.select(*typed, *[F.col(name) for name in metadata_columns])


def typed_schema(table: Table, metadata: Mapping[str, str]) -> str:
    """What to_typed produces, as DDL: the declared columns and types, then the metadata columns
    (name -> type); reading a written table with it needs no job to infer its schema."""
    columns = [(column.name, column.type) for column in table.columns] + list(metadata.items())
    return ", ".join(f"`{name}` {type_name}" for name, type_name in columns)


def source_columns(df: DataFrame) -> list[str]:
    """The columns as delivered (without the parsed candidates), for quarantined rows."""
    return [name for name in df.columns if not name.startswith((TYPED, WIDE, VALUE, NUMBER))]
