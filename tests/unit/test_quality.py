import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from etl_lib import quality
from etl_lib.datasets.base import FAIL, AllowedValues, DateFormat, ForeignKey, NotBlank, NotNull, Range, Regex


def split(checked):
    passing, observation = quality.passing_rows(checked)
    kept = passing.collect()  # the action that fills the observation
    broken = quality.broken_rows(checked)
    assert observation.get["broken"] == broken.count()
    return passing.sparkSession.createDataFrame(kept, passing.schema), broken


def split_by_checks(df, checks):
    return split(quality.Checked.of(df, checks))


def deduplicate(df, key, newest_first, rule="duplicate_key"):
    return split(quality.with_duplicate_check(quality.Checked.of(df), key, newest_first, rule))


def check_foreign_key(df, foreign_key, parent, parent_unique=False):
    return split(quality.with_orphan_check(quality.Checked.of(df), foreign_key, parent, parent_unique))


def test_split_by_checks_keeps_every_row_and_collects_all_reasons(spark):
    df = spark.createDataFrame(
        [(1, "F", 5), (2, "X", 500), (None, "O", 1), (4, None, None)], "id int, status string, qty int"
    )
    checks = [
        quality.rule_check(NotNull("id")),
        quality.rule_check(AllowedValues("status", ("F", "O"))),
        quality.rule_check(Range("qty", minimum=0, maximum=100)),
    ]
    valid, quarantined = split_by_checks(df, checks)
    assert valid.count() + quarantined.count() == df.count()
    assert_df_equality(
        valid,
        spark.createDataFrame([(1, "F", 5), (4, None, None)], "id int, status string, qty int"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    got = {(r.id, r._rule, r._reason) for r in quarantined.collect()}
    assert got == {
        (2, "allowed_values:status", "status='X' is not one of F, O; qty='500' is outside [0, 100]"),
        (None, "not_null:id", "id is missing"),
    }


def test_not_blank_rejects_null_empty_and_whitespace(spark):
    df = spark.createDataFrame([("a",), ("",), ("   ",), (None,)], "d string")
    valid, quarantined = split_by_checks(df, [quality.rule_check(NotBlank("d"))])
    assert [r.d for r in valid.collect()] == ["a"]
    assert {r._reason for r in quarantined.collect()} == {"d is null or empty"}
    assert quarantined.count() == 3


def test_split_without_checks_keeps_everything(spark):
    df = spark.createDataFrame([(1,), (None,)], "id int")
    valid, quarantined = split_by_checks(df, [])
    assert (valid.count(), quarantined.count()) == (2, 0)


def test_deduplicate_keeps_newest_and_explains_the_rest(spark):
    df = spark.createDataFrame(
        [(1, "old", 1, "a.csv"), (1, "new", 2, "b.csv"), (2, "only", 1, "a.csv"), (1, "older", 0, "a.csv")],
        "id int, v string, version int, _source_file string",
    )
    kept, duplicates = deduplicate(df, ["id"], [F.col("version").desc()])
    assert sorted((r.id, r.v) for r in kept.collect()) == [(1, "new"), (2, "only")]
    assert {(r.v, r._rule, r._reason) for r in duplicates.collect()} == {
        ("old", "duplicate_key", "duplicate key (id='1'); kept the row from b.csv"),
        ("older", "duplicate_key", "duplicate key (id='1'); kept the row from b.csv"),
    }


def test_deduplicate_is_deterministic_for_exact_ties(spark):
    df = spark.createDataFrame([(1, "x"), (1, "y"), (1, "z")], "id int, v string")
    first = deduplicate(df, ["id"], [])[0].collect()
    again = deduplicate(df.orderBy(F.col("v").desc()).repartition(3), ["id"], [])[0].collect()
    assert first == again
    assert len(first) == 1


def test_deduplicate_ignores_run_metadata_when_breaking_ties(spark):
    runs = [(1, value, f"run-{run}") for run in range(20) for value in ("x", "y")]
    df = spark.createDataFrame(runs, "id int, v string, _run_id string")
    kept_per_run = [
        deduplicate(df.where(F.col("_run_id") == f"run-{run}"), ["id"], [])[0].collect()[0].v for run in range(20)
    ]
    assert len(set(kept_per_run)) == 1


def test_composite_key_and_null_key_part(spark):
    df = spark.createDataFrame([(1, 1), (1, 2), (1, 1), (None, 1)], "a int, b int")
    kept, duplicates = deduplicate(df, ["a", "b"], [])
    assert kept.count() == 3
    assert [r._reason for r in duplicates.collect()] == ["duplicate key (a='1', b='1')"]


def test_foreign_key_orphans_are_quarantined_and_null_keys_pass(spark):
    orders = spark.createDataFrame([(10, 1), (11, 2), (12, None)], "order_id int, customer_id int")
    customers = spark.createDataFrame([(1,), (3,)], "id int")
    fk = ForeignKey(("customer_id",), "customers", ("id",))
    valid, orphans = check_foreign_key(orders, fk, customers)
    assert_df_equality(
        valid,
        spark.createDataFrame([(10, 1), (12, None)], "order_id int, customer_id int"),
        ignore_row_order=True,
        ignore_nullable=True,
    )
    assert [(r.order_id, r._rule, r._reason) for r in orphans.collect()] == [
        (11, "foreign_key:customer_id->customers", "customer_id='2' not found in customers")
    ]


def test_unknown_rule_type_is_rejected():
    with pytest.raises(TypeError):
        quality.rule_check("not a rule")  # type: ignore[arg-type]


def test_regex_and_date_format_rules(spark):
    df = spark.createDataFrame([("25-989-741-2988", "2024-02-29"), ("phone?", "2023-02-29"), (None, None)],
                               "phone string, day string")  # fmt: skip
    checks = [quality.rule_check(Regex("phone", r"^\d{2}-\d{3}-\d{3}-\d{4}$")),
              quality.rule_check(DateFormat("day", "yyyy-MM-dd", severity=FAIL))]  # fmt: skip
    assert [c.severity for c in checks] == ["quarantine", "fail"]
    valid, quarantined = split_by_checks(df, checks)
    assert valid.count() == 2
    (row,) = quarantined.collect()
    assert (
        row._reason
        == "phone='phone?' does not match ^\\d{2}-\\d{3}-\\d{3}-\\d{4}$; day='2023-02-29' is not a date (yyyy-MM-dd)"
    )


def test_a_date_format_is_a_literal_never_sql_text(spark):
    df = spark.createDataFrame([("2024'01",), ("2024-01",), (None,)], "day string")
    injected = DateFormat("day", "yyyy''MM') IS NULL OR (true")  # SQL text if pasted into an expression
    valid, quarantined = split_by_checks(df, [quality.rule_check(injected)])
    assert [r.day for r in valid.collect()] == [None]
    assert sorted(r.day for r in quarantined.collect()) == ["2024'01", "2024-01"]


def test_unique_rule_names_itself_in_the_quarantine(spark):
    df = spark.createDataFrame([(1, "a"), (2, "a"), (3, "b")], "id int, phone string")
    kept, duplicates = deduplicate(df, ["phone"], [F.col("id")], rule="unique:phone")
    assert sorted(r.id for r in kept.collect()) == [1, 3]
    assert [(r.id, r._rule, r._reason) for r in duplicates.collect()] == [
        (2, "unique:phone", "value not unique (phone='a')")]  # fmt: skip


def test_duplicates_prefer_rows_that_pass_the_earlier_checks(spark):
    df = spark.createDataFrame([(1, -5, 2), (1, 3, 1)], "id int, qty int, version int")
    checked = quality.Checked.of(df, [quality.rule_check(Range("qty", minimum=0))])
    kept, broken = split(quality.with_duplicate_check(checked, ["id"], [F.col("version").desc()]))
    assert [(r.id, r.qty) for r in kept.collect()] == [(1, 3)]
    assert [(r.qty, r._rule, r._reason) for r in broken.collect()] == [
        (-5, "range:qty", "qty='-5' is outside [0, ]; duplicate key (id='1')")
    ]


def test_rows_breaking_several_kinds_of_check_name_the_first_and_every_reason(spark):
    orders = spark.createDataFrame([(10, 2, -1), (11, 1, 4)], "order_id int, customer_id int, qty int")
    customers = spark.createDataFrame([(1,), (1,)], "id int")
    fk = ForeignKey(("customer_id",), "customers", ("id",))
    checked = quality.Checked.of(orders, [quality.rule_check(Range("qty", minimum=0))])
    kept, broken = split(quality.with_orphan_check(checked, fk, customers))
    assert [r.order_id for r in kept.collect()] == [11]  # the repeated parent key does not repeat the row
    assert kept.columns == ["order_id", "customer_id", "qty"]
    assert [(r._rule, r._reason) for r in broken.collect()] == [
        ("range:qty", "qty='-1' is outside [0, ]; customer_id='2' not found in customers")
    ]


def test_a_unique_parent_is_joined_without_distinct(spark):
    orders = spark.createDataFrame([(10, 1), (11, 2)], "order_id int, customer_id int")
    customers = spark.createDataFrame([(1,), (3,)], "id int")
    fk = ForeignKey(("customer_id",), "customers", ("id",))

    def plan(parent_unique):
        checked = quality.with_orphan_check(quality.Checked.of(orders), fk, customers, parent_unique)
        return checked.frame._jdf.queryExecution().optimizedPlan().toString()

    assert "Aggregate" in plan(parent_unique=False)
    assert "Aggregate" not in plan(parent_unique=True)
    kept, broken = check_foreign_key(orders, fk, customers, parent_unique=True)
    assert ([r.order_id for r in kept.collect()], [r.order_id for r in broken.collect()]) == ([10], [11])
