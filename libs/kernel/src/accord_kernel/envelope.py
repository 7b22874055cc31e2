"""CloudEvents 1.0 envelope for everything on the Kafka bus, by the CloudEvents Kafka protocol
binding (the `cloudevents` library's): in *structured* content mode the message value is the
whole CloudEvent as JSON (`content-type: application/cloudevents+json`); in *binary* content mode
the attributes are `ce_` headers and the value is the event's data (`content-type:
application/json`). Publishers use the mode the deployment chooses (`ACCORD_CLOUDEVENTS_MODE`);
consumers accept both, so a deployment can switch without stopping its consumers. The Kafka key
is the case id in both."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import NAMESPACE_URL, UUID, uuid5

from cloudevents.core.bindings.kafka import KafkaMessage, from_kafka, to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

_FORMAT = JSONFormat()
ContentMode = Literal["structured", "binary"]
CONTENT_MODES: tuple[ContentMode, ...] = ("structured", "binary")
# Kafka headers as aiokafka gives them (a sequence of pairs) or as a mapping.
Headers = Sequence[tuple[str, bytes]] | Mapping[str, bytes]


class MalformedMessage(Exception):
    """A message that can never be processed; it goes to the dead-letter topic."""


@dataclass(frozen=True)
class IntegrationEvent:
    """What one service tells the others. `data` is validated against its contract."""

    type: str
    topic: str
    case_id: str
    data: dict[str, Any]
    id: str
    source: str
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    traceparent: str | None = None

    @staticmethod
    def deterministic_id(source: str, originator_id: UUID | str, version: int, n: int = 0) -> str:
        # Same domain event -> same CloudEvent id, so a relay restart that republishes
        # is recognised as a duplicate by every consumer's inbox.
        return str(uuid5(NAMESPACE_URL, f"{source}/{originator_id}/{version}/{n}"))


def new_traceparent() -> str:
    return f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-01"


def encode(event: IntegrationEvent, mode: ContentMode = "structured") -> KafkaMessage:
    attributes: dict[str, Any] = {
        "id": event.id,
        "source": event.source,
        "type": event.type,
        "subject": event.case_id,
        "time": event.time,
        "datacontenttype": "application/json",
        "traceparent": event.traceparent or new_traceparent(),
    }
    ce = CloudEvent(attributes, event.data)
    bind = to_binary if mode == "binary" else to_structured
    message = bind(ce, _FORMAT, key_mapper=lambda _: event.case_id.encode())
    # Also as the W3C Trace Context header, where Kafka tracing tools look for it.
    headers = {**message.headers, "traceparent": str(attributes["traceparent"]).encode()}
    return KafkaMessage(headers=headers, key=message.key, value=message.value)


def decode(
    topic: str, key: bytes | None, value: bytes | None, headers: Headers = ()
) -> IntegrationEvent:
    """The event of a Kafka message in either content mode: `ce_` headers mean binary, their
    absence structured (the binding's rule)."""
    if value is None:
        raise MalformedMessage("empty message value")
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    try:
        message = KafkaMessage(headers={str(k): bytes(v) for k, v in pairs}, key=key, value=value)
        ce = from_kafka(message, _FORMAT, CloudEvent)
    except Exception as exc:  # the library raises several unrelated types for bad input
        raise MalformedMessage(f"not a CloudEvent: {type(exc).__name__}") from exc
    data = ce.get_data()
    if isinstance(data, (bytes, str)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise MalformedMessage("data is not JSON") from exc
    if not isinstance(data, dict) or not ce.get_subject():
        raise MalformedMessage("event has no subject or no object data")
    return IntegrationEvent(
        type=ce.get_type(),
        topic=topic,
        case_id=str(ce.get_subject()),
        data=data,
        id=ce.get_id(),
        source=ce.get_source(),
        time=ce.get_time() or datetime.now(UTC),
        traceparent=ce.get_extension("traceparent"),
    )
