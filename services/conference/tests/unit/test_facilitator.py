from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from accord_conference.domain import Facilitator, ValidationFailed

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
EXPIRES = date(2025, 6, 30)


def registered(
    endorsement_expires: date | None = EXPIRES,
    accredited_until: date = date(2026, 12, 31),
) -> Facilitator:
    return Facilitator.register(
        "user-fac-9",
        "Sam Taylor",
        "rj-north",
        "RJC-1234",
        accredited_until,
        endorsement_expires,
        at=T0,
    )


def test_registration_keeps_accreditation_and_endorsement() -> None:
    facilitator = registered()
    assert facilitator.id == Facilitator.id_for("user-fac-9")
    assert (facilitator.facilitator_id, facilitator.name, facilitator.org) == (
        "user-fac-9",
        "Sam Taylor",
        "rj-north",
    )
    assert facilitator.accreditation_id == "RJC-1234"
    assert facilitator.accredited_until == date(2026, 12, 31)
    assert facilitator.endorsement_expires == EXPIRES
    assert [type(e).__name__ for e in facilitator.collect_events()] == ["Registered"]


def test_the_endorsement_is_valid_through_its_expiry_day_and_not_after() -> None:
    facilitator = registered()
    assert facilitator.has_valid_endorsement(EXPIRES)
    assert not facilitator.has_valid_endorsement(EXPIRES + timedelta(days=1))


def test_no_endorsement_is_never_valid() -> None:
    assert not registered(endorsement_expires=None).has_valid_endorsement(date(2025, 3, 3))


def test_an_endorsement_does_not_outlive_the_accreditation() -> None:
    facilitator = registered(accredited_until=date(2025, 4, 30))
    assert facilitator.has_valid_endorsement(date(2025, 4, 30))
    assert not facilitator.has_valid_endorsement(date(2025, 5, 1))


def test_renewal_extends_the_endorsement() -> None:
    facilitator = registered()
    renewed_on = datetime(2025, 7, 2, 10, tzinfo=UTC)
    assert not facilitator.has_valid_endorsement(renewed_on.date())
    facilitator.renew_endorsement(date(2026, 6, 30), renewed_on)
    assert facilitator.has_valid_endorsement(renewed_on.date())
    assert facilitator.endorsement_expires == date(2026, 6, 30)


def test_renewal_to_a_date_already_past_is_refused() -> None:
    facilitator = registered()
    with pytest.raises(ValidationFailed) as refused:
        facilitator.renew_endorsement(date(2025, 3, 2), T0)
    assert refused.value.code == "validation_failed"
    assert facilitator.endorsement_expires == EXPIRES


def test_supervision_is_logged_in_order() -> None:
    facilitator = registered()
    facilitator.log_supervision("supervisor-2", "sup/2025/03/001", T0 + timedelta(days=1))
    facilitator.log_supervision("supervisor-2", "sup/2025/04/002", T0 + timedelta(days=30))
    assert [s["notes_ref"] for s in facilitator.supervision_log] == [
        "sup/2025/03/001",
        "sup/2025/04/002",
    ]
    assert facilitator.supervision_log[0] == {
        "supervisor": "supervisor-2",
        "notes_ref": "sup/2025/03/001",
        "at": T0 + timedelta(days=1),
    }


@pytest.mark.parametrize(
    "arguments",
    [
        {"accredited_until": datetime(2026, 1, 1, tzinfo=UTC)},
        {"name": "  "},
        {"endorsement_expires": "2025-06-30"},
    ],
)
def test_registration_refuses_malformed_arguments(arguments: dict[str, object]) -> None:
    values: dict[str, object] = {
        "facilitator_id": "u",
        "name": "n",
        "org": "o",
        "accreditation_id": "a",
        "accredited_until": date(2026, 1, 1),
        "endorsement_expires": EXPIRES,
    }
    values.update(arguments)
    with pytest.raises(ValidationFailed):
        Facilitator.register(**values)  # type: ignore[arg-type]
