"""A medical-consultation CSV feed (French column names), modelled for monthly reporting."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import Column as SparkColumn
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from etl_lib.datasets.base import (
    Column,
    Dataset,
    GoldTable,
    Table,
)

AGE_GROUPS = (("enfant", 0, 11), ("adolescent", 12, 17), ("adulte", 18, 64), ("senior", 65, None))


def age_group(age: str) -> SparkColumn:
    """enfant < 12, adolescent 12-17, adulte 18-64, senior >= 65; NULL when the age is unknown."""
    value = F.col(age)
    bucket = F.when(value < 12, "enfant").when(value < 18, "adolescent").when(value < 65, "adulte")
    return F.when(value.isNull(), F.lit(None).cast("string")).otherwise(bucket.otherwise("senior"))


def with_calendar_and_age_group(df: DataFrame) -> DataFrame:
    return df.withColumns(
        {
            "year": F.year("date_consultation"),
            "month": F.month("date_consultation"),
            "age_group": age_group("patient_age"),
        }
    )


CONSULTATIONS = Table(
    name="consultations",
    file_pattern="consultations*.csv",
    key=("consultation_id",),
    multiline=True,
    columns=(
        Column("id_consultation", "bigint"),
        Column("date_consultation", "date"),
        Column("id_centre", "string"),
        Column("id_patient", "string"),
        Column("patient_age", "int"),
        Column("sexe", "string", optional_in_source=True),
        Column("specialite", "string"),
        Column("diagnostic", "string"),
        Column("duree_minutes", "int"),
        Column("montant", "decimal(10,2)"),
    ),
    renames={"id_consultation": "consultation_id", "id_centre": "centre_id", "sexe": "gender"},
    derive=with_calendar_and_age_group,
)


def build_monthly_activity(consultations: DataFrame) -> DataFrame:
    return consultations.groupBy("centre_id", "year", "month", "age_group").agg(
        F.count("*").alias("consultations"),
        F.countDistinct("id_patient").alias("patients"),
        F.sum("montant").alias("total_amount"),
        F.avg("duree_minutes").cast("decimal(10,2)").alias("average_minutes"),
    )


def build_gold(silver: Mapping[str, DataFrame]) -> dict[str, DataFrame]:
    consultations = silver["consultations"]
    return {
        "fact_consultation": consultations.drop("_source_file", "_ingested_at", "_run_id"),
        "agg_monthly_activity": build_monthly_activity(consultations),
    }


DATASET = Dataset(
    name="consultations",
    tables=(CONSULTATIONS,),
    gold_tables=(
        GoldTable("fact_consultation", partition_by=("year", "month"), rows_from="consultations"),
        GoldTable("agg_monthly_activity", partition_by=("year",)),
    ),
    build_gold=build_gold,
)
