"""Row-level rules as pure DataFrame functions: every row either passes or is quarantined.

A `Check` is a rule name, a condition that is true when a row breaks the rule, and a reason
(a string Column naming the column and the offending value). A `Checked` holds rows and their
checks (DQDL row rules, duplicate keys, foreign keys); `passing_rows` and `broken_rows` split them,
the latter with `_rule` (the first broken rule) and `_reason`, so no row is ever dropped silently.

DQDL rules judged per row (`row_check`): IsComplete, ColumnValues, ColumnLength, DataFreshness
and composites of them (evaluated row by row, Glue Data Quality's ROW composite mode); as in
Glue, NULL breaks every ColumnValues condition except `!=` and `not in` unless NULL is listed.
IsUnique / IsPrimaryKey and ReferentialIntegrity need the other rows: `with_duplicate_check`,
`with_orphan_check`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F

from etl_lib.rules.model import (
    QUARANTINE,
    AnyRule,
    Composite,
    Condition,
    Duration,
    Keyword,
    Now,
    Number,
    Rule,
    Value,
)

RULE = "_rule"
REASON = "_reason"
_FAILURES = "_failures"
SIMPLE_ROW_TYPES = ("IsComplete", "ColumnValues", "ColumnLength", "DataFreshness")
KEY_TYPES = ("IsUnique", "IsPrimaryKey")


@dataclass(frozen=True)
class Check:
    rule: str
    fails: Column
    reason: Column
    severity: str = QUARANTINE


def quoted(column: str) -> Column:
    """The column's value for a reason message: 'value', or NULL."""
    return F.coalesce(F.concat(F.lit("'"), F.col(column).cast("string"), F.lit("'")), F.lit("NULL"))


def _literal(value: Value, now: datetime) -> Column:
    if isinstance(value, Number):
        return F.lit(value.value)
    if isinstance(value, Now):
        return F.lit(now + timedelta(hours=value.shift_hours))
    return F.lit(str(value))


def _equals(column: Column, value: Value, now: datetime, numbers: Column) -> Column:
    if value == Keyword("NULL"):
        return column.isNull()
    if value == Keyword("EMPTY"):
        return column.cast("string") == ""
    if value == Keyword("WHITESPACES_ONLY"):
        text = column.cast("string")
        return (text != "") & (F.trim(text) == "")
    if isinstance(value, str):
        return column.cast("string") == F.lit(value)
    return _operand(column, value, numbers) == _literal(value, now)


def _operand(column: Column, value: Value, numbers: Column) -> Column:
    """What a value is compared with: a number with the column's numbers (a string column's
    values as numbers, NULL where they are none), anything else with the column."""
    return numbers if isinstance(value, Number) else column


def as_numbers(name: str) -> Column:
    """A string column's values as numbers, NULL where a value is no number: compared with a number
    as such, a value like 'AFRICA' fails the job under ANSI mode (Spark 4's default) instead of the rule."""
    return F.expr(f"try_cast(`{name}` AS double)")


def _compare(column: Column, comparison: str, value: Column) -> Column:
    comparisons = {">": column > value, ">=": column >= value, "<": column < value, "<=": column <= value}
    return comparisons[comparison]


def condition_holds(column: Column, condition: Condition, now: datetime, numbers: Column | None = None) -> Column:
    """True where the value meets the condition, never NULL. NULL meets only `!=`, `not in`, and
    conditions that name NULL (as in Glue Data Quality). `between` excludes its bounds. numbers:
    what numbers are compared with (as_numbers for a string column), else the column."""
    values, comparison = condition.values, condition.operator
    numbers = column if numbers is None else numbers
    if comparison == "in":
        member = F.lit(False)
        for value in values:
            member = member | F.coalesce(_equals(column, value, now, numbers), F.lit(False))
        return ~member if condition.negated else member
    if comparison == "=" or comparison == "!=":
        equal = F.coalesce(_equals(column, values[0], now, numbers), F.lit(False))
        return ~equal if comparison == "!=" else equal
    if comparison == "matches":
        full = F.coalesce(column.cast("string").rlike(f"^(?:{values[0]})$"), F.lit(False))
        return (~full & column.isNotNull()) if condition.negated else full
    first, last = values[0], values[-1]
    if comparison == "between":
        inside = (_operand(column, first, numbers) > _literal(first, now)) & (
            _operand(column, last, numbers) < _literal(last, now)
        )
        return F.coalesce(~inside if condition.negated else inside, F.lit(False))
    return F.coalesce(_compare(_operand(column, first, numbers), comparison, _literal(first, now)), F.lit(False))


def _age_hours(name: str, now: datetime) -> Column:
    """Hours since a column's time (NULL where a string column holds no time, rather than an error under ANSI mode)."""
    return (F.lit(now).cast("long") - F.expr(f"try_cast(`{name}` AS timestamp)").cast("long")) / 3600


def _duration_condition(condition: Condition) -> Condition:
    hours = tuple(Number(str(v.hours)) if isinstance(v, Duration) else v for v in condition.values)
    return Condition(condition.operator, hours, condition.negated)


def row_passes(rule: AnyRule, now: datetime, string_columns: Collection[str] = ()) -> Column:
    """True where the row satisfies the rule (rows its `where` clause leaves out satisfy it);
    string_columns: the columns of the rows that are strings."""
    if isinstance(rule, Composite):
        parts = [row_passes(member, now, string_columns) for member in rule.rules]
        return functools.reduce(operator.and_ if rule.operator == "and" else operator.or_, parts)
    name = rule.parameters[0]
    column = F.col(name)
    if rule.type == "IsComplete":
        passes = column.isNotNull()
    elif rule.type == "ColumnValues":
        assert rule.condition is not None
        passes = condition_holds(column, rule.condition, now, as_numbers(name) if name in string_columns else None)
    elif rule.type == "ColumnLength":
        assert rule.condition is not None
        passes = condition_holds(F.length(column.cast("string")), rule.condition, now) & column.isNotNull()
    else:  # DataFreshness
        assert rule.condition is not None
        passes = condition_holds(_age_hours(name, now), _duration_condition(rule.condition), now)
    if rule.where is None:
        return passes
    return passes | ~F.coalesce(F.expr(rule.where), F.lit(False))


def _columns(rule: AnyRule) -> list[str]:
    if isinstance(rule, Composite):
        return list(dict.fromkeys(column for member in rule.rules for column in _columns(member)))
    return [rule.parameters[0]]


def row_check(rule: AnyRule, now: datetime, string_columns: Collection[str] = ()) -> Check:
    """The rule as a check: a broken row's reason is the rule's text and the values it read
    (string_columns: the columns of the rows that are strings)."""
    values = F.concat_ws(", ", *[F.concat(F.lit(f"{c}="), quoted(c)) for c in _columns(rule)])
    reason = F.concat(F.lit(f"{rule.text}: "), values)
    return Check(rule.text, ~row_passes(rule, now, string_columns), reason, rule.severity or QUARANTINE)


def string_columns(df: DataFrame) -> set[str]:
    return {name for name, dtype in df.dtypes if dtype == "string"}


def with_failures(df: DataFrame, checks: Sequence[Check]) -> DataFrame:
    """Adds `_failures`: an array of {rule, reason} for every check the row breaks."""
    if not checks:
        empty = F.array().cast("array<struct<rule:string,reason:string>>")
        return df.withColumn(_FAILURES, empty)
    entries = [
        F.when(
            F.coalesce(check.fails, F.lit(False)),
            F.struct(F.lit(check.rule).alias("rule"), check.reason.alias("reason")),
        )
        for check in checks
    ]
    return df.withColumn(_FAILURES, F.filter(F.array(*entries), lambda entry: entry.isNotNull()))


def flag_checks(df: DataFrame, checks: Sequence[Check]) -> DataFrame:
    """Adds `_rule` (the first broken rule, NULL for a clean row) and `_reason` (every reason)."""
    flagged = with_failures(df, checks)
    broken = F.size(_FAILURES) > 0
    return (
        flagged.withColumn(RULE, F.when(broken, F.col(_FAILURES)[0]["rule"]))
        .withColumn(REASON, F.when(broken, F.concat_ws("; ", F.transform(_FAILURES, lambda entry: entry["reason"]))))
        .drop(_FAILURES)
    )


def breaks_any(checks: Sequence[Check]) -> Column:
    """True where the row breaks at least one of the checks (never NULL)."""
    broken = F.lit(False)
    for check in checks:
        broken = broken | F.coalesce(check.fails, F.lit(False))
    return broken


@dataclass(frozen=True)
class ForeignKey:
    """ReferentialIntegrity "a,b" "parent.{x,y}" = 1.0, resolved to its columns."""

    rule: Rule
    columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]


@dataclass(frozen=True)
class Checked:
    """Rows and the checks they must pass, in order (the first broken one names a row's rule).

    `frame` may hold helper columns the checks read (join markers, ranks); `columns` are the
    row's own columns, the only ones the results keep.
    """

    frame: DataFrame
    checks: tuple[Check, ...]
    columns: tuple[str, ...]

    @staticmethod
    def of(df: DataFrame, checks: Sequence[Check] = ()) -> Checked:
        return Checked(df, tuple(checks), tuple(df.columns))

    def adding(self, frame: DataFrame, check: Check) -> Checked:
        return Checked(frame, (*self.checks, check), self.columns)


_BROKEN = "_broken"


def passing_rows(checked: Checked) -> tuple[DataFrame, Observation]:
    """The rows that break no check, and an observation that counts, in the same pass, the rows
    that do and the rows that do not (read `observation.get["broken"]` and `["passed"]` after an
    action on the rows: what a write of the rows wrote, without reading it back).

    Checking costs one boolean per row; the reasons are only built for broken rows, by
    `broken_rows`, when there are any (on TPC-H SF1 lineitem an array of reasons for every row
    doubled the time of extract and transform). The observation also keeps the filter above
    the projection that evaluates the checks, so they are evaluated once.
    """
    observation = Observation()
    marked = checked.frame.withColumn(_BROKEN, breaks_any(checked.checks)).observe(
        observation,
        F.count(F.when(F.col(_BROKEN), 1)).alias("broken"),
        F.count(F.when(~F.col(_BROKEN), 1)).alias("passed"),
    )
    return marked.where(~F.col(_BROKEN)).select(*checked.columns), observation


def broken_rows(checked: Checked) -> DataFrame:
    """The rows that break a check, with `_rule` (the first broken) and `_reason` (all of them)."""
    broken = checked.frame.where(breaks_any(checked.checks))
    return flag_checks(broken, checked.checks).select(*checked.columns, RULE, REASON)


def key_description(key: Sequence[str]) -> Column:
    parts = [F.concat(F.lit(f"{column}="), quoted(column)) for column in key]
    return F.concat_ws(", ", *parts)


def all_present(columns: Sequence[str]) -> Column:
    """True where none of the columns is NULL."""
    present = F.lit(True)
    for column in columns:
        present = present & F.col(column).isNotNull()
    return present


def repeated_keys(df: DataFrame, key: Sequence[str]) -> DataFrame:
    """The key values that appear more than once (reads only the key columns)."""
    return df.groupBy(*key).count().where(F.col("count") > 1).select(*key)


def rows_and_repeats(df: DataFrame, key: Sequence[str]) -> tuple[int, bool]:
    """How many rows, and whether a key value appears more than once, in one job's worth of
    reading (only the key columns): the count and the key check share the pass. The totals are
    observed as the counts per key flow by, not aggregated again: a shuffle fewer, so two Spark
    jobs rather than three (one per table of every run)."""
    found = Observation()
    per_key = df.groupBy(*key).count().observe(found, F.sum("count").alias("rows"), F.max("count").alias("most"))
    per_key.write.format("noop").mode("overwrite").save()
    totals = found.get
    return int(totals["rows"] or 0), int(totals["most"] or 0) > 1


def key_completeness_check(rule: Rule) -> Check:
    """IsPrimaryKey's first half: a row with a NULL in any key column."""
    reason = F.concat(F.lit(f"{rule.text}: "), key_description(rule.parameters))
    return Check(rule.text, ~all_present(rule.parameters), reason, rule.severity or QUARANTINE)


def with_duplicate_check(
    checked: Checked, key: Sequence[str], newest_first: Sequence[Column], rule: str, severity: str | None = QUARANTINE
) -> Checked:
    """Among the rows of each key, all but the first are duplicates: rows passing the earlier
    checks come first, then newest_first, then content (so reruns agree); the reason names the
    kept row's file. Rows with a NULL in the key are never duplicates of each other (IsComplete
    or IsPrimaryKey's own completeness check catches them)."""
    df = checked.frame
    # Metadata columns (_ingested_at, _run_id, ...) change between runs: hashing them would let a
    # rerun keep a different row for the same key.
    content_hash = F.xxhash64(*[F.col(column) for column in checked.columns if not column.startswith("_")])
    window = Window.partitionBy(*key).orderBy(breaks_any(checked.checks).asc(), *newest_first, content_hash.desc())
    rank, kept_from = f"_rank_{len(checked.checks)}", f"_kept_from_{len(checked.checks)}"
    ranked = df.withColumn(rank, F.row_number().over(window))
    origin = F.lit("")
    if "_source_file" in checked.columns:
        whole = window.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
        ranked = ranked.withColumn(kept_from, F.first("_source_file").over(whole))
        origin = F.concat(F.lit("; kept the row from "), F.col(kept_from))
    reason = F.concat(F.lit(f"{rule}: duplicate ("), key_description(key), F.lit(")"), origin)
    duplicate = (F.col(rank) > 1) & all_present(key)
    return checked.adding(ranked, Check(rule, duplicate, reason, severity or QUARANTINE))


def with_orphan_check(
    checked: Checked, reference: ForeignKey, parent: DataFrame, parent_unique: bool = False, severity: str = QUARANTINE
) -> Checked:
    """Rows whose (non-null) foreign key is not among the parent's keys break the check.

    parent_unique: the parent columns are known to be unique (a validated table's key), so the
    distinct that keeps the join from repeating rows is skipped.
    """
    marker = f"_parent_found_{len(checked.checks)}"
    renamed = [F.col(p).alias(c) for c, p in zip(reference.columns, reference.parent_columns, strict=True)]
    parent_keys = parent.select(*renamed)
    if not parent_unique:
        parent_keys = parent_keys.distinct()
    joined = checked.frame.join(parent_keys.withColumn(marker, F.lit(True)), on=list(reference.columns), how="left")
    orphan = all_present(reference.columns) & F.col(marker).isNull()
    reason = F.concat(F.lit(f"{reference.rule.text}: "), key_description(reference.columns),
                      F.lit(f" not found in {reference.parent_table}"))  # fmt: skip
    return checked.adding(joined, Check(reference.rule.text, orphan, reason, severity))
