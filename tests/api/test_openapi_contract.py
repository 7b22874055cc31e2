"""Every operation of every service says what it answers: a schema for each successful body
(a 204 has none), and RFC 9457 problem documents for the errors it documents. What the
services really answer is checked against these documents on every call of the integration
journeys (tests/contract.py, installed by tests/conftest.py); the checker itself is tested
here on bodies that break the contract."""

from __future__ import annotations

import json
from typing import Any

import pytest
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from tests.api.services_under_test import SERVICES, DevKeys, service_module
from tests.contract import Contract

METHODS = ("get", "post", "put", "patch", "delete")
PROBLEM = "#/components/schemas/ProblemDocument"
# 422 answers carry field errors (accord_kernel.openapi.validation_problem_schema)
VALIDATION_PROBLEM = "#/components/schemas/ValidationProblem"
ANONYMOUS = ("/health/live", "/health/ready")


@pytest.fixture(scope="module")
def documents(
    dev_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document; no policy engine is needed to describe a service."""
    docs = {}
    for service in SERVICES:
        module = service_module(service)
        settings = ServiceSettings.for_service(
            service,
            0,
            persistence="memory",
            opa_url="http://127.0.0.1:9",
            jwks_path=dev_keys.jwks_path,
            data_dir=tmp_path_factory.mktemp(service),
        )
        api: FastAPI = module.make_api(module.make_runtime(settings), with_workers=False)
        docs[service] = api.openapi()
    return docs


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_every_operation_declares_its_successful_body(
    documents: dict[str, dict[str, Any]],
) -> None:
    missing = []
    for service, document in documents.items():
        for method, path, operation in operations(document):
            successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
            if not successes:
                missing.append(f"{service} {method} {path}: no 2xx response")
            for status, response in successes.items():
                schemas = [c.get("schema") for c in (response.get("content") or {}).values()]
                if status == "204":
                    if schemas:
                        missing.append(f"{service} {method} {path}: 204 declares a body")
                elif not schemas or not all(schemas):
                    missing.append(f"{service} {method} {path}: {status} has no schema")
                elif any(s in ({}, {"type": "object"}) for s in schemas):
                    missing.append(f"{service} {method} {path}: {status} schema says nothing")
                elif "additionalProperties" in json.dumps(schemas) and "$ref" not in json.dumps(
                    schemas
                ):
                    missing.append(f"{service} {method} {path}: {status} is an untyped object")
    assert not missing, "\n".join(missing)


def test_errors_are_documented_as_problem_documents(
    documents: dict[str, dict[str, Any]],
) -> None:
    wrong = []
    for service, document in documents.items():
        assert "ProblemDocument" in document["components"]["schemas"], service
        assert "HTTPValidationError" not in document["components"]["schemas"], service
        for method, path, operation in operations(document):
            responses = operation["responses"]
            errors = {s: r for s, r in responses.items() if s[0] in "45"}
            if path not in ANONYMOUS:
                for status in ("401", "422", "503"):
                    if status not in errors:
                        wrong.append(f"{service} {method} {path}: {status} not documented")
            for status, response in errors.items():
                if path == "/health/ready":
                    continue
                content = response.get("content") or {}
                schema = content.get("application/problem+json", {}).get("schema", {})
                expected = VALIDATION_PROBLEM if status == "422" else PROBLEM
                if list(content) != ["application/problem+json"] or schema.get("$ref") != expected:
                    wrong.append(f"{service} {method} {path}: {status} is not a Problem")
    assert not wrong, "\n".join(wrong)


def test_version_conflicts_are_documented_as_412_everywhere(
    documents: dict[str, dict[str, Any]],
) -> None:
    """Commands taking If-Match document 412 (a stale version), never 409 for it."""
    for service, document in documents.items():
        for method, path, operation in operations(document):
            headers = {
                p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"
            }
            if "If-Match" in headers:
                assert "412" in operation["responses"], f"{service} {method} {path}"


def test_the_contract_check_refuses_bodies_the_document_does_not_describe(
    documents: dict[str, dict[str, Any]],
) -> None:
    contract = Contract(documents["referral"])
    path = "/referrals/2b1f9c3e-0000-4000-8000-000000000000"
    good = {"case_id": "x", "status": "eligible", "version": 3, "overdue": False}
    assert contract.defects("GET", path, 200, "application/json", json.dumps(good).encode()) == []
    # withheld fields are absent, and that conforms
    assert contract.defects("GET", path, 200, "application/json", b"{}") == []
    for bad in (
        {**good, "version": "3"},  # wrong type
        {**good, "victim_address": "1 Road"},  # a member the schema does not name
    ):
        assert contract.defects("GET", path, 200, "application/json", json.dumps(bad).encode())
    assert contract.defects("GET", path, 409, "application/problem+json", b"{}")  # undocumented
    problem = {
        "type": "http://referral/problems/not_found",
        "title": "t",
        "status": 404,
        "code": "not_found",
        "reasons": [],
    }
    body = json.dumps(problem).encode()
    assert contract.defects("GET", path, 404, "application/problem+json", body) == []
    assert contract.defects("GET", path, 404, "application/json", body)
    assert contract.defects("GET", path, 404, "application/problem+json", b'{"title": 1}')
    assert contract.defects("POST", path + "/withdrawal", 204, "", b"") == []
    assert contract.defects("POST", path + "/withdrawal", 204, "", b"{}")
