"""Service-level deadlines counted in working days (Monday to Friday, less public holidays).

Holidays are passed in rather than looked up, because they differ by jurisdiction (and within
the UK by nation) and the domain does no I/O. The day of submission is day zero: "within two
working days" of a Friday referral means by the end of the following Tuesday.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo

from accord_referral.domain.errors import InvalidDeadlines

SATURDAY = 5
PACK_SUFFIX = "_working_days"
DUE_SUFFIX = "_due"


def is_working_day(day: date, holidays: frozenset[date] = frozenset()) -> bool:
    return day.weekday() < SATURDAY and day not in holidays


def add_working_days(start: date, days: int, holidays: frozenset[date] = frozenset()) -> date:
    """The date `days` working days after `start`; with 0, the first working day from `start`."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 0:
        raise InvalidDeadlines(
            "a number of working days must be a whole number of 0 or more", {"days": repr(days)}
        )
    current = start
    if days == 0:
        # Due "today" on a weekend or holiday can only be met on the next working day.
        while not is_working_day(current, holidays):
            current += timedelta(days=1)
        return current
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current, holidays):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, holidays: frozenset[date] = frozenset()) -> int:
    """Working days in (start, end]; negative when `end` is before `start`."""
    if end < start:
        return -working_days_between(end, start, holidays)
    return sum(
        1
        for offset in range(1, (end - start).days + 1)
        if is_working_day(start + timedelta(days=offset), holidays)
    )


def due_key(pack_key: str) -> str:
    """`victim_information_working_days` (pack data) -> `victim_information_due` (referral)."""
    stem = pack_key.removesuffix(PACK_SUFFIX)
    return stem if stem.endswith(DUE_SUFFIX) else stem + DUE_SUFFIX


def deadlines_for(
    submitted_at: datetime,
    pack_deadlines: Mapping[str, int],
    holidays: frozenset[date] = frozenset(),
    local_zone: tzinfo | None = None,
) -> dict[str, date]:
    """Due dates for a referral submitted at `submitted_at`.

    `local_zone` is the jurisdiction's civil time zone: a referral logged at 23:30 UTC in
    British Summer Time was made on the next calendar day, and the count starts from that day.
    """
    if not isinstance(submitted_at, datetime):
        raise InvalidDeadlines(
            "the submission time must be a datetime", {"submitted_at": repr(submitted_at)}
        )
    moment = submitted_at.astimezone(local_zone) if local_zone is not None else submitted_at
    due: dict[str, date] = {}
    bad = sorted(
        str(key)
        for key, days in pack_deadlines.items()
        if not isinstance(key, str)
        or not key
        or isinstance(days, bool)
        or not isinstance(days, int)
        or days < 0
    )
    if bad:
        raise InvalidDeadlines(
            "pack deadlines must map names to whole working days of 0 or more", {"invalid": bad}
        )
    for key, days in pack_deadlines.items():
        name = due_key(key)
        if name in due:
            raise InvalidDeadlines(f"two pack deadlines both name {name!r}", {"duplicate": name})
        due[name] = add_working_days(moment.date(), days, holidays)
    return due


def overdue_deadlines(deadlines: Mapping[str, date], today: date) -> list[str]:
    """Names of the deadlines already missed; a deadline is met on its due date itself."""
    return sorted(name for name, due in deadlines.items() if due < today)


def is_overdue(deadlines: Mapping[str, date], today: date) -> bool:
    return bool(overdue_deadlines(deadlines, today))
