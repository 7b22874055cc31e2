"""Which court references an RJ case is known by, keyed by the case id.

Revocations of shared agreement text name the case, not the court reference, so the court keeps
this index to find the court cases whose copy of the text it must forget.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

from accord_court.domain.court_case import court_reference_of
from accord_court.domain.errors import ValidationFailed

REFERENCES_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "accord/court/case-court-references")


class CourtReferences(Aggregate):
    """The court references linked to one RJ case."""

    @staticmethod
    def id_for(case_id: str) -> uuid.UUID:
        return uuid.uuid5(REFERENCES_NAMESPACE, case_id)

    @classmethod
    def create_id(cls, case_id: str, **_: object) -> uuid.UUID:
        return cls.id_for(case_id)

    @classmethod
    def start(cls, case_id: str) -> CourtReferences:
        if not isinstance(case_id, str) or not case_id.strip() or len(case_id) > 64:
            raise ValidationFailed("case_id must be 1-64 characters", {"field": "case_id"})
        return cls(case_id=case_id)

    @event("Started")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self._references: list[str] = []

    @property
    def references(self) -> list[str]:
        return list(self._references)

    def add(self, court_reference: str) -> None:
        """Adding a reference already held changes nothing, so that no event is recorded."""
        reference = court_reference_of(court_reference)
        if reference not in self._references:
            self._add(court_reference=reference)

    @event("ReferenceAdded")
    def _add(self, court_reference: str) -> None:
        self._references.append(court_reference)
