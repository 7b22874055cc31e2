"""The published figures: counts of cases per (month, organisation, jurisdiction, values),
computed from case tallies and suppressed before anything leaves this module.

Cases count in the month their referral was submitted (a cohort), except break-glass grants,
which count in the month they were granted. A manager's figures are those of the cases their
organisation is responsible for, under that organisation's name; a commissioner's are the
region's cases, once each, under `region`, and only the cases the jurisdiction's pack lets
leave their organisations (`Scope.needs_consent`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from accord_reporting.domain.suppression import SuppressedTable, suppress
from accord_reporting.domain.tally import STOP_REASONS, WITHDRAWAL_REASONS, CaseTally

REGION = "region"
# `offender` is refused by every pack, yet police can record it, so it is counted too.
INITIATORS = ("victim", "victim_advocate", "police", "court", "offender")
OUTCOMES = ("eligible_direct", "eligible_indirect_only", "ineligible", "not_screened")
DEADLINE_RESULTS = ("met", "missed", "pending")
MODES = ("direct", "indirect")
AGREEMENT_RESULTS = ("completed", "breached", "in_progress")
REVIEW_BANDS = ("within_1_day", "within_7_days", "later", "pending")
NEW_INCIDENTS = ("within_6_months", "within_12_months", "none_within_12_months", "not_yet_known")

Key = tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """Whose figures: one organisation's (`organisation`), or the region's (None). Only
    cases in `jurisdictions` count (None: all); for the region, a case of a jurisdiction in
    `needs_consent` counts only with the victim's consent to statistical use."""

    organisation: str | None
    jurisdictions: frozenset[str] | None = None
    needs_consent: frozenset[str] = frozenset()
    months: tuple[str, str] | None = None

    @property
    def label(self) -> str:
        return self.organisation or REGION

    def counts(self, tally: CaseTally) -> bool:
        if tally.submitted is None or tally.jurisdiction is None:
            return False
        if self.jurisdictions is not None and tally.jurisdiction not in self.jurisdictions:
            return False
        if self.organisation is not None:
            return tally.counts_for(self.organisation)
        return tally.jurisdiction not in self.needs_consent or tally.statistics_consent

    def in_period(self, month: str) -> bool:
        return self.months is None or self.months[0] <= month <= self.months[1]


@dataclass(frozen=True)
class Table:
    """One published table: its rows' keys, its columns, and the suppressed grid."""

    name: str
    title: str
    row_headings: tuple[str, ...]
    row_keys: tuple[Key, ...]
    columns: tuple[str, ...]
    grid: SuppressedTable

    def cell(self, i: int, j: int) -> int | None:
        return self.grid.shown(i, j)

    def as_rows(self) -> list[list[str]]:
        """Headings, then one line per row key, then the totals line ('' = suppressed)."""
        out = [[*self.row_headings, *self.columns, "total"]]
        keys = [*self.row_keys, ("total", *[""] * (len(self.row_headings) - 1))]
        for i, key in enumerate(keys):
            values = [self.cell(i, j) for j in range(len(self.columns) + 1)]
            out.append([*key, *("" if v is None else str(v) for v in values)])
        return out


@dataclass
class _Counts:
    columns: tuple[str, ...]
    extra_headings: tuple[str, ...] = ()
    cells: Counter[tuple[Key, str]] = field(default_factory=Counter)

    def add(self, key: Key, column: str) -> None:
        self.cells[(key, column)] += 1


TITLES = {
    "referrals_by_initiator": "Referrals by who initiated them",
    "referrals_by_outcome": "Referrals by eligibility outcome",
    "refusal_reasons": "Eligibility refusal reasons (a refusal may give several)",
    "deadlines": "Victims' Code deadlines met and missed",
    "rj_mode": "Accepted cases: direct or indirect RJ",
    "stops": "Cases stopped, by reason",
    "withdrawals": "Referrals withdrawn, by reason",
    "agreements": "Outcome agreements completed and breached",
    "break_glass": "Break-glass grants by the time to their privacy review",
    "new_incidents": "New incidents between the same parties after the referral",
}


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def deadline_result(tally: CaseTally, name: str, today: date) -> str:
    due = tally.deadlines[name]
    done = tally.fulfilled.get(name)
    if done is not None:
        return "met" if done <= due else "missed"
    return "missed" if due < today else "pending"


def agreement_result(items: dict[str, str]) -> str:
    statuses = set(items.values())
    if "breached" in statuses:
        return "breached"
    if statuses and statuses == {"completed"}:
        return "completed"
    return "in_progress"


def months_later(day: date, months: int) -> date:
    """The same day `months` later (the month's last day where it has fewer days)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def new_incident_band(submitted: date, first_incident: date | None, today: date) -> str:
    """Whether the police recorded a new incident within 6 months of the referral, within
    12, not within 12 (12 months have passed), or whether it cannot be known yet."""
    if first_incident is not None and first_incident <= months_later(submitted, 6):
        return "within_6_months"
    if first_incident is not None and first_incident <= months_later(submitted, 12):
        return "within_12_months"
    if today > months_later(submitted, 12):
        return "none_within_12_months"
    return "not_yet_known"


def review_band(granted_at: str, reviewed_at: str | None) -> str:
    if reviewed_at is None:
        return "pending"
    waited = datetime.fromisoformat(reviewed_at) - datetime.fromisoformat(granted_at)
    days = waited.total_seconds() / 86400
    if days <= 1:
        return "within_1_day"
    return "within_7_days" if days <= 7 else "later"


def count_all(tallies: Iterable[CaseTally], scope: Scope, today: date) -> dict[str, _Counts]:
    """The unsuppressed counts. Only this module's `figures` publishes them."""
    counts = {
        "referrals_by_initiator": _Counts(INITIATORS),
        "referrals_by_outcome": _Counts(OUTCOMES),
        "refusal_reasons": _Counts(()),
        "deadlines": _Counts(DEADLINE_RESULTS, ("deadline",)),
        "rj_mode": _Counts(MODES),
        "stops": _Counts(STOP_REASONS),
        "withdrawals": _Counts(WITHDRAWAL_REASONS),
        "agreements": _Counts(AGREEMENT_RESULTS),
        "break_glass": _Counts(REVIEW_BANDS, ("agency",)),
        "new_incidents": _Counts(NEW_INCIDENTS),
    }
    for t in tallies:
        if not scope.counts(t):
            continue
        assert t.submitted is not None and t.jurisdiction is not None and t.initiated_by
        month = _month(t.submitted)
        base: Key = (month, scope.label, t.jurisdiction)
        if scope.in_period(month):
            counts["referrals_by_initiator"].add(base, t.initiated_by)
            counts["referrals_by_outcome"].add(base, t.screening or "not_screened")
            if t.screening == "ineligible":
                for reason in t.refusal_reasons:
                    counts["refusal_reasons"].add(base, reason)
            for name in sorted(t.deadlines):
                counts["deadlines"].add((*base, name), deadline_result(t, name, today))
            if t.accepted and t.screening in ("eligible_direct", "eligible_indirect_only"):
                mode = "direct" if t.screening == "eligible_direct" else "indirect"
                counts["rj_mode"].add(base, mode)
            if t.stopped is not None:
                counts["stops"].add(base, t.stopped)
            if t.withdrawn is not None:
                counts["withdrawals"].add(base, t.withdrawn)
            if t.agreement is not None:
                counts["agreements"].add(base, agreement_result(t.agreement))
            counts["new_incidents"].add(
                base, new_incident_band(t.submitted, t.first_new_incident, today)
            )
        for grant in t.grants.values():
            if grant.get("granted_at") is None:
                continue
            granted = datetime.fromisoformat(grant["granted_at"])
            grant_month = _month(granted.date())
            if scope.in_period(grant_month):
                counts["break_glass"].add(
                    (grant_month, scope.label, t.jurisdiction, grant["agency"]),
                    review_band(grant["granted_at"], grant.get("reviewed_at")),
                )
    return counts


def figures(
    tallies: Iterable[CaseTally],
    scope: Scope,
    today: date,
    suppression: Callable[[Sequence[Sequence[int]]], SuppressedTable] = suppress,
) -> list[Table]:
    """Every published table of the scope, suppressed."""
    tables = []
    for name, c in count_all(tallies, scope, today).items():
        # The expected values in their usual order, then any other value the events carried,
        # so that no case goes uncounted for an unforeseen code.
        seen = {col for _, col in c.cells}
        columns = (*c.columns, *sorted(seen - set(c.columns)))
        keys = tuple(sorted({key for key, _ in c.cells}))
        body = [[c.cells[(k, col)] for col in columns] for k in keys]
        grid = (
            suppression(body)
            if keys and columns
            else SuppressedTable(((0,) * (len(columns) + 1),), frozenset())
        )
        tables.append(
            Table(
                name=name,
                title=TITLES[name],
                row_headings=("month", "organisation", "jurisdiction", *c.extra_headings),
                row_keys=keys,
                columns=columns,
                grid=grid,
            )
        )
    return tables
