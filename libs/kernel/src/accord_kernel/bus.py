"""Kafka plumbing shared by every service: topic creation, the outbox relay and the inbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
    TopicAlreadyExistsError,
)
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from opentelemetry.trace import SpanKind
from pydantic import ValidationError

from accord_kernel.application import AccordApplication, TracingMapper, retry_on_conflict
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
from accord_kernel.envelope import (
    ContentMode,
    IntegrationEvent,
    MalformedMessage,
    decode,
    encode,
)
from accord_kernel.leadership import POLL_SECONDS as LEADERSHIP_POLL_SECONDS
from accord_kernel.leadership import Leadership, leadership_for, replica_id
from accord_kernel.observability import (
    ServiceMetrics,
    context_from,
    current_traceparent,
    span,
    traceparent_header,
    tracer,
)

log = logging.getLogger("accord.bus")
# An outbox entry that could not be translated into a valid contract (ids only, no content).
UNTRANSLATABLE_TYPE = "accord.outbox.untranslatable.v1"

SHARE_TOPICS = [share_topic(a) for a in ("police", "rj_provider", "court", "victim_services")]
ALL_TOPICS = [
    REFERRAL_TOPIC,
    VICTIM_SUPPORT_TOPIC,
    CONFERENCE_TOPIC,
    COURT_TOPIC,
    ACCESS_TOPIC,
    DEAD_LETTER_TOPIC,
    *SHARE_TOPICS,
]
PARTITIONS = 3
LISTENER_STOP_SECONDS = 5.0


def prefixed(prefix: str, topics: Iterable[str]) -> list[str]:
    return [prefix + topic for topic in topics]


async def ensure_topics(
    bootstrap: str, topics: Iterable[str] = ALL_TOPICS, **client_options: Any
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_options)
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


# --- the broker's reachability, logged once per change of state -------------------------------

RETRY_MIN_SECONDS = 0.5
RETRY_MAX_SECONDS = 5.0
# A subscribed consumer whose partitions have had no fetch response for this long (with
# nothing buffered) counts its broker as unreachable; aiokafka itself retries silently.
BROKER_SILENCE_SECONDS = 10.0
# While the same aiokafka warning or error keeps coming, one summary line per this period.
CLIENT_LOG_SUMMARY_SECONDS = 300.0


_CONNECTION_TROUBLE = (
    OSError,
    TimeoutError,
    KafkaConnectionError,
    KafkaTimeoutError,
    NodeNotReadyError,
    RequestTimedOutError,
)


def _kind(record: logging.LogRecord) -> tuple[str, int, str]:
    """What makes two aiokafka records "alike": the same message, except that every failure
    to reach the broker (connect, metadata, fetch) is one kind: one cause, one line."""
    args = record.args if isinstance(record.args, tuple) else ()
    if any(isinstance(arg, _CONNECTION_TROUBLE) for arg in args) or str(record.msg).startswith(
        "Unable to update metadata"
    ):
        return ("aiokafka", 0, "broker unreachable")
    return (record.name, record.levelno, str(record.msg))


class ClientLogSummary(logging.Filter):
    """Lets the first aiokafka warning or error of each kind through, then counts the ones
    like it and lets one through (with the count) per `period` while they go on.

    With the broker away, every aiokafka client logs each failed connection and metadata
    attempt (about 45 lines a second per service); the relay and inbox say once what is going
    on (`KafkaLink`), and the first of these lines says why."""

    def __init__(self, period: float = CLIENT_LOG_SUMMARY_SECONDS) -> None:
        super().__init__()
        self.period = period
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, int, str], tuple[float, int]] = {}
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        kind = _kind(record)
        now = time.monotonic()
        with self._lock:
            shown = self._kinds.get(kind)
            if shown is not None and now - shown[0] < self.period:
                self._kinds[kind] = (shown[0], shown[1] + 1)
                self.suppressed += 1
                return False
            self._kinds[kind] = (now, 0)
        note = (
            f" [{shown[1]} more like this in the last {now - shown[0]:.0f} s]"
            if shown
            else f" [more like this are counted, one line per {self.period:.0f} s]"
        )
        # %-escaped: the note is appended to a format string
        record.msg = str(record.msg) + note.replace("%", "%%")
        return True

    def reset(self) -> None:
        """The broker is back: the next outage shows its first errors again."""
        with self._lock:
            self._kinds.clear()


CLIENT_LOGS = ClientLogSummary()


def quiet_kafka_client_logs() -> None:
    """Installs `CLIENT_LOGS` on every aiokafka logger (a logger's filters see only the
    records logged to it by name, not those of its children)."""
    names = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name == "aiokafka" or name.startswith("aiokafka.")
    ]
    for name in {"aiokafka", *names}:
        logger = logging.getLogger(name)
        if CLIENT_LOGS not in logger.filters:
            logger.addFilter(CLIENT_LOGS)


class KafkaLink:
    """One worker's connection to the broker: logs when it is lost and when it is back (with
    how many attempts failed over how long), never once per attempt, and spaces the attempts
    out (0.5 s doubling up to 5 s)."""

    def __init__(self, worker: str) -> None:
        self.worker = worker
        self.failed_attempts = 0
        self.down_since: float | None = None
        self.connected = False

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def failed(self, reason: str) -> None:
        self.failed_attempts += 1
        self.connected = False
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.warning("kafka unreachable (%s): %s; will retry", self.worker, reason)
        else:
            log.debug("kafka still unreachable (%s): %s", self.worker, reason)

    def reached(self) -> None:
        if self.down_since is not None:
            log.warning(
                "kafka reachable again (%s) after %d failed attempts over %.1f s",
                self.worker,
                self.failed_attempts,
                time.monotonic() - self.down_since,
            )
            self.down_since = None
            self.failed_attempts = 0
            CLIENT_LOGS.reset()
        elif not self.connected:
            log.info("%s connected to kafka", self.worker)
        self.connected = True

    def retry_delay(self) -> float:
        doublings = max(0, self.failed_attempts - 1)
        return float(min(RETRY_MAX_SECONDS, RETRY_MIN_SECONDS * 2.0**doublings))


class OutboxRelay:
    """Publishes the application's notification log to Kafka as integration events.

    At-least-once: the position is advanced only after the broker acknowledged the batch,
    and CloudEvent ids are derived from the domain event, so a republished event after a
    crash is a recognisable duplicate."""

    def __init__(
        self,
        app: AccordApplication,
        bootstrap: str,
        batch_size: int = 200,
        poll_interval: float = 0.1,
        fallback_poll_interval: float = 2.0,
        metrics: ServiceMetrics | None = None,
        mode: ContentMode = "structured",
        topic_prefix: str = "",
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.app = app
        # TLS and SASL for a secured cluster (ServiceSettings.kafka_client_options).
        self.client_options: dict[str, Any] = dict(client_options or {})
        # Put before every topic name, so that deployments sharing a Kafka cluster (a
        # training one beside a live one) never read each other's events.
        self.topic_prefix = topic_prefix
        # The CloudEvents content mode of what this relay publishes (consumers read both).
        self.mode: ContentMode = mode
        self.bootstrap = bootstrap
        self.batch_size = batch_size
        # Without a listener (SQLite), or while it is reconnecting, the relay polls this often.
        self.poll_interval = poll_interval
        # With a listener, it still looks this often, in case a wake-up was ever missed.
        self.fallback_poll_interval = fallback_poll_interval
        self.listener = app.notification_listener()
        self.source = f"/accord/{app.service_name}"
        self.published = 0
        self.metrics = metrics
        # Replicas of a service each run a relay; only the one holding the lock publishes.
        self.leadership: Leadership = leadership_for(app)
        self.replica = replica_id()
        self.leading = False

    def pending(self, after: int | None = None) -> list[tuple[int, list[IntegrationEvent]]]:
        position = self.app.outbox_position() if after is None else after
        notifications = self.app.process_recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        batch = []
        mapper = self.app.mapper
        for n in notifications:
            try:
                if isinstance(mapper, TracingMapper):
                    domain_event, traceparent = mapper.to_traced_domain_event(n)
                else:
                    domain_event, traceparent = mapper.to_domain_event(n), None
                events = [
                    IntegrationEvent(
                        type=contract.type,
                        topic=topic_for(contract, recipient),
                        case_id=contract.case_id,
                        data=contract.model_dump(mode="json"),
                        id=IntegrationEvent.deterministic_id(
                            self.source, n.originator_id, n.originator_version, i
                        ),
                        source=self.source,
                        traceparent=traceparent,
                    )
                    for i, (contract, recipient) in enumerate(
                        self.app.integration_events(domain_event)
                    )
                ]
            except (ValidationError, ValueError, KeyError, TypeError) as exc:
                # A stored event that cannot become a valid integration event must not stop
                # every later one from being published: it goes to the dead-letter topic, by
                # ids only, and stays in the service's own store to be replayed once fixed.
                log.error(
                    "outbox relay %s: notification %s (%s) cannot be published: %s",
                    self.app.service_name,
                    n.id,
                    n.topic,
                    type(exc).__name__,
                )
                events = [self._untranslatable(n, type(exc).__name__)]
            batch.append((n.id, events))
        return batch

    def _untranslatable(self, n: Any, error: str) -> IntegrationEvent:
        return IntegrationEvent(
            type=UNTRANSLATABLE_TYPE,
            topic=DEAD_LETTER_TOPIC,
            case_id="-",
            data={
                "service": self.app.service_name,
                "notification_id": n.id,
                "originator_id": str(n.originator_id),
                "originator_version": n.originator_version,
                "event_type": n.topic,
                "error": error,
            },
            id=IntegrationEvent.deterministic_id(
                self.source, n.originator_id, n.originator_version, 999
            ),
            source=self.source,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Publishes while this replica leads; otherwise tries for the lead every second."""
        waiting_logged = False
        try:
            while not stop.is_set():
                if not await self.leadership.acquire():
                    if not waiting_logged:
                        log.info(
                            "outbox relay %s: replica %s stands by (another replica publishes)",
                            self.app.service_name,
                            self.replica,
                        )
                        waiting_logged = True
                    await _backoff(stop, LEADERSHIP_POLL_SECONDS)
                    continue
                waiting_logged = False
                self.leading = True
                log.info(
                    "outbox relay %s: replica %s leads (publishes the outbox)",
                    self.app.service_name,
                    self.replica,
                )
                try:
                    await self._lead(stop)
                finally:
                    self.leading = False
                if not stop.is_set():
                    log.warning(
                        "outbox relay %s: replica %s lost the lead; stopped publishing",
                        self.app.service_name,
                        self.replica,
                    )
                    # The other replicas, whose sessions are fine, get the first attempts.
                    await _backoff(stop, 2 * LEADERSHIP_POLL_SECONDS)
        finally:
            await self.leadership.release()

    async def _lead(self, stop: asyncio.Event) -> None:
        """Publishes until `stop`, or until the lock is no longer certainly held: then the
        publishing is cut at once (another replica may already be taking over; whatever this
        one delivered meanwhile carries the same CloudEvent ids, which consumers dedupe)."""
        publishing_stop = asyncio.Event()
        publishing = asyncio.create_task(self._publish(publishing_stop))
        try:
            while not stop.is_set() and not publishing.done():
                await _backoff(stop, LEADERSHIP_POLL_SECONDS)
                if not stop.is_set() and not await self.leadership.held():
                    break
        finally:
            if not publishing.done():
                # The stop event as well as the cancellation: on Python 3.11 a cancellation
                # that arrives as an awaited wait_for completes can be swallowed, and the
                # publishing loop would then go on after the lead is gone (found in CI).
                publishing_stop.set()
                if not stop.is_set():
                    publishing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publishing
            # An uncertain lock is given up for good (its session closed), so the next
            # attempt starts from a new session.
            await self.leadership.release()

    async def _publish(self, stop: asyncio.Event) -> None:
        listening = (
            asyncio.create_task(self.listener.run(stop)) if self.listener is not None else None
        )
        try:
            await self._run(stop)
        finally:
            if listening is not None:
                # Also when the relay itself is cancelled (a crash in the tests), which
                # leaves `stop` unset: the listener would otherwise wait for it forever.
                listening.cancel()
                # Bounded: psycopg can be slow to give up a connection cancelled inside
                # notifies(), and a relay stuck here keeps its lead (and a crashed one hangs).
                done, _ = await asyncio.wait({listening}, timeout=LISTENER_STOP_SECONDS)
                if not done:
                    log.warning(
                        "outbox relay %s: its notification listener did not stop in %.0f s; "
                        "left to close by itself",
                        self.app.service_name,
                        LISTENER_STOP_SECONDS,
                    )
                elif not listening.cancelled() and listening.exception() is not None:
                    log.warning(
                        "outbox relay %s: listener ended with %s",
                        self.app.service_name,
                        type(listening.exception()).__name__,
                    )

    async def _idle(self, stop: asyncio.Event) -> None:
        """Waits for new notifications: until the listener says some were committed (or the
        fallback period passes), or a short poll period without a listener."""
        listener = self.listener
        if listener is None or not listener.listening:
            await _backoff(stop, self.poll_interval)
            return
        waits = {
            asyncio.ensure_future(listener.committed.wait()),
            asyncio.ensure_future(stop.wait()),
        }
        try:
            await asyncio.wait(
                waits, timeout=self.fallback_poll_interval, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _run(self, stop: asyncio.Event) -> None:
        link = KafkaLink(f"relay {self.app.service_name}")
        while not stop.is_set():
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                enable_idempotence=True,
                acks="all",
                linger_ms=2,
                **self.client_options,
            )
            try:
                await producer.start()
                await ensure_topics(
                    self.bootstrap, prefixed(self.topic_prefix, ALL_TOPICS), **self.client_options
                )
                link.reached()
                await self._loop(producer, stop)
            except (KafkaError, OSError, TimeoutError) as exc:
                link.failed(type(exc).__name__)
                await _backoff(stop, link.retry_delay())
            except (OperationalError, InterfaceError) as exc:
                log.warning(
                    "outbox relay %s: store unavailable (%s); retrying",
                    self.app.service_name,
                    type(exc).__name__,
                )
                await _backoff(stop, 1.0)
            finally:
                await _close(producer, f"outbox relay {self.app.service_name}")

    async def _loop(self, producer: AIOKafkaProducer, stop: asyncio.Event) -> None:
        # The position is read from the store once per connection and then kept here: this
        # relay is the only one advancing it, and a restart reads it again.
        position = await asyncio.to_thread(self.app.outbox_position)
        while not stop.is_set():
            if self.listener is not None:
                # Cleared before looking, so a commit after the look still wakes the next wait.
                self.listener.committed.clear()
            batch = await asyncio.to_thread(self.pending, position)
            if not batch:
                await self._idle(stop)
                continue
            deliveries = []
            for _, events in batch:
                for event in events:
                    # A producer span in the trace the event was recorded in; the message
                    # carries this span as its parent for whoever consumes it.
                    with span(
                        f"publish {event.type}",
                        self.app.service_name,
                        parent=event.traceparent,
                        kind=SpanKind.PRODUCER,
                        **{"messaging.destination.name": event.topic},
                    ):
                        message = encode(
                            replace(event, traceparent=current_traceparent()), self.mode
                        )
                        deliveries.append(
                            await asyncio.wait_for(
                                producer.send(
                                    self.topic_prefix + event.topic,
                                    value=message.value,
                                    key=message.key,
                                    headers=list(message.headers.items()),
                                ),
                                DELIVERY_TIMEOUT_SECONDS,
                            )
                        )
            await asyncio.wait_for(asyncio.gather(*deliveries), DELIVERY_TIMEOUT_SECONDS)
            try:
                await asyncio.to_thread(self.app.advance_outbox, batch[-1][0])
            except IntegrityError:
                # The replica that led until a moment ago recorded this very position before
                # it noticed losing the lead: the position is where it is, carry on from it.
                log.info("outbox relay %s: position already recorded", self.app.service_name)
            position = batch[-1][0]
            published = sum(len(e) for _, e in batch)
            self.published += published
            if self.metrics is not None:
                self.metrics.events_published.inc(published)


class _BrokerWatch:
    """Tells a subscribed consumer's link whether the broker still answers its fetches.

    aiokafka retries a lost broker by itself and `getmany` just returns nothing, so the
    consumer never sees an error; the time of the last fetch response of its partitions
    (`last_poll_timestamp`, updated even when there are no new records) does tell."""

    def __init__(self, consumer: AIOKafkaConsumer, link: KafkaLink) -> None:
        self.consumer = consumer
        self.link = link
        self.answered = time.monotonic()
        self.checked = 0.0

    def got_records(self) -> None:
        # busy with records is no silence (while they are handled nothing is fetched)
        self.answered = time.monotonic()

    def check(self) -> None:
        now = time.monotonic()
        if now - self.checked < 1.0:
            return
        self.checked = now
        try:
            assigned = self.consumer.assignment()
            polls = [self.consumer.last_poll_timestamp(tp) for tp in assigned]
        except (AssertionError, AttributeError, KeyError):  # a rebalance under way
            assigned, polls = set(), []
        if not assigned:
            # joining or rebalancing, or a group member without partitions: nothing to judge
            self.answered = now
            return
        newest = max((p for p in polls if p is not None), default=None)
        if newest is not None and time.time() * 1000 - newest < BROKER_SILENCE_SECONDS * 1000:
            self.answered = now
            self.link.reached()
        elif now - self.answered > BROKER_SILENCE_SECONDS:
            self.link.failed(f"no fetch response for {now - self.answered:.0f} s")


class Inbox(Protocol):
    """Applies one integration event exactly once (its own tracking makes it idempotent)."""

    def process(self, event: IntegrationEvent, contract: Contract) -> None: ...


Handler = Callable[[IntegrationEvent, Any], Iterable[Any] | None]


class ApplicationInbox:
    """Inbox for an eventsourcing application: the handler returns the aggregates it changed,
    and they are saved with the event's tracking record in one transaction."""

    def __init__(
        self,
        app: AccordApplication,
        handlers: dict[str, Handler],
        refusals: tuple[type[Exception], ...] = (),
    ) -> None:
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
            log.info(
                "%s id=%s refused by domain rule: %s",
                event.type,
                event.id,
                getattr(refusal, "code", type(refusal).__name__),
            )
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

    def __init__(
        self,
        inbox: Inbox,
        bootstrap: str,
        group_id: str,
        topics: list[str],
        types: set[str] | None = None,
        max_attempts: int = 3,
        transient: tuple[type[Exception], ...] = (),
        metrics: ServiceMetrics | None = None,
        service: str = "accord",
        topic_prefix: str = "",
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.inbox = inbox
        # TLS and SASL for a secured cluster (ServiceSettings.kafka_client_options).
        self.client_options: dict[str, Any] = dict(client_options or {})
        # See OutboxRelay.topic_prefix: subscribed and dead-lettered with it, read without it.
        self.topic_prefix = topic_prefix
        self.metrics = metrics
        self.service = service
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.topics = topics
        self.types = types
        self.max_attempts = max_attempts
        # Errors that mean "the store is away", never "this message is bad": the partition
        # waits and retries, nothing goes to the dead-letter topic.
        self.transient: tuple[type[Exception], ...] = (OperationalError, InterfaceError, *transient)
        self.processed = 0
        self.dead_lettered = 0
        self._lag_measured = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        link = KafkaLink(f"inbox {self.group_id}")
        while not stop.is_set():
            consumer = AIOKafkaConsumer(
                *prefixed(self.topic_prefix, self.topics),
                bootstrap_servers=self.bootstrap,
                group_id=self.group_id,
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                metadata_max_age_ms=5000,
                session_timeout_ms=10000,
                heartbeat_interval_ms=1000,
                **self.client_options,
            )
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                enable_idempotence=True,
                acks="all",
                **self.client_options,
            )
            try:
                await ensure_topics(
                    self.bootstrap, prefixed(self.topic_prefix, ALL_TOPICS), **self.client_options
                )
                await consumer.start()
                await producer.start()
                if not link.connected and not link.down:
                    log.info("inbox %s subscribes to %s", self.group_id, self.topics)
                link.reached()
                await self._loop(consumer, producer, stop, link)
            except (KafkaError, OSError, TimeoutError) as exc:
                link.failed(type(exc).__name__)
                await _backoff(stop, link.retry_delay())
            finally:
                await _close(consumer, f"inbox {self.group_id} consumer")
                await _close(producer, f"inbox {self.group_id} dead-letter producer")

    async def _loop(
        self,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        stop: asyncio.Event,
        link: KafkaLink | None = None,
    ) -> None:
        watch = _BrokerWatch(consumer, link or KafkaLink(f"inbox {self.group_id}"))
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=100)
            if not batches:
                # nothing buffered, so the fetcher is asking the broker: is it answering?
                watch.check()
            else:
                watch.got_records()
            if self.metrics is not None:
                await self._measure_lag(consumer)
            for tp, records in batches.items():
                if isinstance(self.inbox, BatchInbox):
                    if await self._handle_batch(records, producer, stop):
                        await asyncio.wait_for(
                            consumer.commit({tp: records[-1].offset + 1}), DELIVERY_TIMEOUT_SECONDS
                        )
                    else:
                        # effects are idempotent per event id, so the whole batch may rerun
                        consumer.seek(tp, records[0].offset)
                    continue
                # Each event is applied in its own transaction with its tracking record; the
                # offset is committed once for the records applied (a crash before the commit
                # redelivers them, and their tracking records make that a no-op).
                applied: int | None = None
                for record in records:
                    if not await self._handle(record, producer, stop):
                        consumer.seek(tp, record.offset)  # retry this one later, keep order
                        break
                    applied = record.offset + 1
                if applied is not None:
                    await asyncio.wait_for(consumer.commit({tp: applied}), DELIVERY_TIMEOUT_SECONDS)

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Per topic: the partitions' high watermarks less this group's positions, at most
        once a second (the broker's figures arrive with each fetch, so this asks nothing)."""
        now = time.monotonic()
        if self.metrics is None or now - self._lag_measured < 1.0:
            return
        self._lag_measured = now
        lag: dict[str, int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await consumer.position(tp)
            except KafkaError:  # no position yet (a rebalance in progress)
                continue
            lag[tp.topic] = lag.get(tp.topic, 0) + max(0, highwater - position)
        for topic, behind in lag.items():
            self.metrics.consumer_lag.labels(topic=topic).set(behind)

    def _parse(
        self, record: ConsumerRecord[bytes, bytes]
    ) -> tuple[IntegrationEvent, Contract] | None:
        """The event and its validated contract; None when it is not for this inbox."""
        topic = record.topic.removeprefix(self.topic_prefix)
        event = decode(topic, record.key, record.value, record.headers)
        if self.types is not None and event.type not in self.types:
            return None
        contract_type = CONTRACTS.get(event.type)
        if contract_type is None:
            raise MalformedMessage(f"unknown event type {event.type}")
        try:
            contract = contract_type.model_validate(
                {**event.data, "case_id": event.data.get("case_id", event.case_id)}
            )
        except ValidationError as exc:
            raise MalformedMessage(
                "payload violates contract: "
                + ",".join(".".join(map(str, e["loc"])) for e in exc.errors())
            ) from exc
        return event, contract

    async def _handle_batch(
        self,
        records: list[ConsumerRecord[bytes, bytes]],
        producer: AIOKafkaProducer,
        stop: asyncio.Event,
    ) -> bool:
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
        # One span per event, each in its own trace, covering the batch that applied it.
        spans = [
            tracer().start_span(
                f"process {event.type}",
                context=context_from(event.traceparent),
                kind=SpanKind.CONSUMER,
                attributes={"accord.service": self.service},
            )
            for event, _ in items
        ]
        try:
            await asyncio.to_thread(inbox.process_batch, items)
        except self.transient as exc:
            log.warning(
                "inbox %s: store unavailable (%s); will retry", self.group_id, type(exc).__name__
            )
            await _backoff(stop, 1.0)
            return False
        except Exception as exc:
            # One bad event must not hold the others back: apply them one at a time, which
            # retries and dead-letters individually.
            log.error(
                "inbox %s: batch failed (%s); applying one by one",
                self.group_id,
                type(exc).__name__,
            )
            for record in records:
                if not await self._handle(record, producer, stop):
                    return False
            return True
        finally:
            for each in spans:
                each.end()
        self.processed += len(items)
        if self.metrics is not None:
            self.metrics.events_consumed.labels(result="applied").inc(len(items))
        return True

    async def _handle(
        self, record: ConsumerRecord[bytes, bytes], producer: AIOKafkaProducer, stop: asyncio.Event
    ) -> bool:
        attempts = 0
        while not stop.is_set():
            try:
                parsed = self._parse(record)
                if parsed is None:
                    return True  # not for us
                event = parsed[0]
                # The Kafka header first (set by every Accord relay and by tracing tools),
                # then the CloudEvent's own traceparent attribute.
                parent = traceparent_header(record.headers) or event.traceparent
                with span(
                    f"process {event.type}",
                    self.service,
                    parent=parent,
                    kind=SpanKind.CONSUMER,
                    **{"messaging.destination.name": record.topic},
                ):
                    # to_thread copies the context: events the inbox records are in this span.
                    await asyncio.to_thread(self.inbox.process, *parsed)
                self.processed += 1
                if self.metrics is not None:
                    self.metrics.events_consumed.labels(result="applied").inc()
                return True
            except MalformedMessage as exc:
                await self._dead_letter(producer, record, str(exc))
                return True
            except self.transient as exc:
                log.warning(
                    "inbox %s: store unavailable (%s); will retry",
                    self.group_id,
                    type(exc).__name__,
                )
                await _backoff(stop, 1.0)
                return False
            except Exception as exc:
                attempts += 1
                log.error(
                    "inbox %s: %s processing offset %s/%s (attempt %s)",
                    self.group_id,
                    type(exc).__name__,
                    record.partition,
                    record.offset,
                    attempts,
                )
                if attempts >= self.max_attempts:
                    await self._dead_letter(
                        producer, record, f"handler failed: {type(exc).__name__}"
                    )
                    return True
                await _backoff(stop, 0.2 * attempts)
        return False

    async def _dead_letter(
        self, producer: AIOKafkaProducer, record: ConsumerRecord[bytes, bytes], reason: str
    ) -> None:
        log.warning(
            "dead-lettering %s/%s/%s: %s", record.topic, record.partition, record.offset, reason
        )
        # The original headers travel on: in binary content mode they are the CloudEvent's
        # attributes, without which the message could not be replayed.
        headers = [
            *((k, v) for k, v in record.headers if not k.startswith("accord-dlq-")),
            ("accord-dlq-reason", reason.encode()),
            ("accord-dlq-topic", record.topic.encode()),
            ("accord-dlq-offset", str(record.offset).encode()),
            ("accord-dlq-group", self.group_id.encode()),
        ]
        await asyncio.wait_for(
            producer.send_and_wait(
                self.topic_prefix + DEAD_LETTER_TOPIC,
                value=record.value,
                key=record.key,
                headers=headers,
            ),
            DELIVERY_TIMEOUT_SECONDS,
        )
        self.dead_lettered += 1
        if self.metrics is not None:
            self.metrics.events_consumed.labels(result="dead_lettered").inc()


async def group_caught_up(bootstrap: str, group: str, topics: Iterable[str]) -> bool:
    """Whether a consumer group has committed every record now on `topics` (a read model
    rebuilt from the earliest offsets is complete once this holds). False while the broker
    cannot tell yet, e.g. before it has elected the group's coordinator."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        await probe.start()
        wanted = list(topics)
        partitions = [
            TopicPartition(_field(t, "topic", "name"), _field(p, "partition", "partition_index"))
            for t in await admin.describe_topics(wanted)
            for p in t.get("partitions", ())
        ]
        if not partitions:
            return False  # no metadata yet: nothing can be said to be caught up
        committed = await admin.list_consumer_group_offsets(group)
        ends = await probe.end_offsets(partitions)
        return all(
            end == 0 or (tp in committed and committed[tp].offset >= end)
            for tp, end in ends.items()
        )
    except KafkaError:
        return False
    finally:
        await _close(probe, "catch-up probe")
        with contextlib.suppress(Exception):
            await admin.close()


def _field(record: dict[str, Any], *names: str) -> Any:
    """A metadata response field, under the name of whichever protocol version answered."""
    return next(record[n] for n in names if n in record)
