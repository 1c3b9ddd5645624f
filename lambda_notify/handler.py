"""Notify Lambda entry point: read the run summaries, format, publish to SNS. Logic: messages.py."""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any
from urllib.parse import urlparse

import boto3

if __package__:
    from .messages import format_notification, quiet_reason
else:  # deployed flat: handler.py and messages.py at the root of the zip
    from messages import format_notification, quiet_reason  # type: ignore[import-not-found,no-redef]


class JsonFormatter(logging.Formatter):
    """One JSON object per log line (searchable in CloudWatch Logs Insights)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"level": record.levelname, "message": record.getMessage(), "logger": record.name}
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def _logger() -> logging.Logger:
    logger = logging.getLogger("notify")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
    return logger


LOGGER = _logger()
TOPIC_ARN = os.environ.get("TOPIC_ARN", "")
SNS = boto3.client("sns")
S3 = boto3.client("s3")


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
            LOGGER.info("run summary unavailable", extra={"fields": {"key": key, "reason": str(error)}})
    return summaries


def handler(event: Any, context: Any) -> dict[str, str]:
    if not TOPIC_ARN:
        raise RuntimeError("TOPIC_ARN is not set: the function cannot publish notifications")
    config = event.get("config") if isinstance(event, dict) else None
    config = config if isinstance(config, dict) else {}
    summaries = read_summaries(config)
    quiet = quiet_reason(event, summaries)
    if quiet:
        LOGGER.info("no notification", extra={"fields": {"reason": quiet}})
        return {"skipped": quiet}
    notification = format_notification(event, summaries)
    response = SNS.publish(
        TopicArn=TOPIC_ARN,
        Subject=notification.subject,
        Message=notification.sns_message(),
        MessageStructure="json",
    )
    LOGGER.info(
        "notification published",
        extra={"fields": {"subject": notification.subject, "message_id": response["MessageId"]}},
    )
    return {"message_id": response["MessageId"], "subject": notification.subject, "sms": notification.sms}
