"""Every read endpoint x every agency and role x own organisation / another organisation /
unassigned facilitator, on the real platform (Kafka, OPA, PostgreSQL). The expected answer
comes from `oracle.py`, written from SPEC sections 4 and 4a, never from the policy data; a 200
body must hold exactly the fields the oracle allows, not merely answer 200."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_asyncio
from accord_platform.harness import InProcessPlatform

from tests.tenancy.case import CaseOnPlatform, readers
from tests.tenancy.oracle import Reader, expected_read

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="session")]
ALL = None
RJ, COURT = frozenset({"rj_provider"}), frozenset({"court"})

# (service, path, resource type, agencies the route serves; ALL = policy decides for anyone)
SINGLE_READS = [
    ("referral", "/referrals/{case}", "referral", ALL),
    ("victim-support", "/cases/{case}/victim", "victim_record", ALL),
    ("victim-support", "/cases/{case}/safety-flags", "safety_flags", ALL),
    ("victim-support", "/cases/{case}/safety-plan", "safety_plan", ALL),
    ("victim-support", "/cases/{case}/consent-summary", "consent_summary", ALL),
    ("conference", "/intake/{case}", "intake", RJ),
    ("conference", "/cases/{case}", "rj_case", ALL),
    ("court", "/court-cases/{ref}", "court_case", ALL),
]
# (service, path, resource type, route agencies, the row's key and its value)
LIST_READS = [
    ("referral", "/referrals", "referral", ALL, "case_id"),
    ("victim-support", "/cases/{case}/consents", "consent", ALL, "case_id"),
    ("conference", "/intake", "intake", RJ, "case_id"),
    ("conference", "/cases", "rj_case", ALL, "case_id"),
    ("court", "/court-cases", "court_case", COURT, "court_reference"),
]
READERS = readers()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def case(platform: InProcessPlatform) -> CaseOnPlatform:
    return await CaseOnPlatform(platform).build()


def fill(path: str, case: CaseOnPlatform) -> str:
    return path.replace("{case}", case.case_id).replace("{ref}", case.court_reference)


def describe(reader: Reader, path: str) -> str:
    return f"{reader.label} GET {path}"


async def test_every_single_read_answers_what_the_spec_says(case: CaseOnPlatform) -> None:
    wrong: list[str] = []
    checked = 0
    for service, path, resource_type, agencies in SINGLE_READS:
        for reader in READERS:
            status, fields = expected_read(reader, resource_type, agencies)
            r = await case.platform.client(service).get(
                fill(path, case), headers=case.headers(reader)
            )
            checked += 1
            if r.status_code != status:
                wrong.append(
                    f"{describe(reader, path)}: {r.status_code}, want {status}: {r.text[:160]}"
                )
            elif status == 200 and set(r.json()) != fields:
                body = set(r.json())
                wrong.append(
                    f"{describe(reader, path)}: extra {sorted(body - fields)}, "
                    f"missing {sorted(fields - body)}"
                )
            elif status != 200:
                problem = r.json()
                assert r.headers["content-type"].startswith("application/problem+json")
                # A refusal never carries case data, whatever it says.
                assert set(problem) <= {
                    "type",
                    "title",
                    "status",
                    "code",
                    "detail",
                    "instance",
                    "reasons",
                }, problem
    print(f"single reads checked: {checked}")
    assert not wrong, "\n".join(wrong)


async def test_every_list_shows_a_row_exactly_where_the_single_read_would(
    case: CaseOnPlatform,
) -> None:
    wrong: list[str] = []
    checked = 0
    for service, path, resource_type, agencies, key in LIST_READS:
        want_key = case.court_reference if key == "court_reference" else case.case_id
        for reader in READERS:
            status, fields = expected_read(reader, resource_type, agencies)
            r = await case.platform.client(service).get(
                fill(path, case), headers=case.headers(reader), params={"limit": 500}
            )
            checked += 1
            if agencies is not None and reader.agency not in agencies:
                if r.status_code != 403:
                    wrong.append(f"{describe(reader, path)}: {r.status_code}, want 403")
                continue
            if r.status_code != 200:
                wrong.append(f"{describe(reader, path)}: {r.status_code}, want 200")
                continue
            rows = [row for row in r.json() if row.get(key) == want_key]
            if status != 200 and rows:
                wrong.append(f"{describe(reader, path)}: row shown, want none: {sorted(rows[0])}")
            elif status == 200 and not rows:
                wrong.append(f"{describe(reader, path)}: row missing")
            elif status == 200 and any(set(row) != fields for row in rows):
                body = set(rows[0])
                wrong.append(
                    f"{describe(reader, path)}: extra {sorted(body - fields)}, "
                    f"missing {sorted(fields - body)}"
                )
    print(f"list reads checked: {checked}")
    assert not wrong, "\n".join(wrong)


async def test_the_gate_facilitators_and_audit_logs_follow_organisations(
    case: CaseOnPlatform,
) -> None:
    wrong: list[str] = []
    c = case.case_id

    async def get(service: str, path: str, reader: Reader) -> Any:
        return await case.platform.client(service).get(path, headers=case.headers(reader))

    for reader in READERS:
        # The gate is part of the RJ case: its provider's practitioners read it, others not.
        r = await get("conference", f"/cases/{c}/gate", reader)
        want = 403 if reader.agency != "rj_provider" else 404 if reader.relation == "other" else 200
        if r.status_code != want:
            wrong.append(f"{reader.label} gate: {r.status_code}, want {want}")
        # A provider sees its own facilitators only.
        r = await get("conference", "/facilitators", reader)
        if reader.agency != "rj_provider":
            if r.status_code != 403:
                wrong.append(f"{reader.label} facilitators: {r.status_code}, want 403")
        else:
            ids = {f["facilitator_id"] for f in r.json()}
            mine = case.away_facilitator_id if reader.relation == "other" else case.facilitator_id
            theirs = case.facilitator_id if reader.relation == "other" else case.away_facilitator_id
            if mine not in ids or theirs in ids:
                wrong.append(f"{reader.label} facilitators: {sorted(ids)}")
        # Who accessed the case: privacy officers only, deployment-wide.
        for path in (f"/cases/{c}/access", f"/cases/{c}/events"):
            r = await get("audit", path, reader)
            want = 200 if reader.agency == "audit" else 403
            if r.status_code != want:
                wrong.append(f"{reader.label} {path}: {r.status_code}, want {want}")
        # Who accessed the victim's data: the victim's own victim-services organisation.
        r = await get("audit", f"/victims/{c}/access-log", reader)
        want = (
            403
            if reader.agency != "victim_services"
            else 404
            if reader.relation == "other"
            else 200
        )
        if r.status_code != want:
            wrong.append(f"{reader.label} victim access log: {r.status_code}, want {want}")
    assert not wrong, "\n".join(wrong)


async def test_a_victim_reads_only_the_victim_view_of_their_own_case(
    case: CaseOnPlatform,
) -> None:
    """The victim rows (issue 17): a victim linked to this case, and one linked to another
    case, get 403 or 404 from every staff read above and from the audit service; each reads
    their own victim view and nothing of the other's."""
    p, vs = case.platform, case.platform.client("victim-support")
    enrolment = p.token("victim_services", "enrolment", user="enrolment", org="accord-enrolment")

    async def enrolled(case_id: str) -> dict[str, str]:
        advocate = case.own("victim_services", "advocate")
        r = await vs.post(f"/cases/{case_id}/invitations", headers=advocate)
        assert r.status_code == 201, r.text
        invitation = r.json()
        r = await vs.post(
            "/invitations/redemptions", json={"code": invitation["code"]}, headers=enrolment
        )
        assert r.status_code == 200, r.text
        sub = "victim-" + invitation["invitation_id"][:8]
        r = await vs.post(
            f"/invitations/{invitation['invitation_id']}/account",
            json={"sub": sub},
            headers=enrolment,
        )
        assert r.status_code == 204, r.text
        return p.token("victim", "victim", user=sub, org="north-advocacy")

    other = await CaseOnPlatform(p).build()
    victims = {"own": await enrolled(case.case_id), "other": await enrolled(other.case_id)}
    wrong: list[str] = []
    for relation, headers in victims.items():
        for service, path, *_ in [*SINGLE_READS, *LIST_READS]:
            r = await p.client(service).get(fill(path, case), headers=headers)
            if r.status_code not in (403, 404):
                wrong.append(f"victim/{relation} GET {path}: {r.status_code}")
        for path in (
            f"/cases/{case.case_id}/access",
            f"/cases/{case.case_id}/events",
            f"/victims/{case.case_id}/access-log",
        ):
            r = await p.client("audit").get(path, headers=headers)
            if r.status_code not in (403, 404):
                wrong.append(f"victim/{relation} audit {path}: {r.status_code}")
        r = await vs.get("/me/case", headers=headers)
        if r.status_code != 200:
            wrong.append(f"victim/{relation} /me/case: {r.status_code}")
        consents = (await vs.get("/me/consents", headers=headers)).json()
        mine = {c["consent_id"] for c in consents}
        theirs = other.consent_id if relation == "own" else case.consent_id
        if theirs and theirs in mine:
            wrong.append(f"victim/{relation} sees the other case's consent")
    assert not wrong, "\n".join(wrong)
