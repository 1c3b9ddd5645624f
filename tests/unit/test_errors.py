"""The failure line (Glue's ErrorMessage, the email, the SMS) names what failed and never a row's values."""

from __future__ import annotations

import pytest

from etl_lib.errors import failure_line


def failure_of(action) -> BaseException:
    try:
        action()
    except Exception as error:  # noqa: BLE001 - whatever Spark raises is what the line is made from
        return error
    pytest.fail("the action did not fail")


def test_a_file_gone_from_under_a_read_is_named_by_its_path(spark, tmp_path):
    spark.range(5).coalesce(1).write.parquet(str(tmp_path / "table"))
    frame = spark.read.parquet(str(tmp_path / "table"))
    (part,) = (tmp_path / "table").glob("part-*.parquet")
    part.unlink()  # what another run's overwrite does to a reader
    line = failure_line(failure_of(frame.collect))
    assert "FileNotFoundException" in line
    assert part.name in line
    assert "An error occurred while calling" not in line


def test_spark_errors_that_quote_values_keep_only_their_class(spark):
    spark.conf.set("spark.sql.ansi.enabled", "true")
    try:
        cast = failure_line(failure_of(lambda: spark.sql("SELECT CAST('secret-value' AS INT)").collect()))
    finally:
        spark.conf.unset("spark.sql.ansi.enabled")
    raised = failure_line(failure_of(lambda: spark.sql("SELECT raise_error('secret-value')").collect()))
    assert "CAST_INVALID_INPUT" in cast
    for line in (cast, raised):
        assert "secret-value" not in line
        assert "log has the details" in line


def test_analysis_and_python_errors_keep_their_message(spark, tmp_path):
    missing = failure_line(failure_of(lambda: spark.read.parquet(str(tmp_path / "nothing")).collect()))
    assert missing.startswith("AnalysisException: [PATH_NOT_FOUND]")
    assert "nothing" in missing
    assert failure_line(ValueError("orders.csv: missing required column(s) o_orderkey\nmore")) == (
        "ValueError: orders.csv: missing required column(s) o_orderkey"
    )


def test_raw_typed_under_an_earlier_declaration_is_named_by_file_column_and_types(spark, tmp_path):
    spark.range(3).selectExpr("cast(id as int) as montant").write.parquet(str(tmp_path / "raw"))
    frame = spark.read.schema("montant decimal(12,3)").parquet(str(tmp_path / "raw"))
    line = failure_line(failure_of(frame.collect))
    assert "montant" in line
    assert "decimal(12,3)" in line
    assert ".parquet" in line
    assert "log has the details" not in line


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("cast(big AS int) AS units", "a value too large for int (its int columns: units, other) [CAST_OVERFLOW]"),
        ("cast(big * 1000 AS decimal(12,2)) AS amount", "a decimal too large for decimal(12,2) (its decimal(12,2) "
                                                        "columns: amount) "
                                                        "[NUMERIC_VALUE_OUT_OF_RANGE]"),
        ("big * big * big AS cube", "an arithmetic overflow [ARITHMETIC_OVERFLOW]"),
        ("big / zero AS ratio", "a division by zero [DIVIDE_BY_ZERO]"),
    ],
)  # fmt: skip
def test_a_value_a_model_cannot_compute_is_named_by_table_and_column_never_by_value(spark, expression, expected):
    from etl_lib.runtime import MODEL_SETTINGS, session_settings
    from etl_lib.steps.transform import ModelError, model_failures_named

    with session_settings(spark, MODEL_SETTINGS):
        rows = spark.createDataFrame([(987654321987, 0)], "big bigint, zero int")
        frame = rows.selectExpr(expression, "cast(zero AS int) AS other")
        with pytest.raises(ModelError) as failed, model_failures_named("gold table facts", frame.schema):
            frame.write.format("noop").mode("overwrite").save()
    assert str(failed.value).startswith(f"gold table facts: the model computed {expected} for at least one row; ")
    assert "987654321987" not in str(failed.value)


def test_other_failures_pass_through_as_they_were(spark):
    from etl_lib.steps.transform import model_failures_named

    with pytest.raises(ValueError, match="not a model error"), model_failures_named("gold table facts"):
        raise ValueError("not a model error")
