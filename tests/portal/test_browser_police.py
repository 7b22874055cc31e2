"""The police officer's journey in a real browser: Keycloak sign-in, a referral with DASH
entered by keyboard alone, check answers, the referral page, reassessment and withdrawal
screens, CSRF, and another force's officer. axe-core runs on every page the portal serves
(error states included); a screenshot of each main screen goes to docs/screenshots/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from accord_platform.browser import check_accessibility
from playwright.async_api import Browser, Page

from .stack import sign_in

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
VICTIM = "Alex Marker-Victim"
OFFENDER = "Sam Marker-Offender"
SUMMARY = "Pushed during an argument in the kitchen"
YES = {"current_injury", "very_frightened", "separation"}


class Visits:
    """Every portal page visited, each checked by axe-core; URLs kept to check for case data."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.rules: set[str] = set()

    async def check(self, page: Page, screenshot: str | None = None) -> None:
        self.urls.append(page.url)
        self.rules.update(await check_accessibility(page))
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)


async def tab_to(page: Page, condition: str, limit: int = 200) -> None:
    """Presses Tab until `condition` (JS over `el`, the focused element) holds."""
    for _ in range(limit):
        await page.keyboard.press("Tab")
        if await page.evaluate(
            f"() => {{ const el = document.activeElement; return !!({condition}); }}"
        ):
            return
    raise AssertionError(f"Tab never reached {condition}")


async def type_into(page: Page, field_id: str, text: str) -> None:
    await tab_to(page, f"el.id === {field_id!r}")
    await page.keyboard.type(text)


async def choose(page: Page, name: str, option: int) -> None:
    """A radio group by keyboard: Tab to its first radio, Space for the first option, arrow
    keys for a later one."""
    await tab_to(page, f"el.name === {name!r} && el.type === 'radio'")
    if option == 0:
        await page.keyboard.press("Space")
    for _ in range(option):
        await page.keyboard.press("ArrowDown")


async def pick(page: Page, select_id: str, steps: int) -> None:
    await tab_to(page, f"el.id === {select_id!r}")
    for _ in range(steps):
        await page.keyboard.press("ArrowDown")


async def press_button(page: Page, text: str) -> None:
    await tab_to(page, f"el.tagName === 'BUTTON' && el.textContent.trim().startsWith({text!r})")
    await page.keyboard.press("Enter")


async def fill_referral_by_keyboard(page: Page) -> None:
    from accord_portal.words import QUESTIONS

    # Skip link first, as a keyboard user would: focus lands on the main content.
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == (
        "Skip to main content"
    )
    await page.keyboard.press("Enter")
    await type_into(page, "incident_date-day", "27")
    await type_into(page, "incident_date-month", "2")
    await type_into(page, "incident_date-year", "2026")
    await type_into(page, "offence_type", "Assault occasioning actual bodily harm")
    await type_into(page, "incident_summary", SUMMARY)
    await type_into(page, "victim_name", VICTIM)
    await type_into(page, "offender_name", OFFENDER)
    await choose(page, "offender_acknowledged", 0)
    await choose(page, "guilty_plea", 1)
    await choose(page, "initiated_by", 0)
    await choose(page, "jurisdiction", 0)
    await pick(page, "victim_services_org", 1)  # North Domestic Abuse Advocacy
    await choose(page, "has_court_reference", 0)
    await type_into(page, "court_reference", "T20260042")
    await pick(page, "court_org", 1)  # North Magistrates' Court
    for code, _ in QUESTIONS:
        await choose(page, f"dash_{code}", 0 if code in YES else 1)
    await choose(page, "professional_judgement_high", 1)
    await press_button(page, "Continue")


async def test_police_officer_refers_a_case_by_keyboard_and_other_forces_cannot_see_it(
    browser: Browser, portal_stack: Any
) -> None:
    visits = Visits()
    base = portal_stack.portal_url
    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(base)
        await visits.check(page, "portal-start")
        await page.get_by_role("button", name="Sign in").click()
        await sign_in(page, "north-police.officer")
        await page.wait_for_url(f"{base}/referrals")
        assert "Signed in as Nadia North-Police-Officer" in (await page.text_content("body") or "")
        await visits.check(page, "police-referrals-empty")

        # Error state: the empty form.
        await page.goto(f"{base}/referrals/new")
        await visits.check(page)
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector(".govuk-error-summary")
        assert (await page.title()).startswith("Error: ")
        await visits.check(page, "police-new-referral-errors")

        await page.goto(f"{base}/referrals/new")
        await fill_referral_by_keyboard(page)
        await page.wait_for_selector("h1:has-text('Check your answers')")
        text = await page.text_content("main") or ""
        for shown in (
            VICTIM,
            OFFENDER,
            SUMMARY,
            "27 February 2026",
            "T20260042",
            "North Domestic Abuse Advocacy",
            "North Magistrates' Court",
            "3 out of 24",
        ):
            assert shown in text, shown
        await visits.check(page, "police-check-answers")
        await press_button(page, "Send referral")
        await page.wait_for_selector(".govuk-panel--confirmation")
        await visits.check(page, "police-referral-sent")
        link = await page.get_by_role("link", name="View the referral").get_attribute("href")
        assert link and re.fullmatch(r"/referrals/[0-9a-f-]{36}", link)
        case_url = base + link

        await page.goto(case_url)
        text = await page.text_content("main") or ""
        for shown in (
            VICTIM,
            OFFENDER,
            SUMMARY,
            "Eligible",
            "Standard",
            "3 out of 24",
            "Have you separated or tried to separate",
            "Referral submitted",
            "Risk assessed (DASH)",
            "T20260042",
        ):
            assert shown in text, shown
        # Location data lives only at victim services; a referral page never shows it.
        for absent in ("Address", "address", "Safe contact", "Refuge"):
            assert absent not in text
        await visits.check(page, "police-referral")

        await page.goto(case_url + "/reassess")
        await visits.check(page, "police-reassess")
        await page.goto(case_url + "/withdraw")
        await visits.check(page)
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector(".govuk-error-summary")
        await visits.check(page, "police-withdraw-errors")

        # A form posted without its CSRF token is refused and changes nothing.
        forged = await page.request.post(
            case_url + "/withdraw", form={"reason": "Forged withdrawal"}, max_redirects=0
        )
        assert forged.status == 403
        assert "This form could not be sent" in await forged.text()
        wrong = await page.request.post(
            case_url + "/withdraw",
            form={"reason": "Forged withdrawal", "csrf_token": "not-the-token"},
            max_redirects=0,
        )
        assert wrong.status == 403
        await page.goto(case_url)
        assert "Withdrawn" not in (await page.text_content("main") or "")

        # Withdrawal, through its confirmation.
        await page.goto(case_url + "/withdraw")
        await page.get_by_label("Why is the referral being withdrawn?").fill(
            "The victim no longer wants restorative justice"
        )
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector("h1:has-text('Are you sure')")
        await visits.check(page, "police-withdraw-confirm")
        await page.get_by_role("button", name="Withdraw referral").click()
        await page.wait_for_selector(".govuk-notification-banner--success")
        assert "Withdrawn" in (await page.text_content("main") or "")
        await visits.check(page)

        await page.goto(f"{base}/referrals")
        assert link in (await page.inner_html("main"))
        await visits.check(page, "police-referrals")

        # No case data in any URL the browser was sent to.
        for url in visits.urls:
            for secret in (VICTIM, OFFENDER, "Marker", "T20260042"):
                assert secret not in url, url

        await page.goto(f"{base}/auth/sign-out")
        await page.wait_for_url(f"{base}/signed-out")
        await visits.check(page)
        await page.goto(case_url)
        assert "/realms/accord/" in page.url  # signed out here and at Keycloak
    finally:
        await context.close()

    other = await browser.new_context()
    page = await other.new_page()
    try:
        await page.goto(case_url)
        await sign_in(page, "south-police.officer")
        await page.wait_for_url(case_url)
        text = await page.text_content("main") or ""
        assert "There is no case with this reference that you can see" in text
        assert VICTIM not in (await page.content())
        await visits.check(page, "police-other-force-not-found")
        await page.goto(f"{base}/referrals")
        assert link not in (await page.inner_html("main"))
    finally:
        await other.close()
    assert len(visits.rules) > 20
