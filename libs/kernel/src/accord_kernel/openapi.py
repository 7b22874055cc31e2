"""Each service's OpenAPI document, completed with what the runtime itself answers.

FastAPI describes the routes; it does not know that every route but the health checks needs a
bearer token, that the runtime's own handlers answer 401, 403, 404, 409, 422 and 503 problem
documents on routes that never mention them, or that validation errors are RFC 9457 problems
with field errors rather than its `HTTPValidationError`. `complete` adds all of that once, for
every service, so that an integrator (and schemathesis' conformance checks) can rely on the
document: every status a route can answer is declared, with the body it carries."""

from __future__ import annotations

import re
from typing import Any

PROBLEM_MEDIA_TYPE = "application/problem+json"
BEARER = "bearer"
PROBLEM = "ProblemDocument"
VALIDATION_PROBLEM = "ValidationProblem"
FIELD_ERROR = "FieldError"
# Routes anyone may call: the health checks (and the documents and problem pages, which are
# not operations of the document).
ANONYMOUS_PATHS = frozenset({"/health/live", "/health/ready"})
METHODS = ("get", "put", "post", "delete", "patch")
WRITES = frozenset({"put", "post", "delete", "patch"})

# Why a route answers each status although it may not say so itself: the runtime's handlers.
RUNTIME_STATUSES: dict[int, str] = {
    400: "The body could not be decoded at all, e.g. it is not UTF-8 (`malformed_request`).",
    401: "No valid bearer token (`unauthorized`). The `WWW-Authenticate` header names the scheme.",
    403: "The caller's agency, role or organisation may not do this (`forbidden`, "
    "`access_denied`, or a domain refusal such as `not_permitted`).",
    404: "No such record, or one another organisation holds (`not_found`): the two are "
    "indistinguishable.",
    409: "The record's current state does not allow this, or it changed while the request was "
    "applied (`invalid_state`, `already_exists`, `concurrent_update`).",
    413: "The request body is larger than the service accepts (`payload_too_large`).",
    422: "The request is not valid (`validation_failed`, with `errors` naming each field; or a "
    "domain rule such as `idempotency_key_reused`).",
    503: "The policy engine or the event store cannot answer (`policy_unavailable`, "
    "`store_unavailable`); no case data is returned. Retry after `Retry-After`.",
}
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "schema": {"type": "integer", "minimum": 0},
}
STATUS_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": 'The authentication scheme: `Bearer realm="accord"`',
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": RETRY_AFTER},
    503: {"Retry-After": RETRY_AFTER},
}


def problem_schema() -> dict[str, Any]:
    """RFC 9457 section 3: the members every problem document of Accord carries. Extension
    members (`errors`, `current_version`, `state`, `reasons`, ...) depend on `code`."""
    return {
        "title": "ProblemDocument",
        "description": "An RFC 9457 problem document (`application/problem+json`). `type` is "
        "the address of a page describing the problem and what to do about it (served by "
        "every service at `/problems/{code}`); `code` is its stable machine name.",
        "type": "object",
        "required": ["type", "title", "status", "code"],
        "properties": {
            "type": {
                "type": "string",
                "format": "uri",
                "description": "A page describing this kind of problem: <problem base>/<code>",
                "examples": ["https://referral.example/problems/not_found"],
            },
            "title": {"type": "string", "description": "A short summary of the kind"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": {
                "type": "string",
                "pattern": "^[a-z][a-z0-9_]*$",
                "description": "The stable machine name of the problem",
            },
            "detail": {"type": "string", "description": "This occurrence, in words"},
            "instance": {"type": "string", "description": "The request path"},
        },
        "additionalProperties": True,
    }


def field_error_schema() -> dict[str, Any]:
    return {
        "title": "FieldError",
        "description": "One invalid input. The offending value is never echoed (it may be "
        "victim data).",
        "type": "object",
        "required": ["field"],
        "properties": {
            "field": {
                "type": "string",
                "description": "Where: dotted path of a body member, or the name of a path, "
                "query or header parameter",
            },
            "message": {"type": "string", "description": "What is wrong, in words"},
            "kind": {
                "type": "string",
                "description": "The machine name of the check that failed (pydantic's error "
                "type, `control_character`, ...)",
            },
        },
        "additionalProperties": False,
    }


def validation_problem_schema() -> dict[str, Any]:
    return {
        "title": "ValidationProblem",
        "description": "A 422 problem document. `validation_failed` from request validation "
        "names every invalid input in `errors`; a domain rule's refusal names its `field`.",
        "allOf": [{"$ref": f"#/components/schemas/{PROBLEM}"}],
        "type": "object",
        "properties": {
            "errors": {"type": "array", "items": {"$ref": f"#/components/schemas/{FIELD_ERROR}"}},
            "field": {"type": "string", "description": "The input a domain rule refused"},
        },
    }


def _problem_content(status: int) -> dict[str, Any]:
    name = VALIDATION_PROBLEM if status == 422 else PROBLEM
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{name}"}}}


def _is_problem_response(response: dict[str, Any]) -> bool:
    refs = {c.get("schema", {}).get("$ref") for c in (response.get("content") or {}).values()}
    names = {str(ref).rsplit("/", 1)[-1] for ref in refs if ref}
    return bool(names & {PROBLEM, VALIDATION_PROBLEM, "HTTPValidationError"})


def _statuses_of(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """What the runtime may answer on this operation whatever the route declares."""
    statuses = {401, 403, 422, 503}
    if re.search(r"\{[^}]+\}", path):
        statuses.add(404)  # an id nobody may see, or one that does not exist
    if method in WRITES:
        statuses.add(409)  # a concurrent writer won (`concurrent_update`)
    if "requestBody" in operation:
        statuses |= {400, 413}
    return statuses


def complete(openapi: dict[str, Any]) -> dict[str, Any]:
    """`openapi` (FastAPI's document of one service) with the bearer scheme on every protected
    operation and every problem it can answer declared as an RFC 9457 document."""
    components = openapi.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas[PROBLEM] = problem_schema()
    schemas[FIELD_ERROR] = field_error_schema()
    schemas[VALIDATION_PROBLEM] = validation_problem_schema()
    components["securitySchemes"] = {
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token of a trusted OpenID Connect issuer with the claims "
            "`sub`, `agency`, `role` and `org` (docs/integration.md).",
        }
    }
    for path, item in openapi.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if _is_problem_response(response):
                    response["content"] = _problem_content(int(status))
            if path in ANONYMOUS_PATHS:
                operation["security"] = []
                continue
            operation["security"] = [{BEARER: []}]
            for status in sorted(_statuses_of(path, method, operation)):
                if str(status) not in responses:
                    responses[str(status)] = {
                        "description": RUNTIME_STATUSES[status],
                        "content": _problem_content(status),
                    }
            for status, response in responses.items():
                headers = STATUS_HEADERS.get(int(status))
                if headers and _is_problem_response(response):
                    response.setdefault("headers", {}).update(headers)
    return openapi
