"""Notify Lambda entry point: read the run summaries, format, publish to SNS. Logic: messages.py."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger

if __package__:
    from .messages import format_notification, quiet_reason
else:  # deployed flat: handler.py and messages.py at the root of the zip
    from messages import format_notification, quiet_reason  # type: ignore[import-not-found,no-redef]

LOGGER = Logger(service="glue-etl-notify")  # JSON lines; the level comes from LOG_LEVEL
SNS = boto3.client("sns")
S3 = boto3.client("s3")


@dataclass(frozen=True)
class Settings:
    topic_arn: str


@functools.cache
def settings() -> Settings:
    """The function's environment, read and checked once, on the first invocation (not at import,
    so a misconfigured function still loads and says what is wrong)."""
    topic_arn = os.environ.get("TOPIC_ARN", "")
    if not topic_arn:
        raise RuntimeError("TOPIC_ARN is not set: the function cannot publish notifications")
    return Settings(topic_arn=topic_arn)


def read_summaries(config: dict[str, Any]) -> dict[str, Any]:
    """The jobs' run summaries from the lake; missing ones are skipped (the message says less)."""
    lake, dataset, run_id = config.get("lake_path"), config.get("dataset"), config.get("run_id")
    if not (isinstance(lake, str) and lake.startswith("s3://") and dataset and run_id):
        return {}
    location = urlparse(lake)
    prefix = location.path.strip("/")
    summaries = {}
    for job in ("extract", "transform", "load", "quality"):
        key = "/".join(part for part in (prefix, "_runs", str(dataset), str(run_id), f"{job}.json") if part)
        try:
            body = S3.get_object(Bucket=location.netloc, Key=key)["Body"].read()
            summaries[job] = json.loads(body)
        except Exception as error:  # noqa: BLE001 - a missing summary degrades the message, never the alert
            LOGGER.info("run summary unavailable", extra={"key": key, "reason": str(error)})
    return summaries


def handler(event: Any, context: Any) -> dict[str, str]:
    topic_arn = settings().topic_arn
    config = event.get("config") if isinstance(event, dict) else None
    config = config if isinstance(config, dict) else {}
    summaries = read_summaries(config)
    quiet = quiet_reason(event, summaries)
    if quiet:
        LOGGER.info("no notification", extra={"reason": quiet})
        return {"skipped": quiet}
    notification = format_notification(event, summaries)
    response = SNS.publish(
        TopicArn=topic_arn,
        Subject=notification.subject,
        Message=notification.sns_message(),
        MessageStructure="json",
        MessageAttributes=notification.message_attributes(),
    )
    LOGGER.info("notification published", extra={"subject": notification.subject, "message_id": response["MessageId"]})
    return {"message_id": response["MessageId"], "subject": notification.subject, "sms": notification.sms}
