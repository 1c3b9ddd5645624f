"""The Snowflake load's statements and secret, without a server."""

import pytest

from etl_lib import snowflake
from etl_lib.connections import SecretError, SnowflakeAccount, snowflake_from_secret
from etl_lib.warehouse import WarehouseError
from glue_etl_local.snowflake_emulator import new_private_key

SECRET = {"engine": "snowflake", "account": "xy12345.eu-west-1", "user": "ETL_LOADER", "private_key": new_private_key(),
          "warehouse": "LOAD_WH", "database": "ANALYTICS", "stage": "ANALYTICS.PUBLIC.LAKE"}  # fmt: skip


def test_snowflake_secret_needs_key_pair_fields_and_never_shows_the_key():
    account = snowflake_from_secret(SECRET, "dw/snowflake")
    assert (account.account, account.stage, account.address) == ("xy12345.eu-west-1", "ANALYTICS.PUBLIC.LAKE", {})
    assert "BEGIN" not in repr(account)
    with pytest.raises(SecretError, match=r"^secret dw/snowflake: missing field\(s\) private_key, stage for a Snow"):
        snowflake_from_secret({**SECRET, "private_key": "", "stage": None}, "dw/snowflake")
    with pytest.raises(SecretError, match="private_key must be a PEM private key") as raised:
        snowflake_from_secret({**SECRET, "private_key": "hunter2"}, "dw/snowflake")
    assert "hunter2" not in str(raised.value)
    emulator = snowflake_from_secret({**SECRET, "host": "127.0.0.1", "port": 8080, "protocol": "http"}, "x")
    assert emulator.address == {"host": "127.0.0.1", "port": 8080, "protocol": "http"}


def test_snowflake_private_key_is_handed_to_the_connector_as_der():
    der = snowflake._private_key(snowflake_from_secret(SECRET, "dw"))
    assert der[:2] == b"\x30\x82"  # an ASN.1 sequence: PKCS#8 DER


def test_snowflake_statements():
    columns = (("sales_order_id", "int"), ("unit_price", "decimal(10,2)"), ("order_year", "int"))
    assert snowflake.create_table_sql("DB.S.FACT", columns) == (
        "CREATE TABLE IF NOT EXISTS DB.S.FACT (SALES_ORDER_ID INTEGER, UNIT_PRICE NUMBER(10,2), ORDER_YEAR INTEGER)"
    )
    assert snowflake.copy_sql(
        "DB.S.STG", "DB.PUBLIC.LAKE", "gold/r/fact/version=r1/order_year=2024", ["a.parquet"]
    ) == (
        "COPY INTO DB.S.STG FROM @DB.PUBLIC.LAKE/gold/r/fact/version=r1/order_year=2024/ FILES = ('a.parquet') "
        "FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE FORCE = TRUE"
    )
    types = dict(columns) | {"region": "string"}
    assert snowflake.partition_sql("STG", (("order_year", "2024"), ("region", "o'hare")), types) == [
        "UPDATE STG SET ORDER_YEAR = 2024 WHERE ORDER_YEAR IS NULL",
        "UPDATE STG SET REGION = 'o''hare' WHERE REGION IS NULL",
    ]
    assert snowflake.partition_sql("STG", (("order_year", snowflake.NULL_PARTITION),), types) == []
    assert snowflake.upsert_sql("T", "S", ["id", "v"], ["id"]) == [
        "DELETE FROM T WHERE NOT EXISTS (SELECT 1 FROM S WHERE T.ID = S.ID)",
        "DELETE FROM T USING S WHERE T.ID = S.ID",
        "INSERT INTO T (ID, V) SELECT ID, V FROM S",
    ]
    assert (
        snowflake.staging_table("fact", "r1")
        == snowflake.staging_table("fact", "r1")
        != snowflake.staging_table("fact", "r2")
    )


@pytest.mark.parametrize("name", ["a b", "x;drop", 'q"', "1abc", ""])
def test_snowflake_identifiers_are_refused_rather_than_quoted(name):
    with pytest.raises(WarehouseError, match="is not a plain identifier"):
        snowflake.identifier(name)


def test_snowflake_unknown_types_and_odd_file_names_are_refused():
    with pytest.raises(WarehouseError, match="Spark type map<string,int> has no Snowflake column type"):
        snowflake.column_type("map<string,int>")
    with pytest.raises(WarehouseError, match="unexpected stage"):
        snowflake.copy_sql("S", "DB.PUBLIC.LAKE", "gold/x", ["it's.parquet"])
    assert isinstance(snowflake_from_secret(SECRET, "x"), SnowflakeAccount)


def test_snowflake_connector_shipped_to_glue_is_the_pinned_one():
    import tomllib

    from glue_etl_local import packaging

    pins = tomllib.loads((packaging.PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert packaging.SNOWFLAKE_CONNECTOR in pins


def test_gold_columns_the_target_lacks_are_added_with_snowflake_types():
    columns = [("currency_id", "int"), ("rate", "decimal(12,4)"), ("source_system", "string")]
    assert snowflake.added_columns_sql("DB.RETAIL_DW.DIM_CURRENCY", columns, ["CURRENCY_ID", "RATE"]) == [
        "ALTER TABLE DB.RETAIL_DW.DIM_CURRENCY ADD COLUMN SOURCE_SYSTEM VARCHAR"
    ]
    assert (
        snowflake.added_columns_sql("DB.RETAIL_DW.DIM_CURRENCY", columns, ["CURRENCY_ID", "RATE", "SOURCE_SYSTEM"])
        == []
    )
