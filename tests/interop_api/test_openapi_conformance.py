"""Schemathesis checks that what every service answers conforms to its own OpenAPI document
(issue 20, item 1): the status code is one the operation declares, the content type is the
declared one, the body validates against the declared schema (problems included) and the
declared headers are sent. Requests carry a real token of an agency the service is for, and
about half of those naming a case name one the service knows, so that answers other than 404
are reached too.

ACCORD_CONFORMANCE_EXAMPLES bounds the examples per operation (default 8), which keeps the
file to a few minutes on the development machines. Positive and negative examples both: a
refused input must be answered as documented too (a 422 ValidationProblem naming the field, or
a 400 for a body that cannot be decoded)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from schemathesis.schemas import APIOperation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.services_under_test import DevKeys, ServiceFactory, introduce

EXAMPLES = int(os.environ.get("ACCORD_CONFORMANCE_EXAMPLES", "8"))
CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# (service, the agency and role it is mainly for)
CALLERS: dict[str, tuple[str, str]] = {
    "referral": ("police", "officer"),
    "victim-support": ("victim_services", "advocate"),
    "conference": ("rj_provider", "coordinator"),
    "court": ("court", "clerk"),
    "audit": ("audit", "privacy_officer"),
}
# Victim services also serves the victim's own view and the enrolment account's redemption.
RUNS = [(service, caller) for service, caller in CALLERS.items()] + [
    ("victim-support", ("victim", "victim")),
    ("victim-support", ("victim_services", "enrolment")),
]


def seed(service: str, app: FastAPI, client: TestClient, headers: dict[str, str]) -> str:
    """A case the service knows and the caller's organisation is responsible for."""
    if service == "referral":
        from accord_referral.examples import referral

        response = client.post("/referrals", json=referral(), headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["case_id"])
    case_id = str(uuid.uuid4())
    if app.state.runtime.inbox is not None:
        introduce(client, case_id)
    return case_id


def exercise(
    operation: APIOperation[Any, Any, Any, Any], headers: dict[str, str], case_id: str
) -> None:
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        ),
        known=st.booleans(),
    )
    def conforms(case: Case[Any], known: bool) -> None:
        if known and case.path_parameters and "case_id" in case.path_parameters:
            case.path_parameters["case_id"] = case_id
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)

    conforms()


@pytest.mark.integration
@pytest.mark.parametrize(("service", "caller"), RUNS, ids=[f"{s}-as-{a}-{r}" for s, (a, r) in RUNS])
def test_every_answer_conforms_to_the_document(
    service: str,
    caller: tuple[str, str],
    build_service: ServiceFactory,
    dev_keys: DevKeys,
    subtests: pytest.Subtests,
) -> None:
    app = build_service(service)
    headers = dev_keys.bearer(*caller)
    own = dev_keys.bearer(*CALLERS[service])
    case_id = seed(service, app, TestClient(app, raise_server_exceptions=False), own)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    count = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"{service}: unreadable operation {result}"
        operation = result.ok()
        count += 1
        with subtests.test(msg=operation.label):
            exercise(operation, headers, case_id)
    assert count, f"{service} documents no operations"


@pytest.mark.integration
@pytest.mark.parametrize("service", list(CALLERS))
def test_refusals_conform_to_the_document(
    service: str, build_service: ServiceFactory, dev_keys: DevKeys
) -> None:
    """No token (401 on every operation), and the enrolment service account's token, which
    reaches two routes of victim services and no other (403): problems as declared."""
    app = build_service(service)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    enrolment = dev_keys.bearer("victim_services", "enrolment")
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path.startswith("/health/"):
            continue
        names = [p.name for p in operation.path_parameters]
        for headers, expected in (({}, {401}), (enrolment, {403, 404, 410, 422})):
            case = operation.Case(path_parameters={n: str(uuid.uuid4()) for n in names})
            response = case.call(headers=headers)
            assert response.status_code in expected, (operation.label, response.text)
            case.validate_response(response, checks=CHECKS, headers=headers)
