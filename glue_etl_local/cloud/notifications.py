"""What each SNS subscriber of the local cloud would have received (read from moto's backend)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from moto.sns.models import Subscription, sns_backends
from moto.sns.utils import FilterPolicyMatcher

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


def wanted(subscription: Subscription, attributes: dict[str, object] | None, message: str) -> bool:
    """Whether the subscription's filter policy (if any) lets the message through, as SNS decides."""
    policy = subscription.attributes.get("FilterPolicy")
    if not policy:
        return True
    scope = subscription.attributes.get("FilterPolicyScope")
    return FilterPolicyMatcher(json.loads(policy), scope).matches(attributes, message)


def deliveries(region: str, topic_arn: str) -> list[Delivery]:
    """One entry per message and subscriber, in publish order, as email and SMS would show them
    (a subscriber whose filter policy does not match a message does not receive it)."""
    backend = sns_backends[ACCOUNT_ID][region]
    topic = backend.topics[topic_arn]
    subscriptions = [s for s in backend.subscriptions.values() if s.topic.arn == topic_arn]
    found = []
    for _message_id, message, subject, attributes, _group in topic.sent_notifications:
        parts = _message_parts(message)
        for subscription in subscriptions:
            if not wanted(subscription, attributes, message):
                continue
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


def file_name(number: int, delivery: Delivery) -> str:
    endpoint = re.sub(r"[^A-Za-z0-9@.+_-]", "_", delivery.endpoint)
    return f"{number:04d}-{delivery.protocol}-{endpoint}.{'eml' if delivery.protocol.startswith('email') else 'txt'}"


def as_file(delivery: Delivery) -> bytes:
    """An email as the .eml a mail client opens; any other protocol as its text."""
    if not delivery.protocol.startswith("email"):
        return delivery.text.encode()
    message = EmailMessage()
    message["From"] = "AWS Notifications <no-reply@sns.amazonaws.com>"
    message["To"] = delivery.endpoint
    message["Subject"] = delivery.subject or ""
    message["Date"] = formatdate(localtime=True)
    message.set_content(delivery.text)
    return bytes(message)


class Inbox:
    """Every message the local cloud's topics deliver, shown as it arrives and kept as a file in
    folder (`.eml` for email, `.txt` for SMS), numbered in delivery order."""

    def __init__(self, region: str, folder: Path, show: Callable[[str], None] = print) -> None:
        self.region = region
        self.folder = folder
        self.show = show
        self.delivered = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def all_deliveries(self) -> list[Delivery]:
        topics = sorted(sns_backends[ACCOUNT_ID][self.region].topics)
        return [delivery for topic in topics for delivery in deliveries(self.region, topic)]

    def collect(self) -> list[Path]:
        """Writes and shows the deliveries not seen yet; returns their files."""
        every = self.all_deliveries()
        written = []
        for number, delivery in enumerate(every[self.delivered :], start=self.delivered + 1):
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / file_name(number, delivery)
            path.write_bytes(as_file(delivery))
            self.show(render(delivery))
            written.append(path)
        self.delivered = len(every)
        return written

    def start(self, every_seconds: float = 1.0) -> Inbox:
        def watch() -> None:
            while not self._stop.wait(every_seconds):
                self.collect()

        self._thread = threading.Thread(target=watch, name="inbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.collect()


def read_inbox(folder: Path, mentioning: str) -> list[str]:
    """The kept messages whose text mentions a run, rendered as they arrived (for `glue-etl start`)."""
    shown = []
    for path in sorted(folder.glob("*")) if folder.exists() else []:
        text = path.read_bytes()
        if mentioning.encode() not in text:
            continue
        if path.suffix == ".eml":
            shown.append(f"--- email ({path.name}) ---\n{text.decode(errors='replace')}")
        else:
            shown.append(f"--- SMS ({path.name}) ---\n{text.decode(errors='replace')}\n")
    return shown
