"""One local SparkSession for the whole test run (the jobs reuse it, as the local cloud does), and
one real PostgreSQL server (Debian's binaries, a throwaway data directory) for the JDBC tests."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pyspark.sql import SparkSession

from glue_etl_local.hadoop_fs import local_session
from glue_etl_local.postgres import LocalPostgres, apply_script

os.environ.setdefault("SPARK_MASTER", "local[2]")
os.environ.setdefault("SPARK_DRIVER_MEMORY", "2g")


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = local_session("tests")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalPostgres]:
    with LocalPostgres() as server:
        yield server


_database_numbers = itertools.count(1)
WAREHOUSE = "retail_dw"
# What glue_etl_local/sql/retail/updates.sql changes or inserts, table by table.
CHANGED_BY_UPDATES = {"currency": 0, "address": 2, "customer": 7, "staff": 1, "product": 2, "sales_order": 30}


@pytest.fixture
def retail_db(postgres: LocalPostgres, tmp_path: Path) -> RetailDatabase:
    """A new database holding the seeded retail sample, and a secret file pointing at it."""
    name = f"retail_{next(_database_numbers)}"
    postgres.create_database(name)
    conninfo = postgres.conninfo(name)
    apply_script(conninfo, "schema")
    apply_script(conninfo, "seed")
    return RetailDatabase(conninfo, postgres.write_secret_file(tmp_path / "secret.json", name))


@dataclass(frozen=True)
class RetailDatabase:
    conninfo: str
    secret: str  # a file: secret reference

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.conninfo) as connection:
            return connection.execute(sql.encode()).fetchall()

    def execute(self, sql: str) -> None:
        with psycopg.connect(self.conninfo) as connection:
            connection.execute(sql.encode())

    def valid_orders_in_source(self) -> set[tuple[Any, ...]]:
        """The orders the retail rules accept (units_sold >= 1), straight from the operational tables."""
        return set(self.query("SELECT sales_order_id, customer_id, units_sold, unit_price FROM sales_order"
                              " WHERE units_sold >= 1"))  # fmt: skip

    def orders_in_warehouse(self) -> set[tuple[Any, ...]]:
        return set(
            self.query(f"SELECT sales_order_id, customer_id, units_sold, unit_price FROM {WAREHOUSE}.fact_sales_order")
        )
