"""Kafka plumbing shared by every service: topic creation, the outbox relay and the inbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from eventsourcing.persistence import InterfaceError, OperationalError
from pydantic import ValidationError

from accord_kernel.application import AccordApplication, retry_on_conflict
from accord_kernel.contracts import (
    ACCESS_TOPIC,
    CONFERENCE_TOPIC,
    CONTRACTS,
    COURT_TOPIC,
    DEAD_LETTER_TOPIC,
    REFERRAL_TOPIC,
    VICTIM_SUPPORT_TOPIC,
    Contract,
    share_topic,
    topic_for,
)
from accord_kernel.envelope import IntegrationEvent, MalformedMessage, decode, encode

log = logging.getLogger("accord.bus")

SHARE_TOPICS = [share_topic(a) for a in ("police", "rj_provider", "court", "victim_services")]
ALL_TOPICS = [REFERRAL_TOPIC, VICTIM_SUPPORT_TOPIC, CONFERENCE_TOPIC, COURT_TOPIC, ACCESS_TOPIC,
              DEAD_LETTER_TOPIC, *SHARE_TOPICS]
PARTITIONS = 3


async def ensure_topics(bootstrap: str, topics: Iterable[str] = ALL_TOPICS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await asyncio.wait_for(admin.start(), DELIVERY_TIMEOUT_SECONDS)
    try:
        existing = set(await admin.list_topics())
        missing = [NewTopic(t, PARTITIONS, 1) for t in topics if t not in existing]
        if missing:
            # another service may have created it first
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(missing)
    finally:
        await admin.close()


# Bounds on waiting for the broker: an idempotent producer whose broker went away and came back
# can hold undelivered batches indefinitely; better to drop it and republish (at-least-once).
DELIVERY_TIMEOUT_SECONDS = 30.0
CLOSE_TIMEOUT_SECONDS = 10.0


async def _close(component: Any, what: str) -> None:
    try:
        await asyncio.wait_for(component.stop(), timeout=CLOSE_TIMEOUT_SECONDS)
    except (TimeoutError, KafkaError, OSError) as exc:
        log.warning("%s did not close cleanly (%s)", what, type(exc).__name__)


async def _backoff(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


class OutboxRelay:
    """Publishes the application's notification log to Kafka as integration events.

    At-least-once: the position is advanced only after the broker acknowledged the batch,
    and CloudEvent ids are derived from the domain event, so a republished event after a
    crash is a recognisable duplicate."""

    def __init__(self, app: AccordApplication, bootstrap: str, batch_size: int = 200,
                 poll_interval: float = 0.1) -> None:
        self.app = app
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.source = f"/accord/{app.service_name}"
        self.published = 0

    def pending(self, after: int | None = None) -> list[tuple[int, list[IntegrationEvent]]]:
        position = self.app.outbox_position() if after is None else after
        notifications = self.app.process_recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False)
        batch = []
        for n in notifications:
            domain_event = self.app.mapper.to_domain_event(n)
            events = [
                IntegrationEvent(
                    type=contract.type, topic=topic_for(contract, recipient),
                    case_id=contract.case_id, data=contract.model_dump(mode="json"),
                    id=IntegrationEvent.deterministic_id(self.source, n.originator_id,
                                                         n.originator_version, i),
                    source=self.source)
                for i, (contract, recipient) in enumerate(self.app.integration_events(domain_event))
            ]
            batch.append((n.id, events))
        return batch

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, enable_idempotence=True,
                                        acks="all", linger_ms=2)
            try:
                await producer.start()
                await ensure_topics(self.bootstrap)
                log.info("outbox relay %s connected", self.app.service_name)
                await self._loop(producer, stop)
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("outbox relay %s: kafka unavailable (%s); retrying",
                            self.app.service_name, type(exc).__name__)
                await _backoff(stop, 1.0)
            except (OperationalError, InterfaceError) as exc:
                log.warning("outbox relay %s: store unavailable (%s); retrying",
                            self.app.service_name, type(exc).__name__)
                await _backoff(stop, 1.0)
            finally:
                await _close(producer, f"outbox relay {self.app.service_name}")

    async def _loop(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        while not stop.is_set():
            batch = await asyncio.to_thread(self.pending)
            if not batch:
                await _backoff(stop, self.poll_interval)
                continue
            deliveries = []
            for _, events in batch:
                for event in events:
                    message = encode(event)
                    deliveries.append(await asyncio.wait_for(producer.send(
                        event.topic, value=message.value, key=message.key,
                        headers=list(message.headers.items())), DELIVERY_TIMEOUT_SECONDS))
            await asyncio.wait_for(asyncio.gather(*deliveries), DELIVERY_TIMEOUT_SECONDS)
            await asyncio.to_thread(self.app.advance_outbox, batch[-1][0])
            self.published += sum(len(e) for _, e in batch)


class Inbox(Protocol):
    """Applies one integration event exactly once (its own tracking makes it idempotent)."""

    def process(self, event: IntegrationEvent, contract: Contract) -> None: ...


Handler = Callable[[IntegrationEvent, Any], Iterable[Any] | None]


class ApplicationInbox:
    """Inbox for an eventsourcing application: the handler returns the aggregates it changed,
    and they are saved with the event's tracking record in one transaction."""

    def __init__(self, app: AccordApplication, handlers: dict[str, Handler],
                 refusals: tuple[type[Exception], ...] = ()) -> None:
        self.app = app
        self.handlers = handlers
        self.refusals = refusals

    @property
    def types(self) -> set[str]:
        return set(self.handlers)

    def process(self, event: IntegrationEvent, contract: Contract) -> None:
        if self.app.already_processed(event.id):
            log.info("duplicate %s id=%s ignored", event.type, event.id)
            return
        retry_on_conflict(self._apply, event, contract)

    def _apply(self, event: IntegrationEvent, contract: Contract) -> None:
        handler = self.handlers[event.type]
        try:
            changed = list(handler(event, contract) or [])
        except self.refusals as refusal:
            # A domain rule refused the change (e.g. the case is already stopped): that is
            # the answer for this event, recorded so a redelivery does not try again.
            log.info("%s id=%s refused by domain rule: %s", event.type, event.id,
                     getattr(refusal, "code", type(refusal).__name__))
            changed = []
        if not self.app.save_processed(event.id, *changed):
            log.info("duplicate %s id=%s ignored at commit", event.type, event.id)


@runtime_checkable
class BatchInbox(Inbox, Protocol):
    """An inbox that can apply a whole batch in one transaction (the audit log)."""

    def process_batch(self, items: list[tuple[IntegrationEvent, Contract]]) -> None: ...


class InboxConsumer:
    """Consumes integration events with manual offset commits (the *next* offset, after the
    effect is committed). Bad messages go to the dead-letter topic and consumption goes on;
    an unavailable store pauses the partition and retries without losing the event."""

    def __init__(self, inbox: Inbox, bootstrap: str, group_id: str, topics: list[str],
                 types: set[str] | None = None, max_attempts: int = 3,
                 transient: tuple[type[Exception], ...] = ()) -> None:
        self.inbox = inbox
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topics = topics
        self.types = types
        self.max_attempts = max_attempts
        # Errors that mean "the store is away", never "this message is bad": the partition
        # waits and retries, nothing goes to the dead-letter topic.
        self.transient = (OperationalError, InterfaceError, *transient)
        self.processed = 0
        self.dead_lettered = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                *self.topics, bootstrap_servers=self.bootstrap, group_id=self.group_id,
                enable_auto_commit=False, auto_offset_reset="earliest",
                metadata_max_age_ms=5000, session_timeout_ms=10000,
                heartbeat_interval_ms=1000)
            producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap,
                                        enable_idempotence=True, acks="all")
            try:
                await ensure_topics(self.bootstrap)
                await consumer.start()
                await producer.start()
                log.info("inbox %s subscribed to %s", self.group_id, self.topics)
                await self._loop(consumer, producer, stop)
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning("inbox %s: kafka unavailable (%s); retrying", self.group_id,
                            type(exc).__name__)
                await _backoff(stop, 1.0)
            finally:
                await _close(consumer, f"inbox {self.group_id} consumer")
                await _close(producer, f"inbox {self.group_id} dead-letter producer")

    async def _loop(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer,
                    stop: asyncio.Event) -> None:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=100)
            for tp, records in batches.items():
                if isinstance(self.inbox, BatchInbox):
                    if await self._handle_batch(records, producer, stop):
                        await asyncio.wait_for(consumer.commit({tp: records[-1].offset + 1}),
                                               DELIVERY_TIMEOUT_SECONDS)
                    else:
                        # effects are idempotent per event id, so the whole batch may rerun
                        consumer.seek(tp, records[0].offset)
                    continue
                for record in records:
                    if not await self._handle(record, producer, stop):
                        consumer.seek(tp, record.offset)  # retry this one later, keep order
                        break
                    await asyncio.wait_for(consumer.commit({tp: record.offset + 1}),
                                           DELIVERY_TIMEOUT_SECONDS)

    def _parse(self, record: ConsumerRecord[bytes, bytes]
               ) -> tuple[IntegrationEvent, Contract] | None:
        """The event and its validated contract; None when it is not for this inbox."""
        event = decode(record.topic, record.key, record.value)
        if self.types is not None and event.type not in self.types:
            return None
        contract_type = CONTRACTS.get(event.type)
        if contract_type is None:
            raise MalformedMessage(f"unknown event type {event.type}")
        try:
            contract = contract_type.model_validate(
                {**event.data, "case_id": event.data.get("case_id", event.case_id)})
        except ValidationError as exc:
            raise MalformedMessage(
                "payload violates contract: "
                + ",".join(".".join(map(str, e["loc"])) for e in exc.errors())) from exc
        return event, contract

    async def _handle_batch(self, records: list[ConsumerRecord[bytes, bytes]],
                            producer: AIOKafkaProducer, stop: asyncio.Event) -> bool:
        items = []
        for record in records:
            try:
                parsed = self._parse(record)
            except MalformedMessage as exc:
                await self._dead_letter(producer, record, str(exc))
                continue
            if parsed is not None:
                items.append(parsed)
        if not items:
            return True
        inbox = self.inbox
        assert isinstance(inbox, BatchInbox)
        try:
            await asyncio.to_thread(inbox.process_batch, items)
        except self.transient as exc:
            log.warning("inbox %s: store unavailable (%s); will retry", self.group_id,
                        type(exc).__name__)
            await _backoff(stop, 1.0)
            return False
        except Exception as exc:
            # One bad event must not hold the others back: apply them one at a time, which
            # retries and dead-letters individually.
            log.error("inbox %s: batch failed (%s); applying one by one", self.group_id,
                      type(exc).__name__)
            for record in records:
                if not await self._handle(record, producer, stop):
                    return False
            return True
        self.processed += len(items)
        return True

    async def _handle(self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer,
                      stop: asyncio.Event) -> bool:
        attempts = 0
        while not stop.is_set():
            try:
                parsed = self._parse(record)
                if parsed is None:
                    return True  # not for us
                await asyncio.to_thread(self.inbox.process, *parsed)
                self.processed += 1
                return True
            except MalformedMessage as exc:
                await self._dead_letter(producer, record, str(exc))
                return True
            except self.transient as exc:
                log.warning("inbox %s: store unavailable (%s); will retry", self.group_id,
                            type(exc).__name__)
                await _backoff(stop, 1.0)
                return False
            except Exception as exc:
                attempts += 1
                log.error("inbox %s: %s processing offset %s/%s (attempt %s)", self.group_id,
                          type(exc).__name__, record.partition, record.offset, attempts)
                if attempts >= self.max_attempts:
                    await self._dead_letter(producer, record,
                                            f"handler failed: {type(exc).__name__}")
                    return True
                await _backoff(stop, 0.2 * attempts)
        return False

    async def _dead_letter(self, producer: AIOKafkaProducer, record: ConsumerRecord[bytes, bytes],
                           reason: str) -> None:
        log.warning("dead-lettering %s/%s/%s: %s", record.topic, record.partition, record.offset,
                    reason)
        headers = [("accord-dlq-reason", reason.encode()), ("accord-dlq-topic",
                   record.topic.encode()), ("accord-dlq-offset", str(record.offset).encode()),
                   ("accord-dlq-group", self.group_id.encode())]
        await asyncio.wait_for(producer.send_and_wait(
            DEAD_LETTER_TOPIC, value=record.value, key=record.key, headers=headers),
            DELIVERY_TIMEOUT_SECONDS)
        self.dead_lettered += 1

