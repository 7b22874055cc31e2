"""Schemathesis drives every operation of each service's own OpenAPI document, in-process, with
valid and invalid inputs: once as an agency the service is for and once as another agency.
Whatever it sends, the answer is never a 5xx, never carries a traceback, and every 4xx is an
RFC 9457 problem document. Random generation reaches the limits of integer parameters only now
and then, so those are also tried deterministically.

ACCORD_FUZZ_EXAMPLES bounds the examples per operation (default 30)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation

from tests.api.services_under_test import DevKeys, ServiceFactory, response_defects

EXAMPLES = int(os.environ.get("ACCORD_FUZZ_EXAMPLES", "30"))

# (service, an agency/role the service is for, another agency/role)
FUZZ_RUNS: tuple[tuple[str, tuple[str, str], tuple[str, str]], ...] = (
    ("referral", ("police", "officer"), ("court", "clerk")),
    ("victim-support", ("victim_services", "advocate"), ("police", "officer")),
    ("conference", ("rj_provider", "coordinator"), ("victim_services", "advocate")),
    ("court", ("court", "clerk"), ("police", "officer")),
    ("audit", ("audit", "privacy_officer"), ("police", "officer")),
    ("reporting", ("police", "manager"), ("commissioner", "commissioner")),
)
TARGETS = [(service, caller) for service, own, other in FUZZ_RUNS for caller in (own, other)]


def exercise(operation: APIOperation[Any, Any, Any, Any], headers: dict[str, str]) -> None:
    """Valid and invalid requests for one operation, each answer checked."""

    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    def answers(case: Case[Any]) -> None:
        response = case.call(headers=headers)
        content_type = (response.headers.get("content-type") or [""])[0]
        defects = response_defects(response.status_code, content_type, response.text)
        assert not defects, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: "
            f"{'; '.join(defects)}\n{response.text[:500]}\n"
            f"Reproduce: {case.as_curl_command(headers=headers)}"
        )

    answers()


@pytest.mark.integration
@pytest.mark.parametrize("target", TARGETS, ids=[f"{s}-as-{a}-{r}" for s, (a, r) in TARGETS])
def test_every_answer_is_a_problem_document_or_success(
    target: tuple[str, tuple[str, str]],
    build_service: ServiceFactory,
    dev_keys: DevKeys,
    subtests: pytest.Subtests,
) -> None:
    service, (agency, role) = target
    app = build_service(service)
    # No lifespan here: schemathesis starts the app's lifespan itself and keeps it running.
    document = TestClient(app, raise_server_exceptions=False).get("/openapi.json")
    assert document.status_code == 200, (
        f"{service} cannot describe itself: GET /openapi.json -> {document.status_code} "
        f"{document.text[:300]}"
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = dev_keys.bearer(agency, role)
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            pytest.fail(
                f"{service} documents an operation schemathesis cannot read: {result.err()}"
            )
        operation = result.ok()
        operations += 1
        with subtests.test(msg=operation.label):
            exercise(operation, headers)
    assert operations, f"{service} documents no operations"


# Past the 64-bit range of every database integer column, and negative where counts are expected.
EDGE_INTEGERS = (2**63, 2**64, -(2**63) - 1, -1)


def _is_integer(schema: dict[str, Any]) -> bool:
    options = [schema, *schema.get("anyOf", []), *schema.get("oneOf", [])]
    return any(option.get("type") == "integer" for option in options)


def _ordinary(parameter: dict[str, Any]) -> str:
    schema = parameter.get("schema", {})
    if _is_integer(schema):
        return str(schema.get("minimum", 1))
    return str(uuid.uuid4())


def integer_edge_requests(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, str]]]:
    """(method, path, query) for each integer parameter at each edge value, the operation's
    other parameters set to ordinary values."""
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            parameters = [
                p for p in operation.get("parameters", []) if p.get("in") in ("path", "query")
            ]
            for edge_parameter in parameters:
                if not _is_integer(edge_parameter.get("schema", {})):
                    continue
                for edge in EDGE_INTEGERS:
                    path, query = template, {}
                    for p in parameters:
                        value = str(edge) if p is edge_parameter else _ordinary(p)
                        if p["in"] == "path":
                            path = path.replace("{" + p["name"] + "}", value)
                        elif p is edge_parameter or p.get("required"):
                            query[p["name"]] = value
                    yield method.upper(), path, query


@pytest.mark.integration
@pytest.mark.parametrize(
    ("service", "caller"), [(s, own) for s, own, _ in FUZZ_RUNS], ids=[s for s, _, _ in FUZZ_RUNS]
)
def test_integer_parameters_at_their_limits(
    service: str, caller: tuple[str, str], build_service: ServiceFactory, dev_keys: DevKeys
) -> None:
    client = TestClient(build_service(service), raise_server_exceptions=False)
    document = client.get("/openapi.json")
    assert document.status_code == 200, document.text[:300]
    headers = dev_keys.bearer(*caller)
    failures = []
    for method, path, query in integer_edge_requests(document.json()):
        response = client.request(method, path, params=query, headers=headers)
        defects = response_defects(
            response.status_code, response.headers.get("content-type", ""), response.text
        )
        if defects:
            failures.append(
                f"{method} {path} {query} -> {response.status_code}: "
                f"{'; '.join(defects)} {response.text[:200]}"
            )
    assert not failures, "\n".join(failures)
