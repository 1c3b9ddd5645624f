"""A job started outside the state machine never writes under a running execution."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from etl_lib.args import parse_args
from etl_lib.lease import LeaseHeldError, lease_conflict, refuse_when_leased_by_another

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:dev-glue-etl-pipeline:"


def test_only_a_lease_held_by_another_run_is_a_conflict():
    assert lease_conflict("tpch", None, None) is None  # nobody runs: a job started by hand may
    assert lease_conflict("tpch", EXECUTION + "a", EXECUTION + "a") is None  # the holder's own jobs
    by_hand = lease_conflict("tpch", EXECUTION + "nightly", None)
    assert by_hand is not None
    assert by_hand.startswith("dataset tpch is being run by execution nightly, which holds its lease")
    assert "started by hand" in by_hand
    taken_over = lease_conflict("tpch", EXECUTION + "b", EXECUTION + "a")
    assert taken_over is not None
    assert "started by execution a" in taken_over


@mock_aws
def test_the_job_reads_the_lease_table_it_is_given():
    client = boto3.client("dynamodb", region_name="eu-west-1")
    client.create_table(TableName="leases", KeySchema=[{"AttributeName": "dataset", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "dataset", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")  # fmt: skip
    client.put_item(TableName="leases", Item={"dataset": {"S": "tpch"}, "holder": {"S": EXECUTION + "nightly"}})
    base = ["--dataset", "tpch", "--lake_path", "/lake", "--lease_table", "leases"]

    with pytest.raises(LeaseHeldError, match="being run by execution nightly"):
        refuse_when_leased_by_another(parse_args("transform", base), client)
    refuse_when_leased_by_another(parse_args("transform", [*base, "--lease_holder", EXECUTION + "nightly"]), client)
    other_dataset = ["--dataset", "retail", "--lake_path", "/lake", "--lease_table", "leases"]
    refuse_when_leased_by_another(parse_args("transform", other_dataset), client)
    refuse_when_leased_by_another(parse_args("transform", base[:4]))  # no lease table: local, nothing to check
