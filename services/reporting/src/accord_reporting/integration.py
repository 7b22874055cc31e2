"""What reporting learns from every service's events: only coded facts, organisations and
days (accord_reporting.domain.tally). Each handler returns the aggregates it changed, saved
with the event's tracking record, so each event counts once however often it is delivered."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import Handler
from accord_kernel.contracts import (
    AgreementMade,
    CaseChanged,
    CaseStopped,
    ConsentChanged,
    EmergencyAccessGranted,
    IncidentReported,
    ItemReported,
    ReferralAccepted,
    ReferralDeclined,
    ReferralScreened,
    ReferralSubmitted,
    ReferralWithdrawn,
    VictimServicesTransferred,
)
from accord_kernel.envelope import IntegrationEvent

from accord_reporting.application import ReportingService


def inbox_handlers(app: ReportingService) -> dict[str, Handler]:
    def submitted(_: IntegrationEvent, c: ReferralSubmitted) -> list[Any]:
        organisations = {**c.organisations, "police": c.referring_org}
        return app.change(
            c.case_id,
            lambda t: t.note_referral(
                c.jurisdiction, c.initiated_by, c.submitted_at, organisations, c.deadlines
            ),
        )

    def screened(_: IntegrationEvent, c: ReferralScreened) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_screening(c.outcome, c.reasons))

    def accepted(_: IntegrationEvent, c: ReferralAccepted) -> list[Any]:
        def note(t: Any) -> None:
            t.note_organisation("rj_provider", c.provider_org)
            t.note_decision(True)

        return app.change(c.case_id, note)

    def declined(_: IntegrationEvent, c: ReferralDeclined) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_decision(False))

    def transferred(_: IntegrationEvent, c: VictimServicesTransferred) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_organisation("victim_services", c.to_org))

    def withdrawn(_: IntegrationEvent, c: ReferralWithdrawn) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_withdrawal(c.reason))

    def incident(_: IntegrationEvent, c: IncidentReported) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_incident(c.at.date()))

    def stopped(_: IntegrationEvent, c: CaseStopped) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_stop(c.reason))

    def agreement(_: IntegrationEvent, c: AgreementMade | ItemReported) -> list[Any]:
        return app.change(c.case_id, lambda t: t.note_items(c.items_status))

    def consent(_: IntegrationEvent, c: ConsentChanged) -> list[Any]:
        if c.party != "victim":
            return []

        def note(t: Any) -> None:
            t.note_victim_consent(c.consent_id, c.scope, c.status)
            t.note_fulfilment("victim_answered", c.at.date())

        return app.change(c.case_id, note)

    def granted(e: IntegrationEvent, c: EmergencyAccessGranted) -> list[Any]:
        # The contract carries no grant time: the CloudEvent's time is when it was granted.
        return app.change(
            c.case_id, lambda t: t.note_grant(c.grant_id, c.agency, c.reason_code, e.time)
        )

    def changed(_: IntegrationEvent, c: CaseChanged) -> list[Any]:
        if (
            c.service == "victim-support"
            and c.record == "victim_record"
            and c.change == "Registered"
        ):
            return app.change(
                c.case_id, lambda t: t.note_fulfilment("victim_registered", c.at.date())
            )
        if c.service == "victim-support" and c.record == "emergency_access" and c.status:
            # status carries the grant id of a completed review (victim-support's translation)
            return app.change(c.case_id, lambda t: t.note_grant_review(str(c.status), c.at))
        return []

    return {
        ReferralSubmitted.type: submitted,
        ReferralScreened.type: screened,
        ReferralAccepted.type: accepted,
        ReferralDeclined.type: declined,
        VictimServicesTransferred.type: transferred,
        ReferralWithdrawn.type: withdrawn,
        CaseStopped.type: stopped,
        IncidentReported.type: incident,
        AgreementMade.type: agreement,
        ItemReported.type: agreement,
        ConsentChanged.type: consent,
        EmergencyAccessGranted.type: granted,
        CaseChanged.type: changed,
    }
