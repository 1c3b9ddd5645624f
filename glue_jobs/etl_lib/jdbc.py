"""Talking to a database through the JVM's JDBC driver: incremental reads for extract, and a
transactional connection for the warehouse load. On Glue the driver comes with the job's
connection; locally it is the jar on `spark.jars` (see runtime.local_spark_session)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from etl_lib.connections import JdbcEndpoint
from etl_lib.datasets.base import JdbcSource

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d{1,9})?)?$")


class JdbcError(RuntimeError):
    """A database read or statement failed; one line naming the table or statement."""


def quote_identifier(name: str) -> str:
    """ANSI-quoted, each part of a dotted name on its own: public.sales_order -> "public"."sales_order"."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def sql_literal(value: str, type_name: str) -> str:
    """A watermark as a SQL literal of its column's type; the value is validated, never pasted raw."""
    if type_name in ("timestamp", "date"):
        if not _TIMESTAMP.match(value):
            raise ValueError(f"watermark {value!r} is not a {type_name}")
        return f"{type_name.upper()} '{value}'"
    if type_name in ("int", "bigint", "smallint") or type_name.startswith("decimal("):
        if not _NUMBER.match(value):
            raise ValueError(f"watermark {value!r} is not a number")
        return value
    raise ValueError(f"a {type_name} column cannot be a watermark (use a timestamp, date or number)")


def changed_rows_condition(source: JdbcSource, watermark: str | None, upper: str | None, type_name: str) -> str:
    """`col > watermark AND col <= upper` (either side only when known), or an empty string."""
    column = quote_identifier(source.incremental_column)
    parts = []
    if watermark is not None:
        parts.append(f"{column} > {sql_literal(watermark, type_name)}")
    if upper is not None:
        parts.append(f"{column} <= {sql_literal(upper, type_name)}")
    return " AND ".join(parts)


def incremental_query(
    source: JdbcSource, columns: Sequence[str], watermark: str | None, type_name: str, upper: str | None = None
) -> str:
    """The declared columns of the rows changed since the watermark, up to the run's upper bound."""
    selected = ", ".join(quote_identifier(column) for column in columns)
    query = f"SELECT {selected} FROM {quote_identifier(source.table)}"
    condition = changed_rows_condition(source, watermark, upper, type_name)
    return f"{query} WHERE {condition}" if condition else query


def upper_bound_query(source: JdbcSource, watermark: str | None, type_name: str) -> str:
    """The newest incremental value a run may read, fixed before any row is read: every range query
    of the run reads up to it, and the next run starts after it. With a safety lag, values newer
    than the database's clock minus the lag wait for the next run, so a transaction that commits
    within the lag after setting its timestamp is not skipped."""
    column = quote_identifier(source.incremental_column)
    conditions = [changed_rows_condition(source, watermark, None, type_name)]
    if source.safety_lag_seconds and type_name == "timestamp":
        conditions.append(f"{column} <= LOCALTIMESTAMP - INTERVAL '{int(source.safety_lag_seconds)}' SECOND")
    where = " AND ".join(condition for condition in conditions if condition)
    return f"SELECT max({column}) AS upper FROM {quote_identifier(source.table)}" + (f" WHERE {where}" if where else "")


def upper_bound(
    spark: SparkSession, endpoint: JdbcEndpoint, source: JdbcSource, watermark: str | None, type_name: str
) -> str | None:
    """The run's upper bound (see upper_bound_query) as a literal-ready string; None when nothing changed."""
    query = upper_bound_query(source, watermark, type_name)
    found = _reader(spark, endpoint, source).option("query", query).load()
    value = found.select(found["upper"].cast("string")).collect()[0][0]
    return None if value is None else str(value)


def source_columns(spark: SparkSession, endpoint: JdbcEndpoint, source: JdbcSource) -> list[str]:
    """The table's columns as the database names them now, from a query's metadata (no row is read,
    and no column's type has to be one Spark can map)."""
    with transaction(spark, endpoint) as connection:
        statement = connection.prepareStatement(f"SELECT * FROM {quote_identifier(source.table)} WHERE 1 = 0")
        try:
            metadata = statement.executeQuery().getMetaData()
            return [str(metadata.getColumnName(index)) for index in range(1, metadata.getColumnCount() + 1)]
        finally:
            statement.close()


def key_query(source: JdbcSource, key: Sequence[str]) -> str:
    """Every key the table holds now."""
    return f"SELECT {', '.join(quote_identifier(column) for column in key)} FROM {quote_identifier(source.table)}"


def read_keys(spark: SparkSession, endpoint: JdbcEndpoint, source: JdbcSource, key: Sequence[str]) -> DataFrame:
    """The table's keys in one statement, never split into range queries: one consistent snapshot
    (range queries run at different times, and a key between them could be missed and taken for
    deleted)."""
    keys: DataFrame = _reader(spark, endpoint, source).option("query", key_query(source, key)).load()
    return keys


def connection_options(endpoint: JdbcEndpoint) -> dict[str, str]:
    """What Spark's JDBC reader and writer need to reach the database."""
    return {"url": endpoint.url, "user": endpoint.user, "password": endpoint.password, "driver": endpoint.driver}


def _reader(spark: SparkSession, endpoint: JdbcEndpoint, source: JdbcSource) -> Any:
    return (
        spark.read.format("jdbc")
        .options(**connection_options(endpoint))
        .option("fetchsize", str(source.fetch_size))
        # TIMESTAMP WITHOUT TIME ZONE as the wall-clock value the database holds, whatever the
        # JVM's zone: the watermark is compared with that value in the next query.
        .option("preferTimestampNTZ", "true")
    )


def read_query(spark: SparkSession, endpoint: JdbcEndpoint, source: JdbcSource, query: str) -> DataFrame:
    """The query's rows; split into parallel range queries on the partition column when the
    source declares one and the result has at least `partition_min_rows` rows. The query must be
    bounded (incremental_query with the run's upper bound): the range queries run on separate
    connections at different times, and only the bound makes them read one consistent window."""

    def reader() -> Any:
        return _reader(spark, endpoint, source)

    rows = reader().option("dbtable", f"({query}) AS src")
    if source.partition_column and source.num_partitions > 1:
        column = quote_identifier(source.partition_column)
        bounds_query = f"SELECT min({column}) AS lo, max({column}) AS hi, count(*) AS n FROM ({query}) AS src"
        bounds = reader().option("query", bounds_query).load().collect()[0]
        if bounds["n"] >= source.partition_min_rows and bounds["lo"] is not None:
            rows = (
                rows.option("partitionColumn", source.partition_column)
                .option("lowerBound", str(bounds["lo"]))
                .option("upperBound", str(int(bounds["hi"]) + 1))
                .option("numPartitions", str(source.num_partitions))
            )
    loaded: DataFrame = rows.load()
    return loaded


@contextmanager
def transaction(spark: SparkSession, endpoint: JdbcEndpoint) -> Iterator[Any]:
    """A java.sql.Connection with auto-commit off: commits when the block ends, rolls back when
    it raises. The driver is instantiated directly because DriverManager does not see jars
    added to Spark's class loader."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None
    loader = jvm.java.lang.Thread.currentThread().getContextClassLoader()
    driver = jvm.java.lang.Class.forName(endpoint.driver, True, loader).newInstance()
    properties = jvm.java.util.Properties()
    properties.setProperty("user", endpoint.user)
    properties.setProperty("password", endpoint.password)
    connection = driver.connect(endpoint.url, properties)
    if connection is None:
        raise JdbcError(f"{endpoint.driver} does not accept {endpoint.display_url}")
    try:
        connection.setAutoCommit(False)
        yield connection
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()


def _prepared(connection: Any, sql: str, parameters: Sequence[str]) -> Any:
    statement = connection.prepareStatement(sql)
    for index, value in enumerate(parameters, start=1):
        statement.setString(index, value)
    return statement


def execute(connection: Any, sql: str, parameters: Sequence[str] = ()) -> int:
    """Runs one statement (parameters are bound, never formatted in); returns the rows it
    changed, -1 when it changes none (DDL)."""
    statement = _prepared(connection, sql, parameters)
    try:
        statement.execute()
        return int(statement.getUpdateCount())
    finally:
        statement.close()


def query_rows(connection: Any, sql: str, parameters: Sequence[str] = ()) -> list[tuple[str | None, ...]]:
    """A query's rows, every value as a string."""
    statement = _prepared(connection, sql, parameters)
    try:
        results = statement.executeQuery()
        width = results.getMetaData().getColumnCount()
        rows = []
        while results.next():
            rows.append(tuple(results.getString(index) for index in range(1, width + 1)))
        return rows
    finally:
        statement.close()
