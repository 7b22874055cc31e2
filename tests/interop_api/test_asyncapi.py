"""The AsyncAPI 3.0 document of the bus (issue 20, item 3): generated from the event contracts
and up to date in docs/asyncapi.yaml, accepted by the AsyncAPI parser from npm, complete (every
topic, every event type with its version, payload schema, key, publishers and consumers), and
true: every event the services publish in a whole RJ journey on real Kafka validates against
its message's payload schema, on a channel that carries it, keyed by its case id, from a
service the document names as its publisher."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import yaml
from accord_kernel.bus import ALL_TOPICS
from accord_kernel.contracts import CONTRACTS
from accord_kernel.envelope import decode
from accord_platform.asyncapi import document, render
from accord_platform.cli import app as accord
from accord_platform.harness import InProcessPlatform, eventually
from accord_platform.infra import REPO, parse_exports
from typer.testing import CliRunner

from tests.interop_api.bus_reader import read_all
from tests.journey import Journey

DOCUMENT = REPO / "docs" / "asyncapi.yaml"


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT.read_text())
    return loaded


@pytest.fixture(scope="module")
def parser_home() -> str:
    """The @asyncapi/parser install of tools/asyncapi/package-lock.json, in the cache
    (deploy/provision.sh runs npm ci once per lock file)."""
    home = os.environ.get("ACCORD_ASYNCAPI_PARSER")
    if not home:
        done = subprocess.run(
            ["bash", str(REPO / "deploy" / "provision.sh")],
            capture_output=True,
            text=True,
            check=True,
        )
        home = parse_exports(done.stdout)["ACCORD_ASYNCAPI_PARSER"]
    assert Path(home, "node_modules", "@asyncapi", "parser").is_dir(), home
    return home


def test_the_document_in_docs_is_what_the_contracts_generate() -> None:
    result = CliRunner().invoke(accord, ["asyncapi", "--check", "--output", str(DOCUMENT)])
    assert result.exit_code == 0, result.output
    assert DOCUMENT.read_text() == render(document())


def test_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    stale = tmp_path / "asyncapi.yaml"
    stale.write_text(DOCUMENT.read_text().replace("accord.court.review_decided.v1", "x.v1"))
    result = CliRunner().invoke(accord, ["asyncapi", "--check", "--output", str(stale)])
    assert result.exit_code == 1
    written = CliRunner().invoke(accord, ["asyncapi", "--output", str(stale)])
    assert written.exit_code == 0, written.output
    assert stale.read_text() == DOCUMENT.read_text()


def test_the_asyncapi_parser_accepts_the_document(parser_home: str) -> None:
    done = subprocess.run(
        ["node", str(REPO / "tools" / "asyncapi" / "validate.cjs"), parser_home, str(DOCUMENT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    errors = [line for line in lines if line.get("severity") == 0]
    assert not errors
    summary = lines[-1]
    assert summary["version"] == "3.0.0"
    assert summary["channels"] == len(ALL_TOPICS)
    # every contract, and the dead-letter topic's own message
    assert summary["messages"] == len(CONTRACTS) + 1


def test_every_topic_and_event_type_is_documented(published: dict[str, Any]) -> None:
    channels = {c["address"]: c for c in published["channels"].values()}
    assert set(channels) == set(ALL_TOPICS)
    messages = {m["name"]: m for m in published["components"]["messages"].values()}
    for event_type, contract in CONTRACTS.items():
        assert event_type in messages, event_type
        message = messages[event_type]
        assert message["x-accord-version"] == int(event_type.rsplit(".v", 1)[1])
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        assert message["x-accord-publishers"], event_type
        properties = message["payload"]["properties"]
        assert set(properties) == set(contract.model_fields), event_type
        # each field names its data class (SPEC section 4)
        assert all(p.get("x-accord-data-class") for p in properties.values()), event_type
        carriers = [
            address
            for address, channel in channels.items()
            if any(
                ref["$ref"].endswith("/" + key)
                for key, ref in channel["messages"].items()
                if published["components"]["messages"][key]["name"] == event_type
            )
        ]
        assert carriers, f"{event_type} is on no channel"
    # who consumes what, as the services subscribe (a sample the SPEC fixes: the court learns
    # of referrals, victim services of agreements, the audit log of everything)
    assert "court" in messages["accord.referral.submitted.v1"]["x-accord-consumers"]
    assert "victim-support" in messages["accord.conference.agreement_made.v1"]["x-accord-consumers"]
    assert all("audit" in m["x-accord-consumers"] for t, m in messages.items() if t in CONTRACTS)


@pytest.mark.integration
async def test_every_event_of_a_journey_validates_against_the_document(
    platform: InProcessPlatform, infrastructure: Any, published: dict[str, Any]
) -> None:
    j = Journey(platform)
    await j.refer()
    await j.victim_consents()
    await j.accept_and_prepare()
    await j.conference_and_agreement(share_with_court=True)
    await j.report("item-1", "completed")
    await j.report("item-2", "breached")

    async def court_knows() -> bool:
        view = await j.court_view()
        return bool(view and len(view.get("items_status", [])) == 3)

    await eventually(court_knows)
    r = await platform.client("court").post(
        f"/court-cases/{j.court_reference}/decisions",
        headers=j.clerk,
        json={"decision": "returned_for_sentencing", "notes": "Breach of item 2"},
    )
    assert r.status_code in (201, 204), r.text

    by_name = {m["name"]: (k, m) for k, m in published["components"]["messages"].items()}
    channels = {c["address"]: c for c in published["channels"].values()}

    async def journey_published() -> list[Any] | None:
        records = await read_all(infrastructure.kafka_bootstrap, ALL_TOPICS)
        types = {decode(r.topic, r.key, r.value).type for r in records if r.value}
        return records if "accord.court.review_decided.v1" in types else None

    records = await eventually(journey_published, timeout=60)
    seen: set[str] = set()
    for record in records:
        if record.topic == "accord.deadletter":
            continue
        event = decode(record.topic, record.key, record.value)
        assert event.type in by_name, f"{event.type} is not in the document"
        key, message = by_name[event.type]
        assert key in channels[record.topic]["messages"], f"{event.type} on {record.topic}"
        assert record.key == event.case_id.encode()
        assert event.source.removeprefix("/accord/") in message["x-accord-publishers"]
        validator = jsonschema_rs.validator_for(message["payload"], validate_formats=True)
        errors = [e.message for e in validator.iter_errors(event.data)]
        assert not errors, f"{event.type}: {errors}"
        seen.add(event.type)
    # the journey's own steps, at least
    assert {
        "accord.referral.submitted.v1",
        "accord.victim_support.consent_changed.v1",
        "accord.conference.referral_accepted.v1",
        "accord.conference.agreement_made.v1",
        "accord.share.agreement_items.v1",
        "accord.conference.item_reported.v1",
        "accord.court.review_decided.v1",
        "accord.audit.access_recorded.v1",
    } <= seen
