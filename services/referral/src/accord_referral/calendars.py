"""Each jurisdiction's civil calendar: time zone and public holidays, from the `holidays`
package, so Victims' Code deadlines count working days as the agencies there do."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import holidays

# jurisdiction -> (ISO country, subdivision, time zone)
CALENDARS: dict[str, tuple[str, str | None, str]] = {
    "england-wales": ("GB", "ENG", "Europe/London"),
    "scotland": ("GB", "SCT", "Europe/London"),
    "new-zealand": ("NZ", None, "Pacific/Auckland"),
    "nova-scotia": ("CA", "NS", "America/Halifax"),
}


def local_zone(jurisdiction: str) -> ZoneInfo | None:
    calendar = CALENDARS.get(jurisdiction)
    return ZoneInfo(calendar[2]) if calendar else None


def public_holidays(jurisdiction: str, around: datetime) -> frozenset[date]:
    """Holidays in the year of `around` and the next, enough for any pack's deadlines."""
    calendar = CALENDARS.get(jurisdiction)
    if calendar is None:
        return frozenset()
    country, subdivision, _ = calendar
    years = [around.year, around.year + 1]
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=years))
