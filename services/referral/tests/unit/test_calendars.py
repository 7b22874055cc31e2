from datetime import UTC, date, datetime

from accord_referral.calendars import local_zone, public_holidays
from accord_referral.domain import deadlines_for


def test_england_counts_bank_holidays_out() -> None:
    # Thursday 24 Dec 2026: Christmas Day (Fri) and Boxing Day (substitute Mon 28th) are
    # bank holidays in England: day one is Tuesday 29th, day two Wednesday 30 December.
    submitted = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    due = deadlines_for(
        submitted,
        {"victim_support_referral_working_days": 2},
        public_holidays("england-wales", submitted),
        local_zone("england-wales"),
    )
    assert due["victim_support_referral_due"] == date(2026, 12, 30)


def test_scotland_and_england_differ_on_2_january() -> None:
    around = datetime(2026, 12, 1, tzinfo=UTC)
    assert date(2027, 1, 2) not in public_holidays("england-wales", around)
    assert any(
        d.month == 1 and d.day in (2, 4) and d.year == 2027
        for d in public_holidays("scotland", around)
    )


def test_the_count_starts_on_the_local_calendar_day() -> None:
    # 23:30 UTC on a Friday is already Saturday in New Zealand.
    submitted = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    due = deadlines_for(submitted, {"x_working_days": 1}, frozenset(), local_zone("new-zealand"))
    assert due["x_due"] == date(2026, 11, 23)
