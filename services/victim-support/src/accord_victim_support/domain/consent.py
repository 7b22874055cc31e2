"""Consent, shaped after HL7 FHIR Consent (grantor, verifier, scope, provisions, period).

Each provision permits or denies one agency some purposes over some data classes for a period.
Expiry needs no event to take effect: `status_at(now)` already reports `expired` once every
provision has ended, and the scheduled sweep's `expire` only records what is already true.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from accord_victim_support.domain.errors import (
    InvalidPeriod,
    InvalidState,
    NotSeenAlone,
    ValidationFailed,
)
from accord_victim_support.domain.vocabulary import (
    checks,
    policy_time,
    require_agency,
    require_data_classes,
    require_purposes,
)

Scope = Literal["participate", "share", "outcome"]
Status = Literal["active", "withdrawn", "expired"]
SCOPES: tuple[Scope, ...] = ("participate", "share", "outcome")
PROVISION_TYPES: tuple[str, ...] = ("permit", "deny")
STATUSES: tuple[Status, ...] = ("active", "withdrawn", "expired")
# UK GDPR Article 6 bases plus the statutory safeguarding basis named in the spec.
LAWFUL_BASES: tuple[str, ...] = (
    "consent",
    "safeguarding",
    "legal_obligation",
    "vital_interests",
    "public_task",
)
PROVISION_KEYS = frozenset({"type", "agency", "purposes", "data_classes", "start", "end"})
REASON_MAX = 2_000


def _provision(value: object, index: int, scope: str, granted_at: datetime) -> dict[str, Any]:
    field = f"provisions[{index}]"
    provision = checks.require_record(value, field, PROVISION_KEYS)
    start = checks.require_moment(provision["start"], f"{field}.start")
    end = checks.require_moment(provision["end"], f"{field}.end")
    if end <= start:
        raise InvalidPeriod(
            f"{field}: end must be after start",
            {"field": field, "reason": "end_not_after_start"},
        )
    if end <= granted_at:
        raise InvalidPeriod(
            f"{field}: end must be after the time of granting",
            {"field": field, "reason": "ended_before_grant"},
        )
    return {
        "type": checks.require_choice(provision["type"], f"{field}.type", PROVISION_TYPES),
        "agency": require_agency(provision["agency"]),
        "purposes": require_purposes(provision["purposes"]),
        # Consent to take part is about the person, not about data, so only a participate
        # provision may name no data class; a share or outcome grant of nothing is a mistake.
        "data_classes": require_data_classes(
            provision["data_classes"],
            allow_empty=scope == "participate",
        ),
        "start": start,
        "end": end,
    }


class Consent(Aggregate):
    @classmethod
    def grant(
        cls,
        *,
        id: UUID,
        case_id: str,
        grantor: UUID,
        verified_by: str,
        seen_alone: bool,
        scope: str,
        provisions: Sequence[Mapping[str, Any]],
        at: datetime,
        lawful_basis: str = "consent",
    ) -> Consent:
        if not isinstance(id, UUID):
            raise ValidationFailed("id must be a UUID", {"field": "id"})
        if not isinstance(grantor, UUID):
            raise ValidationFailed("grantor must be the victim record id", {"field": "grantor"})
        # Strict identity with True: a missing or truthy-but-not-boolean attestation is not an
        # attestation that the advocate saw the victim without the other party present.
        if seen_alone is not True:
            raise NotSeenAlone(
                "consent can only be recorded when the victim was seen alone",
                {"field": "seen_alone"},
            )
        at = checks.require_moment(at, "at")
        chosen = checks.require_choice(scope, "scope", SCOPES)
        entries = checks.require_list(provisions, "provisions")
        if not entries:
            raise ValidationFailed(
                "at least one provision is required",
                {"field": "provisions"},
            )
        return cls(
            id=id,
            case_id=checks.require_text(case_id, "case_id", max_length=64),
            grantor=grantor,
            verified_by=checks.require_text(verified_by, "verified_by", max_length=200),
            seen_alone=True,
            scope=chosen,
            provisions=[_provision(p, i, chosen, at) for i, p in enumerate(entries)],
            lawful_basis=checks.require_choice(lawful_basis, "lawful_basis", LAWFUL_BASES),
            at=at,
        )

    @event("Granted")
    def __init__(
        self,
        id: UUID,
        case_id: str,
        grantor: UUID,
        verified_by: str,
        seen_alone: bool,
        scope: Scope,
        provisions: list[dict[str, Any]],
        lawful_basis: str,
        at: datetime,
    ) -> None:
        self.case_id = case_id
        self.grantor = grantor
        self.verified_by = verified_by
        self.seen_alone = seen_alone
        self.scope = scope
        # Copied because `refresh` edits provisions in place, and the list handed in here is
        # the Granted event's own attribute, which must keep the period as granted.
        self._provisions = copy.deepcopy(provisions)
        self.lawful_basis = lawful_basis
        self.status: Status = "active"
        self.granted_at = at
        self.withdrawn_at: datetime | None = None
        self.withdrawn_by: str | None = None
        self.withdrawal_reason: str | None = None
        self.expired_at: datetime | None = None
        self._history: list[dict[str, Any]] = [
            {"action": "granted", "by": verified_by, "at": at},
        ]

    @property
    def provisions(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._provisions)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Lifecycle entries {action, by, at}; `by` is None for the scheduled expiry."""
        return copy.deepcopy(self._history)

    @property
    def period_end(self) -> datetime:
        ends: list[datetime] = [p["end"] for p in self._provisions]
        return max(ends)

    def status_at(self, now: datetime) -> Status:
        now = checks.require_moment(now, "now")
        if self.status != "active":
            return self.status
        if now >= self.period_end:
            return "expired"
        return "active"

    def in_effect(self, now: datetime) -> list[dict[str, Any]]:
        """Provisions whose period contains `now`, and none at all unless the consent is
        active: a withdrawn or lapsed consent permits and denies nothing."""
        if self.status_at(now) != "active":
            return []
        return [copy.deepcopy(p) for p in self._provisions if p["start"] <= now < p["end"]]

    def refresh(self, new_end: datetime, by: str, at: datetime) -> None:
        """Sets a new end for every provision. A consent that has already lapsed or been
        withdrawn is not revived: that needs a fresh grant with a fresh seen-alone check."""
        at = checks.require_moment(at, "at")
        state = self.status_at(at)
        if state != "active":
            raise InvalidState(f"consent is {state}", {"state": state})
        new_end = checks.require_moment(new_end, "new_end")
        if new_end <= at:
            raise InvalidPeriod(
                "new_end must be in the future",
                {"field": "new_end", "reason": "not_in_future"},
            )
        if any(new_end <= p["start"] for p in self._provisions):
            raise InvalidPeriod(
                "new_end must be after every provision's start",
                {"field": "new_end", "reason": "end_not_after_start"},
            )
        self._refresh(new_end=new_end, by=checks.require_text(by, "by", max_length=200), at=at)

    @event("Refreshed")
    def _refresh(self, new_end: datetime, by: str, at: datetime) -> None:
        for provision in self._provisions:
            provision["end"] = new_end
        self._history.append({"action": "refreshed", "by": by, "at": at})

    def withdraw(self, by: str, reason: str | None, at: datetime) -> None:
        """Effective at once. The reason is optional: a victim never has to justify
        stepping back."""
        at = checks.require_moment(at, "at")
        state = self.status_at(at)
        if state != "active":
            raise InvalidState(f"consent is {state}", {"state": state})
        self._withdraw(
            by=checks.require_text(by, "by", max_length=200),
            reason=checks.optional_text(reason, "reason", max_length=REASON_MAX),
            at=at,
        )

    @event("Withdrawn")
    def _withdraw(self, by: str, reason: str | None, at: datetime) -> None:
        self.status = "withdrawn"
        self.withdrawn_at = at
        self.withdrawn_by = by
        self.withdrawal_reason = reason
        self._history.append({"action": "withdrawn", "by": by, "at": at})

    def expire(self, at: datetime) -> None:
        at = checks.require_moment(at, "at")
        if self.status != "active":
            raise InvalidState(f"consent is {self.status}", {"state": self.status})
        if at < self.period_end:
            raise InvalidState(
                "consent has not reached the end of its period",
                {"state": "active", "period_end": policy_time(self.period_end)},
            )
        self._expire(at=at)

    @event("Expired")
    def _expire(self, at: datetime) -> None:
        self.status = "expired"
        self.expired_at = at
        self._history.append({"action": "expired", "by": None, "at": at})


def active_provisions(consents: Iterable[Consent], now: datetime) -> list[dict[str, Any]]:
    """Every permit and deny provision in effect at `now`, in the policy input's shape.

    Deny provisions are included on purpose: the policy lets a deny override any permit.
    """
    now = checks.require_moment(now, "now")
    result: list[dict[str, Any]] = []
    for consent in consents:
        for provision in consent.in_effect(now):
            result.append(
                {
                    "consent_id": str(consent.id),
                    "scope": consent.scope,
                    "status": "active",
                    "type": provision["type"],
                    "agency": provision["agency"],
                    "purposes": list(provision["purposes"]),
                    "data_classes": list(provision["data_classes"]),
                    "start": policy_time(provision["start"]),
                    "end": policy_time(provision["end"]),
                }
            )
    return result


def summary(consents: Iterable[Consent], now: datetime) -> dict[str, Any]:
    """The shareable `consent.summary`: which scopes are active, and what each agency may
    receive. A deny for an agency removes that class from its grant whatever the purpose,
    because a summary that over-claims is the dangerous direction."""
    now = checks.require_moment(now, "now")
    participate = outcome = False
    permitted: dict[str, set[str]] = {}
    denied: dict[str, set[str]] = {}
    for consent in consents:
        in_effect = consent.in_effect(now)
        has_permit = any(p["type"] == "permit" for p in in_effect)
        if consent.scope == "participate":
            participate = participate or has_permit
        elif consent.scope == "outcome":
            outcome = outcome or has_permit
        else:
            for provision in in_effect:
                target = permitted if provision["type"] == "permit" else denied
                target.setdefault(provision["agency"], set()).update(provision["data_classes"])
    grants = []
    for agency in sorted(permitted):
        classes = sorted(permitted[agency] - denied.get(agency, set()))
        if classes:
            grants.append({"agency": agency, "data_classes": classes})
    return {"participate_active": participate, "share_grants": grants, "outcome_active": outcome}
