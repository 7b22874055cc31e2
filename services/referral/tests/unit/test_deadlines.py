from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from accord_referral.domain import (
    InvalidDeadlines,
    add_working_days,
    deadlines_for,
    is_overdue,
    is_working_day,
    overdue_deadlines,
    working_days_between,
)
from accord_referral.domain.deadlines import due_key
from hypothesis import given
from hypothesis import strategies as st

WEDNESDAY = date(2025, 3, 5)
THURSDAY = date(2025, 3, 6)
FRIDAY = date(2025, 3, 7)
SATURDAY = date(2025, 3, 8)
SUNDAY = date(2025, 3, 9)
MONDAY = date(2025, 3, 10)
TUESDAY = date(2025, 3, 11)
ENGLAND_WALES = {"victim_information_working_days": 5, "victim_support_referral_working_days": 2}
EASTER_2025 = frozenset({date(2025, 4, 18), date(2025, 4, 21)})
CHRISTMAS_2025 = frozenset({date(2025, 12, 25), date(2025, 12, 26), date(2026, 1, 1)})


def test_weekends_and_holidays_are_not_working_days() -> None:
    assert is_working_day(FRIDAY)
    assert not is_working_day(SATURDAY)
    assert not is_working_day(SUNDAY)
    assert not is_working_day(MONDAY, frozenset({MONDAY}))


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (WEDNESDAY, 2, FRIDAY),
        (THURSDAY, 2, MONDAY),
        (FRIDAY, 2, TUESDAY),
        (FRIDAY, 1, MONDAY),
        (SATURDAY, 1, MONDAY),
        (SUNDAY, 2, TUESDAY),
        (WEDNESDAY, 5, date(2025, 3, 12)),
        (WEDNESDAY, 0, WEDNESDAY),
        (SATURDAY, 0, MONDAY),
    ],
)
def test_working_days_skip_weekends(start: date, days: int, due: date) -> None:
    assert add_working_days(start, days) == due


def test_working_days_skip_public_holidays() -> None:
    assert add_working_days(FRIDAY, 1, frozenset({MONDAY})) == TUESDAY
    # Maundy Thursday + 2 over Good Friday and Easter Monday.
    assert add_working_days(date(2025, 4, 17), 2, EASTER_2025) == date(2025, 4, 23)
    assert add_working_days(date(2025, 12, 24), 5, CHRISTMAS_2025) == date(2026, 1, 5)
    assert add_working_days(date(2025, 12, 25), 0, CHRISTMAS_2025) == date(2025, 12, 29)


@pytest.mark.parametrize("days", [-1, True, 1.5, "2"])
def test_a_day_count_must_be_a_whole_number_of_zero_or_more(days: Any) -> None:
    with pytest.raises(InvalidDeadlines) as caught:
        add_working_days(WEDNESDAY, days)

    assert caught.value.code == "invalid_deadlines"


def test_working_days_between_counts_the_days_after_the_start() -> None:
    assert working_days_between(FRIDAY, TUESDAY) == 2
    assert working_days_between(TUESDAY, FRIDAY) == -2
    assert working_days_between(FRIDAY, FRIDAY) == 0
    assert working_days_between(FRIDAY, TUESDAY, frozenset({MONDAY})) == 1


@given(
    st.dates(date(2000, 1, 1), date(2100, 1, 1)).filter(lambda d: d.weekday() < 5),
    st.integers(0, 60),
    st.sets(st.dates(date(2000, 1, 1), date(2100, 6, 1)), max_size=20),
)
def test_adding_working_days_is_undone_by_counting_them(
    start: date, days: int, holiday_set: set[date]
) -> None:
    holidays = frozenset(holiday_set - {start})

    due = add_working_days(start, days, holidays)

    assert working_days_between(start, due, holidays) == days
    assert is_working_day(due, holidays)


def test_england_and_wales_deadlines_from_a_friday_referral() -> None:
    submitted_at = datetime(2025, 3, 7, 10, 30, tzinfo=UTC)

    due = deadlines_for(submitted_at, ENGLAND_WALES)

    assert due == {
        "victim_information_due": date(2025, 3, 14),
        "victim_support_referral_due": TUESDAY,
    }


def test_deadlines_move_past_holidays() -> None:
    submitted_at = datetime(2025, 3, 7, 10, 30, tzinfo=UTC)

    due = deadlines_for(submitted_at, ENGLAND_WALES, holidays=frozenset({MONDAY}))

    assert due["victim_support_referral_due"] == date(2025, 3, 12)
    assert due["victim_information_due"] == date(2025, 3, 17)


def test_deadlines_count_from_the_civil_date_of_the_jurisdiction() -> None:
    late_thursday_utc = datetime(2025, 6, 5, 23, 30, tzinfo=UTC)
    british_summer_time = timezone(timedelta(hours=1))

    utc_count = deadlines_for(late_thursday_utc, ENGLAND_WALES)
    local_count = deadlines_for(late_thursday_utc, ENGLAND_WALES, local_zone=british_summer_time)

    assert utc_count["victim_support_referral_due"] == date(2025, 6, 9)
    assert local_count["victim_support_referral_due"] == date(2025, 6, 10)


def test_due_key_names_follow_the_referral_vocabulary() -> None:
    assert due_key("victim_information_working_days") == "victim_information_due"
    assert due_key("first_contact") == "first_contact_due"
    assert due_key("first_contact_due") == "first_contact_due"


@pytest.mark.parametrize(
    "pack", [{"a_working_days": -1}, {"a_working_days": True}, {"a_working_days": "5"}, {"": 2}]
)
def test_malformed_pack_deadlines_are_rejected(pack: dict[str, Any]) -> None:
    with pytest.raises(InvalidDeadlines) as caught:
        deadlines_for(datetime(2025, 3, 7, tzinfo=UTC), pack)

    assert caught.value.details["invalid"] == sorted(pack)


def test_two_pack_deadlines_with_the_same_name_are_rejected() -> None:
    with pytest.raises(InvalidDeadlines) as caught:
        deadlines_for(datetime(2025, 3, 7, tzinfo=UTC), {"contact_working_days": 1, "contact": 2})

    assert caught.value.details == {"duplicate": "contact_due"}


def test_a_submission_time_must_be_a_datetime() -> None:
    with pytest.raises(InvalidDeadlines):
        deadlines_for(FRIDAY, ENGLAND_WALES)  # type: ignore[arg-type]


def test_a_deadline_is_met_on_its_due_date_and_overdue_the_day_after() -> None:
    deadlines = {
        "victim_support_referral_due": TUESDAY,
        "victim_information_due": date(2025, 3, 14),
    }

    assert not is_overdue(deadlines, TUESDAY)
    assert is_overdue(deadlines, date(2025, 3, 12))
    assert overdue_deadlines(deadlines, date(2025, 3, 12)) == ["victim_support_referral_due"]
    assert overdue_deadlines(deadlines, date(2025, 3, 15)) == [
        "victim_information_due",
        "victim_support_referral_due",
    ]
    assert not is_overdue({}, date(2030, 1, 1))
