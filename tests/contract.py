"""Checks real answers against the answering service's own OpenAPI document: a 2xx body must
validate against the operation's declared schema, with no member the schema does not name (read
models allow extra members at run time so that nothing is silently dropped, so the check closes
them here), a 204 has no body, and an error must be a declared status of the operation with an
`application/problem+json` body that validates against the Problem schema.

The `platform` fixture installs it as a response hook on every service client, so every
integration journey checks the contract of every call it makes."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import Any

import httpx
import jsonschema_rs
from fastapi import FastAPI

# Answers any route may give that no route documents: the framework's own routing errors and
# the input-bounds middleware's refusals, which are problem documents all the same.
UNDOCUMENTED_ERRORS = frozenset({404, 405, 411, 413, 415})


class Contract:
    def __init__(self, openapi: dict[str, Any]) -> None:
        self.openapi = openapi

    @cached_property
    def _components(self) -> dict[str, Any]:
        components = copy.deepcopy(self.openapi.get("components", {}))
        for name, schema in components.get("schemas", {}).items():
            # A problem document's extension members depend on its code (RFC 9457).
            if name == "ProblemDocument":
                continue
            if "properties" in schema and schema.get("additionalProperties") is True:
                schema["additionalProperties"] = False
        return dict(components)

    @cached_property
    def _routes(self) -> list[tuple[re.Pattern[str], str]]:
        routes = []
        for template in self.openapi.get("paths", {}):
            for segment in (r"[^/]+", r".+"):
                pattern = re.sub(r"\\\{[^}]+\\\}", segment, re.escape(template))
                routes.append((re.compile(f"^{pattern}$"), template))
        # The most literal template first: /cases/{id}/gate before /cases/{id}.
        return sorted(routes, key=lambda r: -len(re.sub(r"\{[^}]+\}", "", r[1])))

    def operation(self, method: str, path: str) -> dict[str, Any] | None:
        for pattern, template in self._routes:
            operation = self.openapi["paths"][template].get(method.lower())
            if operation is not None and pattern.match(path):
                return dict(operation)
        return None

    def defects(
        self, method: str, path: str, status: int, content_type: str, body: bytes
    ) -> list[str]:
        operation = self.operation(method, path)
        if operation is None:
            return [] if status in UNDOCUMENTED_ERRORS else ["no operation in the OpenAPI"]
        responses = operation.get("responses", {})
        declared = responses.get(str(status))
        if declared is None:
            if status >= 400 and status in UNDOCUMENTED_ERRORS:
                declared = {"content": {"application/problem+json": {}}}
            else:
                return [f"status {status} is not documented"]
        content = declared.get("content") or {}
        if status == 204 or not content:
            return [] if not body else [f"{status} declares no body but one was sent"]
        media = content_type.split(";")[0].strip()
        if media not in content:
            return [f"content-type {media!r} is not one of {sorted(content)}"]
        schema = content[media].get("schema")
        if schema is None or not media.endswith("json"):
            return []
        if status >= 400 and not schema:
            schema = {"$ref": "#/components/schemas/ProblemDocument"}
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": self._components}, validate_formats=True
        )
        document = json.loads(body)
        return [
            f"{'/'.join(map(str, error.instance_path)) or '(body)'}: {error.message}"
            for error in validator.iter_errors(document)
        ][:10]


ResponseHook = Callable[[httpx.Response], Awaitable[None]]


def contract_hook(name: str, api: FastAPI) -> ResponseHook:
    """An httpx response hook failing the call whose answer breaks `api`'s contract."""
    contract = Contract(api.openapi())

    async def check(response: httpx.Response) -> None:
        body = await response.aread()
        request = response.request
        defects = contract.defects(
            request.method,
            request.url.path,
            response.status_code,
            response.headers.get("content-type", ""),
            body,
        )
        if defects:
            raise AssertionError(
                f"{name}: {request.method} {request.url.path} -> {response.status_code} breaks "
                f"the OpenAPI contract: {'; '.join(defects)}\n{body[:500]!r}"
            )

    return check
