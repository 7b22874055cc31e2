"""RFC 9457 problem documents: every error a client sees has a stable `type` and no stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from accord_kernel.domain_rules import DomainError, NotFound

# Where the `type` of a problem points when no request tells the service's own address: the
# pages are served by every service (accord_kernel.problem_types), so a relative reference
# resolves against whichever answered.
PROBLEM_PATH = "/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

log = logging.getLogger("accord.problems")


class Problem(Exception):
    """An error that becomes a problem document. `code` is the stable machine name."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions

    def to_document(self, instance: str | None = None, base: str = PROBLEM_PATH) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "type": base + self.code,
            "title": self.title,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            doc["detail"] = self.detail
        if instance:
            doc["instance"] = instance
        doc.update(self.extensions)
        return doc


RESERVED = frozenset({"type", "title", "status", "detail", "instance", "code"})


def domain_problem(
    status: int, code: str, title: str, detail: str | None, details: dict[str, Any]
) -> Problem:
    """A problem from a domain error: its details become extension members, renamed where
    they would collide with the members RFC 9457 reserves, and raw input values dropped
    (they may be victim data)."""
    extensions = {
        (f"{k}_value" if k in RESERVED else k): v for k, v in details.items() if k != "value"
    }
    return Problem(status, code, title, detail, **extensions)


def problem_of(error: DomainError) -> Problem:
    """The one mapping of a refusal to its problem document: one status per kind."""
    if isinstance(error, NotFound):
        return not_found(error.what)
    if error.title is None:
        return domain_problem(error.http_status, error.code, error.message, None, error.details)
    return domain_problem(error.http_status, error.code, error.title, error.message, error.details)


def problem_base(request: HTTPConnection) -> str:
    """The base of problem `type` URIs: the deployment's (`ACCORD_PROBLEM_BASE_URL`, kept in
    the app's state by the runtime), else this service's own `/problems/` as the client
    reached it, so that the address resolves wherever the service is deployed."""
    configured = getattr(request.app.state, "problem_base_url", None)
    if configured:
        return str(configured).rstrip("/") + "/"
    return str(request.base_url).rstrip("/") + PROBLEM_PATH


def problem_response(problem: Problem, request: Request | None = None) -> JSONResponse:
    return JSONResponse(
        problem.to_document(
            request.url.path if request else None,
            problem_base(request) if request else PROBLEM_PATH,
        ),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=problem.headers,
    )


def unauthorized(detail: str) -> Problem:
    return Problem(
        401,
        "unauthorized",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer realm="accord"'},
    )


def forbidden(detail: str) -> Problem:
    return Problem(403, "forbidden", "Not allowed for this agency or role", detail)


def not_found(what: str) -> Problem:
    """The same answer whether the record does not exist or belongs to another organisation
    (SPEC 4a): a detail naming what was missing would tell the two apart, so `what` only
    documents the call site."""
    del what
    return Problem(
        404, "not_found", "Not found", "No such record, or none that your organisation may see."
    )


def policy_unavailable() -> Problem:
    # Principle 4: if the policy engine cannot answer, the answer is no.
    return Problem(
        503,
        "policy_unavailable",
        "Policy decision unavailable",
        "The policy engine could not answer; no case data is returned.",
        headers={"Retry-After": "5"},
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        # The offending input value is deliberately not echoed: it may be victim data.
        errors.append(
            {"field": ".".join(loc), "message": err.get("msg", ""), "kind": err.get("type")}
        )
    return errors


# The codes of the framework's own refusals (routing, methods), by status; any other status it
# raises is `http_error`.
HTTP_CODES = {
    # FastAPI's answer to a body it cannot even decode (not UTF-8): not a validation error.
    400: "malformed_request",
    404: "not_found",
    405: "method_not_allowed",
    401: "unauthorized",
}
HTTP_ERROR = "http_error"


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        log.info("problem %s status=%s path=%s", exc.code, exc.status, request.url.path)
        return problem_response(exc, request)

    @app.exception_handler(DomainError)
    async def _refused(request: Request, exc: DomainError) -> JSONResponse:
        problem = problem_of(exc)
        if problem.status >= 500:
            log.error("%s path=%s", type(exc).__name__, request.url.path)
            problem = Problem(500, "internal_error", "Internal error", "The error has been logged.")
        else:
            log.info("refused %s status=%s path=%s", exc.code, problem.status, request.url.path)
        return problem_response(problem, request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        fields = sorted({e["field"] for e in errors})
        log.info("validation failed path=%s fields=%s", request.url.path, fields)
        problem = Problem(
            422,
            "validation_failed",
            "The request is not valid",
            "Invalid field(s): " + ", ".join(fields),
            errors=errors,
        )
        return problem_response(problem, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, HTTP_ERROR)
        problem = Problem(exc.status_code, code, str(exc.detail))
        return problem_response(problem, request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Log the exception class only: messages of library errors can carry request data.
        log.error("unexpected error %s path=%s", type(exc).__name__, request.url.path)
        problem = Problem(500, "internal_error", "Internal error", "The error has been logged.")
        return problem_response(problem, request)
