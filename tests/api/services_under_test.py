"""What the HTTP-boundary tests share: the services, the agencies' roles, and dev keys."""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from accord_kernel.dev_tokens import mint
from accord_kernel.identity import AGENCY_ROLES
from fastapi import FastAPI

SERVICE_MODULES: dict[str, str] = {
    "referral": "accord_referral.main",
    "victim-support": "accord_victim_support.main",
    "conference": "accord_conference.main",
    "court": "accord_court.main",
    "audit": "accord_audit.main",
    "reporting": "accord_reporting.main",
}
SERVICES: tuple[str, ...] = tuple(SERVICE_MODULES)
AGENCY_ROLE_PAIRS: tuple[tuple[str, str], ...] = tuple(
    (agency, role) for agency in sorted(AGENCY_ROLES) for role in sorted(AGENCY_ROLES[agency])
)
# /metrics is scraped without a token (Prometheus on the cluster network); it holds figures
# per route template only, never a case id (tests/test_e2e_processes.py checks that).
# The problem-type pages are documentation, like the OpenAPI document.
PUBLIC_PATHS = frozenset(
    {
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/metrics",
        "/problems/",
        "/problems/{code}",
    }
)
ServiceFactory = Callable[[str], FastAPI]
TRACEBACK_MARKERS = ("Traceback (most recent call last)", 'File "/')


@dataclass(frozen=True)
class DevKeys:
    key_dir: Path
    private_key_path: Path
    jwks_path: Path

    @property
    def kid(self) -> str:
        return str(json.loads(self.jwks_path.read_text())["keys"][0]["kid"])

    def token(self, agency: str, role: str, **claims: Any) -> str:
        return str(mint(self.key_dir, agency=agency, role=role, **claims))

    def bearer(self, agency: str, role: str, **claims: Any) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.token(agency, role, **claims)}


def service_module(service: str) -> ModuleType:
    """Imports a service's composition root; every service has one, so any failure fails."""
    return importlib.import_module(SERVICE_MODULES[service])


def response_defects(status: int, content_type: str, text: str) -> list[str]:
    """What is wrong with a response at the HTTP boundary: a server error, a traceback in the
    body, or a 4xx that is not an RFC 9457 problem document. Empty when nothing is."""
    defects = []
    if any(marker in text for marker in TRACEBACK_MARKERS):
        defects.append("body contains a Python traceback")
    if status >= 500:
        defects.append("server error")
    if 400 <= status < 500:
        if not content_type.startswith("application/problem+json"):
            defects.append(f"content-type {content_type!r} is not application/problem+json")
        try:
            doc = json.loads(text)
        except ValueError:
            return [*defects, "body is not JSON"]
        is_problem = (
            isinstance(doc, dict)
            and isinstance(doc.get("type"), str)
            and isinstance(doc.get("title"), str)
            and doc.get("status") == status
        )
        if not is_problem:
            defects.append("not a problem document with type, title and status")
    return defects


def introduce(client: Any, case_id: str, **facts: Any) -> None:
    """Tells a service built alone (no Kafka) about a case through its real inbox: the referral
    naming the case's responsible organisations, which every service needs first (SPEC 4a)."""
    from accord_kernel.testing import submitted, tell

    tell(client.app.state.runtime, submitted(case_id, **facts))
