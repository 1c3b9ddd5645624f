"""The tpch rulesets' row rules for the DuckDB and pandas peers: the subset tpch uses (IsComplete,
ColumnValues comparisons / in / matches / = NULL, and/or composites), so the peers check what the
Spark jobs check. The dataset's key and foreign keys are checked by the peers themselves."""

from __future__ import annotations

import functools
import operator

import pandas as pd

from etl_lib.datasets.base import Table
from etl_lib.datasets.tpch import DATASET
from etl_lib.rules import rulesets
from etl_lib.rules.model import AnyRule, Composite, Keyword, Number, Rule

RULES = rulesets.dataset_rules(DATASET)
ROW_TYPES = ("IsComplete", "ColumnValues")


def simple_rules(table: Table) -> list[AnyRule]:
    """The table's row rules other than the model's key, completeness and reference rules."""
    model = {rule.text for rule in rulesets.model_rules(table)}
    simple = [r for r in RULES[table.name].quarantining if isinstance(r, Composite) or r.type in ROW_TYPES]
    return [rule for rule in simple if rule.text not in model]


def _sql_value(value: object) -> str:
    return str(value) if isinstance(value, Number) else "'" + str(value).replace("'", "''") + "'"


def to_sql(rule: AnyRule) -> str:
    if isinstance(rule, Composite):
        return "(" + f" {rule.operator.upper()} ".join(to_sql(member) for member in rule.rules) + ")"
    column = rule.parameters[0]
    if rule.type == "IsComplete":
        return f"{column} IS NOT NULL"
    assert rule.condition is not None
    comparison, values = rule.condition.operator, rule.condition.values
    if values == (Keyword("NULL"),):
        return f"{column} IS NULL"
    if comparison == "in":
        return f"{column} IN ({', '.join(_sql_value(v) for v in values)})"
    if comparison == "matches":
        return f"regexp_full_match({column}, {_sql_value(values[0])})"
    return f"COALESCE({column} {comparison} {_sql_value(values[0])}, FALSE)"


def passes(frame: pd.DataFrame, rule: AnyRule) -> pd.Series:
    if isinstance(rule, Composite):
        parts = [passes(frame, member) for member in rule.rules]
        return functools.reduce(operator.and_ if rule.operator == "and" else operator.or_, parts)
    assert isinstance(rule, Rule)
    values = frame[rule.parameters[0]]
    if rule.type == "IsComplete":
        return values.notna()
    assert rule.condition is not None
    comparison, expected = rule.condition.operator, rule.condition.values
    if expected == (Keyword("NULL"),):
        return values.isna()
    if comparison == "in":
        return values.isin([str(v) for v in expected]).fillna(False).astype(bool)
    if comparison == "matches":
        return values.str.fullmatch(str(expected[0])).fillna(False).astype(bool)
    number = float(expected[0].value) if isinstance(expected[0], Number) else expected[0]
    compared = {">": values.astype("float64") > number, ">=": values.astype("float64") >= number,
                "<": values.astype("float64") < number, "<=": values.astype("float64") <= number}  # fmt: skip
    return compared[comparison].fillna(False).astype(bool)
