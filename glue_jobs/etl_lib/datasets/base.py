"""How a dataset is declared: its landing tables, their schemas, keys, rules and its gold model.

A dataset module (`etl_lib.datasets.<name>`) exposes `DATASET`; the jobs find it by name, so a
new dataset never touches the job scripts.

Column declarations use the names as delivered in the landing files; keys, rules and foreign
keys use the names after `renames` (the silver names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pyspark.sql import DataFrame


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Spark SQL type: string, int, bigint, double, decimal(p,s), date
    required: bool = False
    date_format: str = "yyyy-MM-dd"
    optional_in_source: bool = False  # files may omit this column; it is then null


@dataclass(frozen=True)
class AllowedValues:
    column: str
    values: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"allowed_values:{self.column}"


@dataclass(frozen=True)
class Range:
    column: str
    minimum: float | None = None
    maximum: float | None = None

    @property
    def name(self) -> str:
        return f"range:{self.column}"


@dataclass(frozen=True)
class NotBlank:
    """Null, empty or whitespace-only values break this rule (stricter than required)."""

    column: str

    @property
    def name(self) -> str:
        return f"not_blank:{self.column}"


RowRule = AllowedValues | Range | NotBlank


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"foreign_key:{','.join(self.columns)}->{self.parent_table}"


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    file_pattern: str  # fnmatch pattern on the landing file name, e.g. "lineitem*.csv"
    renames: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[RowRule, ...] = ()
    foreign_keys: tuple[ForeignKey, ...] = ()
    derive: Callable[[DataFrame], DataFrame] | None = None  # adds silver columns, after renames
    multiline: bool = False  # quoted fields may hold line breaks (files are then not split)
    delimiter: str = ","

    def silver_name(self, source_name: str) -> str:
        return self.renames.get(source_name, source_name)


@dataclass(frozen=True)
class GoldTable:
    name: str
    partition_by: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    name: str
    tables: tuple[Table, ...]
    gold_tables: tuple[GoldTable, ...]
    # silver tables by name -> gold DataFrames by name (pure: no I/O)
    build_gold: Callable[[Mapping[str, DataFrame]], dict[str, DataFrame]]

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
