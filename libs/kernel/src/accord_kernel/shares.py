"""What an agency holds of victim-services data it received by policy-routed sharing.

A revocation purges the copy (an event, so the purge is itself on record); reads of what is
held still go through the agency's own policy decision, so an expired consent hides the data
even before the revocation arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from fastapi import APIRouter

from accord_kernel.application import AccordApplication
from accord_kernel.contracts import SafetyFlagsShared, ShareRevoked
from accord_kernel.envelope import IntegrationEvent
from accord_kernel.identity import require
from accord_kernel.policy import Purpose, Resource
from accord_kernel.runtime import CurrentSubject, Runtime


class ReceivedSafetyFlags(Aggregate):
    @event("Started")
    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        self.flags: list[dict[str, Any]] = []
        self.lawful_basis: str | None = None
        self.received_at: datetime | None = None
        self.share_id: str | None = None

    @staticmethod
    def id_for(case_id: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"accord/received-safety-flags/{case_id}")

    @classmethod
    def create_id(cls, case_id: str) -> UUID:
        return cls.id_for(case_id)

    @event("Received")
    def receive(self, share_id: str, flags: list[dict[str, Any]], lawful_basis: str,
                at: datetime) -> None:
        self.share_id = share_id
        self.flags = flags
        self.lawful_basis = lawful_basis
        self.received_at = at

    @event("Purged")
    def purge(self, reason: str, at: datetime) -> None:
        self.flags = []
        self.lawful_basis = None
        self.purge_reason = reason
        self.purged_at = at

    def document(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "flags": self.flags, "lawful_basis": self.lawful_basis}


class ReceivedShares:
    def __init__(self, app: AccordApplication) -> None:
        self.app = app

    def safety_flags(self, case_id: str) -> ReceivedSafetyFlags:
        try:
            held = self.app.repository.get(ReceivedSafetyFlags.id_for(case_id))
        except AggregateNotFoundError:
            return ReceivedSafetyFlags(case_id)
        assert isinstance(held, ReceivedSafetyFlags)
        return held

    def on_flags(self, _: IntegrationEvent, c: SafetyFlagsShared) -> list[Any]:
        held = self.safety_flags(c.case_id)
        held.receive(c.share_id, c.flags, c.lawful_basis, c.at)
        return [held]

    def on_revoked(self, _: IntegrationEvent, c: ShareRevoked) -> list[Any]:
        if "safety.flags" not in c.data_classes:
            return []
        held = self.safety_flags(c.case_id)
        if not held.flags:
            return []
        held.purge(c.reason, c.at)
        return [held]

    def handlers(self) -> dict[str, Any]:
        return {SafetyFlagsShared.type: self.on_flags, ShareRevoked.type: self.on_revoked}


def received_flags_router(agency: str) -> APIRouter:
    """GET /cases/{case_id}/safety-flags for the agency that received a share."""
    router = APIRouter(tags=["shared safety flags"])

    @router.get("/cases/{case_id}/safety-flags",
                summary="Safety flags shared with this agency by victim services")
    def read(case_id: str, subject: CurrentSubject, runtime: Runtime,
             purpose: Purpose = "safeguarding") -> dict[str, Any]:
        require(subject, {agency})
        shares = ReceivedShares(runtime.app)
        # A service that owns part of the case (the referral service owns the risk band)
        # says so through its own policy_case; otherwise what events taught it is enough.
        owner = getattr(runtime.app, "policy_case", None)
        contexts = getattr(runtime.app, "contexts", None)
        if owner is not None:
            case = owner(case_id[:64], subject.agency, subject.user)
        elif contexts is not None:
            case = contexts.policy_case(case_id[:64], subject.agency, subject.user)
        else:
            case = {}
        doc = shares.safety_flags(case_id[:64]).document()
        return runtime.pep.read_one(subject, purpose, Resource(
            type="safety_flags", case_id=case_id[:64], document=doc, case=case))

    return router
