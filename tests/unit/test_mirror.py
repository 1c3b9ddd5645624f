"""The local cloud's mirror between S3 and a folder per bucket: object keys never escape the folder."""

import boto3
import pytest
from moto import mock_aws

from glue_etl_local.cloud import mirror


@pytest.fixture
def s3(offline_aws):
    with mock_aws():
        client = boto3.client("s3", region_name="eu-west-1")
        client.create_bucket(Bucket="lake", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        yield client


def test_keys_that_would_escape_the_folder_are_neither_written_nor_deleted(s3, tmp_path):
    folder = tmp_path / "s3" / "lake"
    for key in ("landing/tpch/orders.csv", "../../outside.csv", "landing/../../../outside2.csv", "/etc/x", "a/./b"):
        s3.put_object(Bucket="lake", Key=key, Body=b"1")
    assert mirror.download(s3, "lake", folder) == 1
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "s3/lake/landing/tpch/orders.csv"
    ]
    mirror.upload(s3, "lake", folder)  # nothing local for those keys: still they are not deleted
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="lake")["Contents"]}
    assert keys == {"landing/tpch/orders.csv", "../../outside.csv", "landing/../../../outside2.csv", "/etc/x", "a/./b"}


def test_only_plain_relative_file_keys_are_mirrored():
    assert mirror.mirrorable("lake/raw/tpch/orders/_file_id=1/part-0.parquet")
    assert not mirror.mirrorable("landing/tpch/")
    assert not mirror.mirrorable("../x")
    assert not mirror.mirrorable("/x")
