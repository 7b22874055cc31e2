"""RJ facilitators: accreditation, the family-violence endorsement and supervision.

SPEC: a case cannot be assigned to a facilitator without a valid endorsement. The RJ case never
reads this aggregate; the application asks `has_valid_endorsement` and passes the answer on.
"""

from __future__ import annotations

import copy
import uuid
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from accord_conference.domain.errors import ValidationFailed
from accord_conference.domain.vocabulary import (
    checks,
)

FACILITATOR_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "accord/conference/facilitator")


class Facilitator(Aggregate):
    """One facilitator, identified by the user id (`sub`) they sign in with."""

    @staticmethod
    def id_for(facilitator_id: str) -> uuid.UUID:
        return uuid.uuid5(FACILITATOR_NAMESPACE, facilitator_id)

    @classmethod
    def create_id(cls, facilitator_id: str, **_: object) -> uuid.UUID:
        return cls.id_for(facilitator_id)

    @classmethod
    def register(
        cls,
        facilitator_id: str,
        name: str,
        org: str,
        accreditation_id: str,
        accredited_until: date,
        endorsement_expires: date | None,
        at: datetime | None = None,
    ) -> Facilitator:
        return cls(
            facilitator_id=checks.require_text(facilitator_id, "facilitator_id"),
            name=checks.require_text(name, "name"),
            org=checks.require_text(org, "org"),
            accreditation_id=checks.require_text(accreditation_id, "accreditation_id"),
            accredited_until=checks.require_day(accredited_until, "accredited_until").isoformat(),
            endorsement_expires=(
                None
                if endorsement_expires is None
                else checks.require_day(endorsement_expires, "endorsement_expires").isoformat()
            ),
            at=None if at is None else checks.require_moment(at, "at"),
        )

    @event("Registered")
    def __init__(
        self,
        facilitator_id: str,
        name: str,
        org: str,
        accreditation_id: str,
        accredited_until: str,
        endorsement_expires: str | None,
        at: datetime | None,
    ) -> None:
        self.facilitator_id = facilitator_id
        self.name = name
        self.org = org
        self.accreditation_id = accreditation_id
        # ISO text rather than `date`, so that snapshots serialise with the default transcoder.
        self._accredited_until = accredited_until
        self._endorsement_expires = endorsement_expires
        self.registered_at = at
        self._supervision_log: list[dict[str, Any]] = []

    @property
    def accredited_until(self) -> date:
        return date.fromisoformat(self._accredited_until)

    @property
    def endorsement_expires(self) -> date | None:
        if self._endorsement_expires is None:
            return None
        return date.fromisoformat(self._endorsement_expires)

    @property
    def supervision_log(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self._supervision_log)

    def has_valid_endorsement(self, on: date) -> bool:
        """The endorsement is valid through its expiry day, and only while accredited: an
        endorsement is a specialism of an accreditation and cannot outlive it."""
        day = checks.require_day(on, "on")
        expires = self.endorsement_expires
        return expires is not None and day <= expires and day <= self.accredited_until

    def renew_endorsement(self, expires: date, at: datetime) -> None:
        moment = checks.require_moment(at, "at")
        new_expiry = checks.require_day(expires, "expires")
        if new_expiry < moment.date():
            raise ValidationFailed(
                "a renewed endorsement cannot already have expired",
                {"field": "expires", "expires": new_expiry.isoformat()},
            )
        self._renew_endorsement(expires=new_expiry.isoformat(), at=moment)

    @event("EndorsementRenewed")
    def _renew_endorsement(self, expires: str, at: datetime) -> None:
        self._endorsement_expires = expires

    def log_supervision(self, supervisor: str, notes_ref: str, at: datetime) -> None:
        self._log_supervision(
            supervisor=checks.require_text(supervisor, "supervisor"),
            notes_ref=checks.require_text(notes_ref, "notes_ref", max_length=500),
            at=checks.require_moment(at, "at"),
        )

    @event("SupervisionLogged")
    def _log_supervision(self, supervisor: str, notes_ref: str, at: datetime) -> None:
        self._supervision_log.append({"supervisor": supervisor, "notes_ref": notes_ref, "at": at})
