"""Request bounds at the HTTP boundary of every service: a body over the configured limit is
refused with a 413 problem before anything parses it (declared by Content-Length or streamed
without one), and control characters other than tab and newline are refused with a 422
problem naming the field, in JSON body strings and keys at any depth, query parameters and
path parameters. Nothing is stored on refusal, and the offending value is never echoed."""

from __future__ import annotations

import copy
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
import uvicorn
from accord_referral.examples import referral
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Message, Scope

from tests.api.services_under_test import SERVICES, DevKeys, ServiceFactory, response_defects

pytestmark = pytest.mark.integration

OpenClient = Callable[[str], TestClient]
MB = 1024 * 1024
CHUNK = 64 * 1024
# Control characters that must be refused: C0 (NUL, ESC, CR among them), DEL and C1.
REFUSED = ("\x00", "\x01", "\x1b", "\x7f", "\r", "\x0b", "\x0c", "\x85", "\x9f")
# Marks the submitted value, to show that it is not echoed in the answer or the logs.
SECRET = "Zq7Secret"


def victim_record() -> dict[str, Any]:
    return {
        "name": "Alex Victim",
        "preferred_contact_method": "via_advocate",
        "address": "1 Example Road",
        "safe_contact_number": "+44 7700 900123",
    }


def facilitator() -> dict[str, Any]:
    return {
        "facilitator_id": f"fac-{uuid.uuid4().hex[:8]}",
        "name": "Jo Facilitator",
        "accreditation_id": "acc-1",
        "accredited_until": "2028-01-01",
        "endorsement_expires": "2027-06-30",
    }


@dataclass(frozen=True)
class Write:
    """A command that stores names and addresses, and how to see what it stored."""

    service: str
    path: str  # {case_id} is filled with a fresh id
    caller: tuple[str, str]
    body: Callable[[], dict[str, Any]]
    # Name and address fields, and values with tab or newline these fields accept.
    names: tuple[tuple[str, ...], ...]
    accepted: tuple[tuple[tuple[str, ...], str], ...]


WRITES: dict[str, Write] = {
    "referral": Write(
        "referral",
        "/referrals",
        ("police", "officer"),
        referral,
        (("victim", "name"), ("offender", "name")),
        (
            (("victim", "name"), "Alex\tVictim"),
            (("incident", "summary"), "Assault at home address\nSecond line"),
        ),
    ),
    "victim-record": Write(
        "victim-support",
        "/cases/{case_id}/victim",
        ("victim_services", "advocate"),
        victim_record,
        (("name",), ("address",)),
        ((("address",), "1 Example Road\nExampletown\tEX1 1AA"), (("name",), "Alex\tVictim")),
    ),
    "facilitator": Write(
        "conference",
        "/facilitators",
        ("rj_provider", "coordinator"),
        facilitator,
        (("name",),),
        ((("name",), "Jo\tFacilitator"),),
    ),
}


@dataclass
class Writer:
    write: Write
    client: TestClient
    keys: DevKeys
    case_id: str

    @property
    def url(self) -> str:
        return self.write.path.format(case_id=self.case_id)

    def headers(self) -> dict[str, str]:
        return self.keys.bearer(*self.write.caller)

    def post(self, body: Any) -> Response:
        response: Response = self.client.post(self.url, json=body, headers=self.headers())
        return response

    def notifications(self) -> int:
        app = self.client.app
        assert isinstance(app, FastAPI)
        return int(app.state.runtime.app.recorder.max_notification_id() or 0)

    def stored(self) -> Any:
        """What a reader with a good token sees of what this command stores."""
        if self.write.service == "referral":
            r = self.client.get("/referrals", headers=self.keys.bearer("police", "officer"))
        elif self.write.service == "victim-support":
            r = self.client.get(self.url, headers=self.headers())
            if r.status_code == 404:
                return None
        else:
            r = self.client.get("/facilitators", headers=self.headers())
        assert r.status_code == 200, r.text
        return r.json()


@pytest.fixture(params=sorted(WRITES))
def writer(request: pytest.FixtureRequest, open_client: OpenClient, dev_keys: DevKeys) -> Writer:
    write = WRITES[str(request.param)]
    return Writer(write, open_client(write.service), dev_keys, str(uuid.uuid4()))


def with_value(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    parent = changed
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    return changed


def value_at(body: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        body = body[part]
    return body


def problem(response: Response, status: int) -> dict[str, Any]:
    defects = response_defects(
        response.status_code, response.headers.get("content-type", ""), response.text
    )
    assert response.status_code == status, f"expected {status}: {response.text[:300]}"
    assert not defects, f"{defects}: {response.text[:300]}"
    doc: dict[str, Any] = response.json()
    return doc


def control_character_fields(response: Response) -> set[str]:
    """The fields a 422 names as holding a control character, in the shape of every other
    validation problem of the services."""
    doc = problem(response, 422)
    assert doc["code"] == "validation_failed"
    assert doc["type"].endswith("/validation_failed")
    return {e["field"] for e in doc["errors"] if e["kind"] == "control_character"}


# --- body size ---------------------------------------------------------------------------

SIZE_TARGETS: dict[str, tuple[str, str, tuple[str, str]]] = {
    "referral": ("POST", "/referrals", ("police", "officer")),
    "victim-support": ("POST", f"/cases/{uuid.uuid4()}/victim", ("victim_services", "advocate")),
    "conference": ("POST", "/facilitators", ("rj_provider", "coordinator")),
    "court": ("POST", "/court-cases/T20260001/decisions", ("court", "clerk")),
    "audit": ("GET", "/checkpoint", ("audit", "privacy_officer")),
    "reporting": ("GET", "/reports", ("police", "manager")),
}


def padded(size: int) -> bytes:
    """A valid JSON object of exactly `size` bytes."""
    head, tail = b'{"padding": "', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


def limit_of(client: TestClient) -> int:
    app = client.app
    assert isinstance(app, FastAPI)
    return int(app.state.runtime.settings.max_body_bytes)


def assert_too_large(response: Response, limit: int) -> None:
    doc = problem(response, 413)
    assert doc["code"] == "payload_too_large"
    # the service's own page for the code (accord_kernel.problem_types)
    assert doc["type"] == "http://testserver/problems/payload_too_large"
    assert doc["max_body_bytes"] == limit
    assert response.headers["content-type"].startswith("application/problem+json")


def send_body(client: TestClient, keys: DevKeys, service: str, content: Any) -> Response:
    """Sends a body, as a caller the service is for, to a route of the service."""
    method, path, caller = SIZE_TARGETS[service]
    headers = {**keys.bearer(*caller), "content-type": "application/json"}
    response: Response = client.request(method, path, content=content, headers=headers)
    return response


@pytest.mark.parametrize("service", SERVICES)
def test_a_2mb_body_is_413_before_parsing(
    service: str, open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client(service)
    response = send_body(client, dev_keys, service, padded(2 * MB))
    assert_too_large(response, limit_of(client))


@pytest.mark.parametrize("service", SERVICES)
def test_a_chunked_body_over_the_limit_is_413(
    service: str, open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client(service)
    body = padded(limit_of(client) + CHUNK)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), CHUNK):
            yield body[start : start + CHUNK]

    response = send_body(client, dev_keys, service, chunks())
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_too_large(response, limit_of(client))


@pytest.mark.parametrize("service", ["referral", "audit"])
def test_a_body_at_the_limit_is_not_413_and_one_byte_more_is(
    service: str, open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client(service)
    limit = limit_of(client)
    at_limit = send_body(client, dev_keys, service, padded(limit))
    assert at_limit.status_code != 413, at_limit.text[:300]
    assert at_limit.status_code < 500, at_limit.text[:300]
    assert_too_large(send_body(client, dev_keys, service, padded(limit + 1)), limit)


def test_a_streamed_body_is_not_read_past_the_limit(build_service: ServiceFactory) -> None:
    """Driven at the ASGI level: a 30 MB body arriving in 64 KiB messages without a
    Content-Length is refused as soon as it passes the limit, without reading the rest."""
    app = build_service("referral")
    limit = app.state.runtime.settings.max_body_bytes
    pulled = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b"x" * CHUNK, "more_body": pulled * CHUNK < 30 * MB}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/referrals",
        "raw_path": b"/referrals",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"test"),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert pulled == limit // CHUNK + 1, f"read {pulled} chunks for a {limit}-byte limit"
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert json.loads(body)["code"] == "payload_too_large"


@pytest.fixture
def served_referral(build_service: ServiceFactory) -> Iterator[tuple[int, int]]:
    """The referral service behind a real uvicorn on a free port: (port, body limit)."""
    app = build_service("referral")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield sock.getsockname()[1], app.state.runtime.settings.max_body_bytes
    server.should_exit = True
    thread.join(10)
    sock.close()


def refused_over_the_wire(port: int, framing: bytes, body: bytes) -> None:
    """Sends a POST /referrals with the given framing header and (part of a) body at once,
    reads the answer until the server closes, and checks that it is a 413 problem. The
    server must have read all that was sent by then, or its close resets the connection (as
    it would for any client that goes on sending after its answer came)."""
    request = (
        b"POST /referrals HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        + framing
        + b"\r\n\r\n"
        + body
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert int(status_line.split()[1]) == 413, answer[:500]
    assert b"application/problem+json" in rest and b"payload_too_large" in rest


def test_a_real_server_refuses_a_declared_30mb_body_without_reading_it(
    served_referral: tuple[int, int],
) -> None:
    port, _ = served_referral
    # Only the start of the body is sent: the answer must not wait for the rest.
    refused_over_the_wire(port, b"Content-Length: %d" % (30 * MB), b'{"padding": "xxxx')


def test_a_real_server_refuses_a_chunked_body_over_the_limit(
    served_referral: tuple[int, int],
) -> None:
    port, limit = served_referral
    # Chunks up to the limit, then one byte more and no final chunk: the answer comes at
    # that byte, without waiting for the body's end.
    sizes = [CHUNK] * (limit // CHUNK) + [limit % CHUNK] * bool(limit % CHUNK) + [1]
    chunks = b"".join(b"%x\r\n%s\r\n" % (n, b"x" * n) for n in sizes)
    refused_over_the_wire(port, b"Transfer-Encoding: chunked", chunks)


# --- control characters --------------------------------------------------------------------


@pytest.mark.parametrize("char", REFUSED, ids=[f"U+{ord(c):04X}" for c in REFUSED])
def test_a_control_character_in_a_name_or_address_is_422_and_nothing_is_stored(
    writer: Writer, char: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = writer.notifications()
    for path in writer.write.names:
        value = f"{SECRET} {value_at(writer.write.body(), path)}{char}Tail"
        response = writer.post(with_value(writer.write.body(), path, value))
        assert control_character_fields(response) == {".".join(path)}, response.text
        assert SECRET not in response.text
    assert SECRET not in caplog.text, "the refused value was logged"
    assert writer.notifications() == before, "a refused request stored something"
    assert writer.stored() in (None, []), "a refused request is visible to a reader"


@pytest.mark.parametrize("write", sorted(WRITES))
def test_tab_and_newline_are_accepted_where_the_field_allows_them(
    write: str, open_client: OpenClient, dev_keys: DevKeys
) -> None:
    w = WRITES[write]
    for path, value in w.accepted:
        writer = Writer(w, open_client(w.service), dev_keys, str(uuid.uuid4()))
        response = writer.post(with_value(w.body(), path, value))
        assert response.status_code != 422, response.text[:300]
        if response.status_code == 404 and w.service == "victim-support":
            continue  # the case is not known to victim-support yet: past the check, not stored
        assert response.status_code == 201, response.text[:300]
        assert value in strings(writer.stored()), f"{'.'.join(path)} was not stored as sent"


def strings(document: Any) -> set[str]:
    if isinstance(document, str):
        return {document}
    if isinstance(document, dict):
        document = list(document.values())
    if isinstance(document, list):
        return set().union(*(strings(child) for child in document))
    return set()


def test_a_nul_in_a_nested_key_or_list_item_is_named(
    open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client("referral")
    body = referral()
    body["risk_assessment"]["answers"][f"current\x00{SECRET}"] = True
    body["offender"] = ["fine", f"{SECRET}\x00fine"]
    response = client.post("/referrals", json=body, headers=dev_keys.bearer("police", "officer"))
    assert control_character_fields(response) == {"risk_assessment.answers", "offender.1"}
    assert SECRET not in response.text


@pytest.mark.parametrize(
    "query",
    [
        "purpose=case_management%00",
        "purpose=case%1Bmanagement",
        "unexpected=a%00b",
        "overdue=false&limit=1%7F",
    ],
)
def test_a_control_character_in_a_query_parameter_is_422(
    query: str, open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client("referral")
    response = client.get(f"/referrals?{query}", headers=dev_keys.bearer("police", "officer"))
    name = query.rsplit("&", 1)[-1].split("=")[0]
    assert control_character_fields(response) == {f"query.{name}"}


def test_a_nul_in_a_query_parameter_of_every_service_is_422(
    open_client: OpenClient, dev_keys: DevKeys
) -> None:
    for service, (_, path, caller) in SIZE_TARGETS.items():
        response = open_client(service).get(
            f"{path}?purpose=x%00y", headers=dev_keys.bearer(*caller)
        )
        assert control_character_fields(response) == {"query.purpose"}, service


def test_a_control_character_in_a_path_parameter_is_422(
    open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client("victim-support")
    headers = dev_keys.bearer("victim_services", "advocate")
    read = client.get(f"/cases/{SECRET}%00/victim", headers=headers)
    assert control_character_fields(read) == {"path.case_id"}
    assert SECRET not in read.text
    write = client.post(f"/cases/{SECRET}%1B/victim", json=victim_record(), headers=headers)
    assert control_character_fields(write) == {"path.case_id"}
    assert client.get(f"/cases/{SECRET}%1B/victim", headers=headers).status_code == 422


def test_a_body_that_is_not_json_is_left_to_fastapi(
    open_client: OpenClient, dev_keys: DevKeys
) -> None:
    client = open_client("referral")
    response = client.post(
        "/referrals",
        content=b'{"victim": {"name": "\x00',
        headers={**dev_keys.bearer("police", "officer"), "content-type": "application/json"},
    )
    doc = problem(response, 422)
    assert {e["kind"] for e in doc["errors"]} == {"json_invalid"}


# --- property: a control character anywhere in a valid body --------------------------------


def string_slots(body: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(path, is_key) of every string value and every key in a JSON body."""
    if isinstance(body, str):
        yield path, False
    elif isinstance(body, dict):
        for key, child in body.items():
            yield (*path, key), True
            yield from string_slots(child, (*path, key))
    elif isinstance(body, list):
        for i, child in enumerate(body):
            yield from string_slots(child, (*path, str(i)))


def with_control_character(
    body: dict[str, Any], path: tuple[str, ...], is_key: bool, char: str, position: int
) -> tuple[dict[str, Any], str]:
    """The body with `char` (and the secret marker) inserted at a position of one string,
    and the field a refusal must name."""
    changed = copy.deepcopy(body)
    parent: Any = changed
    for part in path[:-1]:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    last = path[-1]
    if is_key:
        at = position % (len(last) + 1)
        renamed = last[:at] + char + SECRET + last[at:]
        parent[renamed] = parent.pop(last)
        return changed, ".".join(path[:-1]) or "body"
    old = parent[int(last)] if isinstance(parent, list) else parent[last]
    at = position % (len(old) + 1)
    parent[int(last) if isinstance(parent, list) else last] = old[:at] + char + SECRET + old[at:]
    return changed, ".".join(path)


CONTROL = st.characters(categories=["Cc"], exclude_characters="\t\n")


@pytest.mark.parametrize("write", sorted(WRITES))
def test_any_control_character_in_any_string_field_is_always_422(
    write: str, open_client: OpenClient, dev_keys: DevKeys
) -> None:
    w = WRITES[write]
    writer = Writer(w, open_client(w.service), dev_keys, str(uuid.uuid4()))
    before = writer.notifications()
    slots = sorted(string_slots(w.body()))

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(slot=st.sampled_from(slots), char=CONTROL, position=st.integers(0, 10_000))
    def refused(slot: tuple[tuple[str, ...], bool], char: str, position: int) -> None:
        body, field = with_control_character(w.body(), *slot, char, position)
        response = writer.post(body)
        assert response.status_code < 500, response.text[:300]
        assert field in control_character_fields(response), (slot, response.text[:300])
        assert SECRET not in response.text

    refused()
    assert writer.notifications() == before, "a refused request stored something"
