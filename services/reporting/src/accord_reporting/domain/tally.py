"""What reporting keeps of one case: only the facts needed to count it once in each figure.

No names, no free text, no case content: coded values (jurisdiction, initiator, outcome,
reason codes), the responsible organisations, due and fulfilment days, and the times of
break-glass grants and their reviews. The case id is only the aggregate's key; it never
appears in a published figure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

TALLY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "accord/reporting/case-tally")
STOP_REASONS: tuple[str, ...] = (
    "victim_withdrew",
    "coercion_suspected",
    "continuing_violence",
    "risk_escalated",
    "offender_withdrew",
    "facilitator_judgement",
)
# Police give a withdrawal reason as text; only these codes are counted as themselves, any
# other wording as `other`, so no free text ever reaches a figure.
WITHDRAWAL_REASONS: tuple[str, ...] = (
    "victim_request",
    "offender_unavailable",
    "not_appropriate",
    "duplicate",
    "other",
)
# Which event fulfils each Victims' Code deadline (names from the jurisdiction packs): the
# victim-services referral is met when victim services register the victim, the information
# to the victim when the victim first answers on RJ (a consent decision of any scope).
DEADLINE_FULFILMENT = {
    "victim_support_referral": "victim_registered",
    "victim_information": "victim_answered",
}
CODE_MAX = 64


def tally_id(case_id: str) -> uuid.UUID:
    return uuid.uuid5(TALLY_NAMESPACE, case_id)


def deadline_name(key: str) -> str:
    """The referral service names a deadline after the pack's key with `_due` (for example
    `victim_information_due`); figures use the pack's name."""
    name = _code(key)
    return name.removesuffix("_due") or name


def reason_code(text: str, codes: Iterable[str]) -> str:
    code = text.strip().lower().replace(" ", "_").replace("-", "_")
    return code if code in set(codes) else "other"


def _code(value: str) -> str:
    # Codes come from contracts; they are still bounded so a malformed one cannot grow a cell.
    return value.strip()[:CODE_MAX] or "unknown"


class CaseTally(Aggregate):
    """One case's countable facts. Events of several topics arrive in any order, so each
    fact is kept as it comes and figures count only cases whose referral is known."""

    @staticmethod
    def create_id(case_id: str) -> uuid.UUID:
        return tally_id(case_id)

    @event("Opened")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.submitted: date | None = None
        self.jurisdiction: str | None = None
        self.initiated_by: str | None = None
        self.organisations: dict[str, str] = {}
        self.deadlines: dict[str, date] = {}
        self.fulfilled: dict[str, date] = {}
        self.screening: str | None = None
        self.refusal_reasons: list[str] = []
        self.accepted = False
        self.declined = False
        self.withdrawn: str | None = None
        self.stopped: str | None = None
        self.agreement: dict[str, str] | None = None
        self.victim_share_consents: dict[str, str] = {}
        self.grants: dict[str, dict[str, Any]] = {}
        self.first_new_incident: date | None = None

    # --- what the events tell ----------------------------------------------------------------
    def note_referral(
        self,
        jurisdiction: str,
        initiated_by: str,
        submitted_at: datetime,
        organisations: Mapping[str, str],
        deadlines: Mapping[str, date],
    ) -> None:
        if self.submitted is None:
            self._referral(
                jurisdiction=_code(jurisdiction),
                initiated_by=_code(initiated_by),
                submitted=submitted_at.date(),
                organisations={_code(k): _code(v) for k, v in organisations.items()},
                deadlines={deadline_name(k): v for k, v in deadlines.items()},
            )

    @event("ReferralNoted")
    def _referral(
        self,
        jurisdiction: str,
        initiated_by: str,
        submitted: date,
        organisations: dict[str, str],
        deadlines: dict[str, date],
    ) -> None:
        self.jurisdiction = jurisdiction
        self.initiated_by = initiated_by
        self.submitted = submitted
        self.organisations = {**organisations, **self.organisations}
        self.deadlines = dict(deadlines)

    def note_screening(self, outcome: str, reasons: Iterable[str]) -> None:
        # A re-screening replaces the outcome: the figure counts the case's latest answer.
        self._screened(outcome=_code(outcome), reasons=sorted({_code(r) for r in reasons}))

    @event("Screened")
    def _screened(self, outcome: str, reasons: list[str]) -> None:
        self.screening = outcome
        self.refusal_reasons = list(reasons)

    def note_organisation(self, agency: str, organisation: str) -> None:
        if self.organisations.get(agency) != organisation:
            self._organisation(agency=_code(agency), organisation=_code(organisation))

    @event("OrganisationNoted")
    def _organisation(self, agency: str, organisation: str) -> None:
        self.organisations = {**self.organisations, agency: organisation}

    def note_decision(self, accepted: bool) -> None:
        self._decided(accepted=accepted)

    @event("ProviderDecided")
    def _decided(self, accepted: bool) -> None:
        if accepted:
            self.accepted = True
        else:
            self.declined = True

    def note_fulfilment(self, fact: str, on: date) -> None:
        names = [n for n, f in DEADLINE_FULFILMENT.items() if f == fact and n not in self.fulfilled]
        if names:
            self._fulfilled(names=names, on=on)

    @event("Fulfilled")
    def _fulfilled(self, names: list[str], on: date) -> None:
        self.fulfilled = {**self.fulfilled, **dict.fromkeys(names, on)}

    def note_withdrawal(self, reason: str) -> None:
        if self.withdrawn is None:
            self._withdrawn(reason=reason_code(reason, WITHDRAWAL_REASONS))

    @event("Withdrawn")
    def _withdrawn(self, reason: str) -> None:
        self.withdrawn = reason

    def note_stop(self, reason: str) -> None:
        if self.stopped is None:
            self._stopped(reason=reason_code(reason, STOP_REASONS))

    @event("Stopped")
    def _stopped(self, reason: str) -> None:
        self.stopped = reason

    def note_items(self, items_status: Iterable[Mapping[str, Any]]) -> None:
        items = {
            str(i.get("item_id"))[:CODE_MAX]: _code(str(i.get("status", "open")))
            for i in items_status
        }
        if items != self.agreement:
            self._items(items=items)

    @event("ItemsNoted")
    def _items(self, items: dict[str, str]) -> None:
        self.agreement = dict(items)

    def note_victim_consent(self, consent_id: str, scope: str, status: str) -> None:
        if scope == "share" and self.victim_share_consents.get(consent_id) != status:
            self._consent(consent_id=consent_id[:CODE_MAX], status=_code(status))

    @event("ConsentNoted")
    def _consent(self, consent_id: str, status: str) -> None:
        self.victim_share_consents = {**self.victim_share_consents, consent_id: status}

    def note_grant(self, grant_id: str, agency: str, reason_code: str, at: datetime) -> None:
        if grant_id not in self.grants or self.grants[grant_id].get("granted_at") is None:
            self._granted(
                grant_id=grant_id[:CODE_MAX],
                agency=_code(agency),
                reason_code=_code(reason_code),
                at=at.isoformat(),
            )

    @event("GrantNoted")
    def _granted(self, grant_id: str, agency: str, reason_code: str, at: str) -> None:
        grant = self.grants.get(grant_id, {})
        self.grants = {
            **self.grants,
            grant_id: {**grant, "agency": agency, "reason_code": reason_code, "granted_at": at},
        }

    def note_grant_review(self, grant_id: str, at: datetime) -> None:
        if self.grants.get(grant_id, {}).get("reviewed_at") is None:
            self._reviewed(grant_id=grant_id[:CODE_MAX], at=at.isoformat())

    @event("GrantReviewed")
    def _reviewed(self, grant_id: str, at: str) -> None:
        grant = self.grants.get(grant_id, {})
        self.grants = {**self.grants, grant_id: {**grant, "reviewed_at": at}}

    def note_incident(self, on: date) -> None:
        """A new incident between the same parties, reported to the police on the case
        (SPEC section 10: reported within 6 and 12 months of the referral)."""
        if self.first_new_incident is None or on < self.first_new_incident:
            self._incident(on=on)

    @event("IncidentNoted")
    def _incident(self, on: date) -> None:
        self.first_new_incident = on

    # --- what the figures ask ------------------------------------------------------------------
    @property
    def statistics_consent(self) -> bool:
        """The victim's consent to share is in force (the packs that require consent for
        figures leaving the organisation name this consent)."""
        return "active" in self.victim_share_consents.values()

    def counts_for(self, organisation: str) -> bool:
        return organisation in self.organisations.values()
