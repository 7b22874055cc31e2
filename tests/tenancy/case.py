"""One case taken to an outcome agreement on the real platform, and the users who look at it:
every agency and role, of the case's own organisation and of another one (SPEC section 4a)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord_kernel import testing
from accord_kernel.dev_tokens import DEFAULT_ORGS
from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral

from tests.tenancy.oracle import Reader

# Privacy officers belong to the one privacy office whichever "relation" they are drawn with.
HOME = dict(DEFAULT_ORGS)
AWAY = {**testing.AWAY, "audit": DEFAULT_ORGS["audit"]}
ROLES = {
    "police": ("officer", "supervisor"),
    "victim_services": ("advocate", "supervisor"),
    "rj_provider": ("coordinator", "facilitator", "supervisor"),
    "court": ("clerk", "judge"),
    "audit": ("privacy_officer",),
}


def readers() -> list[Reader]:
    found = []
    for agency, roles in ROLES.items():
        for role in roles:
            relations = ["own"] if agency == "audit" else ["own", "other"]
            if role == "facilitator":
                relations.append("unassigned")
            found += [Reader(agency, role, relation) for relation in relations]
    return found


@dataclass
class CaseOnPlatform:
    platform: InProcessPlatform
    case_id: str = ""
    court_reference: str = field(default_factory=lambda: "T" + uuid.uuid4().hex[:10].upper())
    facilitator_id: str = field(default_factory=lambda: "fac-" + uuid.uuid4().hex[:8])
    away_facilitator_id: str = field(default_factory=lambda: "fac-" + uuid.uuid4().hex[:8])
    consent_id: str = ""

    def user(self, reader: Reader) -> str:
        if reader.role == "facilitator":
            return {
                "own": self.facilitator_id,
                "other": self.away_facilitator_id,
                "unassigned": "fac-unassigned-" + self.case_id[:8],
            }[reader.relation]
        return f"{reader.agency}-{reader.role}-{reader.relation}"

    def headers(self, reader: Reader) -> dict[str, str]:
        org = (AWAY if reader.relation == "other" else HOME)[reader.agency]
        return self.platform.token(reader.agency, reader.role, user=self.user(reader), org=org)

    def own(self, agency: str, role: str) -> dict[str, str]:
        return self.headers(Reader(agency, role, "own"))

    async def build(self) -> CaseOnPlatform:
        p = self.platform
        police, advocate = self.own("police", "officer"), self.own("victim_services", "advocate")
        coordinator = self.own("rj_provider", "coordinator")
        facilitator = self.own("rj_provider", "facilitator")
        r = await p.client("referral").post(
            "/referrals", json=referral(court_reference=self.court_reference), headers=police
        )
        assert r.status_code == 201, r.text
        self.case_id = c = r.json()["case_id"]
        vs, conf = p.client("victim-support"), p.client("conference")

        async def registered() -> bool:
            r = await vs.post(
                f"/cases/{c}/victim",
                headers=advocate,
                json={
                    "name": "Alex",
                    "address": "1 Safe Street",
                    "refuge": True,
                    "safe_contact_number": "+44 7700 900123",
                    "preferred_contact_method": "phone",
                },
            )
            assert r.status_code in (201, 404), r.text
            return r.status_code == 201

        await eventually(registered)
        now = datetime.now(UTC)
        window = {
            "start": (now - timedelta(minutes=1)).isoformat(),
            "end": (now + timedelta(days=180)).isoformat(),
        }
        for path, body, status in (
            (f"/cases/{c}/support-notes", {"text": "Counselling booked"}, 204),
            (f"/cases/{c}/safety-flags", {"code": "stalking", "severity": "high"}, 204),
            (
                f"/cases/{c}/consents",
                {
                    "scope": "participate",
                    "seen_alone": True,
                    "provisions": [
                        {
                            "agency": "rj_provider",
                            "purposes": ["case_management"],
                            "data_classes": [],
                            **window,
                        }
                    ],
                },
                201,
            ),
        ):
            r = await vs.post(path, headers=advocate, json=body)
            assert r.status_code == status, r.text
        self.consent_id = r.json()["consent_id"]
        r = await vs.put(
            f"/cases/{c}/safety-plan",
            headers=advocate,
            json={
                "content": "Plan held by advocate",
                "review_date": (date.today() + timedelta(days=60)).isoformat(),
            },
        )
        assert r.status_code == 204, r.text

        async def eligible() -> bool:
            r = await conf.get(f"/intake/{c}", headers=coordinator)
            return r.status_code == 200 and r.json()["status"].startswith("eligible")

        await eventually(eligible)
        endorsed = {
            "name": "Facilitator",
            "accreditation_id": "ACC-1",
            "accredited_until": "2030-01-01",
            "endorsement_expires": (date.today() + timedelta(days=365)).isoformat(),
        }
        r = await conf.post(
            "/facilitators",
            headers=coordinator,
            json={"facilitator_id": self.facilitator_id, **endorsed},
        )
        assert r.status_code == 201, r.text
        r = await conf.post(
            "/facilitators",
            headers=self.headers(Reader("rj_provider", "coordinator", "other")),
            json={"facilitator_id": self.away_facilitator_id, **endorsed},
        )
        assert r.status_code == 201, r.text
        r = await conf.post(f"/intake/{c}/accept", headers=coordinator)
        assert r.status_code == 201, r.text
        r = await conf.post(
            f"/cases/{c}/facilitators",
            headers=coordinator,
            json={"facilitator_id": self.facilitator_id},
        )
        assert r.status_code == 204, r.text
        for path, body in (
            (f"/cases/{c}/offender-consent", {"given": True}),
            (
                f"/cases/{c}/preparations",
                {"participant": "victim", "seen_alone": True, "coercion_screen": "passed"},
            ),
            (f"/cases/{c}/preparations", {"participant": "offender"}),
        ):
            r = await conf.post(path, headers=facilitator, json=body)
            assert r.status_code == 204, r.text

        gates: list[Any] = []

        async def gate_open() -> bool:
            r = await conf.get(f"/cases/{c}/gate", headers=facilitator)
            gates.append(r.json())
            return r.status_code == 200 and r.json()["direct"] == []

        try:
            await eventually(gate_open, timeout=60)
        except AssertionError as exc:
            raise AssertionError(f"the gate never opened; last answer: {gates[-1:]}") from exc
        when = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        # Events from other agencies can move the case on between reading its version and
        # scheduling; like a coordinator reloading the page, read it again on 412.
        for _ in range(10):
            version = (await conf.get(f"/cases/{c}", headers=coordinator)).json()["version"]
            r = await conf.post(
                f"/cases/{c}/conference",
                headers=facilitator,
                json={"modality": "direct", "at_time": when, "expected_version": version},
            )
            if r.status_code != 412:
                break
        assert r.status_code == 204, r.text
        r = await conf.post(
            f"/cases/{c}/conference/held", headers=facilitator, json={"notes": "Private notes"}
        )
        assert r.status_code == 204, r.text
        due = (date.today() + timedelta(days=30)).isoformat()
        items = [
            {
                "item_id": f"item-{agency}",
                "what": f"Agreed step for {agency}",
                "owner": "offender",
                "due_date": due,
                "monitoring_agency": agency,
            }
            for agency in ("rj_provider", "police", "victim_services", "court")
        ]
        r = await conf.put(f"/cases/{c}/agreement", headers=facilitator, json={"items": items})
        assert r.status_code == 204, r.text
        for party in ("victim", "offender"):
            r = await conf.post(
                f"/cases/{c}/agreement/consents",
                headers=facilitator,
                json={"party": party, "agrees": True, "share_with_court": False},
            )
            assert r.status_code == 204, r.text
        await self.settled()
        return self

    async def settled(self) -> None:
        """Waits until every service has learnt who is responsible for the case."""
        p, c = self.platform, self.case_id

        async def known() -> bool:
            vs = await p.client("victim-support").get(
                f"/cases/{c}/consent-summary", headers=self.own("rj_provider", "coordinator")
            )
            court = await p.client("court").get(
                f"/court-cases/{self.court_reference}", headers=self.own("court", "clerk")
            )
            police = await p.client("referral").get(
                f"/referrals/{c}", headers=self.own("rj_provider", "coordinator")
            )
            return vs.status_code == court.status_code == police.status_code == 200

        await eventually(known, timeout=60)

    async def snapshot(self) -> dict[str, Any]:
        """What the case's own organisations hold, to show that a refused change stored nothing."""
        p, c = self.platform, self.case_id
        reads = {
            "referral": ("referral", f"/referrals/{c}", self.own("police", "officer")),
            "victim": (
                "victim-support",
                f"/cases/{c}/victim",
                self.own("victim_services", "advocate"),
            ),
            "flags": (
                "victim-support",
                f"/cases/{c}/safety-flags",
                self.own("victim_services", "advocate"),
            ),
            "plan": (
                "victim-support",
                f"/cases/{c}/safety-plan",
                self.own("victim_services", "advocate"),
            ),
            "consents": (
                "victim-support",
                f"/cases/{c}/consents",
                self.own("victim_services", "advocate"),
            ),
            "rj_case": ("conference", f"/cases/{c}", self.own("rj_provider", "coordinator")),
            "facilitators": ("conference", "/facilitators", self.own("rj_provider", "coordinator")),
            "court": ("court", f"/court-cases/{self.court_reference}", self.own("court", "clerk")),
        }
        state = {}
        for name, (service, path, headers) in reads.items():
            r = await p.client(service).get(path, headers=headers)
            assert r.status_code == 200, (name, r.text)
            state[name] = r.json()
        return state
