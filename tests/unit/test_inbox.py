"""The local cloud's inbox: what the topic delivers, shown and kept as files a person can open."""

import email
import json

import boto3
import pytest
from moto import mock_aws

from glue_etl_local.cloud import notifications


@pytest.fixture
def topic(offline_aws):
    with mock_aws():
        sns = boto3.client("sns", region_name="eu-west-1")
        arn = sns.create_topic(Name="notify")["TopicArn"]
        sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="team@example.com")
        sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+15555550100")
        yield sns, arn


def publish(sns, arn, run_id):
    message = {"default": f"body {run_id}", "email": f"Glue ETL pipeline succeeded: tpch run {run_id}",
               "sms": f"Glue ETL OK: tpch {run_id}"}  # fmt: skip
    sns.publish(TopicArn=arn, Subject=f"[Glue ETL] succeeded: tpch run {run_id}", Message=json.dumps(message),
                MessageStructure="json")  # fmt: skip


def test_each_delivery_is_shown_once_and_kept_as_an_eml_or_a_text_file(topic, tmp_path):
    sns, arn = topic
    shown = []
    inbox = notifications.Inbox("eu-west-1", tmp_path / "inbox", shown.append)
    publish(sns, arn, "r1")
    first = inbox.collect()
    publish(sns, arn, "r2")
    second = inbox.collect()
    assert [p.name for p in first] == ["0001-email-team@example.com.eml", "0002-sms-+15555550100.txt"]
    assert [p.name for p in second] == ["0003-email-team@example.com.eml", "0004-sms-+15555550100.txt"]
    assert len(shown) == 4
    mail = email.message_from_bytes(first[0].read_bytes())
    assert mail["To"] == "team@example.com"
    assert mail["Subject"] == "[Glue ETL] succeeded: tpch run r1"
    assert mail.get_payload().strip() == "Glue ETL pipeline succeeded: tpch run r1"
    assert first[1].read_text() == "Glue ETL OK: tpch r1"
    assert inbox.collect() == []
    kept = notifications.read_inbox(tmp_path / "inbox", "r2")
    assert len(kept) == 2
    assert "Subject: [Glue ETL] succeeded: tpch run r2" in kept[0]
    assert kept[1].startswith("--- SMS (0004-sms-+15555550100.txt) ---\nGlue ETL OK: tpch r2")
