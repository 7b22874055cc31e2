"""What the services answer, declared: the read models of successful responses and the one
RFC 9457 problem model of every error, so that each service's OpenAPI document describes every
body it can return.

Read models describe policy-filtered documents. The policy decides each read field by field and
a withheld field is *absent* from the answer (never null, never a placeholder): so every field
of a read model may be missing, and a model is serialised with `response_model_exclude_unset`
(see `READ`) so that what was withheld stays absent. Read models validate strictly: a document
whose value does not already have the declared type fails the response (a 500 in tests) instead
of being silently converted, so the declared schema and the bytes a client receives agree."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, WithJsonSchema
from pydantic.config import JsonDict


def _no_default(schema: JsonDict) -> None:
    schema.pop("default", None)


def withheld(description: str | None = None) -> Any:
    """A field that the policy may withhold: absent from the answer when it does."""
    return Field(default=None, description=description, json_schema_extra=_no_default)


# A calendar day: documents hold a `date` or its ISO text; either is answered as YYYY-MM-DD.
Day = Annotated[date, Strict(False)]
# A moment held as a timezone-aware datetime by the document (answered as RFC 3339).
Moment = datetime
# A moment the document already holds as RFC 3339 text (records read back from a log).
MomentText = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Records = list[dict[str, Any]]


class ReadModel(BaseModel):
    """A policy-filtered document. Any field may be absent: the policy withheld it for this
    caller and purpose (the access record names the reason)."""

    model_config = ConfigDict(strict=True, extra="allow")


class Body(BaseModel):
    """A fixed answer of a command (ids of what was created): every field is always present."""

    model_config = ConfigDict(strict=True, extra="forbid")


# Route options of every endpoint that returns a read model.
READ: dict[str, Any] = {"response_model_exclude_unset": True}


class ProblemDocument(BaseModel):
    """An RFC 9457 problem document (`application/problem+json`). Extension members such as
    `errors` (validation), `current_version` (a version conflict), `state` (a state conflict)
    or `reasons` (a policy refusal) depend on `code`. The schema the documents publish is
    `accord_kernel.openapi.problem_schema` (the runtime replaces this model's with it)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A page describing the problem: <problem base>/<code>")
    title: str
    status: int = Field(ge=400, le=599)
    code: str = Field(description="The stable machine name of the error")
    detail: str | None = Field(default=None, json_schema_extra=_no_default)
    instance: str | None = Field(
        default=None, description="The request path", json_schema_extra=_no_default
    )


ERROR_DESCRIPTIONS: dict[int, str] = {
    401: "No valid bearer token (`unauthorized`).",
    403: "The caller's agency, role or organisation may not do this (`forbidden`, "
    "`access_denied`).",
    404: "No such record, or one another organisation holds (`not_found`): the two are "
    "indistinguishable.",
    409: "The record's current state does not allow this (`invalid_state`, `already_exists`, "
    "`concurrent_update`).",
    412: "The expected version (If-Match or expected_version) is not the current one "
    "(`version_conflict`, with `current_version`).",
    422: "The request is not valid (`validation_failed`, with `errors` naming each field; "
    "or a domain rule such as `idempotency_key_reused`).",
    428: "An expected version is required for this command (`precondition_required`).",
    503: "The policy engine or the event store cannot answer (`policy_unavailable`, "
    "`store_unavailable`); no case data is returned. Retry after `Retry-After`.",
}
# Every authenticated route: no token; a token of a kind the route does not serve (a victim's
# or the enrolment account's token reaches only the routes made for it); validation of path,
# query and body; an engine down.
COMMON = (401, 403, 422, 503)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route: the problem documents it may answer, besides `COMMON`."""
    return {
        status: {"model": ProblemDocument, "description": ERROR_DESCRIPTIONS[status]}
        for status in sorted({*COMMON, *statuses})
    }
