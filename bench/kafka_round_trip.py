"""The baseline of the end-to-end benchmarks: Kafka's own produce -> consume round trip with
aiokafka, on the same broker, with the relay's producer settings (idempotent, acks=all)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.measure import Stopwatch


class KafkaRoundTrip:
    """A private one-partition topic; the consumer is assigned to it directly (no group), so
    nothing but the broker stands between a send and its receipt."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.topic = f"bench.round-trip.{uuid.uuid4().hex[:8]}"
        self.partition = TopicPartition(self.topic, 0)
        self.producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, enable_idempotence=True, acks="all"
        )
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=500
        )

    async def __aenter__(self) -> Self:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, 1, 1)])
        finally:
            await admin.close()
        await self.producer.start()
        await self.consumer.start()
        self.consumer.assign([self.partition])
        await self.consumer.seek_to_end(self.partition)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.consumer.stop()
        await self.producer.stop()

    async def once(self, payload: bytes) -> float:
        """Seconds from handing one message to the producer until the consumer has it."""
        key = uuid.uuid4().bytes
        clock = Stopwatch()
        await self.producer.send(self.topic, value=payload, key=key)
        while True:
            record = await self.consumer.getone(self.partition)
            if record.key == key:
                return clock.elapsed()

    async def burst(self, payloads: Sequence[bytes]) -> tuple[float, list[float]]:
        """All `payloads` sent at once: seconds until the consumer has every one, and each
        message's own round trip."""
        keys = [uuid.uuid4().bytes for _ in payloads]
        sent_at: dict[bytes, Stopwatch] = {}
        round_trips: list[float] = []
        clock = Stopwatch()

        async def receive() -> None:
            waiting = set(keys)
            while waiting:
                batches = await self.consumer.getmany(self.partition, timeout_ms=1000)
                for record in batches.get(self.partition, []):
                    if record.key in waiting:
                        waiting.discard(record.key)
                        round_trips.append(sent_at[record.key].elapsed())

        receiving = asyncio.create_task(receive())
        deliveries = []
        for key, payload in zip(keys, payloads, strict=True):
            sent_at[key] = Stopwatch()
            deliveries.append(await self.producer.send(self.topic, value=payload, key=key))
        await asyncio.gather(*deliveries)
        await receiving
        return clock.elapsed(), round_trips
