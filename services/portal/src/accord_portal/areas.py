"""Areas: one router module (plus its templates) per role's screens.

How to add a role's screens (e.g. the victim-services advocate):

1. Write `accord_portal/advocate.py` with
       router = APIRouter(prefix="/victims", dependencies=[Depends(require_area(AREA))])
       AREA = Area(
           key="advocate",
           roles=frozenset({("victim_services", "advocate"), ("victim_services", "supervisor")}),
           home="/victims",
           nav=(NavItem("Cases", "/victims"),),
       )
   Each page is `async def page(request: Request, user: User = Depends(signed_in)) -> Response`
   and ends with `return render(request, "advocate/cases.html", {...})`. Call the services with
   `portal_of(request).services.get(user.access_token, "victim-support", path)`; let the typed
   errors of api_client propagate (errors.py turns 404/409/412/503 into GOV.UK pages) except
   `Invalid` (422) on a form, which the page catches and re-renders with `error_summary(...)`.
   Every form posts `csrf_token` (`{{ csrf_field() }}` in templates); no case data in URLs.
2. Put its templates in `templates/advocate/`, each starting
   `{% extends "layout.html" %}` and filling `{% block content %}`; use the macros in
   `templates/macros.html` (summary list rows, radios, inputs, error summary, withheld values).
3. Add the module to `AREA_MODULES` below. The start page then sends that role to `home`,
   its navigation shows `nav`, and the "not available for your role yet" page stops appearing.
4. Tests: `tests/portal/conftest.py` gives `portal_app` (an app on fake services),
   `signed_in_as(client, agency, role, org)` for unit tests, and `portal_stack` (the five
   services on real HTTP, the portal on a free port, real Keycloak) with `sign_in(page,
   username)` for browser tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from fastapi import APIRouter

# Modules with `router` and `AREA`, in navigation order.
AREA_MODULES: tuple[str, ...] = (
    "accord_portal.referrals",
    "accord_portal.advocate",
    "accord_portal.rj",
    "accord_portal.court",
    "accord_portal.privacy",
    "accord_portal.emergency",
    "accord_portal.reports",
    "accord_portal.victim",
)


@dataclass(frozen=True)
class NavItem:
    text: str
    href: str


@dataclass(frozen=True)
class Area:
    key: str
    # (agency, role) pairs this area serves; the first area serving a role is its home.
    roles: frozenset[tuple[str, str]]
    home: str
    nav: tuple[NavItem, ...]

    def serves(self, agency: str, role: str) -> bool:
        return (agency, role) in self.roles


def load_areas() -> list[tuple[Area, APIRouter]]:
    loaded = []
    for name in AREA_MODULES:
        module: ModuleType = importlib.import_module(name)
        loaded.append((module.AREA, module.router))
    return loaded
