"""The victim view's endpoints (issue 17): the advocate invites the victim with a one-time code;
the enrolment service account redeems the code and links the account the victim makes; the
victim reads their own case, choices, who looked and agreement progress, and withdraws a
consent. The victim's endpoints take no case id: the case is the one their token's `sub` is
linked to, and every read still goes through the policy like any other."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Any

from accord_kernel.application import retry_on_conflict
from accord_kernel.identity import Subject, require
from accord_kernel.policy import Change, Resource
from accord_kernel.problems import Problem, not_found
from accord_kernel.responses import READ, ProblemDocument, problems
from accord_kernel.runtime import CurrentEnrolment, CurrentSubject, CurrentVictim
from fastapi import APIRouter

from accord_victim_support.api.routes import ADVOCATES, Runtime, authorise
from accord_victim_support.api.schemas import (
    AccountIn,
    InvitationCreated,
    InvitationOut,
    PreferencesIn,
    Redeemed,
    RedemptionIn,
    VictimAccessOut,
    VictimAgreementOut,
    VictimCaseOut,
    VictimConsentOut,
    VictimWithdrawIn,
)
from accord_victim_support.application import InvitationNotUsable
from accord_victim_support.domain.invitation import VictimAccount

log = logging.getLogger("accord.victim_support.victim_view")
router = APIRouter(tags=["victim view"])
INVITERS = {"advocate", "supervisor"}
NOT_USABLE_RESPONSE: dict[int | str, dict[str, Any]] = {
    410: {
        "model": ProblemDocument,
        "description": "The code is wrong, expired, already used or revoked "
        "(`invitation_not_usable`): one answer for all four.",
    },
    429: {
        "model": ProblemDocument,
        "description": "Too many refused codes from this caller (`too_many_attempts`); "
        "retry after `Retry-After` seconds.",
    },
}


class AttemptLimit:
    """Refused codes per caller in a sliding window: guessing a 60-bit code is hopeless, and
    this keeps it so. In memory: a restart forgets, which only ever helps the legitimate."""

    def __init__(self, limit: int = 20, window_seconds: float = 300.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, caller: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(caller, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def check(self, caller: str) -> None:
        now = time.monotonic()
        with self._lock:
            failures = self._recent(caller, now)
            if len(failures) >= self.limit:
                wait = max(1, int(failures[0] + self.window - now) + 1)
                raise Problem(
                    429,
                    "too_many_attempts",
                    "Too many attempts",
                    "Too many codes were refused; wait before trying again.",
                    headers={"Retry-After": str(wait)},
                )

    def failed(self, caller: str) -> None:
        with self._lock:
            self._recent(caller, time.monotonic()).append(time.monotonic())


attempts = AttemptLimit()


def not_usable() -> Problem:
    return Problem(
        410,
        "invitation_not_usable",
        "This code cannot be used",
        "The code is wrong, has expired, has been used already or has been withdrawn. "
        "Ask your support worker for a new one.",
    )


# --- advocate: invitations -------------------------------------------------------------------
@router.post(
    "/cases/{case_id}/invitations",
    status_code=201,
    summary="Invite the victim to the victim view: a one-time code, valid 72 hours",
    responses=problems(403, 404),
)
def invite(case_id: str, subject: CurrentSubject, runtime: Runtime) -> InvitationCreated:
    require(subject, ADVOCATES, INVITERS)
    authorise(runtime, subject, case_id[:64], "invite_victim")
    created = retry_on_conflict(runtime.app.invite, case_id[:64], subject.user)
    log.info("victim invited case=%s invitation=%s", case_id[:64], created["invitation_id"])
    return InvitationCreated.model_validate(created)


@router.get(
    "/cases/{case_id}/invitations",
    summary="Invitations of a case and their state (advocate)",
    response_model=list[InvitationOut],
    responses=problems(403, 404),
    **READ,
)
def invitations(case_id: str, subject: CurrentSubject, runtime: Runtime) -> list[dict[str, Any]]:
    require(subject, ADVOCATES)
    case = case_id[:64]
    authorise(runtime, subject, case, "list_invitations")
    svc = runtime.app
    return [svc.invitation_document(i) for i in retry_on_conflict(svc.invitations, case)]


@router.post(
    "/invitations/{invitation_id}/revocation",
    status_code=204,
    summary="Revoke an invitation: the code stops working and a linked account loses access",
    responses=problems(403, 404, 409),
)
def revoke(invitation_id: str, subject: CurrentSubject, runtime: Runtime) -> None:
    require(subject, ADVOCATES, INVITERS)
    invitation = retry_on_conflict(runtime.app.invitation, invitation_id)
    # Taking access away protects the victim, so it goes ahead even while the policy engine
    # is down, for the responsible organisation (as a consent withdrawal does).
    authorise(runtime, subject, invitation.case_id, "revoke_invitation", safety_fallback=True)
    retry_on_conflict(runtime.app.revoke_invitation, invitation_id, subject.user)
    log.info("victim access revoked invitation=%s", invitation_id)


# --- enrolment service account ----------------------------------------------------------------
@router.post(
    "/invitations/redemptions",
    summary="Redeem a code (enrolment service account only)",
    responses={**problems(403), **NOT_USABLE_RESPONSE},
)
def redeem(body: RedemptionIn, subject: CurrentEnrolment, runtime: Runtime) -> Redeemed:
    attempts.check(subject.user)
    try:
        redeemed = retry_on_conflict(runtime.app.redeem, body.code)
    except InvitationNotUsable:
        attempts.failed(subject.user)
        # Neither the code nor anything derived from it is logged.
        log.info("invitation code refused caller=%s", subject.user)
        raise not_usable() from None
    log.info("invitation redeemed invitation=%s", redeemed["invitation_id"])
    return Redeemed.model_validate(redeemed)


@router.post(
    "/invitations/{invitation_id}/account",
    status_code=204,
    summary="Link the victim's new account to the redeemed invitation, once "
    "(enrolment service account only)",
    responses=problems(403, 404, 409),
)
def link(invitation_id: str, body: AccountIn, subject: CurrentEnrolment, runtime: Runtime) -> None:
    retry_on_conflict(runtime.app.link_account, invitation_id, body.sub)
    log.info("victim account linked invitation=%s", invitation_id)


# --- the victim -------------------------------------------------------------------------------
def own_case(runtime: Runtime, subject: Subject) -> tuple[VictimAccount, dict[str, Any]]:
    account = retry_on_conflict(runtime.app.victim_account, subject.user)
    return account, runtime.app.policy_case(account.case_id, subject.agency, subject.user)


def help_lines(runtime: Runtime, jurisdiction: str | None) -> list[dict[str, str]]:
    if not jurisdiction:
        return []
    lines, _ = runtime.pdp.query("accord.packs", "help", {"jurisdiction": jurisdiction})
    return [
        {"name": str(h["name"]), "number": str(h["number"]), "note": str(h["note"])}
        for h in (lines if isinstance(lines, list) else [])
        if isinstance(h, dict)
    ]


@router.get(
    "/me/case",
    summary="The victim's own case: stage, next step, who supports them, help numbers",
    response_model=VictimCaseOut,
    responses=problems(403, 404),
    **READ,
)
def my_case(subject: CurrentVictim, runtime: Runtime) -> dict[str, Any]:
    account, case = own_case(runtime, subject)
    doc = runtime.app.victim_view_document(account)
    org = doc["supporting_org"]
    found = runtime.directory.get(org) if org else None
    name = found.name if found is not None else None
    doc.update(
        supporting_org_name=name,
        advocate_contact={
            "organisation": name or "your support service",
            "how": "Contact your support service in the way you agreed with your advocate.",
        },
        help=help_lines(runtime, doc["jurisdiction"]),
    )
    return runtime.pep.read_one(
        subject, "case_management", Resource("victim_view", account.case_id, doc, case)
    )


@router.get(
    "/me/consents",
    summary="The victim's consents: what, with whom, until when",
    response_model=list[VictimConsentOut],
    responses=problems(403, 404),
    **READ,
)
def my_consents(subject: CurrentVictim, runtime: Runtime) -> list[dict[str, Any]]:
    account, case = own_case(runtime, subject)
    docs = retry_on_conflict(runtime.app.victim_consent_documents, account.case_id)
    projected = runtime.pep.read(
        subject,
        "case_management",
        [Resource("victim_consent", account.case_id, d, case) for d in docs],
    )
    return [p for p in projected if p is not None]


@router.post(
    "/me/consents/{consent_id}/withdrawal",
    status_code=204,
    summary="The victim withdraws a consent: the same effect as the advocate's withdrawal",
    responses=problems(403, 404, 409),
)
def my_withdrawal(
    consent_id: str, body: VictimWithdrawIn, subject: CurrentVictim, runtime: Runtime
) -> None:
    account, case = own_case(runtime, subject)
    runtime.pep.authorise_change(
        subject,
        Change(type="victim_view", case_id=account.case_id, command="withdraw_consent", case=case),
        safety_fallback=True,
    )
    retry_on_conflict(runtime.app.withdraw_by_victim, account.case_id, consent_id[:64], body.reason)
    log.info("consent withdrawn by the victim consent=%s", consent_id[:64])


@router.put(
    "/me/preferences",
    status_code=204,
    summary="What the victim wants to be told (agreement progress)",
    responses=problems(403, 404),
)
def my_preferences(body: PreferencesIn, subject: CurrentVictim, runtime: Runtime) -> None:
    account, case = own_case(runtime, subject)
    runtime.pep.authorise_change(
        subject,
        Change(type="victim_view", case_id=account.case_id, command="set_preferences", case=case),
    )
    retry_on_conflict(runtime.app.choose_preferences, subject.user, body.tell_me_about_agreement)


@router.get(
    "/me/access-log",
    summary="Who has seen the victim's information: agency, role, purpose, date",
    response_model=list[VictimAccessOut],
    responses=problems(403, 404),
    **READ,
)
def my_access_log(subject: CurrentVictim, runtime: Runtime) -> list[dict[str, Any]]:
    account, case = own_case(runtime, subject)
    entries = retry_on_conflict(runtime.app.access_log, account.case_id)
    if not entries:
        # The policy still decides: an empty log is read through a probe of the same kind.
        runtime.pep.read_one(
            subject,
            "case_management",
            Resource("victim_access_entry", account.case_id, {"at": None}, case),
        )
        return []
    projected = runtime.pep.read(
        subject,
        "case_management",
        [Resource("victim_access_entry", account.case_id, e, case) for e in entries],
    )
    return [p for p in projected if p is not None]


@router.get(
    "/me/agreement",
    summary="Agreement progress, if the victim asked to be told",
    response_model=VictimAgreementOut,
    responses=problems(403, 404),
    **READ,
)
def my_agreement(subject: CurrentVictim, runtime: Runtime) -> dict[str, Any]:
    account, case = own_case(runtime, subject)
    progress = runtime.app.progress(account.case_id)
    if not account.tell_me_about_agreement or not progress.items:
        raise not_found("agreement progress")
    return runtime.pep.read_one(
        subject,
        "case_management",
        Resource("victim_agreement", account.case_id, {"items": progress.items}, case),
    )
