"""A training deployment in the test process: all five services with training mode on, on
the session's real Kafka (topics of its own), OPA and PostgreSQL (a database of its own)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from accord_platform.harness import InProcessPlatform
from accord_platform.training.play import Player


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def training_platform(
    infrastructure: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InProcessPlatform]:
    database = "training_" + uuid.uuid4().hex[:8]
    infrastructure.postgres.create_database(database)
    running = InProcessPlatform(
        kafka_bootstrap=infrastructure.kafka_bootstrap,
        opa_url=infrastructure.opa_url,
        database_url=infrastructure.postgres.url(database),
        work_dir=tmp_path_factory.mktemp("training"),
        # Topics of its own on the session's Kafka: the live platform the other test modules
        # run there never reads the training deployment's events, nor the reverse.
        extra={"training": True, "topic_prefix": f"training-{database}."},
    )
    await running.start()
    try:
        yield running
    finally:
        await running.close()


@pytest.fixture
def player(training_platform: InProcessPlatform) -> Player:
    clients = {name: training_platform.client(name) for name in training_platform.services}
    return Player(clients, training_platform.key_dir)
