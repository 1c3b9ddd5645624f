"""Data-quality rules as pure DataFrame functions: every row either passes or is quarantined.

A `Check` is a rule name, a condition that is true when a row breaks the rule, and a reason
(a string Column naming the column and the offending value). A `Checked` holds rows and their
checks (row rules, duplicate keys, foreign keys); `passing_rows` and `broken_rows` split them, the
latter with `_rule` (the first broken rule) and `_reason`, so no row is ever dropped silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F

from etl_lib.datasets.base import (
    QUARANTINE,
    AllowedValues,
    DateFormat,
    ForeignKey,
    NotBlank,
    NotNull,
    Range,
    Regex,
    RowRule,
)

RULE = "_rule"
REASON = "_reason"
_FAILURES = "_failures"


@dataclass(frozen=True)
class Check:
    rule: str
    fails: Column
    reason: Column
    severity: str = QUARANTINE


def quoted(column: str) -> Column:
    """The column's value for a reason message: 'value', or NULL."""
    return F.coalesce(F.concat(F.lit("'"), F.col(column).cast("string"), F.lit("'")), F.lit("NULL"))


def _value_reason(column: str, text: str) -> Column:
    return F.concat(F.lit(f"{column}="), quoted(column), F.lit(f" {text}"))


def rule_check(rule: RowRule) -> Check:
    if not isinstance(rule, NotNull | NotBlank | AllowedValues | Range | Regex | DateFormat):
        raise TypeError(f"unsupported rule {rule!r}")
    value = F.col(rule.column)
    if isinstance(rule, NotNull):
        return Check(rule.name, value.isNull(), F.lit(f"{rule.column} is missing"), rule.severity)
    if isinstance(rule, NotBlank):
        blank = value.isNull() | (F.trim(value.cast("string")) == "")
        return Check(rule.name, blank, F.lit(f"{rule.column} is null or empty"), rule.severity)
    if isinstance(rule, AllowedValues):
        breaks = value.isNotNull() & ~value.cast("string").isin(list(rule.values))
        return Check(
            rule.name, breaks, _value_reason(rule.column, f"is not one of {', '.join(rule.values)}"), rule.severity
        )
    if isinstance(rule, Regex):
        breaks = value.isNotNull() & ~value.cast("string").rlike(rule.pattern)
        return Check(rule.name, breaks, _value_reason(rule.column, f"does not match {rule.pattern}"), rule.severity)
    if isinstance(rule, DateFormat):
        # The format is a literal, never SQL text: a rules file cannot inject an expression.
        breaks = value.isNotNull() & F.try_to_timestamp(value.cast("string"), F.lit(rule.format)).isNull()
        return Check(rule.name, breaks, _value_reason(rule.column, f"is not a date ({rule.format})"), rule.severity)
    too_low = F.lit(False) if rule.minimum is None else value < F.lit(rule.minimum)
    too_high = F.lit(False) if rule.maximum is None else value > F.lit(rule.maximum)
    bounds = f"[{'' if rule.minimum is None else rule.minimum}, {'' if rule.maximum is None else rule.maximum}]"
    breaks = value.isNotNull() & (too_low | too_high)
    return Check(rule.name, breaks, _value_reason(rule.column, f"is outside {bounds}"), rule.severity)


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
    that do (read `observation.get["broken"]` after an action on the rows).

    Checking costs one boolean per row; the reasons are only built for broken rows, by
    `broken_rows`, when there are any (on TPC-H SF1 lineitem an array of reasons for every row
    doubled the time of extract and transform). The observation also keeps the filter above
    the projection that evaluates the checks, so they are evaluated once.
    """
    observation = Observation()
    marked = checked.frame.withColumn(_BROKEN, breaks_any(checked.checks)).observe(
        observation, F.count(F.when(F.col(_BROKEN), 1)).alias("broken")
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


def with_duplicate_check(
    checked: Checked, key: Sequence[str], newest_first: Sequence[Column], rule: str = "duplicate_key"
) -> Checked:
    """Among the rows of each key, all but the first are duplicates: rows passing the earlier
    checks come first, then newest_first, then content (so reruns agree); the reason names the
    kept row's file."""
    df, label = checked.frame, "duplicate key" if rule == "duplicate_key" else "value not unique"
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
    reason = F.concat(F.lit(f"{label} ("), key_description(key), F.lit(")"), origin)
    return checked.adding(ranked, Check(rule, F.col(rank) > 1, reason))


def with_orphan_check(
    checked: Checked, foreign_key: ForeignKey, parent: DataFrame, parent_unique: bool = False
) -> Checked:
    """Rows whose (non-null) foreign key is not among the parent's keys break the check.

    parent_unique: the parent columns are known to be unique (a validated table's key), so the
    distinct that keeps the join from repeating rows is skipped.
    """
    marker = f"_parent_found_{len(checked.checks)}"
    renamed = [F.col(p).alias(c) for c, p in zip(foreign_key.columns, foreign_key.parent_columns, strict=True)]
    parent_keys = parent.select(*renamed)
    if not parent_unique:
        parent_keys = parent_keys.distinct()
    joined = checked.frame.join(parent_keys.withColumn(marker, F.lit(True)), on=list(foreign_key.columns), how="left")
    orphan = all_present(foreign_key.columns) & F.col(marker).isNull()
    reason = F.concat(key_description(foreign_key.columns), F.lit(f" not found in {foreign_key.parent_table}"))
    return checked.adding(joined, Check(foreign_key.name, orphan, reason))
