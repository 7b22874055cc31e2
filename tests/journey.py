"""Steps of the RJ journey shared by the cross-service tests, each as the agency that does it."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from accord_platform.harness import InProcessPlatform, eventually
from accord_referral.examples import referral


def flags_to_police_consent() -> dict[str, Any]:
    """The advocate's consent, seen alone, to share the safety flags with the police for
    safeguarding, from a minute ago for 30 days."""
    now = datetime.now(UTC)
    return {
        "scope": "share",
        "seen_alone": True,
        "provisions": [
            {
                "agency": "police",
                "purposes": ["safeguarding"],
                "data_classes": ["safety.flags"],
                "start": (now - timedelta(minutes=1)).isoformat(),
                "end": (now + timedelta(days=30)).isoformat(),
            }
        ],
    }


class Journey:
    def __init__(self, platform: InProcessPlatform) -> None:
        self.p = platform
        self.police = platform.token("police", "officer")
        self.advocate = platform.token("victim_services", "advocate")
        self.coordinator = platform.token("rj_provider", "coordinator", user="coord-1")
        self.facilitator_id = "fac-" + uuid.uuid4().hex[:8]
        self.facilitator = platform.token("rj_provider", "facilitator", user=self.facilitator_id)
        self.clerk = platform.token("court", "clerk")
        self.court_reference = "T" + uuid.uuid4().hex[:10].upper()
        self.case_id = ""
        self.consents: dict[str, str] = {}

    async def refer(self, **kwargs: Any) -> str:
        r = await self.p.client("referral").post(
            "/referrals",
            json=referral(court_reference=self.court_reference, **kwargs),
            headers=self.police,
        )
        assert r.status_code == 201, r.text
        self.case_id = r.json()["case_id"]
        return self.case_id

    async def register_victim(self) -> None:
        """Victim services learns of the case from the referral event; until it has, the case
        does not exist there (404), so the advocate tries again."""
        vs, c = self.p.client("victim-support"), self.case_id

        async def registered() -> bool:
            r = await vs.post(
                f"/cases/{c}/victim",
                headers=self.advocate,
                json={
                    "name": "Alex",
                    "address": "1 Safe Street",
                    "safe_contact_number": "+44 7700 900123",
                    "preferred_contact_method": "phone",
                },
            )
            assert r.status_code in (201, 404), r.text
            return r.status_code == 201

        await eventually(registered)

    async def share_flag_with_police(self, code: str, severity: str = "high") -> str:
        """The advocate raises a safety flag and records the victim's consent to share safety
        flags with the police for safeguarding (30 days); returns that consent's id."""
        vs, c = self.p.client("victim-support"), self.case_id
        r = await vs.post(
            f"/cases/{c}/safety-flags",
            headers=self.advocate,
            json={"code": code, "severity": severity},
        )
        assert r.status_code == 204, r.text
        r = await vs.post(
            f"/cases/{c}/consents",
            headers=self.advocate,
            json=flags_to_police_consent(),
        )
        assert r.status_code == 201, r.text
        return str(r.json()["consent_id"])

    async def victim_consents(self, participate: bool = True, plan: bool = True) -> None:
        vs, c = self.p.client("victim-support"), self.case_id
        await self.register_victim()
        now = datetime.now(UTC)
        if participate:
            r = await vs.post(
                f"/cases/{c}/consents",
                headers=self.advocate,
                json={
                    "scope": "participate",
                    "seen_alone": True,
                    "provisions": [
                        {
                            "agency": "rj_provider",
                            "purposes": ["case_management"],
                            "data_classes": [],
                            "start": (now - timedelta(minutes=1)).isoformat(),
                            "end": (now + timedelta(days=180)).isoformat(),
                        }
                    ],
                },
            )
            assert r.status_code == 201, r.text
            self.consents["participate"] = r.json()["consent_id"]
        if plan:
            r = await vs.put(
                f"/cases/{c}/safety-plan",
                headers=self.advocate,
                json={
                    "content": "Plan held by advocate",
                    "review_date": (date.today() + timedelta(days=60)).isoformat(),
                },
            )
            assert r.status_code == 204, r.text

    async def accept_and_prepare(self) -> None:
        conf, c = self.p.client("conference"), self.case_id

        async def eligible() -> bool:
            r = await conf.get(f"/intake/{c}", headers=self.coordinator)
            return r.status_code == 200 and r.json()["status"].startswith("eligible")

        await eventually(eligible)
        r = await conf.post(
            "/facilitators",
            headers=self.coordinator,
            json={
                "facilitator_id": self.facilitator_id,
                "name": "Facilitator One",
                "accreditation_id": "ACC-1",
                "accredited_until": "2030-01-01",
                "endorsement_expires": (date.today() + timedelta(days=365)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        r = await conf.post(f"/intake/{c}/accept", headers=self.coordinator)
        assert r.status_code == 201, r.text
        r = await conf.post(
            f"/cases/{c}/facilitators",
            headers=self.coordinator,
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
            r = await conf.post(path, headers=self.facilitator, json=body)
            assert r.status_code == 204, r.text

    async def gate(self) -> dict[str, list[str]]:
        r = await self.p.client("conference").get(
            f"/cases/{self.case_id}/gate", headers=self.facilitator
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def conference_and_agreement(self, share_with_court: bool = True) -> None:
        conf, c = self.p.client("conference"), self.case_id

        async def gate_open() -> bool:
            return (await self.gate())["direct"] == []

        await eventually(gate_open)
        when = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        # Other agencies' events (a consent, a safety plan) may still be arriving and move
        # the case on between reading its version and scheduling: a coordinator would
        # reload the page and try again, so the journey does the same on 412.
        for _ in range(10):
            r = await conf.post(
                f"/cases/{c}/conference",
                headers=self.facilitator,
                json={
                    "modality": "direct",
                    "at_time": when,
                    "expected_version": (await self.rj_case())["version"],
                },
            )
            if r.status_code != 412:
                break
            await eventually(gate_open)
        assert r.status_code == 204, r.text
        r = await conf.post(
            f"/cases/{c}/conference/held",
            headers=self.facilitator,
            json={"notes": "CONFERENCE-NOTES-PRIVATE"},
        )
        assert r.status_code == 204, r.text
        due = (date.today() + timedelta(days=30)).isoformat()
        items = [
            {
                "item_id": f"item-{n}",
                "what": f"AGREEMENT-TEXT-{n}",
                "owner": "offender",
                "due_date": due,
                "monitoring_agency": "rj_provider",
            }
            for n in (1, 2, 3)
        ]
        r = await conf.put(f"/cases/{c}/agreement", headers=self.facilitator, json={"items": items})
        assert r.status_code == 204, r.text
        for party in ("victim", "offender"):
            r = await conf.post(
                f"/cases/{c}/agreement/consents",
                headers=self.facilitator,
                json={"party": party, "agrees": True, "share_with_court": share_with_court},
            )
            assert r.status_code == 204, r.text

    async def report(self, item: str, status: str) -> None:
        r = await self.p.client("conference").post(
            f"/cases/{self.case_id}/agreement/items/{item}/report",
            headers=self.facilitator,
            json={"status": status, "evidence": "Evidence reference 42"},
        )
        assert r.status_code == 204, r.text

    async def court_view(self) -> dict[str, Any] | None:
        r = await self.p.client("court").get(
            f"/court-cases/{self.court_reference}", headers=self.clerk
        )
        return dict(r.json()) if r.status_code == 200 else None

    async def notifications(self) -> list[dict[str, Any]]:
        r = await self.p.client("victim-support").get(
            f"/cases/{self.case_id}/notifications", headers=self.advocate
        )
        assert r.status_code == 200, r.text
        return list(r.json())

    async def rj_case(self, headers: dict[str, str] | None = None) -> dict[str, Any]:
        r = await self.p.client("conference").get(
            f"/cases/{self.case_id}", headers=headers or self.coordinator
        )
        assert r.status_code == 200, r.text
        return dict(r.json())
