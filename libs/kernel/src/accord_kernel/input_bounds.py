"""Bounds on what a request may carry, enforced before routing and parsing: a body larger than
the configured limit is refused with 413 (Content-Length checked up front, streamed bytes
counted for chunked bodies), and control characters other than tab and newline are refused
with 422 in JSON body strings (keys included), query parameters and path parameters.

A pure ASGI middleware, so that the body is read once, bounded, and handed on unchanged. The
offending values are never echoed or logged: they may be victim data."""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.datastructures import Headers, QueryParams
from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord_kernel.problems import PROBLEM_MEDIA_TYPE, Problem, problem_base

log = logging.getLogger("accord.input_bounds")

# C0 controls, DEL and C1 controls (Unicode category Cc), except tab and newline.
CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
CONTROL_CHARACTER_MESSAGE = "contains a control character (only tab and newline are allowed)"
MAX_REPORTED_FIELDS = 50


def has_control_character(text: str) -> bool:
    return CONTROL_CHARACTER.search(text) is not None


def json_control_character_fields(document: Any) -> Iterator[tuple[str, str]]:
    """(field, message) for each string in a parsed JSON document, at any depth, that holds a
    control character, named like FastAPI's validation errors (`victim.name`, `children.0`). A
    key with one is reported against the object holding it, so that the key is not echoed."""
    stack: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if has_control_character(value):
                yield _field(path), CONTROL_CHARACTER_MESSAGE
        elif isinstance(value, dict):
            children = []
            for key, child in value.items():
                if has_control_character(key):
                    yield _field(path), "a key " + CONTROL_CHARACTER_MESSAGE
                else:
                    children.append(((*path, key), child))
            stack.extend(reversed(children))
        elif isinstance(value, list):
            stack.extend(reversed([((*path, str(i)), child) for i, child in enumerate(value)]))


def _field(path: tuple[str, ...]) -> str:
    return ".".join(path) if path else "body"


def _is_json(headers: Headers) -> bool:
    """The bodies FastAPI parses as JSON: no content type, application/json or */*+json."""
    content_type = headers.get("content-type")
    if not content_type:
        return True
    main, _, sub = content_type.partition(";")[0].strip().lower().partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def _declared_length(headers: Headers) -> int | None:
    """The largest Content-Length declared; one that is not a number is the server's to
    refuse, and the bytes that arrive are counted whatever it says."""
    lengths = []
    for value in headers.getlist("content-length"):
        try:
            lengths.append(int(value))
        except ValueError:
            continue
    return max(lengths) if lengths else None


class InputBoundsMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _declared_length(headers)
        if declared is not None and declared > self.max_body_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body arrived
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        body = b"".join(chunks)

        fields = self._control_character_fields(scope, headers, body)
        if fields:
            await self._refuse_control_characters(scope, receive, send, fields)
            return

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _control_character_fields(
        self, scope: Scope, headers: Headers, body: bytes
    ) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        if has_control_character(scope.get("path", "")):
            named = [
                f"path.{name}"
                for name, value in _route(scope)[1].items()
                if has_control_character(value)
            ]
            fields += [(name, CONTROL_CHARACTER_MESSAGE) for name in named or ["path"]]
        for name, value in QueryParams(scope.get("query_string", b"")).multi_items():
            if has_control_character(name):
                fields.append(("query", "a parameter name " + CONTROL_CHARACTER_MESSAGE))
            elif has_control_character(value):
                fields.append((f"query.{name}", CONTROL_CHARACTER_MESSAGE))
        if body and _is_json(headers):
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                document = None  # not JSON (or not parseable here): FastAPI refuses it
            for found in json_control_character_fields(document):
                fields.append(found)
                if len(fields) >= MAX_REPORTED_FIELDS:
                    break
        return list(dict.fromkeys(fields))[:MAX_REPORTED_FIELDS]

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        log.info(
            "request body over %d bytes refused path=%s", self.max_body_bytes, _loggable_path(scope)
        )
        problem = Problem(
            413,
            "payload_too_large",
            "Request body too large",
            f"The request body exceeds the limit of {self.max_body_bytes} bytes.",
            headers={"Connection": "close"},
            max_body_bytes=self.max_body_bytes,
        )
        await _respond(problem, scope, receive, send)

    async def _refuse_control_characters(
        self, scope: Scope, receive: Receive, send: Send, fields: list[tuple[str, str]]
    ) -> None:
        names = sorted({name for name, _ in fields})
        log.info("control characters refused path=%s fields=%s", _loggable_path(scope), names)
        errors = [
            {"field": name, "message": message, "kind": "control_character"}
            for name, message in fields
        ]
        problem = Problem(
            422,
            "validation_failed",
            "The request is not valid",
            "Invalid field(s): " + ", ".join(names),
            errors=errors,
        )
        await _respond(problem, scope, receive, send)


def _route(scope: Scope) -> tuple[str | None, dict[str, str]]:
    """The template and raw parameters of the first route whose path matches the request's
    (whatever its method), found with the routes' own templates."""
    router = getattr(scope.get("app"), "router", None)
    path: str = scope.get("path", "")
    for context in iter_route_contexts(getattr(router, "routes", [])):
        template = context.path
        found = _path_regex(template).match(path) if isinstance(template, str) else None
        if found:
            return template, found.groupdict()
    return None, {}


@functools.lru_cache(maxsize=1024)
def _path_regex(template: str) -> re.Pattern[str]:
    return compile_path(template)[0]


def _loggable_path(scope: Scope) -> str:
    """The request's path, or where it has control characters its route's template."""
    path: str = scope.get("path", "")
    if has_control_character(path):
        return _route(scope)[0] or "(a path with control characters)"
    return path


async def _respond(problem: Problem, scope: Scope, receive: Receive, send: Send) -> None:
    path: str = scope.get("path", "")
    instance = None if has_control_character(path) else path
    response = JSONResponse(
        problem.to_document(instance, problem_base(HTTPConnection(scope))),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )
    await response(scope, receive, send)
