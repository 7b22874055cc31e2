"""The RJ case: from a provider accepting an eligible referral to a kept or breached agreement.

Facts owned by other agencies (the victim's participate consent, risk band, new incidents,
the safety plan's existence) arrive through `note_*` commands fed by their events. Two of them
act on their own, with no one pressing a button: a withdrawn participate consent stops the case,
and a risk band above the direct limit suspends a scheduled direct conference.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Aggregate, event

from accord_conference.domain.errors import (
    EndorsementInvalid,
    GateRefused,
    InvalidState,
    ItemAlreadyReported,
    UnknownItem,
    UnknownStopReason,
    ValidationFailed,
)
from accord_conference.domain.vocabulary import (
    AGENCIES,
    ELIGIBILITIES,
    RISK_BANDS,
    band_rank,
    checks,
    free_text,
)

STATUSES: tuple[str, ...] = (
    "open",
    "preparing",
    "scheduled",
    "conference_held",
    "agreement",
    "monitoring",
    "completed",
    "returned",
    "stopped",
    "suspended",
)
TERMINAL: frozenset[str] = frozenset({"completed", "returned", "stopped"})
STOP_REASONS: tuple[str, ...] = (
    "victim_withdrew",
    "coercion_suspected",
    "continuing_violence",
    "risk_escalated",
    "offender_withdrew",
    "facilitator_judgement",
)
MODALITIES: tuple[str, ...] = ("direct", "shuttle", "letter")
PARTICIPANTS: tuple[str, ...] = (
    "victim",
    "offender",
    "victim_support_person",
    "offender_support_person",
)
COERCION_SCREEN_RESULTS: tuple[str, ...] = ("passed", "failed")
FACILITATOR_ROLES: tuple[str, ...] = ("lead", "co")
PARTIES: tuple[str, ...] = ("victim", "offender")
ITEM_OWNERS: tuple[str, ...] = ("offender", "victim", "other")
MONITORING_AGENCIES: tuple[str, ...] = ("rj_provider", "police", "court", "victim_services")
ITEM_KEYS = frozenset({"item_id", "what", "owner", "due_date", "monitoring_agency"})
ITEMS_MAX = 100
SUPPORT_PERSONS_MAX = 10

# Gate condition codes, in the order a refusal lists them.
NO_ENDORSED_FACILITATOR = "no_endorsed_facilitator"
PARTICIPATE_CONSENT_INACTIVE = "victim_participate_consent_inactive"
OFFENDER_CONSENT_MISSING = "offender_consent_missing"
VICTIM_PREPARATION_MISSING = "victim_preparation_missing"
OFFENDER_PREPARATION_MISSING = "offender_preparation_missing"
COERCION_SCREEN_NOT_PASSED = "coercion_screen_not_passed"
VICTIM_NOT_SEEN_ALONE = "victim_not_seen_alone"
RISK_BAND_ABOVE_DIRECT_LIMIT = "risk_band_above_direct_limit"
REASSESSMENT_REQUIRED = "reassessment_required"
NO_SAFETY_PLAN = "no_safety_plan"
ELIGIBILITY_INDIRECT_ONLY = "eligibility_indirect_only"

AUTOMATIC = None  # `by` of a stop or suspension the aggregate produced itself


def _items(value: object) -> list[dict[str, Any]]:
    entries = checks.require_list(value, "items")
    if not entries:
        raise ValidationFailed("an agreement needs at least one item", {"field": "items"})
    if len(entries) > ITEMS_MAX:
        raise ValidationFailed(
            f"an agreement has at most {ITEMS_MAX} items",
            {"field": "items"},
        )
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        field = f"items[{index}]"
        raw = checks.require_record(entry, field, ITEM_KEYS)
        item_id = checks.require_text(raw["item_id"], f"{field}.item_id", max_length=64)
        if item_id in seen:
            raise ValidationFailed(
                f"{field}.item_id repeats {item_id!r}",
                {"field": f"{field}.item_id"},
            )
        seen.add(item_id)
        items.append(
            {
                "item_id": item_id,
                "what": checks.require_text(raw["what"], f"{field}.what", max_length=2_000),
                "owner": checks.require_choice(raw["owner"], f"{field}.owner", ITEM_OWNERS),
                "due_date": checks.require_iso_day(raw["due_date"], f"{field}.due_date"),
                "monitoring_agency": checks.require_choice(
                    raw["monitoring_agency"],
                    f"{field}.monitoring_agency",
                    MONITORING_AGENCIES,
                ),
            }
        )
    return items


def _support_persons(value: object) -> list[str]:
    persons = checks.require_list(value, "support_persons")
    if len(persons) > SUPPORT_PERSONS_MAX:
        raise ValidationFailed(
            f"at most {SUPPORT_PERSONS_MAX} support persons",
            {"field": "support_persons"},
        )
    return [
        checks.require_text(person, f"support_persons[{index}]")
        for index, person in enumerate(persons)
    ]


class RJCase(Aggregate):
    """One RJ case; its id is the case id shared by every agency."""

    if TYPE_CHECKING:  # made at class creation by the @event decorators below
        FacilitatorAssigned: ClassVar[type[Aggregate.Event]]
        CaseStopped: ClassVar[type[Aggregate.Event]]
        AgreementAgreed: ClassVar[type[Aggregate.Event]]
        OutcomeSharingWithdrawn: ClassVar[type[Aggregate.Event]]
        ItemCompleted: ClassVar[type[Aggregate.Event]]
        CaseCompleted: ClassVar[type[Aggregate.Event]]
        AgreementBreached: ClassVar[type[Aggregate.Event]]

    @classmethod
    def create_id(cls, case_id: str, **_: object) -> uuid.UUID:
        return uuid.UUID(case_id)

    @classmethod
    def open(
        cls,
        case_id: str | uuid.UUID,
        provider_org: str,
        jurisdiction: str,
        eligibility: str,
        risk_band: str,
        direct_max_band: str | None,
        opened_by: str,
        at: datetime,
        *,
        court_reference: str | None = None,
        referring_agency: str = "police",
    ) -> RJCase:
        """`direct_max_band` None means the jurisdiction allows no direct RJ at any band.

        The court reference and referring agency decide where a breached agreement returns."""
        try:
            normalised_id = str(uuid.UUID(str(case_id)))
        except ValueError as exc:
            raise ValidationFailed("case_id must be a UUID", {"field": "case_id"}) from exc
        return cls(
            case_id=normalised_id,
            provider_org=checks.require_text(provider_org, "provider_org"),
            jurisdiction=checks.require_text(jurisdiction, "jurisdiction", max_length=64),
            eligibility=checks.require_choice(eligibility, "eligibility", ELIGIBILITIES),
            risk_band=checks.require_choice(risk_band, "risk_band", RISK_BANDS),
            direct_max_band=checks.optional_choice(direct_max_band, "direct_max_band", RISK_BANDS),
            opened_by=checks.require_text(opened_by, "opened_by"),
            court_reference=checks.optional_text(court_reference, "court_reference"),
            referring_agency=checks.require_choice(referring_agency, "referring_agency", AGENCIES),
            at=checks.require_moment(at, "at"),
        )

    @event("Opened")
    def __init__(
        self,
        case_id: str,
        provider_org: str,
        jurisdiction: str,
        eligibility: str,
        risk_band: str,
        direct_max_band: str | None,
        opened_by: str,
        court_reference: str | None,
        referring_agency: str,
        at: datetime,
    ) -> None:
        self.case_id = case_id
        self.provider_org = provider_org
        self.jurisdiction = jurisdiction
        self.eligibility = eligibility
        self.risk_band = risk_band
        self.direct_max_band = direct_max_band
        self.opened_by = opened_by
        self.opened_at = at
        self.court_reference = court_reference
        self.referring_agency = referring_agency
        self.status = "open"
        self.facilitator_id: str | None = None
        self.co_facilitator_id: str | None = None
        self.participate_consent_active = False
        self.offender_consent = False
        self._preparations: list[dict[str, Any]] = []
        self.reassessment_required = False
        self.safety_plan_exists = False
        self._safety_plan_review_date: str | None = None
        self.modality: str | None = None
        self.conference_at: datetime | None = None
        self.conference_held_at: datetime | None = None
        self._conference_notes: str | None = None
        self.suspension_reason: str | None = None
        self.stop_reason: str | None = None
        self.stopped_by: str | None = None
        self.stopped_at: datetime | None = None
        self._items: list[dict[str, Any]] = []
        self._item_reports: dict[str, dict[str, Any]] = {}
        self._agreement_consents: dict[str, dict[str, Any]] = {}
        self.agreement_status: str | None = None
        self.returned_to: str | None = None
        self.closed_at: datetime | None = None

    # --- reading ----------------------------------------------------------------------------
    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def preparations(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._preparations)

    @property
    def conference_notes(self) -> str | None:
        """Data class `conference.notes`: for the RJ provider only, never the court."""
        return self._conference_notes

    @property
    def safety_plan_review_date(self) -> date | None:
        if self._safety_plan_review_date is None:
            return None
        return date.fromisoformat(self._safety_plan_review_date)

    @property
    def agreement_items(self) -> list[dict[str, Any]]:
        """Data class `agreement.items`: the text of each item."""
        return copy.deepcopy(self._items)

    @property
    def agreement_consents(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self._agreement_consents)

    @property
    def agreement_agreed(self) -> bool:
        return self.agreement_status == "agreed"

    @property
    def outcome_shared_with_court(self) -> bool:
        """True only while both parties agreed and both consent to share with the court."""
        return self.agreement_agreed and all(
            self._agreement_consents.get(party, {}).get("share_with_court") is True
            for party in PARTIES
        )

    def items_status(self) -> list[dict[str, Any]]:
        """Data class `compliance.status`: no item text, so every agency may see it."""
        statuses = []
        for item in self._items:
            report = self._item_reports.get(item["item_id"])
            statuses.append(
                {
                    "item_id": item["item_id"],
                    "status": "open" if report is None else report["status"],
                    "due_date": item["due_date"],
                    "completed_at": (
                        report["at"]
                        if report is not None and report["status"] == "completed"
                        else None
                    ),
                }
            )
        return statuses

    def item_report(self, item_id: str) -> dict[str, Any] | None:
        report = self._item_reports.get(item_id)
        return None if report is None else copy.deepcopy(report)

    def overdue_items(self, today: date) -> list[str]:
        day = checks.require_day(today, "today")
        if not self.agreement_agreed:
            return []
        return [
            item["item_id"]
            for item in self._items
            if item["item_id"] not in self._item_reports
            and date.fromisoformat(item["due_date"]) < day
        ]

    def _latest_preparation(self, participant: str) -> dict[str, Any] | None:
        meetings = [p for p in self._preparations if p["participant"] == participant]
        return meetings[-1] if meetings else None

    # --- state guards -----------------------------------------------------------------------
    def _require_status(self, allowed: Sequence[str], action: str) -> None:
        if self.status not in allowed:
            raise InvalidState(
                f"cannot {action} while the case is {self.status}",
                {"state": self.status, "allowed": list(allowed)},
            )

    def _require_not_terminal(self, action: str) -> None:
        if self.is_terminal:
            raise InvalidState(
                f"cannot {action}: the case is {self.status}",
                {"state": self.status},
            )

    # --- facilitators -----------------------------------------------------------------------
    def assign_facilitator(
        self,
        facilitator_id: str,
        endorsement_valid: bool,
        on: date,
        by: str,
        role: str = "lead",
    ) -> None:
        """`endorsement_valid` is the facilitator's `has_valid_endorsement(on)`, looked up by the
        application: the case does not read another aggregate."""
        self._require_not_terminal("assign a facilitator")
        facilitator = checks.require_text(facilitator_id, "facilitator_id")
        chosen_role = checks.require_choice(role, "role", FACILITATOR_ROLES)
        day = checks.require_day(on, "on")
        if not checks.require_flag(endorsement_valid, "endorsement_valid"):
            raise EndorsementInvalid(
                "the facilitator has no valid family-violence endorsement",
                {"facilitator_id": facilitator, "on": day.isoformat()},
            )
        other = self.co_facilitator_id if chosen_role == "lead" else self.facilitator_id
        if facilitator == other:
            raise ValidationFailed(
                "the lead and co-facilitator must be different people",
                {"field": "facilitator_id"},
            )
        if chosen_role == "co" and self.facilitator_id is None:
            raise InvalidState(
                "a lead facilitator is assigned before a co-facilitator",
                {"state": self.status},
            )
        self._assign_facilitator(
            facilitator_id=facilitator,
            role=chosen_role,
            on=day.isoformat(),
            by=checks.require_text(by, "by"),
        )

    @event("FacilitatorAssigned")
    def _assign_facilitator(self, facilitator_id: str, role: str, on: str, by: str) -> None:
        if role == "lead":
            self.facilitator_id = facilitator_id
        else:
            self.co_facilitator_id = facilitator_id
        if self.status == "open":
            self.status = "preparing"

    # --- facts from victim services and police ----------------------------------------------
    def note_participate_consent(self, active: bool, at: datetime) -> None:
        """Withdrawal stops a live case at once (SPEC principle 3): nobody has to act on it."""
        is_active = checks.require_flag(active, "active")
        moment = checks.require_moment(at, "at")
        self._note_participate_consent(active=is_active, at=moment)
        if not is_active and not self.is_terminal:
            self._stop(reason="victim_withdrew", by=AUTOMATIC, automatic=True, at=moment)

    @event("ParticipateConsentNoted")
    def _note_participate_consent(self, active: bool, at: datetime) -> None:
        self.participate_consent_active = active

    def record_offender_consent(self, given: bool, at: datetime) -> None:
        """An offender who first declines is only recorded (the gate then fails); one who
        withdraws a consent already given stops the case, as taking part is voluntary."""
        is_given = checks.require_flag(given, "given")
        moment = checks.require_moment(at, "at")
        self._require_not_terminal("record the offender's consent")
        withdrawing = self.offender_consent and not is_given
        self._record_offender_consent(given=is_given, at=moment)
        if withdrawing:
            self._stop(reason="offender_withdrew", by=AUTOMATIC, automatic=True, at=moment)

    @event("OffenderConsentRecorded")
    def _record_offender_consent(self, given: bool, at: datetime) -> None:
        self.offender_consent = given

    def note_risk_band(self, band: str, direct_max_band: str | None, at: datetime) -> None:
        """A new assessment answers any pending reassessment. If it puts the band over the direct
        limit while a direct conference is scheduled, that conference is suspended at once."""
        new_band = checks.require_choice(band, "band", RISK_BANDS)
        limit = checks.optional_choice(direct_max_band, "direct_max_band", RISK_BANDS)
        moment = checks.require_moment(at, "at")
        self._note_risk_band(band=new_band, direct_max_band=limit, at=moment)
        if (
            self.status == "scheduled"
            and self.modality == "direct"
            and self._risk_above_direct_limit()
        ):
            self._suspend(reason="risk_escalated", by=AUTOMATIC, at=moment)

    def suspend_for(self, reason: str, at: datetime) -> None:
        """A condition of the gate will no longer hold on the conference day (for example the
        facilitator's endorsement ends before it): the scheduled conference is suspended."""
        if self.status != "scheduled":
            return
        self._suspend(
            reason=checks.require_text(reason, "reason"),
            by=AUTOMATIC,
            at=checks.require_moment(at, "at"),
        )

    @event("RiskBandNoted")
    def _note_risk_band(self, band: str, direct_max_band: str | None, at: datetime) -> None:
        self.risk_band = band
        self.direct_max_band = direct_max_band
        self.reassessment_required = False

    def note_reassessment_required(self, at: datetime) -> None:
        self._note_reassessment_required(at=checks.require_moment(at, "at"))

    @event("ReassessmentRequired")
    def _note_reassessment_required(self, at: datetime) -> None:
        self.reassessment_required = True

    def note_safety_plan(
        self,
        exists: bool,
        at: datetime,
        review_date: date | None = None,
    ) -> None:
        """Only the plan's existence and review date are known here, never its content."""
        self._note_safety_plan(
            exists=checks.require_flag(exists, "exists"),
            review_date=None
            if review_date is None
            else checks.require_day(review_date, "review_date").isoformat(),
            at=checks.require_moment(at, "at"),
        )

    @event("SafetyPlanNoted")
    def _note_safety_plan(self, exists: bool, review_date: str | None, at: datetime) -> None:
        self.safety_plan_exists = exists
        self._safety_plan_review_date = review_date if exists else None

    # --- preparation ------------------------------------------------------------------------
    def record_preparation(
        self,
        participant: str,
        by: str,
        at: datetime,
        seen_alone: bool | None = None,
        coercion_screen: str | None = None,
        support_persons: Sequence[str] = (),
        childrens_needs: str | None = None,
        notes: str = "",
    ) -> None:
        """The victim's meeting must say whether they were seen alone and how the coercion
        screen went; a failed screen stops nothing by itself but fails the gate."""
        self._require_status(("preparing", "scheduled", "suspended"), "record preparation")
        who = checks.require_choice(participant, "participant", PARTICIPANTS)
        alone = None if seen_alone is None else checks.require_flag(seen_alone, "seen_alone")
        screen = checks.optional_choice(coercion_screen, "coercion_screen", COERCION_SCREEN_RESULTS)
        if who == "victim" and (alone is None or screen is None):
            raise ValidationFailed(
                "the victim's preparation meeting must state seen_alone and coercion_screen",
                {"field": "seen_alone" if alone is None else "coercion_screen"},
            )
        self._record_preparation(
            participant=who,
            by=checks.require_text(by, "by"),
            at=checks.require_moment(at, "at"),
            seen_alone=alone,
            coercion_screen=screen,
            support_persons=_support_persons(support_persons),
            childrens_needs=checks.optional_text(
                childrens_needs,
                "childrens_needs",
                max_length=2_000,
            ),
            notes=free_text(notes, "notes"),
        )

    @event("PreparationRecorded")
    def _record_preparation(
        self,
        participant: str,
        by: str,
        at: datetime,
        seen_alone: bool | None,
        coercion_screen: str | None,
        support_persons: list[str],
        childrens_needs: str | None,
        notes: str,
    ) -> None:
        self._preparations.append(
            {
                "participant": participant,
                "by": by,
                "at": at,
                "seen_alone": seen_alone,
                "coercion_screen": coercion_screen,
                "support_persons": list(support_persons),
                "childrens_needs": childrens_needs,
                "notes": notes,
            }
        )

    # --- the gate ---------------------------------------------------------------------------
    def _risk_above_direct_limit(self) -> bool:
        if self.direct_max_band is None:
            return True
        return band_rank(self.risk_band) > band_rank(self.direct_max_band)

    def _safety_plan_current(self, on: date) -> bool:
        # A plan whose review date has passed no longer describes today's risks.
        review = self.safety_plan_review_date
        return self.safety_plan_exists and (review is None or review >= on)

    def _shared_gate_failures(self, endorsement_valid: bool) -> dict[str, bool]:
        victim = self._latest_preparation("victim")
        # Read from the victim's latest meeting, so a later meeting can clear an earlier failed
        # screen only by recording a pass. With no meeting nothing has been passed or attested
        # either, and a refusal lists every failed condition, so all three codes appear.
        return {
            NO_ENDORSED_FACILITATOR: self.facilitator_id is None or not endorsement_valid,
            PARTICIPATE_CONSENT_INACTIVE: not self.participate_consent_active,
            OFFENDER_CONSENT_MISSING: not self.offender_consent,
            VICTIM_PREPARATION_MISSING: victim is None,
            COERCION_SCREEN_NOT_PASSED: victim is None or victim["coercion_screen"] != "passed",
            VICTIM_NOT_SEEN_ALONE: victim is None or victim["seen_alone"] is not True,
            REASSESSMENT_REQUIRED: self.reassessment_required,
        }

    def direct_gate_failures(self, on: date, endorsement_valid: bool) -> list[str]:
        """Every failed condition for a face-to-face conference, not just the first."""
        day = checks.require_day(on, "on")
        endorsed = checks.require_flag(endorsement_valid, "endorsement_valid")
        shared = self._shared_gate_failures(endorsed)
        conditions = {
            NO_ENDORSED_FACILITATOR: shared[NO_ENDORSED_FACILITATOR],
            PARTICIPATE_CONSENT_INACTIVE: shared[PARTICIPATE_CONSENT_INACTIVE],
            OFFENDER_CONSENT_MISSING: shared[OFFENDER_CONSENT_MISSING],
            VICTIM_PREPARATION_MISSING: shared[VICTIM_PREPARATION_MISSING],
            OFFENDER_PREPARATION_MISSING: self._latest_preparation("offender") is None,
            COERCION_SCREEN_NOT_PASSED: shared[COERCION_SCREEN_NOT_PASSED],
            VICTIM_NOT_SEEN_ALONE: shared[VICTIM_NOT_SEEN_ALONE],
            RISK_BAND_ABOVE_DIRECT_LIMIT: self._risk_above_direct_limit(),
            REASSESSMENT_REQUIRED: shared[REASSESSMENT_REQUIRED],
            NO_SAFETY_PLAN: not self._safety_plan_current(day),
            ELIGIBILITY_INDIRECT_ONLY: self.eligibility == "eligible_indirect_only",
        }
        return [code for code, failed in conditions.items() if failed]

    def indirect_gate_failures(self, on: date, endorsement_valid: bool) -> list[str]:
        """The smaller gate for shuttle communication and letters: the parties never meet, so
        risk band, safety plan and the offender's preparation do not hold it back."""
        checks.require_day(on, "on")
        endorsed = checks.require_flag(endorsement_valid, "endorsement_valid")
        shared = self._shared_gate_failures(endorsed)
        conditions = (
            NO_ENDORSED_FACILITATOR,
            PARTICIPATE_CONSENT_INACTIVE,
            OFFENDER_CONSENT_MISSING,
            VICTIM_PREPARATION_MISSING,
            COERCION_SCREEN_NOT_PASSED,
            REASSESSMENT_REQUIRED,
        )
        return [code for code in conditions if shared[code]]

    # --- scheduling, suspension, stops ------------------------------------------------------
    def schedule_conference(
        self,
        modality: str,
        at_time: datetime,
        on: date,
        endorsement_valid: bool,
        by: str,
    ) -> None:
        """Schedules (or reschedules) a conference; refused with every failed gate condition."""
        self._require_status(("preparing", "scheduled"), "schedule a conference")
        chosen = checks.require_choice(modality, "modality", MODALITIES)
        when = checks.require_moment(at_time, "at_time")
        day = checks.require_day(on, "on")
        who = checks.require_text(by, "by")
        if when.date() < day:
            raise ValidationFailed(
                "a conference cannot be scheduled in the past",
                {"field": "at_time"},
            )
        failed = (
            self.direct_gate_failures(day, endorsement_valid)
            if chosen == "direct"
            else self.indirect_gate_failures(day, endorsement_valid)
        )
        if failed:
            raise GateRefused(
                f"the {chosen} conference gate is not met",
                {"failed": failed, "modality": chosen},
            )
        self._schedule_conference(
            modality=chosen,
            at_time=when,
            on=day.isoformat(),
            facilitator_id=self.facilitator_id,
            by=who,
        )

    @event("ConferenceScheduled")
    def _schedule_conference(
        self,
        modality: str,
        at_time: datetime,
        on: str,
        facilitator_id: str | None,
        by: str,
    ) -> None:
        self.modality = modality
        self.conference_at = at_time
        self.status = "scheduled"

    @event("ConferenceSuspended")
    def _suspend(self, reason: str, by: str | None, at: datetime) -> None:
        self.status = "suspended"
        self.suspension_reason = reason
        self.conference_at = None

    def resume(self, by: str, at: datetime) -> None:
        """Back to preparation: the conference must pass its gate again to be rescheduled."""
        self._require_status(("suspended",), "resume the case")
        self._resume(by=checks.require_text(by, "by"), at=checks.require_moment(at, "at"))

    @event("CaseResumed")
    def _resume(self, by: str, at: datetime) -> None:
        self.status = "preparing"
        self.suspension_reason = None

    def stop(self, reason: str, by: str, at: datetime) -> None:
        if not isinstance(reason, str) or reason not in STOP_REASONS:
            raise UnknownStopReason(
                f"unknown stop reason {reason!r}",
                {
                    "reason": reason if isinstance(reason, str) else None,
                    "allowed": list(STOP_REASONS),
                },
            )
        who = checks.require_text(by, "by")
        moment = checks.require_moment(at, "at")
        self._require_not_terminal("stop the case")
        self._stop(reason=reason, by=who, automatic=False, at=moment)

    @event("CaseStopped")
    def _stop(self, reason: str, by: str | None, automatic: bool, at: datetime) -> None:
        self.status = "stopped"
        self.stop_reason = reason
        self.stopped_by = by
        self.stopped_at = at
        self.closed_at = at

    # --- conference and agreement -----------------------------------------------------------
    def record_conference_held(self, at: datetime, notes: str, by: str) -> None:
        self._require_status(("scheduled",), "record a conference as held")
        self._record_conference_held(
            at=checks.require_moment(at, "at"),
            notes=free_text(notes, "notes"),
            by=checks.require_text(by, "by"),
        )

    @event("ConferenceHeld")
    def _record_conference_held(self, at: datetime, notes: str, by: str) -> None:
        self.status = "conference_held"
        self.conference_held_at = at
        self._conference_notes = notes

    def draft_agreement(
        self,
        items: Sequence[Mapping[str, Any]],
        by: str,
        at: datetime,
    ) -> None:
        """A new draft replaces the last one and voids any consent given to it."""
        self._require_status(("conference_held", "agreement"), "draft an agreement")
        self._draft_agreement(
            items=_items(items),
            by=checks.require_text(by, "by"),
            at=checks.require_moment(at, "at"),
        )

    @event("AgreementDrafted")
    def _draft_agreement(self, items: list[dict[str, Any]], by: str, at: datetime) -> None:
        # Copied so that later changes of state can never alter the recorded event.
        self._items = copy.deepcopy(items)
        self._agreement_consents = {}
        self.agreement_status = "draft"
        self.status = "agreement"

    def record_agreement_consent(
        self,
        party: str,
        agrees: bool,
        share_with_court: bool,
        at: datetime,
    ) -> None:
        self._require_status(("agreement",), "record consent to the agreement")
        who = checks.require_choice(party, "party", PARTIES)
        agreed = checks.require_flag(agrees, "agrees")
        share = checks.require_flag(share_with_court, "share_with_court")
        moment = checks.require_moment(at, "at")
        self._record_agreement_consent(
            party=who,
            agrees=agreed,
            share_with_court=share,
            at=moment,
        )
        if all(self._agreement_consents.get(p, {}).get("agrees") is True for p in PARTIES):
            self._agree(
                outcome_shared_with_court=all(
                    self._agreement_consents[p]["share_with_court"] for p in PARTIES
                ),
                at=moment,
            )

    @event("AgreementConsentRecorded")
    def _record_agreement_consent(
        self,
        party: str,
        agrees: bool,
        share_with_court: bool,
        at: datetime,
    ) -> None:
        self._agreement_consents[party] = {
            "agrees": agrees,
            "share_with_court": share_with_court,
            "at": at,
        }

    @event("AgreementAgreed")
    def _agree(self, outcome_shared_with_court: bool, at: datetime) -> None:
        self.agreement_status = "agreed"
        self.status = "monitoring"

    def withdraw_outcome_sharing(self, party: str, at: datetime) -> None:
        """Consent to share the outcome with the court is withdrawable like any other."""
        who = checks.require_choice(party, "party", PARTIES)
        moment = checks.require_moment(at, "at")
        if not self.agreement_agreed:
            raise InvalidState(
                "there is no agreed outcome to stop sharing",
                {"state": self.status},
            )
        self._withdraw_outcome_sharing(party=who, at=moment)

    @event("OutcomeSharingWithdrawn")
    def _withdraw_outcome_sharing(self, party: str, at: datetime) -> None:
        self._agreement_consents[party]["share_with_court"] = False

    # --- monitoring -------------------------------------------------------------------------
    def _reportable_item(self, item_id: object) -> str:
        self._require_status(("monitoring",), "report on an agreement item")
        known = {item["item_id"] for item in self._items}
        if not isinstance(item_id, str) or item_id not in known:
            raise UnknownItem(
                f"the agreement has no item {item_id!r}",
                {"item_id": item_id if isinstance(item_id, str) else None},
            )
        report = self._item_reports.get(item_id)
        if report is not None:
            raise ItemAlreadyReported(
                f"item {item_id!r} is already {report['status']}",
                {"item_id": item_id, "status": report["status"]},
            )
        return item_id

    def complete_item(
        self,
        item_id: str,
        evidence: str,
        reported_by_agency: str,
        at: datetime,
    ) -> None:
        item = self._reportable_item(item_id)
        moment = checks.require_moment(at, "at")
        self._complete_item(
            item_id=item,
            evidence=checks.require_text(evidence, "evidence", max_length=2_000),
            reported_by_agency=checks.require_choice(
                reported_by_agency, "reported_by_agency", AGENCIES
            ),
            at=moment,
        )
        if len(self._item_reports) == len(self._items):
            self._complete_case(at=moment)

    @event("ItemCompleted")
    def _complete_item(
        self,
        item_id: str,
        evidence: str,
        reported_by_agency: str,
        at: datetime,
    ) -> None:
        self._item_reports[item_id] = {
            "status": "completed",
            "evidence": evidence,
            "reported_by_agency": reported_by_agency,
            "at": at,
        }

    @event("CaseCompleted")
    def _complete_case(self, at: datetime) -> None:
        self.status = "completed"
        self.closed_at = at

    def breach_item(
        self,
        item_id: str,
        evidence: str,
        reported_by_agency: str,
        at: datetime,
    ) -> None:
        """A breach returns the case: to the court when there is a court reference, otherwise
        to the agency that referred it."""
        item = self._reportable_item(item_id)
        self._breach(
            item_id=item,
            evidence=checks.require_text(evidence, "evidence", max_length=2_000),
            reported_by_agency=checks.require_choice(
                reported_by_agency, "reported_by_agency", AGENCIES
            ),
            returned_to="court" if self.court_reference else self.referring_agency,
            at=checks.require_moment(at, "at"),
        )

    @event("AgreementBreached")
    def _breach(
        self,
        item_id: str,
        evidence: str,
        reported_by_agency: str,
        returned_to: str,
        at: datetime,
    ) -> None:
        self._item_reports[item_id] = {
            "status": "breached",
            "evidence": evidence,
            "reported_by_agency": reported_by_agency,
            "at": at,
        }
        self.status = "returned"
        self.returned_to = returned_to
        self.closed_at = at
