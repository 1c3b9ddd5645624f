"""What each SNS subscriber of the local cloud would have received (read from moto's backend)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from moto.sns.models import sns_backends

from glue_etl_local.cloud.server import ACCOUNT_ID


@dataclass(frozen=True)
class Delivery:
    protocol: str
    endpoint: str
    subject: str | None
    text: str


def _message_parts(message: str) -> dict[str, str] | None:
    """The per-protocol texts of a MessageStructure=json message, None for a plain message."""
    try:
        parts = json.loads(message)
    except ValueError:
        return None
    return parts if isinstance(parts, dict) and "default" in parts else None


def deliveries(region: str, topic_arn: str) -> list[Delivery]:
    """One entry per message and subscriber, in publish order, as email and SMS would show them."""
    backend = sns_backends[ACCOUNT_ID][region]
    topic = backend.topics[topic_arn]
    subscriptions = [s for s in backend.subscriptions.values() if s.topic.arn == topic_arn]
    found = []
    for _message_id, message, subject, _attributes, _group in topic.sent_notifications:
        parts = _message_parts(message)
        for subscription in subscriptions:
            found.append(
                Delivery(
                    protocol=subscription.protocol,
                    endpoint=subscription.endpoint,
                    subject=subject if subscription.protocol.startswith("email") else None,
                    text=str(parts.get(subscription.protocol, parts["default"])) if parts else message,
                )
            )
    return found


def render(delivery: Delivery) -> str:
    if delivery.protocol == "sms":
        return f"--- SMS to {delivery.endpoint} ---\n{delivery.text}\n"
    return f"--- email to {delivery.endpoint} ---\nSubject: {delivery.subject}\n\n{delivery.text}"
