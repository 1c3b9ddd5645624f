from datetime import UTC, datetime

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from etl_lib.rules import row_checks, rulesets
from etl_lib.rules.parser import parse_ruleset
from etl_lib.steps import transform

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ID = 'IsPrimaryKey "id"'


def rule(text):
    (parsed,) = parse_ruleset(f"Rules = [ {text} ]").rules
    return parsed


def split(checked):
    passing, observation = row_checks.passing_rows(checked)
    kept = passing.collect()  # the action that fills the observation
    broken = row_checks.broken_rows(checked)
    assert observation.get["broken"] == broken.count()
    return passing.sparkSession.createDataFrame(kept, passing.schema), broken


def split_by_rules(df, *texts):
    return split(row_checks.Checked.of(df, [row_checks.row_check(rule(text), NOW) for text in texts]))


def passing_ids(df, text):
    return sorted(r.id for r in split_by_rules(df, text)[0].collect())


def deduplicate(df, key, newest_first, name=ID):
    return split(row_checks.with_duplicate_check(row_checks.Checked.of(df), key, newest_first, name))


def test_split_keeps_every_row_names_the_first_rule_and_every_reason(spark):
    df = spark.createDataFrame(
        [(1, "F", 5), (2, "X", 500), (None, "O", 1), (4, None, None)], "id int, status string, qty int"
    )
    valid, quarantined = split_by_rules(
        df, 'IsComplete "id"', 'ColumnValues "status" in ["F","O",NULL]',
        '((ColumnValues "qty" >= 0) and (ColumnValues "qty" <= 100)) or (ColumnValues "qty" = NULL)',
    )  # fmt: skip
    assert valid.count() + quarantined.count() == df.count()
    assert_df_equality(
        valid,
        spark.createDataFrame([(1, "F", 5), (4, None, None)], "id int, status string, qty int"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    got = {(r.id, r._rule, r._reason) for r in quarantined.collect()}
    assert got == {
        (2, 'ColumnValues "status" in ["F","O",NULL]', "ColumnValues \"status\" in [\"F\",\"O\",NULL]: status='X'; "
         '((ColumnValues "qty" >= 0) and (ColumnValues "qty" <= 100)) or (ColumnValues "qty" = NULL): qty=\'500\''),
        (None, 'IsComplete "id"', 'IsComplete "id": id=NULL'),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "passing"),
    [
        ('IsComplete "v"', [1, 2, 3, 4]),
        ('ColumnValues "v" in ["a", "b"]', [1, 2]),  # NULL breaks `in` unless listed
        ('ColumnValues "v" in ["a", NULL]', [1, 5]),
        ('ColumnValues "v" not in ["a"]', [2, 3, 4, 5]),  # NULL passes `not in`
        ('ColumnValues "v" not in ["a", NULL]', [2, 3, 4]),
        ('ColumnValues "v" = "b"', [2]),
        ('ColumnValues "v" != "b"', [1, 3, 4, 5]),  # and `!=`
        ('ColumnValues "v" = EMPTY', [3]),
        ('ColumnValues "v" = WHITESPACES_ONLY', [4]),
        ('ColumnValues "v" not in [NULL, EMPTY, WHITESPACES_ONLY]', [1, 2]),
        ('ColumnValues "v" matches "[a-b]"', [1, 2]),  # the whole value must match
        ('ColumnValues "v" not matches "a"', [2, 3, 4]),
        ('ColumnValues "n" > 1', [3, 4]),
        ('ColumnValues "n" between 1 and 4', [3]),  # bounds excluded
        ('ColumnValues "n" not between 1 and 3', [1, 3, 4, 5]),  # NULL breaks it
        ('ColumnValues "n" in [1, 3]', [1, 3]),
        ('(ColumnValues "n" >= 3) or (ColumnValues "n" = NULL)', [2, 3, 4]),
        ('ColumnLength "v" = 1', [1, 2]),
        ('ColumnLength "v" >= 0', [1, 2, 3, 4]),  # NULL has no length
        ('ColumnValues "n" >= 3 where "v = \'a\'"', [2, 3, 4, 5]),  # rows outside the where clause pass
        ('ColumnValues "d" > (now() - 2 days)', [2]),
        ('ColumnValues "d" <= now()', [1, 2]),
        ('ColumnValues "d" > "2026-01-01"', [2]),
        ('DataFreshness "d" <= 24 hours', [2]),
        ('DataFreshness "d" > 30 days', [1]),
    ],
)  # fmt: skip
def test_dqdl_row_rules_with_glue_null_semantics(spark, text, passing):
    rows = [
        (1, "a", 1, datetime(2025, 1, 1, tzinfo=UTC)),
        (2, "b", None, datetime(2026, 11, 22, 6, tzinfo=UTC)),
        (3, "", 3, None),
        (4, "  ", 4, None),
        (5, None, 0, None),
    ]
    df = spark.createDataFrame(rows, "id int, v string, n int, d timestamp")
    assert passing_ids(df, text) == passing


def test_split_without_checks_keeps_everything(spark):
    df = spark.createDataFrame([(1,), (None,)], "id int")
    valid, quarantined = split_by_rules(df)
    assert (valid.count(), quarantined.count()) == (2, 0)


def test_deduplicate_keeps_newest_and_explains_the_rest(spark):
    df = spark.createDataFrame(
        [(1, "old", 1, "a.csv"), (1, "new", 2, "b.csv"), (2, "only", 1, "a.csv"), (1, "older", 0, "a.csv"),
         (None, "no key", 1, "a.csv")],
        "id int, v string, version int, _source_file string",
    )  # fmt: skip
    kept, duplicates = deduplicate(df, ["id"], [F.col("version").desc()])
    assert sorted((r.id or 0, r.v) for r in kept.collect()) == [(0, "no key"), (1, "new"), (2, "only")]
    assert {(r.v, r._rule, r._reason) for r in duplicates.collect()} == {
        ("old", ID, f"{ID}: duplicate (id='1'); kept the row from b.csv"),
        ("older", ID, f"{ID}: duplicate (id='1'); kept the row from b.csv"),
    }


def test_key_completeness_names_the_null_key_part(spark):
    df = spark.createDataFrame([(1, 1), (None, 2), (3, None)], "a int, b int")
    key = rulesets._checked(rule('IsPrimaryKey "a" "b"'))
    kept, broken = split(row_checks.Checked.of(df, [row_checks.key_completeness_check(key)]))
    assert [r.a for r in kept.collect()] == [1]
    assert sorted(r._reason for r in broken.collect()) == [
        "IsPrimaryKey \"a\" \"b\": a='3', b=NULL", "IsPrimaryKey \"a\" \"b\": a=NULL, b='2'"]  # fmt: skip


def test_deduplicate_is_deterministic_for_exact_ties(spark):
    df = spark.createDataFrame([(1, "x"), (1, "y"), (1, "z"), (None, None)], "id int, v string")
    first = deduplicate(df, ["id"], [])[0].collect()
    again = deduplicate(df.orderBy(F.col("v").desc()).repartition(3), ["id"], [])[0].collect()
    assert sorted(first, key=str) == sorted(again, key=str)
    assert len(first) == 2


def test_deduplicate_ignores_run_metadata_when_breaking_ties(spark):
    runs = [(1, value, f"run-{run}") for run in range(20) for value in ("x", "y")]
    df = spark.createDataFrame(runs, "id int, v string, _run_id string")
    # Each run's tie, broken in one query: the run is part of the key, so every run has its own pair.
    kept = deduplicate(df, ["id", "_run_id"], [])[0].collect()
    assert len(kept) == 20
    assert len({row.v for row in kept}) == 1


def test_composite_key_rows_with_a_null_part_are_never_duplicates(spark):
    df = spark.createDataFrame([(1, 1), (1, 2), (1, 1), (None, 1), (None, 1)], "a int, b int")
    kept, duplicates = deduplicate(df, ["a", "b"], [], 'IsPrimaryKey "a" "b"')
    assert kept.count() == 4
    assert [r._reason for r in duplicates.collect()] == ["IsPrimaryKey \"a\" \"b\": duplicate (a='1', b='1')"]


def reference(text='ReferentialIntegrity "customer_id" "customers.id" = 1.0'):
    return rulesets.reference(rule(text))


def test_foreign_key_orphans_are_quarantined_and_null_keys_pass(spark):
    orders = spark.createDataFrame([(10, 1), (11, 2), (12, None)], "order_id int, customer_id int")
    customers = spark.createDataFrame([(1,), (3,), (None,)], "id int")
    valid, orphans = split(row_checks.with_orphan_check(row_checks.Checked.of(orders), reference(), customers))
    assert_df_equality(
        valid,
        spark.createDataFrame([(10, 1), (12, None)], "order_id int, customer_id int"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    text = 'ReferentialIntegrity "customer_id" "customers.id" = 1.0'
    assert [(r.order_id, r._rule, r._reason) for r in orphans.collect()] == [
        (11, text, f"{text}: customer_id='2' not found in customers")
    ]


def test_multi_column_reference(spark):
    lines = spark.createDataFrame([(1, 1), (1, 2), (None, 2)], "o int, l int")
    parent = spark.createDataFrame([(1, 1), (2, 2)], "po int, pl int")
    fk = reference('ReferentialIntegrity "o,l" "parent.{po,pl}" = 1.0')
    assert (fk.columns, fk.parent_table, fk.parent_columns) == (("o", "l"), "parent", ("po", "pl"))
    valid, orphans = split(row_checks.with_orphan_check(row_checks.Checked.of(lines), fk, parent))
    assert sorted((r.o or 0, r.l) for r in valid.collect()) == [(0, 2), (1, 1)]
    assert [(r.o, r.l) for r in orphans.collect()] == [(1, 2)]


def test_a_where_clause_is_sql_and_regular_expressions_are_literals(spark):
    df = spark.createDataFrame([(1, "25-989-741-2988"), (2, "phone?"), (3, None)], "id int, phone string")
    text = r'(ColumnValues "phone" matches "\d{2}-\d{3}-\d{3}-\d{4}") or (ColumnValues "phone" = NULL)'
    assert passing_ids(df, text) == [1, 3]
    assert passing_ids(df, 'ColumnValues "phone" matches "x\') OR (true"') == []  # never pasted into SQL


def test_duplicates_prefer_rows_that_pass_the_earlier_checks(spark):
    df = spark.createDataFrame([(1, -5, 2), (1, 3, 1), (None, None, 1)], "id int, qty int, version int")
    checked = row_checks.Checked.of(df, [row_checks.row_check(rule('ColumnValues "qty" >= 0'), NOW)])
    kept, broken = split(row_checks.with_duplicate_check(checked, ["id"], [F.col("version").desc()], ID))
    assert [(r.id, r.qty) for r in kept.collect()] == [(1, 3)]
    assert sorted((r.qty or 0, r._rule, r._reason) for r in broken.collect()) == [
        (-5, 'ColumnValues "qty" >= 0', f"ColumnValues \"qty\" >= 0: qty='-5'; {ID}: duplicate (id='1')"),
        (0, 'ColumnValues "qty" >= 0', "ColumnValues \"qty\" >= 0: qty=NULL"),
    ]  # fmt: skip


def test_a_unique_parent_is_joined_without_distinct(spark):
    orders = spark.createDataFrame([(10, 1), (11, 2), (12, None)], "order_id int, customer_id int")
    customers = spark.createDataFrame([(1,), (3,)], "id int")

    def plan(parent_unique):
        checked = row_checks.with_orphan_check(row_checks.Checked.of(orders), reference(), customers, parent_unique)
        return checked.frame._jdf.queryExecution().optimizedPlan().toString()

    assert "Aggregate" in plan(parent_unique=False)
    assert "Aggregate" not in plan(parent_unique=True)


def test_file_names_sort_newest_first_with_their_numbers_read_as_numbers(spark):
    long_number = "r_" + "9" * 25 + ".csv"
    names = [  # shuffled
        "2024/11/9/r.csv",
        "r_10.csv",
        "r_9.csv",
        "r_010b.csv",
        "2024/11/10/r.csv",
        "r_2.csv",
        "r.csv",
        long_number,
    ]
    df = spark.createDataFrame([(f"s3://b/l/{name}",) for name in names], "_source_file string")
    ordered = [row._source_file for row in df.orderBy(transform.newest_first_column("_source_file")).collect()]
    newest_first = [long_number, "r_010b.csv", "r_10.csv", "r_9.csv", "r_2.csv", "r.csv",
                    "2024/11/10/r.csv", "2024/11/9/r.csv"]  # fmt: skip
    assert ordered == [f"s3://b/l/{name}" for name in newest_first]


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([], (0, False)),
        ([(1, "a"), (2, "a"), (1, "b")], (3, False)),
        ([(1, "a"), (2, "a"), (1, "a")], (3, True)),
        ([(None, "a"), (None, "a"), (1, "a")], (3, True)),  # NULL keys group: the duplicate check then spares them
    ],
)
def test_rows_and_repeats_counts_every_row_and_sees_a_repeated_key(spark, rows, expected):
    frame = spark.createDataFrame(rows, "id int, part string")
    assert row_checks.rows_and_repeats(frame, ["id", "part"]) == expected


@pytest.mark.parametrize(
    ("text", "passing"),
    [
        ('ColumnValues "code" > 5', [1]),
        ('ColumnValues "code" between 3 and 20', [1, 4]),
        ('ColumnValues "code" in [12, "AFRICA"]', [1, 2]),
        ('ColumnValues "code" != 12', [2, 3, 4]),
    ],
)
def test_a_string_column_compared_with_numbers_breaks_the_rule_where_a_value_is_no_number(spark, text, passing):
    """Not the job: under ANSI mode (Spark 4) comparing 'AFRICA' with 5 is a cast error."""
    df = spark.createDataFrame([(1, "12"), (2, "AFRICA"), (3, None), (4, "3.5")], "id int, code string")
    checks = [row_checks.row_check(rule(text), NOW, row_checks.string_columns(df))]
    assert sorted(r.id for r in split(row_checks.Checked.of(df, checks))[0].collect()) == passing
