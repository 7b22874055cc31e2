from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

import pytest
from accord_victim_support.domain import (
    Consent,
    InvalidPeriod,
    InvalidState,
    NotSeenAlone,
    UnknownAgency,
    UnknownDataClass,
    UnknownPurpose,
    ValidationFailed,
    active_provisions,
    summary,
)

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
END = T0 + timedelta(days=90)
ADVOCATE = "idva-7"
GRANTOR = UUID("00000000-0000-4000-8000-000000000001")


def provision(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "type": "permit",
        "agency": "police",
        "purposes": ["safeguarding"],
        "data_classes": ["safety.flags"],
        "start": T0,
        "end": END,
    }
    value.update(overrides)
    return value


def granted(**overrides: Any) -> Consent:
    arguments: dict[str, Any] = {
        "id": uuid4(),
        "case_id": "case-1",
        "grantor": GRANTOR,
        "verified_by": ADVOCATE,
        "seen_alone": True,
        "scope": "share",
        "provisions": [provision()],
        "at": T0,
    }
    arguments.update(overrides)
    return Consent.grant(**arguments)


def participation(**overrides: Any) -> Consent:
    defaults: dict[str, Any] = {
        "scope": "participate",
        "provisions": [
            provision(agency="rj_provider", purposes=["case_management"], data_classes=[])
        ],
    }
    defaults.update(overrides)
    return granted(**defaults)


def test_grant_records_a_fhir_shaped_consent() -> None:
    consent = granted()
    assert consent.case_id == "case-1"
    assert consent.grantor == GRANTOR
    assert consent.verified_by == ADVOCATE
    assert consent.seen_alone is True
    assert consent.scope == "share"
    assert consent.lawful_basis == "consent"
    assert consent.status == "active"
    assert consent.provisions == [provision()]
    assert consent.history == [{"action": "granted", "by": ADVOCATE, "at": T0}]
    assert [type(e).__name__ for e in consent.collect_events()] == ["Granted"]


def test_grant_normalises_code_lists() -> None:
    consent = granted(
        provisions=[
            provision(
                purposes=["safeguarding", "case_management", "safeguarding"],
                data_classes=["victim.location", "safety.flags"],
            )
        ]
    )
    assert consent.provisions[0]["purposes"] == ["case_management", "safeguarding"]
    assert consent.provisions[0]["data_classes"] == ["safety.flags", "victim.location"]


@pytest.mark.parametrize("seen_alone", [False, None, "yes", 1])
def test_consent_is_never_granted_unless_the_victim_was_seen_alone(seen_alone: object) -> None:
    with pytest.raises(NotSeenAlone) as caught:
        granted(seen_alone=seen_alone)
    assert caught.value.code == "not_seen_alone"


def test_unknown_agency_is_rejected() -> None:
    with pytest.raises(UnknownAgency) as caught:
        granted(provisions=[provision(agency="offender")])
    assert caught.value.code == "unknown_agency"
    assert caught.value.details["agency"] == "offender"


def test_unknown_data_class_is_rejected() -> None:
    with pytest.raises(UnknownDataClass) as caught:
        granted(provisions=[provision(data_classes=["safety.flags", "bank.details"])])
    assert caught.value.code == "unknown_data_class"
    assert caught.value.details["data_classes"] == ["bank.details"]


def test_unknown_purpose_is_rejected() -> None:
    with pytest.raises(UnknownPurpose) as caught:
        granted(provisions=[provision(purposes=["marketing"])])
    assert caught.value.code == "unknown_purpose"


@pytest.mark.parametrize(
    "period",
    [
        {"end": T0},
        {"end": T0 - timedelta(seconds=1)},
        {"start": T0 - timedelta(days=10), "end": T0 - timedelta(days=1)},
    ],
)
def test_a_period_must_end_after_it_starts_and_after_the_grant(period: dict[str, Any]) -> None:
    with pytest.raises(InvalidPeriod) as caught:
        granted(provisions=[provision(**period)])
    assert caught.value.code == "invalid_period"


def test_a_naive_period_is_rejected() -> None:
    with pytest.raises(ValidationFailed):
        granted(provisions=[provision(end=datetime(2025, 6, 1))])


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": "everything"},
        {"lawful_basis": "because"},
        {"provisions": []},
        {"provisions": [provision(type="maybe")]},
        {"provisions": [provision(data_classes=[])]},
        {"provisions": [provision(purposes=[])]},
        {"provisions": [provision(data_classes="safety.flags")]},
        {"provisions": [{"type": "permit", "agency": "police"}]},
        {"provisions": [provision(note="extra")]},
        {"grantor": "victim-1"},
        {"verified_by": ""},
    ],
)
def test_malformed_grants_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationFailed):
        granted(**overrides)


def test_participation_needs_no_data_class_but_sharing_does() -> None:
    consent = participation()
    assert consent.provisions[0]["data_classes"] == []
    with pytest.raises(ValidationFailed):
        granted(scope="outcome", provisions=[provision(agency="court", data_classes=[])])


def test_lawful_basis_can_be_stated() -> None:
    assert granted(lawful_basis="safeguarding").lawful_basis == "safeguarding"


def test_expiry_takes_effect_without_any_event() -> None:
    consent = granted()
    consent.collect_events()
    assert consent.status_at(END - timedelta(microseconds=1)) == "active"
    assert consent.status_at(END) == "expired"
    assert consent.status_at(END + timedelta(days=1)) == "expired"
    assert consent.status == "active"
    assert consent.collect_events() == []
    assert active_provisions([consent], END) == []


def test_expiry_waits_for_the_latest_provision_end() -> None:
    consent = granted(
        provisions=[
            provision(end=T0 + timedelta(days=10)),
            provision(agency="rj_provider", end=END),
        ]
    )
    assert consent.status_at(T0 + timedelta(days=20)) == "active"
    with pytest.raises(InvalidState) as caught:
        consent.expire(T0 + timedelta(days=20))
    assert caught.value.details["state"] == "active"
    consent.expire(END)
    assert consent.status == "expired"
    assert consent.expired_at == END
    assert consent.history[-1] == {"action": "expired", "by": None, "at": END}


def test_expire_is_recorded_once_and_never_after_withdrawal() -> None:
    consent = granted()
    consent.expire(END)
    with pytest.raises(InvalidState):
        consent.expire(END + timedelta(days=1))
    withdrawn = granted()
    withdrawn.withdraw(ADVOCATE, None, T0 + timedelta(days=1))
    with pytest.raises(InvalidState) as caught:
        withdrawn.expire(END)
    assert caught.value.details["state"] == "withdrawn"


def test_withdrawal_is_one_call_and_effective_immediately() -> None:
    consent = granted()
    at = T0 + timedelta(days=5)
    consent.withdraw("victim-portal", None, at)
    assert consent.status == "withdrawn"
    assert consent.status_at(at) == "withdrawn"
    assert consent.status_at(T0 + timedelta(days=1)) == "withdrawn"
    assert consent.withdrawal_reason is None
    assert consent.history[-1] == {"action": "withdrawn", "by": "victim-portal", "at": at}
    assert active_provisions([consent], at) == []


def test_withdrawal_may_carry_a_reason() -> None:
    consent = granted()
    consent.withdraw(ADVOCATE, "changed her mind", T0)
    assert consent.withdrawal_reason == "changed her mind"


def test_withdrawing_twice_is_an_invalid_state() -> None:
    consent = granted()
    consent.withdraw(ADVOCATE, None, T0)
    with pytest.raises(InvalidState) as caught:
        consent.withdraw(ADVOCATE, None, T0 + timedelta(minutes=1))
    assert caught.value.code == "invalid_state"
    assert caught.value.details == {"state": "withdrawn"}


def test_a_lapsed_consent_cannot_be_withdrawn_or_refreshed() -> None:
    consent = granted()
    with pytest.raises(InvalidState) as caught:
        consent.withdraw(ADVOCATE, None, END)
    assert caught.value.details == {"state": "expired"}
    with pytest.raises(InvalidState):
        consent.refresh(END + timedelta(days=30), ADVOCATE, END)


def test_refresh_moves_every_provision_end() -> None:
    consent = granted(
        provisions=[
            provision(end=T0 + timedelta(days=10)),
            provision(agency="rj_provider"),
        ]
    )
    new_end = END + timedelta(days=30)
    consent.refresh(new_end, ADVOCATE, T0 + timedelta(days=5))
    assert [p["end"] for p in consent.provisions] == [new_end, new_end]
    assert consent.status_at(END + timedelta(days=1)) == "active"
    assert consent.history[-1] == {
        "action": "refreshed",
        "by": ADVOCATE,
        "at": T0 + timedelta(days=5),
    }


def test_refresh_rejects_an_end_in_the_past_or_before_a_start() -> None:
    consent = granted(provisions=[provision(start=T0 + timedelta(days=20))])
    with pytest.raises(InvalidPeriod):
        consent.refresh(T0 + timedelta(days=1), ADVOCATE, T0 + timedelta(days=2))
    with pytest.raises(InvalidPeriod):
        consent.refresh(T0 + timedelta(days=10), ADVOCATE, T0)
    assert consent.provisions[0]["end"] == END


def test_refreshing_a_withdrawn_consent_is_an_invalid_state() -> None:
    consent = granted()
    consent.withdraw(ADVOCATE, None, T0)
    with pytest.raises(InvalidState):
        consent.refresh(END + timedelta(days=1), ADVOCATE, T0 + timedelta(days=1))


def test_active_provisions_use_the_policy_input_shape() -> None:
    consent = granted(
        provisions=[
            provision(data_classes=["victim.location", "safety.flags"]),
            provision(
                type="deny", purposes=["offender_communication"], data_classes=["victim.location"]
            ),
        ]
    )
    rows = active_provisions([consent], T0 + timedelta(days=1))
    assert rows == [
        {
            "consent_id": str(consent.id),
            "scope": "share",
            "status": "active",
            "type": "permit",
            "agency": "police",
            "purposes": ["safeguarding"],
            "data_classes": ["safety.flags", "victim.location"],
            "start": "2025-03-03T09:00:00.000000Z",
            "end": "2025-06-01T09:00:00.000000Z",
        },
        {
            "consent_id": str(consent.id),
            "scope": "share",
            "status": "active",
            "type": "deny",
            "agency": "police",
            "purposes": ["offender_communication"],
            "data_classes": ["victim.location"],
            "start": "2025-03-03T09:00:00.000000Z",
            "end": "2025-06-01T09:00:00.000000Z",
        },
    ]


def test_active_provisions_render_other_offsets_in_utc() -> None:
    nz = timezone(timedelta(hours=13))
    consent = granted(at=T0, provisions=[provision(start=datetime(2025, 3, 3, 22, 0, tzinfo=nz))])
    assert active_provisions([consent], T0 + timedelta(hours=1))[0]["start"] == (
        "2025-03-03T09:00:00.000000Z"
    )


def test_provisions_not_yet_started_or_ended_are_not_in_effect() -> None:
    consent = granted(
        provisions=[
            provision(agency="police", end=T0 + timedelta(days=5)),
            provision(agency="rj_provider", start=T0 + timedelta(days=10)),
        ]
    )
    assert [r["agency"] for r in active_provisions([consent], T0)] == ["police"]
    assert active_provisions([consent], T0 + timedelta(days=7)) == []
    assert [r["agency"] for r in active_provisions([consent], T0 + timedelta(days=10))] == [
        "rj_provider",
    ]


def test_active_provisions_across_consents_skip_withdrawn_ones() -> None:
    kept = granted()
    dropped = granted(provisions=[provision(agency="rj_provider")])
    dropped.withdraw(ADVOCATE, None, T0 + timedelta(hours=1))
    rows = active_provisions([kept, dropped], T0 + timedelta(hours=2))
    assert [r["consent_id"] for r in rows] == [str(kept.id)]


def test_summary_reports_active_scopes_and_share_grants() -> None:
    now = T0 + timedelta(days=1)
    consents = [
        participation(),
        granted(
            provisions=[
                provision(agency="police", data_classes=["safety.flags", "victim.location"]),
                provision(
                    agency="rj_provider", purposes=["case_management"], data_classes=["safety.plan"]
                ),
            ]
        ),
        granted(provisions=[provision(agency="police", data_classes=["risk.assessment"])]),
        granted(
            scope="outcome",
            provisions=[
                provision(
                    agency="court", purposes=["compliance_review"], data_classes=["agreement.items"]
                ),
            ],
        ),
    ]
    assert summary(consents, now) == {
        "participate_active": True,
        "share_grants": [
            {
                "agency": "police",
                "data_classes": ["risk.assessment", "safety.flags", "victim.location"],
            },
            {"agency": "rj_provider", "data_classes": ["safety.plan"]},
        ],
        "outcome_active": True,
    }


def test_summary_subtracts_denied_classes_from_an_agencys_grant() -> None:
    consent = granted(
        provisions=[
            provision(data_classes=["safety.flags", "victim.location"]),
            provision(type="deny", purposes=["case_management"], data_classes=["victim.location"]),
        ]
    )
    only_denied = granted(
        provisions=[
            provision(agency="rj_provider", type="deny", data_classes=["safety.flags"]),
        ]
    )
    assert summary([consent, only_denied], T0)["share_grants"] == [
        {"agency": "police", "data_classes": ["safety.flags"]},
    ]


def test_summary_after_withdrawal_and_expiry_reports_nothing_active() -> None:
    taking_part = participation()
    taking_part.withdraw(ADVOCATE, None, T0 + timedelta(days=1))
    sharing = granted()
    outcome = granted(
        scope="outcome",
        provisions=[
            provision(agency="court", data_classes=["agreement.items"]),
        ],
    )
    assert summary([taking_part, sharing, outcome], END) == {
        "participate_active": False,
        "share_grants": [],
        "outcome_active": False,
    }


def test_a_participation_consent_that_only_denies_is_not_participation() -> None:
    deny_only = participation(
        provisions=[
            provision(
                type="deny",
                agency="rj_provider",
                purposes=["case_management"],
                data_classes=[],
            )
        ]
    )
    assert summary([deny_only], T0)["participate_active"] is False


def test_status_requires_an_aware_moment() -> None:
    with pytest.raises(ValidationFailed):
        granted().status_at(datetime(2025, 3, 4))
