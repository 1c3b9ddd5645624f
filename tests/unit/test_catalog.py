import boto3
import pytest
from moto import mock_aws

from etl_lib.catalog import (
    CatalogPublishError,
    FileCatalog,
    GlueCatalog,
    GoldTableVersion,
    Partition,
    projection_parameters,
)


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


class FailingPartitions:
    """The Glue client, except that one batch partition call reports Errors (as Glue does)."""

    def __init__(self, client, action, table):
        self.client, self.action, self.table = client, action, table

    def __getattr__(self, name):
        method = getattr(self.client, name)
        if name != self.action:
            return method

        def failing(**kwargs):
            response = method(**kwargs)
            if kwargs["TableName"] == self.table:
                error = {"ErrorCode": "InternalServiceException", "ErrorMessage": "try again"}
                response["Errors"] = [{"PartitionValues": ["1993", "1"], "ErrorDetail": error}]
            return response

        return failing


def dim(version):
    return GoldTableVersion("dim_part", version, f"s3://lake/gold/tpch/dim_part/version={version}", (("k", "int"),))


def test_partition_errors_fail_the_publish_and_name_what_switched(glue):
    GlueCatalog("gold", client=glue).publish("tpch", [dim("v1"), fact("v1", [("1992", "1")])])
    failing = GlueCatalog("gold", client=FailingPartitions(glue, "batch_create_partition", "fact_sales"))
    with pytest.raises(CatalogPublishError) as raised:
        failing.publish("tpch", [dim("v2"), fact("v2", [("1992", "1"), ("1993", "1")])])
    message = str(raised.value)
    assert "stopped at fact_sales: switched: dim_part; not switched: fact_sales" in message
    assert "BatchCreatePartition on gold.fact_sales failed for 1 partition(s), first ['1993', '1']" in message
    assert GlueCatalog("gold", client=glue).current_versions("tpch") == {"dim_part": "v2", "fact_sales": "v1"}
    # Publishing the same version again completes it.
    GlueCatalog("gold", client=glue).publish("tpch", [dim("v2"), fact("v2", [("1992", "1"), ("1993", "1")])])
    assert GlueCatalog("gold", client=glue).current_versions("tpch") == {"dim_part": "v2", "fact_sales": "v2"}


@pytest.mark.parametrize("action", ["batch_update_partition", "batch_delete_partition"])
def test_errors_of_every_batch_partition_call_fail_the_publish(glue, action):
    GlueCatalog("gold", client=glue).publish("tpch", [fact("v1", [("1992", "1"), ("1992", "2")])])
    failing = GlueCatalog("gold", client=FailingPartitions(glue, action, "fact_sales"))
    with pytest.raises(CatalogPublishError, match="failed for 1 partition"):
        failing.publish("tpch", [fact("v2", [("1992", "2"), ("1993", "1")])])


def test_datasets_never_take_over_each_others_tables(glue):
    GlueCatalog("gold", client=glue).publish("retail", [dim("r1")])
    with pytest.raises(CatalogPublishError, match=r"gold\.dim_part belongs to dataset retail, not tpch"):
        GlueCatalog("gold", client=glue).publish("tpch", [dim("t1")])
    assert GlueCatalog("gold", client=glue).current_versions("tpch") == {}
    GlueCatalog("gold_tpch", client=glue).publish("tpch", [dim("t1")])  # its own database, created on first use
    assert GlueCatalog("gold_tpch", client=glue).current_versions("tpch") == {"dim_part": "t1"}
    assert GlueCatalog("gold", client=glue).current_versions("retail") == {"dim_part": "r1"}


def test_clean_up_keeps_versions_written_after_the_one_published():
    from etl_lib.steps.load import versions_to_keep

    manifests = [{"version": v, "created_at": f"2026-01-0{i}T00:00:00"} for i, v in enumerate("abcd", start=1)]
    # b is being published (a was live); c and d were written by later runs whose loads have not run yet.
    assert versions_to_keep(manifests, manifests[1], "a") == {"a", "b", "c", "d"}
    assert versions_to_keep(manifests, manifests[3], "b") == {"b", "d"}
