"""The commands on an RJ case, one typed object each: the API builds one from its request body
and `ConferenceService.command` applies it to the case. Each command calls its one method of
`RJCase`, so there is no dispatch by name anywhere."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal, Protocol

from accord_conference.domain.rj_case import RJCase


class CaseCommand(Protocol):
    def apply(self, rj: RJCase) -> None: ...


@dataclass(frozen=True)
class AssignFacilitator:
    facilitator_id: str
    endorsement_valid: bool
    on: date
    by: str
    role: str = "lead"

    def apply(self, rj: RJCase) -> None:
        rj.assign_facilitator(
            self.facilitator_id, self.endorsement_valid, self.on, self.by, self.role
        )


@dataclass(frozen=True)
class RecordOffenderConsent:
    given: bool
    at: datetime

    def apply(self, rj: RJCase) -> None:
        rj.record_offender_consent(self.given, self.at)


@dataclass(frozen=True)
class RecordPreparation:
    participant: str
    by: str
    at: datetime
    seen_alone: bool | None = None
    coercion_screen: str | None = None
    support_persons: Sequence[str] = field(default_factory=tuple)
    childrens_needs: str | None = None
    notes: str = ""

    def apply(self, rj: RJCase) -> None:
        rj.record_preparation(
            self.participant,
            self.by,
            self.at,
            seen_alone=self.seen_alone,
            coercion_screen=self.coercion_screen,
            support_persons=self.support_persons,
            childrens_needs=self.childrens_needs,
            notes=self.notes,
        )


@dataclass(frozen=True)
class ScheduleConference:
    modality: str
    at_time: datetime
    on: date
    endorsement_valid: bool
    by: str

    def apply(self, rj: RJCase) -> None:
        rj.schedule_conference(
            self.modality, self.at_time, self.on, self.endorsement_valid, self.by
        )


@dataclass(frozen=True)
class RecordConferenceHeld:
    at: datetime
    notes: str
    by: str

    def apply(self, rj: RJCase) -> None:
        rj.record_conference_held(self.at, self.notes, self.by)


@dataclass(frozen=True)
class Stop:
    reason: str
    by: str
    at: datetime

    def apply(self, rj: RJCase) -> None:
        rj.stop(self.reason, self.by, self.at)


@dataclass(frozen=True)
class DraftAgreement:
    items: Sequence[Mapping[str, Any]]
    by: str
    at: datetime

    def apply(self, rj: RJCase) -> None:
        rj.draft_agreement(self.items, self.by, self.at)


@dataclass(frozen=True)
class RecordAgreementConsent:
    party: str
    agrees: bool
    share_with_court: bool
    at: datetime

    def apply(self, rj: RJCase) -> None:
        rj.record_agreement_consent(self.party, self.agrees, self.share_with_court, self.at)


@dataclass(frozen=True)
class WithdrawOutcomeSharing:
    party: str
    at: datetime

    def apply(self, rj: RJCase) -> None:
        rj.withdraw_outcome_sharing(self.party, self.at)


@dataclass(frozen=True)
class ReportItem:
    item_id: str
    status: Literal["completed", "breached"]
    evidence: str
    reported_by_agency: str
    at: datetime

    def apply(self, rj: RJCase) -> None:
        report = rj.complete_item if self.status == "completed" else rj.breach_item
        report(self.item_id, self.evidence, self.reported_by_agency, self.at)
