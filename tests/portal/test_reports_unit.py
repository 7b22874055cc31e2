"""The reports page on a fake reporting service whose answer is built by the reporting domain
itself (real suppression): the scope follows the role, every table has its chart and its
table, a suppressed count is shown as such and never drawn, filters travel to the service only
when well formed, and each table downloads as CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
from accord_reporting.api.routes import table_out
from accord_reporting.domain import CaseTally, Scope, figures
from fastapi.testclient import TestClient

from .conftest import signed_in_as


def report(label: str | None) -> dict[str, Any]:
    tallies = []
    for n in range(9):
        t = CaseTally(case_id=f"case-{n}")
        t.note_referral(
            "england-wales",
            "victim" if n < 7 else "police",
            datetime(2026, 3, 2, tzinfo=UTC),
            {"police": "north-police"},
            {},
        )
        tallies.append(t)
    scope = Scope(label)
    return {
        "scope": "organisation" if label else "region",
        "organisation": scope.label,
        "suppression_threshold": 5,
        "tables": [table_out(t) for t in figures(tallies, scope, date(2026, 3, 20))],
    }


class Reporting:
    def __init__(self, label: str | None) -> None:
        self.label = label
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/reports":
            return httpx.Response(200, json=report(self.label))
        if request.url.path == "/reports/referrals_by_initiator.csv":
            return httpx.Response(
                200, text="month,organisation\n", headers={"content-type": "text/csv"}
            )
        return httpx.Response(404)


def test_a_manager_sees_their_organisations_tables_with_charts(portal_factory: Any) -> None:
    fake = Reporting("north-police")
    client = TestClient(portal_factory(fake))
    signed_in_as(client, "police", "manager", "north-police")
    page = client.get("/reports", params={"from": "2026-01", "to": "bad", "jurisdiction": "x"})
    assert page.status_code == 200, page.text
    sent = fake.requests[-1].url.params
    assert sent["scope"] == "organisation" and sent["from"] == "2026-01"
    assert "to" not in sent and "jurisdiction" not in sent
    html = page.text
    assert "Referrals by who initiated them" in html
    assert '<svg role="img"' in html and "<title id=" in html
    # 7 victims and 2 police in one row: the 2, and so the 7 and the totals, are suppressed
    assert "suppressed" in html
    assert ">7<" not in html and ">2<" not in html
    assert 'href="/reports/referrals_by_initiator.csv?from=2026-01"' in html


def test_a_commissioner_asks_for_the_region(portal_factory: Any) -> None:
    fake = Reporting(None)
    client = TestClient(portal_factory(fake))
    signed_in_as(client, "commissioner", "commissioner", "north-commissioner")
    assert client.get("/reports").status_code == 200
    assert fake.requests[-1].url.params["scope"] == "region"


def test_each_table_downloads_as_csv(portal_factory: Any) -> None:
    client = TestClient(portal_factory(Reporting("north-police")))
    signed_in_as(client, "police", "manager", "north-police")
    r = client.get("/reports/referrals_by_initiator.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert client.get("/reports/not_a_table.csv").status_code == 404


def test_an_officer_has_no_reports(portal_factory: Any) -> None:
    client = TestClient(portal_factory(Reporting("north-police")))
    signed_in_as(client, "police", "officer", "north-police")
    assert client.get("/reports").status_code in (403, 404)
