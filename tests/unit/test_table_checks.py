"""Rules judged on the whole table: Glue Data Quality's outcome shape, on a table with NULLs."""

from datetime import UTC, datetime

import pytest

from etl_lib.rules import rulesets, table_checks
from etl_lib.rules.model import FAILED, PASSED, RulesetError
from etl_lib.rules.parser import parse_ruleset

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BOTH = {"Dataset.*.RowCount": 5.0, "Column.v.Completeness": 0.8}


def rule(text):
    (parsed,) = parse_ruleset(f"Rules = [ {text} ]", "t.dqdl").rules
    return rulesets._checked(parsed)


@pytest.fixture(scope="module")
def table(spark):
    rows = [(1, "a", 10, 1), (2, "b", 20, 1), (3, "b", None, 2), (4, None, 30, 9), (5, "c", 40, None)]
    return spark.createDataFrame(rows, "id int, v string, n int, customer int")


@pytest.fixture(scope="module")
def parents(spark):
    return {"customers": spark.createDataFrame([(1,), (2,), (None,)], "id int")}


@pytest.mark.parametrize(
    ("text", "outcome", "metrics"),
    [
        ("RowCount = 5", PASSED, {"Dataset.*.RowCount": 5.0}),
        ("RowCount between 5 and 10", FAILED, {"Dataset.*.RowCount": 5.0}),  # bounds excluded
        ("RowCount > 2 where \"n > 15\"", PASSED, {"Dataset.*.RowCount": 3.0}),
        ('Completeness "n" >= 0.8', PASSED, {"Column.n.Completeness": 0.8}),
        ('Completeness "v" > 0.8', FAILED, {"Column.v.Completeness": 0.8}),
        ('Uniqueness "v" > 0.5', FAILED, {"Column.v.Uniqueness": 0.5}),  # a, c once; b twice: 2 of 4 rows
        ('UniqueValueRatio "v" > 0.6', PASSED, {"Column.v.UniqueValueRatio": 2 / 3}),
        ('DistinctValuesCount "v" = 3', PASSED, {"Column.v.DistinctValuesCount": 3.0}),
        ('Mean "n" = 25', PASSED, {"Column.n.Mean": 25.0}),
        ('Sum "n" < 100', FAILED, {"Column.n.Sum": 100.0}),
        ('ColumnValues "v" in ["a","b"] with threshold >= 0.6', PASSED, {"Column.v.ColumnValues.Compliance": 0.6}),
        ('ColumnValues "v" in ["a","b"] with threshold > 0.6', FAILED, {"Column.v.ColumnValues.Compliance": 0.6}),
        ('ColumnValues "n" >= 20 where "v = \'b\'" with threshold >= 0.5', PASSED,
         {"Column.n.ColumnValues.Compliance": 0.5}),  # of the two b rows, the NULL breaks it
        ('IsComplete "v" with threshold >= 0.8', PASSED, {"Column.v.IsComplete.Compliance": 0.8}),
        ('IsUnique "v" with threshold > 0.9', FAILED, {"Column.v.Uniqueness": 0.5}),
        ('IsPrimaryKey "id"', PASSED, {"Column.id.Uniqueness": 1.0}),
        ('ReferentialIntegrity "customer" "customers.id" >= 0.75', PASSED,
         {"Column.customer.ReferentialIntegrity": 0.75}),  # 1, 1, 2 found, 9 not; the NULL is not judged
        ('CustomSql "select count(*) from primary where n is null" = 1', PASSED, {"Dataset.*.CustomSQL": 1.0}),
        ("ColumnCount = 4", PASSED, {"Dataset.*.ColumnCount": 4.0}),
        ('ColumnExists "n"', PASSED, {}),
        ('ColumnExists "missing"', FAILED, {}),
        ('ColumnDataType "n" = "INTEGER"', PASSED, {}),
        ('ColumnDataType "v" in ["INTEGER","LONG"]', FAILED, {}),
        ('(RowCount > 4) and (Completeness "v" = 1.0)', FAILED, BOTH),
        ('(RowCount > 4) or (Completeness "v" = 1.0)', PASSED, BOTH),
    ],
)  # fmt: skip
def test_outcomes_and_evaluated_metrics(table, parents, text, outcome, metrics):
    result = table_checks.evaluate(rule(text), table, parents, NOW)
    assert (result.rule, result.outcome) == (text, outcome)
    if metrics is not None:
        assert result.evaluated_metrics == pytest.approx(metrics)
    assert bool(result.failure_reason) == (outcome == FAILED)


def test_a_failure_reason_says_what_the_value_was(table, parents):
    result = table_checks.evaluate(rule('ColumnValues "v" in ["a"] with threshold > 0.5'), table, parents, NOW)
    assert result.failure_reason == (
        "4 of 5 rows break the rule; Value: 0.2 does not meet the constraint requirement (> 0.5)"
    )


def test_custom_sql_errors_are_one_line_naming_the_rule(table, parents):
    with pytest.raises(RulesetError, match=r'^t.dqdl:1:11: CustomSql "select nope from primary" > 0: the SQL failed'):
        table_checks.evaluate(rule('CustomSql "select nope from primary" > 0'), table, parents, NOW)
    with pytest.raises(RulesetError, match="the SQL must return one number"):
        table_checks.evaluate(rule("CustomSql \"select 'x' from primary\" > 0"), table, parents, NOW)


def test_a_known_row_count_is_used_instead_of_counting_again(table, parents):
    assert table_checks.evaluate(rule("RowCount > 6"), table, parents, NOW, rows=7).outcome == PASSED
    counted = table_checks.evaluate(rule('RowCount > 6 where "n > 0"'), table, parents, NOW, rows=7)
    assert counted.evaluated_metrics == {"Dataset.*.RowCount": 4.0}  # a where clause needs its own count


@pytest.mark.parametrize(
    ("text", "outcome", "metrics"),
    [
        ('Mean "code" = 20', PASSED, {"Column.code.Mean": 20.0}),  # 'x' is no number: left out, as NULL is
        ('Sum "code" = 40', PASSED, {"Column.code.Sum": 40.0}),
        ('ColumnValues "code" > 5 with threshold >= 0.5', PASSED, {"Column.code.ColumnValues.Compliance": 0.5}),
        ('DataFreshness "code" <= 24 hours with threshold > 0', FAILED, {"Column.code.DataFreshness.Compliance": 0.0}),
    ],
)
def test_numbers_and_times_in_a_string_column_are_judged_not_a_cast_error(spark, parents, text, outcome, metrics):
    """Under ANSI mode (Spark 4) averaging or comparing 'x' as a number is an error that fails the run."""
    codes = spark.createDataFrame([(1, "10"), (2, "x"), (3, "30"), (4, None)], "id int, code string")
    result = table_checks.evaluate(rule(text), codes, parents, NOW)
    assert (result.outcome, result.evaluated_metrics) == (outcome, pytest.approx(metrics))
