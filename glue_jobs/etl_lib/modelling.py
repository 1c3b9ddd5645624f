"""Star-schema helpers shared by datasets: pure functions over DataFrames."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def date_key(column: str | Column) -> Column:
    """yyyymmdd as an int: the conventional key of a date dimension.

    Computed with arithmetic rather than by formatting and parsing a string: on TPC-H SF1 the
    fact table's four date keys took 3.4 s of a 7 s projection when formatted."""
    value = F.col(column) if isinstance(column, str) else column
    return F.year(value) * 10000 + F.month(value) * 100 + F.dayofmonth(value)


def build_dim_date(frames_and_columns: Sequence[tuple[DataFrame, str]]) -> DataFrame:
    """One row per day from the earliest to the latest date in the given columns (no gaps).
    A frame named with several columns is read once for all of them (lineitem's three dates:
    one scan and one Spark job, not three)."""
    columns_by_frame: dict[int, tuple[DataFrame, list[str]]] = {}
    for frame, column in frames_and_columns:
        columns_by_frame.setdefault(id(frame), (frame, []))[1].append(column)
    bounds = None
    for frame, columns in columns_by_frame.values():
        lows, highs = [F.min(column) for column in columns], [F.max(column) for column in columns]
        low = F.least(*lows) if len(lows) > 1 else lows[0]  # least and greatest skip NULLs, as min and max do
        high = F.greatest(*highs) if len(highs) > 1 else highs[0]
        part = frame.select(low.alias("low"), high.alias("high"))
        bounds = part if bounds is None else bounds.unionByName(part)
    if bounds is None:
        raise ValueError("build_dim_date needs at least one date column")
    span = bounds.agg(F.min("low").alias("low"), F.max("high").alias("high"))
    days = span.select(F.explode(F.sequence("low", "high", F.expr("interval 1 day"))).alias("date")).where(
        F.col("date").isNotNull()
    )
    return days.select(
        date_key("date").alias("date_key"),
        F.col("date"),
        F.year("date").alias("year"),
        F.quarter("date").alias("quarter"),
        F.month("date").alias("month"),
        F.date_format("date", "MMMM").alias("month_name"),
        F.dayofmonth("date").alias("day_of_month"),
        F.dayofweek("date").alias("day_of_week"),
        F.date_format("date", "EEEE").alias("day_name"),
        F.weekofyear("date").alias("week_of_year"),
        F.dayofweek("date").isin(1, 7).alias("is_weekend"),
    )
