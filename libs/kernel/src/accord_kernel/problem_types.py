"""The catalogue of problem types: every `code` a service can put in an RFC 9457 problem
document, with what it means and what the caller should do about it.

A problem's `type` is `<problem base>/<code>` (`ACCORD_PROBLEM_BASE_URL`, by default the
answering service's own `/problems/`), and every service serves the page of every code there
(`problem_pages`), so that the URI an integrator receives resolves to this text."""

from __future__ import annotations

import html
from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import HTMLResponse


@dataclass(frozen=True)
class ProblemType:
    code: str
    status: int
    title: str
    description: str
    action: str


_RETRY = "Retry after the number of seconds in `Retry-After`; nothing was changed."
_FIX_INPUT = "Correct the input named in the problem and send the request again."
_REREAD = "Read the record again to learn its current state before deciding what to do."

_TYPES = (
    # --- identity and access -------------------------------------------------------------
    ProblemType(
        "unauthorized",
        401,
        "Authentication required",
        "The request carried no bearer token, or one that is not valid: unsigned, signed by an "
        "issuer or key the service does not trust, expired, not yet valid, living longer than "
        "the deployment allows, or without the claims `sub`, `agency`, `role` and `org`.",
        "Obtain a fresh access token from your identity provider and send it as "
        "`Authorization: Bearer <token>`.",
    ),
    ProblemType(
        "forbidden",
        403,
        "Not allowed for this agency or role",
        "The token is valid but its agency, role or organisation may not use this operation "
        "(for example a court clerk submitting a referral, or a victim's token on a staff "
        "endpoint).",
        "Use an account of the agency and role the operation is for; the OpenAPI summary of "
        "the operation names them.",
    ),
    ProblemType(
        "synthetic_data_required",
        422,
        "Only synthetic data in a training deployment",
        "A training deployment takes people and incidents only from the synthetic data "
        "generator (`accord training`), which marks each request with the "
        "`Accord-Synthetic-Data` header; a referral or victim record without it may be real "
        "and is refused before anything reads it.",
        "Create training cases with `accord training cohort create`; never copy a real case "
        "into a training deployment.",
    ),
    ProblemType(
        "access_denied",
        403,
        "Access denied by policy",
        "The policy decision allowed no field of the resource for this caller and purpose. "
        "`reasons` lists why the fields were withheld (no consent, not assigned, ...).",
        "Check the purpose you asked for and the consents and assignments of the case; every "
        "decision is recorded in the audit log.",
    ),
    ProblemType(
        "not_permitted",
        403,
        "Not permitted",
        "The caller may never do this, whatever the record's state (for example break-glass "
        "access by someone who is not a supervisor).",
        "Ask someone whose role permits the action.",
    ),
    ProblemType(
        "unknown_organisation",
        422,
        "Unknown organisation",
        "An organisation named in the request (or, answered with 403, the token's own "
        "organisation) is not one of this deployment's directory for that agency and "
        "jurisdiction.",
        "Name an organisation of the deployment's directory that serves the case's "
        "jurisdiction, or have the identity provider issue the right `org` claim.",
    ),
    ProblemType(
        "too_many_attempts",
        429,
        "Too many attempts",
        "Too many invitation codes were refused for this caller in a short time.",
        "Wait the number of seconds in `Retry-After` before trying again.",
    ),
    ProblemType(
        "invitation_not_usable",
        410,
        "This code cannot be used",
        "The invitation code is wrong, has expired, has been used already or has been "
        "withdrawn: one answer for all four, so that codes cannot be probed.",
        "Ask the support worker for a new code.",
    ),
    # --- records ---------------------------------------------------------------------------
    ProblemType(
        "not_found",
        404,
        "Not found",
        "No such record, or one that another organisation is responsible for: the two answers "
        "are the same on purpose, so that nobody learns of another organisation's cases.",
        "Check the id. If the case should be yours, ask the responsible organisation; "
        "break-glass access is the one way across organisations.",
    ),
    ProblemType(
        "empty_log",
        404,
        "The log has no entries yet",
        "The audit log has recorded nothing yet, so it has no checkpoint to answer with.",
        "Retry once the platform has carried its first event.",
    ),
    ProblemType(
        "already_exists",
        409,
        "Already exists",
        "A create command named something that exists already.",
        _REREAD,
    ),
    ProblemType(
        "invalid_state",
        409,
        "Not allowed in the record's current state",
        "The record's current state does not allow the command (for example withdrawing a "
        "referral twice); `state` names the state.",
        _REREAD,
    ),
    ProblemType(
        "concurrent_update",
        409,
        "The record changed while this request was applied",
        "Another request changed the same record at the same moment and was stored first.",
        "Send the request again; if it carries an expected version, read the record first.",
    ),
    ProblemType(
        "version_conflict",
        412,
        "The record has changed",
        "The version in `If-Match` or `expected_version` is not the record's current one; "
        "`current_version` says which is.",
        "Read the record again, check that the change still makes sense, and retry with its "
        "current version.",
    ),
    ProblemType(
        "precondition_required",
        428,
        "Expected version required",
        "This command changes a record where a lost update would hurt, so it needs the version "
        "the caller saw.",
        "Send the record's current version as `If-Match` or `expected_version`.",
    ),
    ProblemType(
        "invalid_if_match",
        422,
        "Invalid If-Match",
        "`If-Match` must hold the record's version as a quoted positive integer.",
        'Send `If-Match: "3"` with the version read from the record.',
    ),
    ProblemType(
        "conflicting_versions",
        422,
        "Two different expected versions",
        "`expected_version` in the body and `If-Match` name different versions.",
        "Send one of them, or the same version in both.",
    ),
    ProblemType(
        "idempotency_key_reused",
        422,
        "Idempotency-Key already used",
        "The `Idempotency-Key` was first used for a request with a different body.",
        "Use a new key for a new request; repeat a request only with its own key and body.",
    ),
    # --- input ----------------------------------------------------------------------------
    ProblemType(
        "validation_failed",
        422,
        "The request is not valid",
        "The path, query, headers or body do not match the operation's schema, or a domain "
        "rule refused an argument. `errors` names each invalid input (`field`, `message`, "
        "`kind`); the values themselves are never echoed.",
        _FIX_INPUT,
    ),
    ProblemType(
        "payload_too_large",
        413,
        "Request body too large",
        "The body exceeds the deployment's limit (`max_body_bytes`); nothing was parsed.",
        "Send a smaller body; no operation needs more than the limit.",
    ),
    ProblemType(
        "malformed_request",
        400,
        "The request could not be parsed",
        "The body could not be decoded at all (for example it is not UTF-8 text), so it was "
        "not validated.",
        "Send the body as UTF-8 JSON with `Content-Type: application/json`.",
    ),
    ProblemType(
        "method_not_allowed",
        405,
        "Method not allowed",
        "The path exists but not with this HTTP method.",
        "Use a method the OpenAPI document lists for the path.",
    ),
    ProblemType(
        "http_error",
        400,
        "The request could not be handled",
        "The HTTP layer refused the request before it reached an operation; `status` says how.",
        "Check the request against the OpenAPI document at `/openapi.json`.",
    ),
    # --- availability ---------------------------------------------------------------------
    ProblemType(
        "policy_unavailable",
        503,
        "Policy decision unavailable",
        "The policy engine could not answer, and without a decision no case data is returned "
        "(deny by default).",
        _RETRY,
    ),
    ProblemType(
        "store_unavailable",
        503,
        "Storage unavailable",
        "The service's event store (or the audit log's database) cannot be reached; nothing "
        "was written.",
        _RETRY,
    ),
    ProblemType(
        "internal_error",
        500,
        "Internal error",
        "Something failed that should not have; the error has been logged with the request "
        "path (never its data).",
        "Retry later; if it persists, report the time and path to the operators.",
    ),
    # --- domain rules shared by the services -----------------------------------------------
    ProblemType(
        "domain_error",
        400,
        "Refused by a domain rule",
        "A command was refused by a rule of the service's domain.",
        "Read `detail` for the rule, then correct the request.",
    ),
    ProblemType(
        "referral_error",
        400,
        "The referral cannot do that now",
        "The referral service's domain refused the command.",
        "Read `detail` for the rule, then correct the request.",
    ),
    ProblemType(
        "victim_support_error",
        400,
        "Refused by victim services",
        "The victim-support service's domain refused the command.",
        "Read `detail` for the rule, then correct the request.",
    ),
    ProblemType(
        "conference_error",
        400,
        "Refused by the RJ provider",
        "The conference service's domain refused the command.",
        "Read `detail` for the rule, then correct the request.",
    ),
    ProblemType(
        "court_error",
        400,
        "Refused by the court service",
        "The court service's domain refused the command.",
        "Read `detail` for the rule, then correct the request.",
    ),
    # --- police: referral ------------------------------------------------------------------
    ProblemType(
        "invalid_dash_answers",
        422,
        "Invalid DASH answers",
        "The DASH risk checklist must answer every question exactly once with yes or no.",
        _FIX_INPUT,
    ),
    ProblemType(
        "invalid_deadlines",
        422,
        "Invalid deadlines",
        "The jurisdiction pack's deadlines or due dates cannot be turned into working-day "
        "deadlines.",
        "Check the dates sent and the jurisdiction pack's deadline rules.",
    ),
    ProblemType(
        "reasons_required",
        422,
        "Reasons required",
        "An ineligible decision needs reason codes, so that it can be explained.",
        "Send at least one reason code.",
    ),
    ProblemType(
        "offender_initiated",
        422,
        "Started by the person who caused harm",
        "A referral started by the person who caused harm is never eligible (principle 2).",
        "Only the harmed person, or someone on their behalf, can start a process.",
    ),
    ProblemType(
        "risk_band_mismatch",
        422,
        "Risk band mismatch",
        "The eligibility decision was taken on a risk band other than the one on record.",
        "Screen again with the referral's current risk assessment.",
    ),
    ProblemType(
        "risk_assessment_required",
        409,
        "Risk assessment required",
        "Screening needs a current DASH risk assessment: there is none yet, or a new incident "
        "made it stale.",
        "Record a DASH assessment, then screen the referral.",
    ),
    # --- victim services -------------------------------------------------------------------
    ProblemType(
        "invalid_fhir_consent",
        422,
        "Not a FHIR Consent Accord can record",
        "The resource sent is not a valid HL7 FHIR R5 Consent, or it says something Accord "
        "cannot record exactly (a scope, grantee, purpose or data class outside Accord's "
        "vocabulary, a withdrawn consent, too many provisions). The values sent are never "
        "repeated in the answer.",
        "Read `detail` and `errors` for the element refused; docs/fhir-consent.md gives the "
        "mapping Accord accepts.",
    ),
    ProblemType(
        "unknown_safety_flag",
        422,
        "Unknown safety flag",
        "The safety flag is not one of the deployment's vocabulary.",
        _FIX_INPUT,
    ),
    ProblemType(
        "unknown_agency",
        422,
        "Unknown agency",
        "The agency named is not one of police, victim_services, rj_provider, court, audit.",
        _FIX_INPUT,
    ),
    ProblemType(
        "unknown_purpose",
        422,
        "Unknown purpose",
        "The purpose is not one of the purposes a consent may permit.",
        _FIX_INPUT,
    ),
    ProblemType(
        "unknown_data_class",
        422,
        "Unknown data class",
        "The data class is not one of the catalogue's (SPEC section 4).",
        _FIX_INPUT,
    ),
    ProblemType(
        "invalid_period",
        422,
        "Invalid period",
        "A consent's or grant's period must start before it ends, with timezone-aware times.",
        _FIX_INPUT,
    ),
    ProblemType(
        "not_seen_alone",
        422,
        "Victim not seen alone",
        "Consent taken in the presence of someone else may be coerced, so it is not recorded.",
        "Take the consent again when the victim is seen alone.",
    ),
    ProblemType(
        "reason_required",
        422,
        "Reason required",
        "The command needs a reason.",
        "Send the reason.",
    ),
    ProblemType(
        "justification_required",
        422,
        "Justification required",
        "Break-glass access needs a written justification; it is reviewed afterwards.",
        "Send the justification.",
    ),
    # --- RJ provider: conference --------------------------------------------------------------
    ProblemType(
        "unknown_stop_reason",
        422,
        "Unknown stop reason",
        "The reason for stopping a case is not one of the controlled vocabulary.",
        _FIX_INPUT,
    ),
    ProblemType(
        "unknown_item",
        422,
        "Unknown agreement item",
        "The outcome agreement has no item with this id.",
        "Read the case to learn its agreement's item ids.",
    ),
    ProblemType(
        "endorsement_invalid",
        409,
        "Facilitator not endorsed",
        "The facilitator holds no valid family-violence endorsement or accreditation today.",
        "Assign a facilitator whose endorsement is current.",
    ),
    ProblemType(
        "gate_refused",
        409,
        "Conference cannot be scheduled",
        "Scheduling was refused; `failed` lists every gate condition that is not met "
        "(consents, risk assessment, safety plan, ...).",
        "Meet each listed condition, then schedule again.",
    ),
    ProblemType(
        "item_already_reported",
        409,
        "Item already reported",
        "An agreement item is completed or breached once; a second report would rewrite history.",
        _REREAD,
    ),
    # --- audit -------------------------------------------------------------------------------
    ProblemType(
        "audit_error",
        422,
        "The audit log cannot answer",
        "The request to the audit log cannot be answered as asked.",
        "Read `detail`, then correct the request.",
    ),
    ProblemType(
        "invalid_proof",
        422,
        "Invalid proof",
        "An inclusion or consistency proof does not establish what it claims.",
        "Fetch the proof again for the checkpoint you hold; if it still fails, the log may "
        "have been rewritten: report it.",
    ),
    ProblemType(
        "invalid_checkpoint",
        422,
        "Invalid checkpoint",
        "A checkpoint or signed note is malformed or its signature does not verify.",
        "Send the checkpoint exactly as the log signed it.",
    ),
    ProblemType(
        "invalid_record",
        422,
        "Invalid record",
        "An audit record cannot be encoded, or a stored body is not canonical JSON.",
        "Read `detail`, then correct the request.",
    ),
    ProblemType(
        "out_of_range",
        404,
        "Out of range",
        "A requested index or tree size lies outside the log as it stands.",
        "Ask for an index below the size of the latest checkpoint.",
    ),
)

PROBLEM_TYPES: dict[str, ProblemType] = {t.code: t for t in _TYPES}


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - Accord problem types</title></head>"
        f"<body><main>{body}</main></body></html>\n"
    )


def problem_page(problem: ProblemType) -> str:
    return _page(
        problem.title,
        f"<h1>{html.escape(problem.title)}</h1>"
        f"<dl><dt>code</dt><dd><code>{html.escape(problem.code)}</code></dd>"
        f"<dt>HTTP status</dt><dd>{problem.status}</dd></dl>"
        f"<h2>What it means</h2><p>{html.escape(problem.description)}</p>"
        f"<h2>What to do</h2><p>{html.escape(problem.action)}</p>"
        '<p><a href="./">All problem types</a></p>',
    )


def index_page() -> str:
    rows = "".join(
        f'<tr><td><a href="{html.escape(t.code)}"><code>{html.escape(t.code)}</code></a></td>'
        f"<td>{t.status}</td><td>{html.escape(t.title)}</td></tr>"
        for t in sorted(PROBLEM_TYPES.values(), key=lambda t: t.code)
    )
    return _page(
        "Problem types",
        "<h1>Problem types</h1><p>Every error of the Accord APIs is an RFC 9457 problem "
        "document whose <code>type</code> is the address of one of these pages.</p>"
        f"<table><tr><th>code</th><th>status</th><th>title</th></tr>{rows}</table>",
    )


def problem_pages() -> APIRouter:
    """`/problems/` and `/problems/{code}`: public documentation, as `/openapi.json` is, so
    they are not operations of the document."""
    from accord_kernel.problems import Problem

    router = APIRouter(include_in_schema=False)

    @router.get("/problems/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(index_page())

    @router.get("/problems/{code}", response_class=HTMLResponse)
    def page(code: str) -> HTMLResponse:
        problem = PROBLEM_TYPES.get(code)
        if problem is None:
            raise Problem(404, "not_found", "Not found", "No problem type has this code.")
        return HTMLResponse(problem_page(problem))

    return router
