"""Rules judged on a whole table, with Glue Data Quality's outcome shape: the rule, Passed or
Failed, a failure reason and the metrics it was judged on.

They read the rows transform read (before quarantine), restricted by the rule's `where` clause.
A row rule given a threshold or the severity warn is judged here on its compliance (the share of
rows that satisfy it). `between` excludes its bounds, as in Glue Data Quality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from etl_lib.rules.model import FAILED, PASSED, AnyRule, Composite, Condition, Keyword, Rule, RulesetError
from etl_lib.rules.row_checks import all_present, as_numbers, row_passes, string_columns
from etl_lib.rules.rulesets import FULL, reference

# Spark type names as DQDL's ColumnDataType names them.
DATA_TYPES = {"int": "INTEGER", "bigint": "LONG", "smallint": "SHORT", "tinyint": "BYTE", "double": "DOUBLE",
              "float": "FLOAT", "string": "STRING", "date": "DATE", "timestamp": "TIMESTAMP",
              "boolean": "BOOLEAN"}  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    rule: str
    outcome: str  # Passed | Failed
    failure_reason: str = ""
    evaluated_metrics: dict[str, float] = field(default_factory=dict)


def metric_holds(value: float, condition: Condition) -> bool:
    numbers = [v.value for v in condition.values if hasattr(v, "value")]
    if len(numbers) != len(condition.values) or Keyword("NULL") in condition.values:
        raise RulesetError(f"condition {condition} does not compare a number")
    if condition.operator == "between":
        inside = numbers[0] < value < numbers[1]
        return not inside if condition.negated else inside
    if condition.operator == "in":
        return (value in numbers) != condition.negated
    comparisons = {"=": value == numbers[0], "!=": value != numbers[0], ">": value > numbers[0],
                   ">=": value >= numbers[0], "<": value < numbers[0], "<=": value <= numbers[0]}  # fmt: skip
    return comparisons[condition.operator]


def _scope(df: DataFrame, rule: Rule) -> DataFrame:
    return df if rule.where is None else df.where(F.coalesce(F.expr(rule.where), F.lit(False)))


def _judged(rule: AnyRule, name: str, value: float, condition: Condition) -> Outcome:
    if metric_holds(value, condition):
        return Outcome(rule.text, PASSED, "", {name: value})
    reason = f"Value: {value:g} does not meet the constraint requirement ({condition})"
    return Outcome(rule.text, FAILED, reason, {name: value})


def _compliance(rule: AnyRule, df: DataFrame, now: datetime) -> tuple[float, int, int]:
    """(share of rows in scope that satisfy the rule, rows in scope, rows that break it)."""
    scope = (
        F.lit(True)
        if isinstance(rule, Composite) or rule.where is None
        else F.coalesce(F.expr(rule.where), F.lit(False))
    )
    broken_rows = scope & ~row_passes(rule, now, string_columns(df))
    row = df.agg(F.count(F.when(scope, 1)).alias("n"), F.count(F.when(broken_rows, 1)).alias("broken")).first()
    total, broken = (int(row["n"]), int(row["broken"])) if row else (0, 0)
    return ((total - broken) / total if total else 1.0), total, broken


def _complete_share(rule: Rule, df: DataFrame) -> float:
    row = (
        _scope(df, rule)
        .agg(F.count("*").alias("n"), F.count(F.when(all_present(rule.parameters), 1)).alias("ok"))
        .first()
    )
    return int(row["ok"]) / int(row["n"]) if row and row["n"] else 1.0


def _grouped_metric(rule: Rule, df: DataFrame) -> float:
    """Uniqueness (rows whose value occurs once / rows), UniqueValueRatio (values occurring once /
    distinct values), DistinctValuesCount, over rows with every column present."""
    columns = list(rule.parameters)
    counts = _scope(df, rule).where(all_present(columns)).groupBy(*columns).count()
    row = counts.agg(F.count("*").alias("distinct"), F.sum("count").alias("rows"),
                     F.count(F.when(F.col("count") == 1, 1)).alias("once")).first()  # fmt: skip
    distinct, rows, once = (int(row["distinct"]), int(row["rows"] or 0), int(row["once"])) if row else (0, 0, 0)
    if rule.type == "DistinctValuesCount":
        return float(distinct)
    if rule.type == "UniqueValueRatio":
        return once / distinct if distinct else 1.0
    return once / rows if rows else 1.0


def _aggregate(rule: Rule, df: DataFrame) -> float:
    name = rule.parameters[0] if rule.parameters else None
    column = F.col(name) if name is not None else None
    numbers = as_numbers(name) if name is not None and name in string_columns(df) else column
    expressions: Mapping[str, Column] = {
        "RowCount": F.count("*"),
        "Completeness": F.count(column) / F.greatest(F.count("*"), F.lit(1)) if column is not None else F.lit(0),
        "Mean": F.avg(numbers) if numbers is not None else F.lit(0),
        "Sum": F.sum(numbers) if numbers is not None else F.lit(0),
        "StandardDeviation": F.stddev_pop(numbers) if numbers is not None else F.lit(0),
    }
    row = _scope(df, rule).agg(expressions[rule.type].cast("double").alias("value")).first()
    return float(row["value"]) if row is not None and row["value"] is not None else 0.0


def _custom_sql(rule: Rule, df: DataFrame) -> float:
    """CustomSql runs on the table as the view `primary`; its first value is compared."""
    df.createOrReplaceTempView("primary")
    try:
        row = df.sparkSession.sql(rule.parameters[0]).first()
    except Exception as error:  # noqa: BLE001 - a user's SQL: its own error, on one line
        raise rule.error(f"the SQL failed: {str(error).splitlines()[0]}") from None
    if row is None or not isinstance(row[0], int | float) or isinstance(row[0], bool):
        raise rule.error("the SQL must return one number")
    return float(row[0])


def _schema_outcome(rule: Rule, df: DataFrame) -> Outcome:
    columns = [c for c in df.columns if not c.startswith("_")]
    if rule.type == "ColumnCount":
        assert rule.condition is not None
        return _judged(rule, "Dataset.*.ColumnCount", float(len(columns)), rule.condition)
    name = rule.parameters[0]
    if name not in columns:
        return Outcome(rule.text, FAILED, f"column {name} does not exist")
    if rule.type == "ColumnExists":
        return Outcome(rule.text, PASSED)
    spark_type = df.schema[name].dataType.simpleString()
    actual = "DECIMAL" if spark_type.startswith("decimal") else DATA_TYPES.get(spark_type, spark_type.upper())
    assert rule.condition is not None
    expected = {str(v).upper() for v in rule.condition.values}
    if (actual in expected) != rule.condition.negated:
        return Outcome(rule.text, PASSED)
    return Outcome(rule.text, FAILED, f"column {name} is {actual}, expected {rule.condition}")


def _reference_compliance(rule: Rule, df: DataFrame, parents: Mapping[str, DataFrame | None]) -> float:
    fk = reference(rule)
    parent = parents.get(fk.parent_table)
    rows = _scope(df, rule).where(all_present(fk.columns)).select(*fk.columns)
    total = rows.count()
    if not total:
        return 1.0
    if parent is None:
        return 0.0
    keys = parent.select(*[F.col(p).alias(c) for c, p in zip(fk.columns, fk.parent_columns, strict=True)]).distinct()
    return rows.join(keys, on=list(fk.columns), how="left_semi").count() / total


def evaluate(
    rule: AnyRule, df: DataFrame, parents: Mapping[str, DataFrame | None], now: datetime, rows: int | None = None
) -> Outcome:
    """The rule's outcome on the table `df` (parents: the dataset's validated tables; rows: its
    row count when already known, so RowCount costs no Spark job)."""
    if isinstance(rule, Composite):
        members = [evaluate(member, df, parents, now, rows) for member in rule.rules]
        passed = [m.outcome == PASSED for m in members]
        ok = all(passed) if rule.operator == "and" else any(passed)
        reasons = "; ".join(f"{m.rule}: {m.failure_reason}" for m in members if m.outcome == FAILED)
        metrics = {k: v for m in members for k, v in m.evaluated_metrics.items()}
        return Outcome(rule.text, PASSED if ok else FAILED, "" if ok else reasons, metrics)
    label = f"Column.{rule.parameters[0]}" if rule.parameters and rule.type != "CustomSql" else "Dataset.*"
    threshold = rule.threshold or FULL
    if rule.type in ("IsComplete", "ColumnValues", "ColumnLength", "DataFreshness"):
        share, total, broken = _compliance(rule, df, now)
        outcome = _judged(rule, f"{label}.{rule.type}.Compliance", share, threshold)
        if outcome.outcome == FAILED:
            return Outcome(rule.text, FAILED, f"{broken:,} of {total:,} rows break the rule; {outcome.failure_reason}",
                           outcome.evaluated_metrics)  # fmt: skip
        return outcome
    if rule.type in ("IsUnique", "IsPrimaryKey"):
        unique = _grouped_metric(replace_type(rule, "Uniqueness"), df)
        complete = (
            _compliance(Rule("IsComplete", rule.parameters[:1]), df, now)[0] if rule.type == "IsPrimaryKey" else 1.0
        )
        return _judged(rule, f"{label}.Uniqueness", min(unique, complete), threshold)
    if rule.type == "ReferentialIntegrity":
        assert rule.condition is not None
        return _judged(rule, f"{label}.ReferentialIntegrity", _reference_compliance(rule, df, parents), rule.condition)
    if rule.type in ("ColumnCount", "ColumnExists", "ColumnDataType"):
        return _schema_outcome(rule, df)
    assert rule.condition is not None
    if rule.type in ("Uniqueness", "UniqueValueRatio", "DistinctValuesCount"):
        return _judged(rule, f"{label}.{rule.type}", _grouped_metric(rule, df), rule.condition)
    if rule.type == "CustomSql":
        return _judged(rule, "Dataset.*.CustomSQL", _custom_sql(rule, df), rule.condition)
    if rule.type == "RowCount" and rule.where is None and rows is not None:
        return _judged(rule, "Dataset.*.RowCount", float(rows), rule.condition)
    return _judged(rule, f"{label}.{rule.type}", _aggregate(rule, df), rule.condition)


def replace_type(rule: Rule, rule_type: str) -> Rule:
    return Rule(rule_type, rule.parameters, rule.condition, rule.where, None, rule.severity, rule.position)
