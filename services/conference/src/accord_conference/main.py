"""Composition root of the conference (RJ provider) service."""

from __future__ import annotations

from typing import Any

from accord_kernel.bus import ApplicationInbox
from accord_kernel.contracts import REFERRAL_TOPIC, VICTIM_SUPPORT_TOPIC
from accord_kernel.identity import Subject
from accord_kernel.policy import Resource
from accord_kernel.runtime import ServiceRuntime, build_api, service_cli
from accord_kernel.settings import ServiceSettings
from fastapi import FastAPI

from accord_conference.api.cases import router as cases_router
from accord_conference.api.intake import router as intake_router
from accord_conference.application import ConferenceService
from accord_conference.config import load_settings
from accord_conference.domain import ConferenceError
from accord_conference.integration import inbox_handlers


def make_runtime(settings: ServiceSettings) -> ServiceRuntime[ConferenceService]:
    app = ConferenceService(settings)
    inbox = ApplicationInbox(app, inbox_handlers(app), refusals=(ConferenceError,))
    runtime = ServiceRuntime(
        settings, app, inbox=inbox, topics=[REFERRAL_TOPIC, VICTIM_SUPPORT_TOPIC]
    )

    def direct_limit(jurisdiction: str) -> str | None:
        result, _ = runtime.pdp.query(
            "accord.packs", "direct_max_band", {"jurisdiction": jurisdiction}
        )
        return None if result is None else str(result)

    def court_share(case_id: str, case: dict[str, Any]) -> tuple[bool, str | None]:
        # The court that may receive the text is the case's responsible court, no other.
        org = str((case.get("responsible") or {}).get("court") or "")
        court = Subject(user="court-service", agency="court", role="service", org=org)
        resource = Resource(
            type="court_case",
            case_id=case_id,
            document={"case_id": case_id, "items_text": []},
            case=case,
        )
        (decision,) = runtime.pep.decide(court, "compliance_review", [resource], "share")
        return "items_text" in decision.allowed_fields, decision.decision_id

    app.direct_limit = direct_limit
    app.court_share_policy = court_share
    return runtime


def make_api(runtime: ServiceRuntime[ConferenceService], with_workers: bool = False) -> FastAPI:
    routers = [intake_router, cases_router]
    return build_api(runtime, "Accord conference service (RJ providers)", routers, with_workers)


cli = service_cli("conference", load_settings, make_runtime, make_api)
