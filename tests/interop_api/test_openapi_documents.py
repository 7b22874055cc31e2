"""Each service's OpenAPI document is one an integrator can rely on (issue 20, item 1): valid
OpenAPI 3.1 by `openapi-spec-validator`, a bearer security scheme on every operation except the
health checks, and every problem the runtime can answer declared as an RFC 9457 document, with
validation errors in the shape the services send (field errors), never FastAPI's own."""

from __future__ import annotations

from typing import Any

import pytest
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from tests.api.services_under_test import SERVICES, DevKeys, service_module

METHODS = ("get", "put", "post", "delete", "patch")
ANONYMOUS = {"/health/live", "/health/ready"}
PROBLEM = "#/components/schemas/ProblemDocument"
VALIDATION_PROBLEM = "#/components/schemas/ValidationProblem"


def build(service: str, dev_keys: DevKeys, tmp: Any) -> FastAPI:
    module = service_module(service)
    settings = ServiceSettings.for_service(
        service,
        0,
        persistence="memory",
        # describing a service needs no policy engine
        opa_url="http://127.0.0.1:9",
        jwks_path=dev_keys.jwks_path,
        data_dir=tmp.mktemp(service),
    )
    api: FastAPI = module.make_api(module.make_runtime(settings), with_workers=False)
    return api


@pytest.fixture(scope="module")
def documents(dev_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The documents as an integrator fetches them: GET /openapi.json."""
    docs = {}
    for service in SERVICES:
        response = TestClient(build(service, dev_keys, tmp_path_factory)).get("/openapi.json")
        assert response.status_code == 200, service
        docs[service] = response.json()
    return docs


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, item[method])
        for path, item in document["paths"].items()
        for method in METHODS
        if method in item
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_the_document_is_valid_openapi(service: str, documents: dict[str, Any]) -> None:
    document = documents[service]
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on the first error


@pytest.mark.parametrize("service", SERVICES)
def test_every_protected_operation_requires_a_bearer_token(
    service: str, documents: dict[str, Any]
) -> None:
    document = documents[service]
    scheme = document["components"]["securitySchemes"]["bearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    for method, path, operation in operations(document):
        if path in ANONYMOUS:
            assert operation.get("security") in (None, []), f"{method} {path}"
            continue
        assert operation.get("security") == [{"bearer": []}], f"{method} {path}"
        unauthorized = operation["responses"]["401"]
        assert "WWW-Authenticate" in unauthorized["headers"], f"{method} {path}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_problem_an_operation_can_answer_is_documented(
    service: str, documents: dict[str, Any]
) -> None:
    """401 (no token), 403 (wrong agency or kind of token), 422 (validation) and 503 (policy or
    store down) on every protected operation; 404 where the path names a record; 409 on every
    write (a concurrent writer); 400 (undecodable) and 413 (too large) where there is a
    body."""
    wrong = []
    for method, path, operation in operations(documents[service]):
        if path in ANONYMOUS:
            continue
        expected = {"401", "403", "422", "503"}
        if "{" in path:
            expected.add("404")
        if method != "get":
            expected.add("409")
        if "requestBody" in operation:
            expected |= {"400", "413"}
        responses = operation["responses"]
        for status in sorted(expected - set(responses)):
            wrong.append(f"{method} {path}: {status} not documented")
        for status, response in responses.items():
            if status[0] not in "45":
                continue
            content = response.get("content", {})
            if list(content) != ["application/problem+json"]:
                wrong.append(f"{method} {path}: {status} is not application/problem+json")
                continue
            ref = content["application/problem+json"]["schema"].get("$ref")
            if ref != (VALIDATION_PROBLEM if status == "422" else PROBLEM):
                wrong.append(f"{method} {path}: {status} schema is {ref}")
            if status == "503" and "Retry-After" not in response.get("headers", {}):
                wrong.append(f"{method} {path}: 503 does not document Retry-After")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("service", SERVICES)
def test_problem_schemas_are_rfc_9457(service: str, documents: dict[str, Any]) -> None:
    schemas = documents[service]["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    problem = schemas["ProblemDocument"]
    # RFC 9457 section 3.1: type, title, status, detail, instance; `code` is Accord's name.
    assert {"type", "title", "status", "detail", "instance", "code"} <= set(problem["properties"])
    assert problem["properties"]["type"]["format"] == "uri"
    assert problem["properties"]["status"]["type"] == "integer"
    validation = schemas["ValidationProblem"]
    assert validation["allOf"] == [{"$ref": PROBLEM}]
    errors = validation["properties"]["errors"]
    assert errors["items"] == {"$ref": "#/components/schemas/FieldError"}
    assert set(schemas["FieldError"]["properties"]) == {"field", "message", "kind"}


def test_a_validation_error_is_answered_as_documented(
    dev_keys: DevKeys, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The shape the document declares for 422 is the one a bad request gets back."""
    client = TestClient(build("referral", dev_keys, tmp_path_factory))
    response = client.get(
        "/referrals", params={"limit": "0"}, headers=dev_keys.bearer("police", "officer")
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["status"] == 422
    assert [e["field"] for e in body["errors"]] == ["query.limit"]
    assert set(body["errors"][0]) == {"field", "message", "kind"}
