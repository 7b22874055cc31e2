"""The AsyncAPI 3.0 document of the bus, generated from the event contracts.

Channels are the Kafka topics (`accord_kernel.bus.ALL_TOPICS`); messages are the integration
events (`accord_kernel.contracts.CONTRACTS`) with their payload JSON Schema (the contract's
pydantic model), Kafka key and CloudEvents headers; send operations are each event's
publishers (`contracts.publishers`); receive operations are read from the services themselves:
each service's runtime is built (in-memory, in a temporary directory) and its subscribed topics
and inbox handlers say what it consumes. `accord asyncapi` writes the document to
docs/asyncapi.yaml; `--check` fails when that file is not what the code generates."""

from __future__ import annotations

import copy
import importlib
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml
from accord_kernel.bus import ALL_TOPICS, PARTITIONS, UNTRANSLATABLE_TYPE
from accord_kernel.contracts import (
    CONTRACTS,
    DEAD_LETTER_TOPIC,
    SERVICES,
    CaseChanged,
    Contract,
    publishers,
    version_of,
)
from accord_kernel.dev_tokens import ensure_dev_keys
from accord_kernel.settings import ServiceSettings

from accord_platform.harness import SERVICE_MODULES

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
DOCUMENT = Path("docs") / "asyncapi.yaml"


def channel_id(topic: str) -> str:
    """`accord.share.court` -> `accord_share_court` (ids may not contain dots in refs)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", topic)


def message_id(event_type: str) -> str:
    """`accord.court.review_decided.v1` -> `CourtReviewDecidedV1`."""
    words = event_type.removeprefix("accord.").replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words)


def topics_of(contract: type[Contract]) -> list[str]:
    """The topics an event can travel on: its own, every service's events topic for a
    CaseChanged, every share topic for a policy-routed share."""
    if contract is CaseChanged:
        return [f"accord.{s.replace('-', '_')}.events" for s in publishers(contract.type)]
    if "{agency}" in contract.topic:
        return [t for t in ALL_TOPICS if t.startswith("accord.share.")]
    return [contract.topic]


def payload_schema(contract: type[Contract]) -> dict[str, Any]:
    """The contract as JSON Schema, as its payload is serialised (`model_dump(mode="json")`),
    with each field's data class (SPEC section 4) as the extension `x-accord-data-class`."""
    schema = contract.model_json_schema(mode="serialization")
    for field in schema.get("properties", {}).values():
        if "data_class" in field:
            field["x-accord-data-class"] = field.pop("data_class")
    schema["title"] = contract.__name__
    schema["description"] = " ".join((contract.__doc__ or contract.type).split())
    return schema


def cloudevents_headers() -> dict[str, Any]:
    """Kafka headers of the CloudEvents Kafka protocol binding. In binary content mode the
    attributes travel as `ce_` headers and the value is the payload; in structured mode the
    only header is `content-type: application/cloudevents+json` and the value is the whole
    CloudEvent (attributes and `data`) as JSON."""
    text = {"type": "string"}
    return {
        "type": "object",
        "properties": {
            "content-type": {
                "type": "string",
                "enum": ["application/json", "application/cloudevents+json"],
                "description": "application/cloudevents+json in structured mode; the payload's "
                "media type (application/json) in binary mode",
            },
            "ce_specversion": {"type": "string", "const": "1.0"},
            "ce_id": {**text, "description": "Unique per event; a republished event keeps it"},
            "ce_source": {**text, "description": "/accord/<service>"},
            "ce_type": {**text, "description": "The event type, with its version"},
            "ce_subject": {**text, "description": "The case id (also the Kafka key)"},
            "ce_time": {**text, "format": "date-time"},
            "ce_traceparent": {**text, "description": "W3C trace context"},
        },
    }


def message(contract: type[Contract]) -> dict[str, Any]:
    return {
        "name": contract.type,
        "title": contract.__name__,
        "summary": " ".join((contract.__doc__ or contract.type).split()),
        "contentType": "application/json",
        "headers": cloudevents_headers(),
        "payload": payload_schema(contract),
        "correlationId": {
            "description": "The case the event is about",
            "location": "$message.payload#/case_id",
        },
        "bindings": {
            "kafka": {
                "key": {
                    "type": "string",
                    "description": "The case id: one case's events stay in order on one partition",
                },
                "bindingVersion": KAFKA_BINDING,
            }
        },
        "x-accord-event-type": contract.type,
        "x-accord-version": version_of(contract.type),
        "x-accord-publishers": list(publishers(contract.type)),
    }


def dead_letter_message() -> dict[str, Any]:
    return {
        "name": UNTRANSLATABLE_TYPE,
        "title": "Untranslatable",
        "summary": "A stored domain event that could not become a valid integration event, "
        "by ids only. The dead-letter topic also receives, unchanged, any message a consumer "
        "could not process, with the headers `accord-dlq-reason`, `accord-dlq-topic`, "
        "`accord-dlq-offset` and `accord-dlq-group`.",
        "contentType": "application/json",
        "payload": {
            "type": "object",
            "required": [
                "service",
                "notification_id",
                "originator_id",
                "originator_version",
                "event_type",
                "error",
            ],
            "properties": {
                "service": {"type": "string"},
                "notification_id": {"type": "integer"},
                "originator_id": {"type": "string"},
                "originator_version": {"type": "integer"},
                "event_type": {"type": "string"},
                "error": {"type": "string"},
            },
        },
    }


def consumers(work_dir: Path) -> dict[str, tuple[list[str], set[str] | None]]:
    """service -> (topics it subscribes to, event types its inbox handles; None: all), read
    from each service's own runtime."""
    _, jwks = ensure_dev_keys(work_dir / "dev-keys")
    found = {}
    for service in SERVICES:
        module = importlib.import_module(SERVICE_MODULES[service])
        settings = ServiceSettings.for_service(
            service, 0, persistence="memory", jwks_path=jwks, data_dir=work_dir / service
        )
        runtime = module.make_runtime(settings)
        try:
            if runtime.inbox is not None:
                found[service] = (list(runtime.topics), runtime.inbox_types)
        finally:
            runtime.app.close()
    return found


def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="accord-asyncapi-") as work:
        subscriptions = consumers(Path(work))
    channels: dict[str, Any] = {}
    for topic in ALL_TOPICS:
        channels[channel_id(topic)] = {
            "address": topic,
            "title": topic,
            "messages": {},
            "bindings": {
                "kafka": {
                    "topic": topic,
                    "partitions": PARTITIONS,
                    "bindingVersion": KAFKA_BINDING,
                }
            },
        }
    messages: dict[str, Any] = {}
    for event_type, contract in sorted(CONTRACTS.items()):
        messages[message_id(event_type)] = message(contract)
        for topic in topics_of(contract):
            channels[channel_id(topic)]["messages"][message_id(event_type)] = {
                "$ref": f"#/components/messages/{message_id(event_type)}"
            }
    dead = message_id(UNTRANSLATABLE_TYPE)
    messages[dead] = dead_letter_message()
    channels[channel_id(DEAD_LETTER_TOPIC)]["messages"][dead] = {
        "$ref": f"#/components/messages/{dead}"
    }

    operations: dict[str, Any] = {}

    def operation(service: str, action: str, topic: str, types: list[str]) -> None:
        if not types:
            return
        cid = channel_id(topic)
        verb = "publishes" if action == "send" else "consumes"
        operations[f"{service}_{verb}_{cid}".replace("-", "_")] = {
            "action": action,
            "title": f"{service} {verb} {topic}",
            "channel": {"$ref": f"#/channels/{cid}"},
            "messages": [
                {"$ref": f"#/channels/{cid}/messages/{message_id(t)}"} for t in sorted(types)
            ],
            "x-accord-service": service,
        }

    for service in SERVICES:
        for topic in ALL_TOPICS:
            sent = [
                t
                for t, c in CONTRACTS.items()
                if service in publishers(t) and topic in topics_of(c)
            ]
            operation(service, "send", topic, sent)
    for service in SERVICES:
        # any relay sends what it cannot translate to the dead-letter topic, by ids only
        operation(service, "send", DEAD_LETTER_TOPIC, [UNTRANSLATABLE_TYPE])
    for service, (topics, handled) in sorted(subscriptions.items()):
        for topic in topics:
            on_topic = [t for t, c in CONTRACTS.items() if topic in topics_of(c)]
            received = [t for t in on_topic if handled is None or t in handled]
            operation(service, "receive", topic, received)

    for event_type in CONTRACTS:
        receivers = sorted(
            s
            for s, (topics, handled) in subscriptions.items()
            if (handled is None or event_type in handled)
            and set(topics) & set(topics_of(CONTRACTS[event_type]))
        )
        messages[message_id(event_type)]["x-accord-consumers"] = receivers

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Accord event bus",
            "version": "1.0.0",
            "description": (
                "The integration events the Accord services exchange on Kafka, generated from "
                "the event contracts (`accord asyncapi`). Every event is a CloudEvent 1.0 "
                "(Kafka protocol binding, structured or binary content mode, "
                "`ACCORD_CLOUDEVENTS_MODE`); the Kafka key is the case id; the message "
                "payload below is the CloudEvent's `data`. Event types end in their major "
                "version (`.v1`); docs/event-versioning.md says how they change. "
                "Consumers must accept both content modes and ignore unknown optional "
                "attributes; see docs/integration.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local development broker (`make run`); a deployment "
                "names its own.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


class _Dumper(yaml.SafeDumper):
    """Block style, keys in the order written, no anchors for repeated structures."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(doc: dict[str, Any]) -> str:
    header = "# Generated by `accord asyncapi` from libs/kernel/src/accord_kernel/contracts.py.\n"
    body = yaml.dump(
        copy.deepcopy(doc), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100
    )
    return header + body
