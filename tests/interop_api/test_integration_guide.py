"""docs/integration.md works as written: its `python` examples run, in order, against the
referral service served over HTTP (on the session's real OPA) and a real Kafka broker carrying
events in both CloudEvents content modes; only the addresses (and the example's topic and
consumer group, made unique) are replaced by the test's."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from accord_kernel.bus import ALL_TOPICS, ensure_topics
from accord_kernel.envelope import CONTENT_MODES, IntegrationEvent, encode
from accord_kernel.testing import event_of, submitted
from aiokafka import AIOKafkaProducer

from tests.api.services_under_test import DevKeys
from tests.interop_api.served import build, serving

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "integration.md"


def examples() -> list[str]:
    return re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def test_the_guide_has_runnable_examples_and_its_sections() -> None:
    text = GUIDE.read_text()
    assert len(examples()) == 3
    for heading in ("## Calling the APIs", "## Subscribing to events"):
        assert heading in text
    # the sections the other documents fill in, each a pointer
    assert "## Verifying the audit log" in text and "(verifying-the-log.md)" in text
    assert "## Identity providers" in text and "(identity-providers.md)" in text
    # every topic of the bus is in the guide's table
    for topic in ALL_TOPICS:
        shown = "accord.share.<agency>" if topic.startswith("accord.share.") else topic
        assert f"`{shown}`" in text, topic


async def publish_both_modes(bootstrap: str, topic: str) -> list[IntegrationEvent]:
    await ensure_topics(bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    sent = []
    try:
        for mode in CONTENT_MODES:
            event = event_of(submitted(str(uuid.uuid4())))
            message = encode(event, mode)
            await producer.send_and_wait(
                topic,
                value=message.value,
                key=bytes(message.key or b""),
                headers=list(message.headers.items()),
            )
            sent.append(event)
    finally:
        await producer.stop()
    return sent


def test_the_examples_run(
    infrastructure: Any,
    opa_url: str,
    dev_keys: DevKeys,
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)  # the examples read docs/examples/referral.json
    bootstrap = infrastructure.kafka_bootstrap
    topic = f"accord.guide-test.{uuid.uuid4().hex[:8]}"
    sent = asyncio.run(publish_both_modes(bootstrap, topic))
    namespace: dict[str, Any] = {"TOKEN": dev_keys.token("police", "officer")}
    with serving(build("referral", dev_keys, tmp_path_factory, opa_url=opa_url)) as base:
        for code in examples():
            code = (
                code.replace("http://127.0.0.1:8101", base)
                .replace("127.0.0.1:9092", bootstrap)
                .replace('"accord.referral.events"', f'"{topic}"')
                .replace("my-case-system", f"guide-{uuid.uuid4().hex[:8]}")
            )
            exec(compile(code, str(GUIDE), "exec"), namespace)
    # what the examples saw: the referral they made, and both events in their two modes
    assert namespace["referral"]["case_id"] == namespace["case_id"]
    # (in any order: the two cases' keys may fall on different partitions)
    assert sorted((t, case) for t, case, _ in namespace["events"]) == sorted(
        (e.type, e.case_id) for e in sent
    )
