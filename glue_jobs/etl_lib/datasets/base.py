"""How a dataset is declared: its source tables (landing files or JDBC tables), their schemas,
keys, rules and its gold model.

A dataset module (`etl_lib.datasets.<name>`) exposes `DATASET`; the jobs find it by name, so a
new dataset never touches the job scripts.

Column declarations use the names as delivered in the landing files; keys, rules and foreign
keys use the names after `renames` (the silver names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import ClassVar

from pyspark.sql import DataFrame


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Spark SQL type: string, int, bigint, double, decimal(p,s), date
    required: bool = False
    date_format: str = "yyyy-MM-dd"
    optional_in_source: bool = False  # files may omit this column; it is then null


QUARANTINE = "quarantine"  # the row goes to quarantine with the rule and a reason
FAIL = "fail"  # the job fails, naming the rule and the numbers
WARN = "warn"  # table-level rules only: reported, nothing else
ROW_SEVERITIES = (QUARANTINE, FAIL)
TABLE_SEVERITIES = (FAIL, WARN)


class NamedByColumn:
    """A rule checked on one column, named `<kind>:<column>` in quarantines and reports."""

    KIND: ClassVar[str]
    column: str

    @property
    def name(self) -> str:
        return f"{self.KIND}:{self.column}"


@dataclass(frozen=True)
class NotNull(NamedByColumn):
    KIND: ClassVar[str] = "not_null"
    column: str
    severity: str = QUARANTINE


@dataclass(frozen=True)
class NotBlank(NamedByColumn):
    """Null, empty or whitespace-only values break this rule (stricter than not_null)."""

    KIND: ClassVar[str] = "not_blank"
    column: str
    severity: str = QUARANTINE


@dataclass(frozen=True)
class AllowedValues(NamedByColumn):
    KIND: ClassVar[str] = "allowed_values"
    column: str
    values: tuple[str, ...]
    severity: str = QUARANTINE


@dataclass(frozen=True)
class Range(NamedByColumn):
    KIND: ClassVar[str] = "range"
    column: str
    minimum: float | None = None
    maximum: float | None = None
    severity: str = QUARANTINE


@dataclass(frozen=True)
class Regex(NamedByColumn):
    KIND: ClassVar[str] = "regex"
    column: str
    pattern: str
    severity: str = QUARANTINE


@dataclass(frozen=True)
class DateFormat(NamedByColumn):
    """A string column whose values must parse as dates in this format."""

    KIND: ClassVar[str] = "date_format"
    column: str
    format: str
    severity: str = QUARANTINE


@dataclass(frozen=True)
class Unique:
    """Besides the key: the first row (in deduplication order) of each value is kept."""

    columns: tuple[str, ...]
    severity: str = QUARANTINE

    @property
    def name(self) -> str:
        return f"unique:{','.join(self.columns)}"


RowRule = NotNull | NotBlank | AllowedValues | Range | Regex | DateFormat


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    severity: str = QUARANTINE

    @property
    def name(self) -> str:
        return f"foreign_key:{','.join(self.columns)}->{self.parent_table}"


@dataclass(frozen=True)
class MinRows:
    KIND: ClassVar[str] = "min_rows"
    value: int
    severity: str = FAIL

    @property
    def name(self) -> str:
        return self.KIND


@dataclass(frozen=True)
class MaxQuarantineRatio:
    """Rows quarantined by transform / rows it read, at most this ratio."""

    KIND: ClassVar[str] = "max_quarantine_ratio"
    value: float
    severity: str = FAIL

    @property
    def name(self) -> str:
        return self.KIND


@dataclass(frozen=True)
class Freshness(NamedByColumn):
    """The newest value of a date column is at most max_age_days old (at the run's date)."""

    KIND: ClassVar[str] = "freshness"
    column: str
    max_age_days: int
    severity: str = FAIL


TableRule = MinRows | MaxQuarantineRatio | Freshness


@dataclass(frozen=True)
class TableRules:
    """Everything about a table that configuration may change (see etl_lib.rules_config)."""

    rules: tuple[RowRule, ...] = ()
    unique: tuple[Unique, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    table_rules: tuple[TableRule, ...] = ()
    newest_first: tuple[str, ...] = ("_ingested_at", "_source_file")  # deduplication: which row of a key wins


@dataclass(frozen=True)
class JdbcSource:
    """A table read from a database instead of landing files, incrementally by a watermark column.

    Each run reads the rows whose `incremental_column` is greater than the stored watermark (all
    rows on the first run); raw keeps every version read, and transform keeps the newest version of
    each key. With `partition_column` (an integer column, usually the key) and `num_partitions` > 1,
    a read of at least `partition_min_rows` rows is split into that many parallel range queries.
    """

    table: str  # as the database names it, e.g. "public.sales_order"
    incremental_column: str  # a source column, e.g. "last_updated"; must be declared in columns
    partition_column: str | None = None
    num_partitions: int = 1
    partition_min_rows: int = 100_000
    fetch_size: int = 10_000
    # Rows whose timestamp is newer than the database's clock minus this many seconds are left for
    # the next run: a transaction that set its timestamp and commits within the lag is not skipped.
    safety_lag_seconds: int = 0


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    file_pattern: str = ""  # fnmatch pattern on the landing file name, e.g. "lineitem*.csv"
    renames: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[RowRule, ...] = ()
    unique: tuple[Unique, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    table_rules: tuple[TableRule, ...] = ()
    newest_first: tuple[str, ...] = ("_ingested_at", "_source_file")
    derive: Callable[[DataFrame], DataFrame] | None = None  # adds silver columns, after renames
    multiline: bool = False  # quoted fields may hold line breaks (files are then not split)
    delimiter: str = ","
    jdbc: JdbcSource | None = None  # read from a database rather than landing files

    def __post_init__(self) -> None:
        if bool(self.file_pattern) == (self.jdbc is not None):
            raise ValueError(f"table {self.name!r}: declare exactly one source, a file_pattern or a jdbc source")
        if self.jdbc is not None and self.jdbc.incremental_column not in {c.name for c in self.columns}:
            column = self.jdbc.incremental_column
            raise ValueError(f"table {self.name!r}: incremental column {column!r} is not a declared column")

    def silver_name(self, source_name: str) -> str:
        return self.renames.get(source_name, source_name)

    def declared_rules(self) -> TableRules:
        """The rules written in the dataset module: required columns become not_null rules."""
        required = tuple(NotNull(self.silver_name(c.name)) for c in self.columns if c.required)
        return TableRules(
            rules=(*required, *self.rules),
            unique=self.unique,
            foreign_keys=self.foreign_keys,
            table_rules=self.table_rules,
            newest_first=self.newest_first,
        )


@dataclass(frozen=True)
class GoldTable:
    name: str
    partition_by: tuple[str, ...] = ()
    key: tuple[str, ...] = ()  # with a key, the load job can upsert the table into a warehouse
    # A fact table with one row per row of this silver table: the counts are reconciled, so a join
    # of the model can never drop rows silently.
    rows_from: str | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    tables: tuple[Table, ...]
    gold_tables: tuple[GoldTable, ...]
    # silver tables by name -> gold DataFrames by name (pure: no I/O)
    build_gold: Callable[[Mapping[str, DataFrame]], dict[str, DataFrame]]

    @property
    def jdbc_tables(self) -> tuple[Table, ...]:
        return tuple(table for table in self.tables if table.jdbc is not None)

    @property
    def file_tables(self) -> tuple[Table, ...]:
        return tuple(table for table in self.tables if table.jdbc is None)

    @property
    def warehouse_tables(self) -> tuple[GoldTable, ...]:
        return tuple(gold for gold in self.gold_tables if gold.key)

    def table(self, name: str) -> Table:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(f"dataset {self.name!r} has no table {name!r}")

    def tables_in_dependency_order(self) -> list[Table]:
        """Parents before children, so foreign keys are checked against validated parents."""
        ordered: list[Table] = []
        remaining = list(self.tables)
        while remaining:
            ready = [
                table
                for table in remaining
                if all(fk.parent_table in {t.name for t in ordered} for fk in table.foreign_keys)
            ]
            if not ready:
                cycle = ", ".join(table.name for table in remaining)
                raise ValueError(f"dataset {self.name!r}: foreign keys form a cycle among {cycle}")
            ordered.extend(ready)
            remaining = [table for table in remaining if table not in ready]
        return ordered
