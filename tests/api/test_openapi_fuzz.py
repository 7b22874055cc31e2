"""Schemathesis drives every operation of each service's own OpenAPI document, in-process, with
valid and invalid inputs: once as an agency the service is for and once as another agency.
Whatever it sends, the answer is never a 5xx, never carries a traceback, and every 4xx is an
RFC 9457 problem document.

ACCORD_FUZZ_EXAMPLES bounds the examples per operation (default 30)."""

from __future__ import annotations

import os
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
)
TARGETS = [(service, caller) for service, own, other in FUZZ_RUNS for caller in (own, other)]


def exercise(operation: APIOperation[Any, Any, Any, Any], headers: dict[str, str]) -> None:
    """Valid and invalid requests for one operation, each answer checked."""

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE)))
    def answers(case: Case[Any]) -> None:
        response = case.call(headers=headers)
        content_type = (response.headers.get("content-type") or [""])[0]
        defects = response_defects(response.status_code, content_type, response.text)
        assert not defects, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: "
            f"{'; '.join(defects)}\n{response.text[:500]}\n"
            f"Reproduce: {case.as_curl_command(headers=headers)}")

    answers()


@pytest.mark.integration
@pytest.mark.parametrize("target", TARGETS, ids=[f"{s}-as-{a}-{r}" for s, (a, r) in TARGETS])
def test_every_answer_is_a_problem_document_or_success(
        target: tuple[str, tuple[str, str]], build_service: ServiceFactory, dev_keys: DevKeys,
        subtests: pytest.Subtests) -> None:
    service, (agency, role) = target
    app = build_service(service)
    # No lifespan here: schemathesis starts the app's lifespan itself and keeps it running.
    document = TestClient(app, raise_server_exceptions=False).get("/openapi.json")
    assert document.status_code == 200, (
        f"{service} cannot describe itself: GET /openapi.json -> {document.status_code} "
        f"{document.text[:300]}")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    headers = dev_keys.bearer(agency, role)
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            pytest.fail(f"{service} documents an operation schemathesis cannot read: "
                        f"{result.err()}")
        operation = result.ok()
        operations += 1
        with subtests.test(msg=operation.label):
            exercise(operation, headers)
    assert operations, f"{service} documents no operations"
