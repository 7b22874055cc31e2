"""The RJ provider's journey in a real browser, signed in at Keycloak: the coordinator takes a
referral from the intake, registers the facilitator (by keyboard alone) and assigns them; the
facilitator sees the gate name each failed condition in words, prepares the parties, watches
the gate open, schedules, records the conference, drafts the agreement, records the parties'
consent and reports the item completed. Another provider's coordinator gets the not-found page.
axe-core runs on every page visited, error states included; screenshots of the main screens go
to docs/screenshots/.

The referral, the victim's record, participate consent and safety plan are set up through the
services' APIs as the police and the advocate (their own screens are tested elsewhere)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from accord_platform.harness import eventually
from playwright.async_api import Browser, Page

from tests.journey import Journey

from .pages import Visits, press_button, type_into
from .stack import sign_in

pytestmark = pytest.mark.integration

FACILITATOR_NAME = "Rhys North-RJ-Facilitator"
ITEM = "Write a letter of apology, read by the facilitator first"


async def main_text(page: Page) -> str:
    return await page.text_content("main") or ""


async def gate_failures(page: Page, which: str) -> list[str]:
    """The failed conditions the page names in the gate checklist ('direct' or 'indirect')."""
    hints = await page.locator(f"#gate-{which} .govuk-task-list__hint").all_text_contents()
    return [h.strip() for h in hints]


async def register_by_keyboard(page: Page, account_id: str) -> None:
    endorsed = date.today() + timedelta(days=365)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == (
        "Skip to main content"
    )
    await page.keyboard.press("Enter")
    await type_into(page, "facilitator_id", account_id)
    await type_into(page, "name", FACILITATOR_NAME)
    await type_into(page, "accreditation_id", "RJC-2026-17")
    await type_into(page, "accredited_until-day", "31")
    await type_into(page, "accredited_until-month", "12")
    await type_into(page, "accredited_until-year", "2030")
    await type_into(page, "endorsement_expires-day", str(endorsed.day))
    await type_into(page, "endorsement_expires-month", str(endorsed.month))
    await type_into(page, "endorsement_expires-year", str(endorsed.year))
    await press_button(page, "Register facilitator")


async def fill_date(page: Page, name: str, day: date) -> None:
    await page.fill(f"#{name}-day", str(day.day))
    await page.fill(f"#{name}-month", str(day.month))
    await page.fill(f"#{name}-year", str(day.year))


async def test_rj_coordinator_and_facilitator_take_a_case_from_intake_to_a_kept_agreement(
    browser: Browser, portal_stack: Any
) -> None:
    visits = Visits()
    base = portal_stack.portal_url
    journey = Journey(portal_stack.platform)
    case_id = await journey.refer()
    await journey.victim_consents()
    conference = portal_stack.platform.client("conference")

    async def eligible() -> bool:
        r = await conference.get(f"/intake/{case_id}", headers=journey.coordinator)
        return r.status_code == 200 and str(r.json()["status"]).startswith("eligible")

    await eventually(eligible)
    case_url = f"{base}/rj-cases/{case_id}"
    ref = case_id[:8].upper()

    coordinator_context = await browser.new_context()
    facilitator_context = await browser.new_context()
    coordinator = await coordinator_context.new_page()
    facilitator = await facilitator_context.new_page()
    try:
        # The facilitator's staff account ID, which the coordinator registers them with.
        await facilitator.goto(f"{base}/facilitators")
        await sign_in(facilitator, "north-rj.facilitator")
        await facilitator.wait_for_url(f"{base}/facilitators")
        account_id = (await facilitator.text_content("#account-id") or "").strip()
        assert account_id
        await visits.check(facilitator)

        # The coordinator's home is the intake: this referral, eligible, band in words.
        await coordinator.goto(base)
        await coordinator.get_by_role("button", name="Sign in").click()
        await sign_in(coordinator, "north-rj.coordinator")
        await coordinator.wait_for_url(f"{base}/intake")
        row = coordinator.locator("tr", has=coordinator.locator(f"a[href='/intake/{case_id}']"))
        row_text = await row.text_content() or ""
        assert ref in row_text and "Eligible (direct or indirect)" in row_text
        assert "Standard" in row_text and date.today().strftime("%B %Y") in row_text
        assert "eligible_direct" not in await main_text(coordinator)
        await visits.check(coordinator, "rj-intake")

        # Register the facilitator: the empty form first (error state), then by keyboard.
        await coordinator.goto(f"{base}/facilitators/new")
        await visits.check(coordinator)
        await coordinator.get_by_role("button", name="Register facilitator").click()
        await coordinator.wait_for_selector(".govuk-error-summary")
        assert (await coordinator.title()).startswith("Error: ")
        assert "Enter the facilitator's staff account ID" in await main_text(coordinator)
        await visits.check(coordinator, "rj-register-facilitator-errors")
        await coordinator.goto(f"{base}/facilitators/new")
        await register_by_keyboard(coordinator, account_id)
        await coordinator.wait_for_url(f"{base}/facilitators")
        text = await main_text(coordinator)
        assert "Facilitator registered" in text and FACILITATOR_NAME in text
        assert "RJC-2026-17" in text and "31 December 2030" in text
        await visits.check(coordinator, "rj-facilitators")

        # Decline's error state (the referral is then accepted, not declined).
        await coordinator.goto(f"{base}/intake/{case_id}/decline")
        await coordinator.get_by_role("button", name="Continue").click()
        await coordinator.wait_for_selector(".govuk-error-summary")
        await visits.check(coordinator, "rj-decline-errors")

        await coordinator.goto(f"{base}/intake/{case_id}")
        await visits.check(coordinator, "rj-intake-referral")
        await coordinator.get_by_role("button", name="Accept referral").click()
        await coordinator.wait_for_url(case_url)
        text = await main_text(coordinator)
        assert "Referral accepted" in text and "Open: no facilitator assigned yet" in text
        await visits.check(coordinator)

        # Before assignment the facilitator reads the case but cannot change it.
        await facilitator.goto(case_url)
        text = await main_text(facilitator)
        assert "You are not assigned to this case" in text
        assert "Record a preparation meeting" not in text
        await visits.check(facilitator, "rj-case-unassigned")

        await coordinator.goto(f"{case_url}/assign")
        await coordinator.get_by_role("button", name="Assign facilitator").click()
        await coordinator.wait_for_selector(".govuk-error-summary")
        await visits.check(coordinator, "rj-assign-errors")
        await coordinator.select_option("#facilitator_id", account_id)
        await coordinator.check("#role")
        await coordinator.get_by_role("button", name="Assign facilitator").click()
        await coordinator.wait_for_url(case_url)
        text = await main_text(coordinator)
        assert "Facilitator assigned" in text and FACILITATOR_NAME in text
        assert "Preparing" in text
        await visits.check(coordinator)

        # The facilitator's gate: each failed condition named in words.
        await facilitator.goto(case_url)
        failed = await gate_failures(facilitator, "direct")
        for condition in (
            "The consent of the person who caused harm is not recorded",
            "No preparation meeting with the victim is recorded",
            "No preparation meeting with the person who caused harm is recorded",
            "The victim's latest preparation meeting does not record a passed coercion screen",
            "The victim's latest preparation meeting does not record that they were seen alone",
        ):
            assert condition in failed, (condition, failed)
        text = await main_text(facilitator)
        assert f"{FACILITATOR_NAME} (you)" in text
        assert "offender_consent_missing" not in text
        assert "Face to face (direct): not ready" in text
        await visits.check(facilitator, "rj-case-gate-closed")

        await facilitator.goto(f"{case_url}/offender-consent")
        await visits.check(facilitator)
        await facilitator.check("#given")
        await facilitator.get_by_role("button", name="Save").click()
        await facilitator.wait_for_url(case_url)
        assert "The consent of the person who caused harm is not recorded" not in (
            await gate_failures(facilitator, "direct")
        )

        await facilitator.goto(f"{case_url}/preparation")
        await facilitator.check("#participant")  # the victim, without the two answers
        await facilitator.get_by_role("button", name="Save meeting").click()
        await facilitator.wait_for_selector(".govuk-error-summary")
        text = await main_text(facilitator)
        assert "Select yes if the victim was seen alone" in text
        assert "Select the result of the coercion screen" in text
        await visits.check(facilitator, "rj-preparation-errors")
        await facilitator.check("#seen_alone")
        await facilitator.check("#coercion_screen")
        await facilitator.fill("#support_persons", "Her sister")
        await facilitator.get_by_role("button", name="Save meeting").click()
        await facilitator.wait_for_url(case_url)
        await facilitator.goto(f"{case_url}/preparation")
        await facilitator.check("#participant-offender")
        await facilitator.get_by_role("button", name="Save meeting").click()
        await facilitator.wait_for_url(case_url)

        # The gate opens (consent and the safety plan arrived from victim services by events).
        async def gate_open() -> bool:
            await facilitator.reload()
            return not await gate_failures(facilitator, "direct")

        await eventually(gate_open, timeout=60, interval=1)
        text = await main_text(facilitator)
        assert "Face to face (direct): ready" in text and "Not met" not in text
        assert "Her sister" in text and "Meeting with the victim" in text
        await visits.check(facilitator, "rj-case-gate-open")

        # Schedule a face-to-face conference a week ahead, on the case's version.
        when = date.today() + timedelta(days=7)
        for _ in range(5):
            await facilitator.goto(f"{case_url}/schedule")
            await facilitator.check("#modality")
            await fill_date(facilitator, "conference_date", when)
            await facilitator.fill("#conference_time", "14:30")
            await visits.check(facilitator, "rj-schedule")
            await facilitator.get_by_role("button", name="Schedule conference").click()
            await facilitator.wait_for_load_state()
            if "changed while you were working on it" not in await main_text(facilitator):
                break
            # Another agency's event moved the case on: like a user, reload and try again.
            await visits.check(facilitator, "rj-changed-meanwhile")
        await facilitator.wait_for_url(case_url)
        text = await main_text(facilitator)
        assert "Conference scheduled" in text
        assert f"{when.day} {when:%B %Y} at 2:30pm" in text
        assert "Face to face (direct)" in text

        await facilitator.goto(f"{case_url}/held")
        await visits.check(facilitator)
        await facilitator.fill("#notes", "Both attended; apology given")
        await facilitator.get_by_role("button", name="Record conference").click()
        await facilitator.wait_for_url(case_url)
        assert "Conference held" in await main_text(facilitator)

        # The outcome agreement: a part-filled item is an error, then one whole item.
        await facilitator.goto(f"{case_url}/agreement")
        await facilitator.fill("#item1_what", ITEM)
        await facilitator.get_by_role("button", name="Save draft agreement").click()
        await facilitator.wait_for_selector(".govuk-error-summary")
        assert "Select who does item 1" in await main_text(facilitator)
        await visits.check(facilitator, "rj-agreement-errors")
        await facilitator.select_option("#item1_owner", "offender")
        await fill_date(facilitator, "item1_due", date.today() + timedelta(days=30))
        await facilitator.select_option("#item1_agency", "rj_provider")
        await facilitator.get_by_role("button", name="Save draft agreement").click()
        await facilitator.wait_for_url(case_url)
        text = await main_text(facilitator)
        assert "Outcome agreement drafted" in text and ITEM in text
        assert "Agreement being drafted" in text
        for party in ("#party", "#party-offender"):
            await facilitator.goto(f"{case_url}/agreement/consent")
            await facilitator.check(party)
            await facilitator.check("#agrees")
            await facilitator.check("#share_with_court")
            await visits.check(facilitator)
            await facilitator.get_by_role("button", name="Record consent").click()
            await facilitator.wait_for_url(case_url)
        text = await main_text(facilitator)
        assert "Agreement being monitored" in text
        await visits.check(facilitator, "rj-case-monitoring")

        await facilitator.get_by_role("link", name=f"Report on item: {ITEM}").click()
        await facilitator.wait_for_selector("h1:has-text('Report on an agreement item')")
        await facilitator.get_by_role("button", name="Send report").click()
        await facilitator.wait_for_selector(".govuk-error-summary")
        await visits.check(facilitator, "rj-report-errors")
        await facilitator.check("#status")
        await facilitator.fill("#evidence", "Letter seen by the facilitator on file RJ-17")
        await facilitator.get_by_role("button", name="Send report").click()
        await facilitator.wait_for_url(case_url)
        text = await main_text(facilitator)
        assert "Item reported as completed" in text
        assert "Completed" in text and "Stop the case" not in text
        await visits.check(facilitator, "rj-case-completed")

        await facilitator.goto(f"{base}/rj-cases")
        assert case_id in await facilitator.inner_html("main")
        await visits.check(facilitator, "rj-cases")

        # The stop form's error state and confirmation, on the coordinator's side (the case is
        # completed, so the coordinator's stop page is reached directly and refused at the end).
        await coordinator.goto(f"{case_url}/stop")
        await coordinator.get_by_role("button", name="Continue").click()
        await coordinator.wait_for_selector(".govuk-error-summary")
        await visits.check(coordinator, "rj-stop-errors")
        await coordinator.check("#reason-coercion_suspected")
        await coordinator.get_by_role("button", name="Continue").click()
        await coordinator.wait_for_selector("h1:has-text('Are you sure you want to stop')")
        await visits.check(coordinator, "rj-stop-confirm")
        await coordinator.get_by_role("button", name="Stop the case").click()
        await coordinator.wait_for_selector("h1:has-text('This case has already ended')")
        await visits.check(coordinator)
    finally:
        await coordinator_context.close()
        await facilitator_context.close()

    other = await browser.new_context()
    page = await other.new_page()
    try:
        await page.goto(case_url)
        await sign_in(page, "south-rj.coordinator")
        await page.wait_for_url(case_url)
        text = await main_text(page)
        assert "There is no case with this reference that you can see" in text
        assert ITEM not in await page.content()
        await visits.check(page, "rj-other-provider-not-found")
        await page.goto(f"{base}/intake")
        assert case_id not in await page.inner_html("main")
        await visits.check(page)
        await page.goto(f"{base}/rj-cases")
        assert case_id not in await page.inner_html("main")
    finally:
        await other.close()

    for url in visits.urls:
        assert ITEM not in url and "sister" not in url.lower()
    assert len(visits.rules) > 20
