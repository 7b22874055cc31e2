"""Figures from case tallies: what counts where, for a manager and for a commissioner."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from accord_reporting.domain import REGION, CaseTally, Scope, count_all, figures

SUBMITTED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
TODAY = date(2026, 3, 20)


def case(
    n: int,
    jurisdiction: str = "england-wales",
    police: str = "north-police",
    initiated_by: str = "victim",
) -> CaseTally:
    t = CaseTally(case_id=f"case-{n}")
    t.note_referral(
        jurisdiction,
        initiated_by,
        SUBMITTED,
        {"police": police, "victim_services": "north-advocacy"},
        {
            "victim_support_referral": date(2026, 3, 12),
            "victim_information": date(2026, 3, 27),
        },
    )
    return t


def cells(tallies: list[CaseTally], scope: Scope, table: str) -> dict[tuple[object, ...], int]:
    counts = count_all(tallies, scope, TODAY)[table]
    return {(*key, col): n for (key, col), n in counts.cells.items()}


def test_a_case_counts_once_under_each_organisation_responsible_for_it() -> None:
    tallies = [case(1), case(2, police="south-police")]
    north = cells(tallies, Scope("north-police"), "referrals_by_initiator")
    assert north == {("2026-03", "north-police", "england-wales", "victim"): 1}
    advocacy = cells(tallies, Scope("north-advocacy"), "referrals_by_initiator")
    assert advocacy == {("2026-03", "north-advocacy", "england-wales", "victim"): 2}
    region = cells(tallies, Scope(None), "referrals_by_initiator")
    assert region == {("2026-03", REGION, "england-wales", "victim"): 2}


def test_a_case_known_only_from_later_events_counts_nowhere_until_its_referral_arrives() -> None:
    t = CaseTally(case_id="early")
    t.note_stop("coercion_suspected")
    assert cells([t], Scope(None), "stops") == {}
    t.note_referral("scotland", "victim", SUBMITTED, {"police": "scotland-police"}, {})
    assert cells([t], Scope(None), "stops") == {
        ("2026-03", REGION, "scotland", "coercion_suspected"): 1
    }


def test_the_region_counts_only_consenting_victims_where_the_pack_requires_consent() -> None:
    consenting, silent = case(1, "scotland"), case(2, "scotland")
    consenting.note_victim_consent("c-1", "share", "active")
    scope = Scope(None, needs_consent=frozenset({"scotland"}))
    assert sum(cells([consenting, silent], scope, "referrals_by_outcome").values()) == 1
    consenting.note_victim_consent("c-1", "share", "withdrawn")
    assert cells([consenting, silent], scope, "referrals_by_outcome") == {}
    # the organisation's own figures do not leave it, so every case counts there
    assert (
        sum(cells([consenting, silent], Scope("north-advocacy"), "referrals_by_outcome").values())
        == 2
    )


def test_deadlines_are_met_missed_or_pending() -> None:
    met, late, open_ = case(1), case(2), case(3)
    met.note_fulfilment("victim_registered", date(2026, 3, 12))
    late.note_fulfilment("victim_registered", date(2026, 3, 13))
    got = cells([met, late, open_], Scope(None), "deadlines")
    key = ("2026-03", REGION, "england-wales")
    assert got[(*key, "victim_support_referral", "met")] == 1
    assert got[(*key, "victim_support_referral", "missed")] == 2  # one late, one never
    assert got[(*key, "victim_information", "pending")] == 3  # due on the 27th


def test_free_text_never_reaches_a_figure() -> None:
    t = case(1)
    t.note_withdrawal("Victim told PC Smith at 1 Safe Street she is moving")
    assert cells([t], Scope(None), "withdrawals") == {
        ("2026-03", REGION, "england-wales", "other"): 1
    }
    coded = case(2)
    coded.note_withdrawal("victim_request")
    assert ("2026-03", REGION, "england-wales", "victim_request") in cells(
        [t, coded], Scope(None), "withdrawals"
    )


def test_an_agreement_is_completed_when_every_item_is_and_breached_by_any_breach() -> None:
    kept, broken, open_ = case(1), case(2), case(3)
    kept.note_items(
        [{"item_id": "a", "status": "completed"}, {"item_id": "b", "status": "completed"}]
    )
    broken.note_items(
        [{"item_id": "a", "status": "completed"}, {"item_id": "b", "status": "breached"}]
    )
    open_.note_items([{"item_id": "a", "status": "completed"}, {"item_id": "b", "status": "open"}])
    got = cells([kept, broken, open_], Scope(None), "agreements")
    key = ("2026-03", REGION, "england-wales")
    assert got == {(*key, "completed"): 1, (*key, "breached"): 1, (*key, "in_progress"): 1}


def test_break_glass_counts_in_the_month_of_the_grant_by_review_time() -> None:
    t = case(1)
    granted = datetime(2026, 4, 1, 23, 0, tzinfo=UTC)
    for n, hours in enumerate((2, 30, 200)):
        t.note_grant(f"g{n}", "police", "imminent_risk_to_life", granted)
        t.note_grant_review(f"g{n}", granted + timedelta(hours=hours))
    t.note_grant("g9", "police", "missing_person", granted)
    got = cells([t], Scope(None), "break_glass")
    key = ("2026-04", REGION, "england-wales", "police")
    assert got == {
        (*key, "within_1_day"): 1,
        (*key, "within_7_days"): 1,
        (*key, "later"): 1,
        (*key, "pending"): 1,
    }


def test_published_tables_hold_no_case_id_and_withhold_small_counts() -> None:
    tallies = [case(n, initiated_by="victim" if n < 12 else "police") for n in range(14)]
    table = next(
        t for t in figures(tallies, Scope(None), TODAY) if t.name == "referrals_by_initiator"
    )
    published = "\n".join(",".join(r) for r in table.as_rows())
    assert "case-" not in published
    header, row, total = table.as_rows()
    assert header[:4] == ["month", "organisation", "jurisdiction", "victim"]
    by_column = dict(zip(header, row, strict=True))
    # one row is its own total line, so the 12 and the totals go with the 2
    assert by_column["police"] == "" and by_column["victim"] == ""
    assert total[3:] == [""] * (len(header) - 3) or "2" not in total


def test_the_period_filter_keeps_only_its_months() -> None:
    tallies = [case(n) for n in range(6)]
    outside = Scope(None, months=("2026-04", "2026-12"))
    assert all(t.row_keys == () for t in figures(tallies, outside, TODAY))
    inside = Scope(None, months=("2026-01", "2026-03"))
    first = figures(tallies, inside, TODAY)[0]
    assert first.row_keys == (("2026-03", REGION, "england-wales"),)


def test_new_incidents_count_within_6_and_12_months_of_the_referral() -> None:
    early, late, none_yet = case(1), case(2), case(3)
    early.note_incident(date(2026, 9, 10))  # six months to the day
    late.note_incident(date(2027, 3, 10))  # twelve months to the day
    got = cells([early, late, none_yet], Scope(None), "new_incidents")
    key = ("2026-03", REGION, "england-wales")
    assert got == {
        (*key, "within_6_months"): 1,
        (*key, "within_12_months"): 1,
        (*key, "not_yet_known"): 1,
    }
    a_year_on = count_all([none_yet], Scope(None), date(2027, 3, 11))["new_incidents"]
    assert dict(a_year_on.cells) == {(key, "none_within_12_months"): 1}
