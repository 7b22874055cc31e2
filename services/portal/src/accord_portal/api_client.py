"""Calls to the five services with the signed-in user's own access token.

The portal decides nothing about access: every service asks the policy for every read, and the
portal shows what came back. RFC 9457 problems become typed errors, which the pages turn into
GOV.UK error pages (see errors.py) or, for 422, an error summary on the form.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("accord.portal.api")

SERVICES = ("referral", "victim-support", "conference", "court", "audit")


@dataclass
class FieldError:
    field: str
    message: str


class ApiError(Exception):
    """A problem document from a service (or no answer at all)."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str = "",
        detail: str = "",
        errors: list[FieldError] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.extensions = extensions or {}


class NotFound(ApiError):
    """404: no such case, or another organisation's (the services do not tell them apart)."""


class Conflict(ApiError):
    """409/412/428: the record changed since the user read it."""


class Invalid(ApiError):
    """422: the service refused the input; `errors` name the fields."""


class Forbidden(ApiError):
    """403: not this role's or agency's to do."""


class Unauthenticated(ApiError):
    """401: the access token is no longer accepted; the user signs in again."""


class Unavailable(ApiError):
    """503 (policy unavailable: fail closed), any 5xx, or no answer."""


def _error_for(response: httpx.Response) -> ApiError:
    try:
        doc = response.json()
        if not isinstance(doc, dict):
            doc = {}
    except ValueError:
        doc = {}
    status = response.status_code
    code = str(doc.get("code") or f"http_{status}")
    errors = [
        FieldError(str(e.get("field", "")), str(e.get("message", "")))
        for e in doc.get("errors", [])
        if isinstance(e, dict)
    ]
    extensions = {
        k: v
        for k, v in doc.items()
        if k not in {"type", "title", "status", "detail", "code", "errors", "instance"}
    }
    args = (status, code, str(doc.get("title", "")), str(doc.get("detail", "")), errors, extensions)
    if status == 404:
        return NotFound(*args)
    if status in (409, 412, 428):
        return Conflict(*args)
    if status == 422:
        return Invalid(*args)
    if status == 403:
        return Forbidden(*args)
    if status == 401:
        return Unauthenticated(*args)
    if status >= 500:
        return Unavailable(*args)
    return ApiError(*args)


@dataclass
class ServiceClient:
    """One httpx client per service; `transport` lets tests answer without a network."""

    base_urls: dict[str, str]
    timeout: float = 10.0
    transport: httpx.AsyncBaseTransport | None = None
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)

    def _client(self, service: str) -> httpx.AsyncClient:
        client = self._clients.get(service)
        if client is None:
            client = httpx.AsyncClient(
                base_url=self.base_urls[service], timeout=self.timeout, transport=self.transport
            )
            self._clients[service] = client
        return client

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    async def request(
        self,
        token: str,
        service: str,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        text: bool = False,
    ) -> Any:
        """The JSON body (None for 204), or with `text` the body as text: the audit service
        answers checkpoints and verifier keys in their C2SP plain-text formats."""
        try:
            response = await self._client(service).request(
                method,
                path,
                json=json,
                params=params,
                headers={"Authorization": f"Bearer {token}", **(headers or {})},
            )
        except httpx.HTTPError as exc:
            log.warning("service %s unreachable: %s", service, type(exc).__name__)
            raise Unavailable(503, "service_unreachable") from exc
        if response.status_code >= 400:
            error = _error_for(response)
            log.info("service %s answered %s %s", service, error.status, error.code)
            raise error
        if text:
            return response.text
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    async def get(self, token: str, service: str, path: str, **kwargs: Any) -> Any:
        return await self.request(token, service, "GET", path, **kwargs)

    async def get_text(self, token: str, service: str, path: str) -> str:
        return str(await self.request(token, service, "GET", path, text=True))

    async def post(self, token: str, service: str, path: str, **kwargs: Any) -> Any:
        return await self.request(token, service, "POST", path, **kwargs)
