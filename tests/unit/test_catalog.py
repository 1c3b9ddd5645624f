import boto3
import pytest
from moto import mock_aws

from etl_lib.catalog import FileCatalog, GlueCatalog, GoldTableVersion, Partition, projection_parameters


def fact(version, partitions):
    location = f"s3://lake/gold/tpch/fact_sales/version={version}"
    return GoldTableVersion(
        name="fact_sales",
        version=version,
        location=location,
        columns=(("order_key", "bigint"), ("net_revenue", "decimal(18,2)")),
        partition_keys=(("order_year", "int"), ("order_month", "int")),
        partitions=tuple(Partition((y, m), f"{location}/order_year={y}/order_month={m}") for y, m in partitions),
        rows=10,
    )


def test_projection_follows_the_table_location():
    params = projection_parameters(fact("v2", [("1992", "1"), ("1998", "12")]))
    assert params["projection.order_year.range"] == "1992,1998"
    assert params["projection.order_month.range"] == "1,12"
    assert params["storage.location.template"] == (
        "s3://lake/gold/tpch/fact_sales/version=v2/order_year=${order_year}/order_month=${order_month}"
    )


def test_projection_of_text_partitions_is_an_enum():
    partitions = (Partition(("EU",), "s3://x/region=EU"), Partition(("US",), "s3://x/region=US"))
    table = GoldTableVersion("t", "v", "s3://x", (("a", "int"),), (("region", "string"),), partitions)
    assert projection_parameters(table)["projection.region.values"] == "EU,US"
    assert projection_parameters(GoldTableVersion("t", "v", "s3://x", (("a", "int"),))) == {}


@pytest.fixture
def glue():
    with mock_aws():
        client = boto3.client("glue", region_name="eu-west-1")
        client.create_database(DatabaseInput={"Name": "gold"})
        yield client


def test_glue_publish_creates_then_moves_table_and_partitions(glue):
    catalog = GlueCatalog("gold", client=glue)
    catalog.publish("tpch", [fact("v1", [("1992", "1"), ("1992", "2")])])
    assert catalog.current_versions("tpch") == {"fact_sales": "v1"}

    catalog.publish("tpch", [fact("v2", [("1992", "2"), ("1993", "1")])])
    table = glue.get_table(DatabaseName="gold", Name="fact_sales")["Table"]
    assert table["StorageDescriptor"]["Location"].endswith("version=v2")
    assert [c["Name"] for c in table["PartitionKeys"]] == ["order_year", "order_month"]
    partitions = glue.get_partitions(DatabaseName="gold", TableName="fact_sales")["Partitions"]
    locations = {tuple(p["Values"]): p["StorageDescriptor"]["Location"] for p in partitions}
    assert set(locations) == {("1992", "2"), ("1993", "1")}  # the stale 1992-1 partition is gone
    assert all("version=v2" in location for location in locations.values())
    assert catalog.current_versions("tpch") == {"fact_sales": "v2"}


def test_file_catalog_switches_all_tables_in_one_write():
    store: dict[str, str] = {}
    writes = []

    def write(path, text):
        writes.append(path)
        store[path] = text

    catalog = FileCatalog(store.get, write, "/lake/_catalog/tpch.json")
    dim = GoldTableVersion("dim_part", "v1", "/lake/gold/dim_part/version=v1", (("part_key", "bigint"),))
    catalog.publish("tpch", [dim, fact("v1", [("1992", "1")])])
    assert catalog.current_versions("tpch") == {"dim_part": "v1", "fact_sales": "v1"}
    assert writes == ["/lake/_catalog/tpch.json"]
