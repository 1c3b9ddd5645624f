"""Data-quality rules as configuration: a JSON file that replaces a table's declared rules.

    {"tables": {"orders": {
        "rules": [{"type": "allowed_values", "column": "o_orderstatus", "values": ["F", "O", "P"]},
                  {"type": "range", "column": "o_totalprice", "min": 0, "severity": "fail"}],
        "unique": [{"columns": ["o_clerk", "o_orderdate"]}],
        "foreign_keys": [{"columns": ["o_custkey"], "parent_table": "customer", "parent_columns": ["c_custkey"]}],
        "table_rules": [{"type": "min_rows", "value": 1}, {"type": "max_quarantine_ratio", "value": 0.05}],
        "newest_first": ["_ingested_at", "_source_file"]}}}

`glue-etl rules export --dataset NAME` prints the declared rules in this form, to start from. The
file is checked when it is loaded; the first problem is reported as one line naming where it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from etl_lib.datasets.base import (
    FAIL,
    QUARANTINE,
    ROW_SEVERITIES,
    TABLE_SEVERITIES,
    AllowedValues,
    Dataset,
    DateFormat,
    ForeignKey,
    Freshness,
    MaxQuarantineRatio,
    MinRows,
    NotBlank,
    NotNull,
    Range,
    Regex,
    RowRule,
    Table,
    TableRule,
    TableRules,
    Unique,
)

TABLE_KEYS = {"rules", "unique", "foreign_keys", "table_rules", "newest_first"}


class RulesConfigError(ValueError):
    """The rules file is not valid; the message is one line naming the place and the problem."""


class _Reader:
    """Typed access to one JSON object, with errors that name where in the file they are."""

    def __init__(self, data: Any, where: str, allowed: set[str]) -> None:
        if not isinstance(data, dict):
            raise RulesConfigError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise RulesConfigError(
                f"{where}: unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
            )
        self.data = data
        self.where = where

    def _get(
        self, key: str, kind: type | tuple[type, ...], label: str, default: Any = None, required: bool = True
    ) -> Any:
        if key not in self.data:
            if required:
                raise RulesConfigError(f"{self.where}: missing field '{key}'")
            return default
        value = self.data[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
            raise RulesConfigError(f"{self.where}.{key}: expected {label}, got {json.dumps(value)}")
        return value

    def string(self, key: str) -> str:
        value = self._get(key, str, "a string")
        if not value:
            raise RulesConfigError(f"{self.where}.{key}: must not be empty")
        return str(value)

    def number(self, key: str, required: bool = True) -> float | None:
        value = self._get(key, (int, float), "a number", required=required)
        return None if value is None else float(value)

    def strings(self, key: str) -> tuple[str, ...]:
        values = self._get(key, list, "a list of strings")
        if not values or not all(isinstance(v, str) and v for v in values):
            raise RulesConfigError(f"{self.where}.{key}: expected a non-empty list of strings")
        return tuple(values)

    def severity(self, allowed: tuple[str, ...], default: str) -> str:
        value = self._get("severity", str, "a string", default=default, required=False)
        if value not in allowed:
            raise RulesConfigError(f"{self.where}.severity: {value!r} is not one of {', '.join(allowed)}")
        return str(value)


ROW_RULE_FIELDS = {
    NotNull.KIND: set(),
    NotBlank.KIND: set(),
    AllowedValues.KIND: {"values"},
    Range.KIND: {"min", "max"},
    Regex.KIND: {"pattern"},
    DateFormat.KIND: {"format"},
}


def _row_rule(item: Any, where: str) -> RowRule:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind not in ROW_RULE_FIELDS:
        raise RulesConfigError(f"{where}.type: {json.dumps(kind)} is not one of {', '.join(ROW_RULE_FIELDS)}")
    reader = _Reader(item, where, {"type", "severity", "column", *ROW_RULE_FIELDS[kind]})
    column, severity = reader.string("column"), reader.severity(ROW_SEVERITIES, QUARANTINE)
    if kind == NotNull.KIND:
        return NotNull(column, severity)
    if kind == NotBlank.KIND:
        return NotBlank(column, severity)
    if kind == AllowedValues.KIND:
        return AllowedValues(column, reader.strings("values"), severity)
    if kind == Regex.KIND:
        pattern = reader.string("pattern")
        try:
            re.compile(pattern)
        except re.error as error:
            raise RulesConfigError(f"{where}.pattern: not a valid regular expression: {error}") from error
        return Regex(column, pattern, severity)
    if kind == DateFormat.KIND:
        return DateFormat(column, reader.string("format"), severity)
    minimum, maximum = reader.number("min", required=False), reader.number("max", required=False)
    if minimum is None and maximum is None:
        raise RulesConfigError(f"{where}: a range needs min, max or both")
    return Range(column, minimum, maximum, severity)


def _table_rule(item: Any, where: str) -> TableRule:
    kind = item.get("type") if isinstance(item, dict) else None
    if kind == MinRows.KIND:
        reader = _Reader(item, where, {"type", "severity", "value"})
        return MinRows(int(reader.number("value") or 0), reader.severity(TABLE_SEVERITIES, FAIL))
    if kind == MaxQuarantineRatio.KIND:
        reader = _Reader(item, where, {"type", "severity", "value"})
        ratio = reader.number("value")
        if ratio is None or not 0 <= ratio <= 1:
            raise RulesConfigError(f"{where}.value: a ratio between 0 and 1 is expected")
        return MaxQuarantineRatio(ratio, reader.severity(TABLE_SEVERITIES, FAIL))
    if kind == Freshness.KIND:
        reader = _Reader(item, where, {"type", "severity", "column", "max_age_days"})
        return Freshness(reader.string("column"), int(reader.number("max_age_days") or 0),
                         reader.severity(TABLE_SEVERITIES, FAIL))  # fmt: skip
    raise RulesConfigError(f"{where}.type: {json.dumps(kind)} is not one of min_rows, max_quarantine_ratio, freshness")


def _list(reader: _Reader, key: str) -> list[Any]:
    value = reader._get(key, list, "a list", default=[], required=False)
    return list(value)


def _table_rules(data: Any, where: str, dataset: Dataset) -> TableRules:
    reader = _Reader(data, where, TABLE_KEYS)
    table_names = {table.name for table in dataset.tables}
    foreign_keys = []
    for index, item in enumerate(_list(reader, "foreign_keys")):
        fk = _Reader(item, f"{where}.foreign_keys[{index}]", {"columns", "parent_table", "parent_columns", "severity"})
        parent = fk.string("parent_table")
        if parent not in table_names:
            raise RulesConfigError(f"{fk.where}.parent_table: {parent!r} is not a table of dataset {dataset.name}")
        columns, parent_columns = fk.strings("columns"), fk.strings("parent_columns")
        if len(columns) != len(parent_columns):
            raise RulesConfigError(f"{fk.where}: columns and parent_columns differ in length")
        foreign_keys.append(ForeignKey(columns, parent, parent_columns, fk.severity(ROW_SEVERITIES, QUARANTINE)))
    unique = []
    for index, item in enumerate(_list(reader, "unique")):
        u = _Reader(item, f"{where}.unique[{index}]", {"columns", "severity"})
        unique.append(Unique(u.strings("columns"), u.severity(ROW_SEVERITIES, QUARANTINE)))
    newest_first = reader._get("newest_first", list, "a list of column names", default=None, required=False)
    return TableRules(
        rules=tuple(_row_rule(item, f"{where}.rules[{i}]") for i, item in enumerate(_list(reader, "rules"))),
        unique=tuple(unique),
        foreign_keys=tuple(foreign_keys),
        table_rules=tuple(
            _table_rule(item, f"{where}.table_rules[{i}]") for i, item in enumerate(_list(reader, "table_rules"))
        ),
        newest_first=tuple(newest_first) if newest_first else TableRules().newest_first,
    )


def load_rules(text: str, dataset: Dataset, source: str = "rules") -> dict[str, TableRules]:
    """The tables the file configures; tables it does not name keep their declared rules."""
    try:
        data = json.loads(text)
    except ValueError as error:
        raise RulesConfigError(f"{source}: not valid JSON: {error}") from error
    top = _Reader(data, source, {"dataset", "tables"})
    if "dataset" in data and data["dataset"] != dataset.name:
        raise RulesConfigError(f"{source}.dataset: the file is for {data['dataset']!r}, not {dataset.name!r}")
    tables = top._get("tables", dict, "an object of tables")
    known = {table.name for table in dataset.tables}
    configured = {}
    for name, table_data in tables.items():
        if name not in known:
            raise RulesConfigError(
                f"{source}.tables.{name}: not a table of dataset {dataset.name} ({', '.join(sorted(known))})"
            )
        configured[name] = _table_rules(table_data, f"{source}.tables.{name}", dataset)
        check_keeps_model_rules(dataset.table(name), configured[name], f"{source}.tables.{name}")
    return configured


def check_keeps_model_rules(table: Table, rules: TableRules, where: str) -> None:
    """A rules file may add rules and change severities, but not remove what the gold model relies
    on: not-null on the key and foreign-key columns, and the declared foreign keys (without them,
    orphans would be dropped by the model's inner joins instead of quarantined)."""
    not_null = {rule.column for rule in rules.rules if isinstance(rule, NotNull)}
    joined_on = dict.fromkeys([*table.key, *(column for fk in table.foreign_keys for column in fk.columns)])
    missing = [f"not_null:{column}" for column in map(table.silver_name, joined_on) if column not in not_null]
    kept = {(fk.columns, fk.parent_table, fk.parent_columns) for fk in rules.foreign_keys}
    missing += [fk.name for fk in table.foreign_keys if (fk.columns, fk.parent_table, fk.parent_columns) not in kept]
    if missing:
        raise RulesConfigError(
            f"{where}: cannot remove {', '.join(missing)}: the key and foreign keys declared in the dataset "
            "are what the gold model relies on (severities may change)"
        )


def effective_rules(dataset: Dataset, configured: Mapping[str, TableRules] | None = None) -> dict[str, TableRules]:
    configured = configured or {}
    return {table.name: configured.get(table.name, table.declared_rules()) for table in dataset.tables}


def _rule_json(rule: RowRule | TableRule) -> dict[str, Any]:
    renamed = {"minimum": "min", "maximum": "max"}
    data: dict[str, Any] = {"type": rule.KIND}
    for key, value in vars(rule).items():
        if value is not None:
            data[renamed.get(key, key)] = list(value) if isinstance(value, tuple) else value
    return data


def export_rules(dataset: Dataset) -> str:
    """The declared rules of every table in the configuration file's form."""
    tables = {}
    for name, rules in effective_rules(dataset).items():
        tables[name] = {
            "rules": [_rule_json(rule) for rule in rules.rules],
            "unique": [{"columns": list(u.columns), "severity": u.severity} for u in rules.unique],
            "foreign_keys": [
                {
                    "columns": list(fk.columns),
                    "parent_table": fk.parent_table,
                    "parent_columns": list(fk.parent_columns),
                    "severity": fk.severity,
                }
                for fk in rules.foreign_keys
            ],
            "table_rules": [_rule_json(rule) for rule in rules.table_rules],
            "newest_first": list(rules.newest_first),
        }
    return json.dumps({"dataset": dataset.name, "tables": tables}, indent=2)
