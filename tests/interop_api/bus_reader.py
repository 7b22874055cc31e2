"""Reads what is on the bus, as an outside subscriber would: every message of the given topics
from the beginning up to their current end, without a consumer group."""

from __future__ import annotations

from collections.abc import Iterable

from accord_kernel.bus import PARTITIONS, ensure_topics
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition


async def read_all(bootstrap: str, topics: Iterable[str]) -> list[ConsumerRecord[bytes, bytes]]:
    # The bus creates every topic with PARTITIONS partitions (accord_kernel.bus.ensure_topics).
    await ensure_topics(bootstrap)
    partitions = [TopicPartition(topic, p) for topic in topics for p in range(PARTITIONS)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, batch in batches.items():
                records.extend(r for r in batch if r.offset < ends[tp])
                if batch and batch[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()
