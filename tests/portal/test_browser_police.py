"""The police officer's journey in a real browser: Keycloak sign-in, a referral with DASH
entered by keyboard alone, check answers, the referral page, reassessment and withdrawal
screens, CSRF, and another force's officer. axe-core runs on every page the portal serves
(error states included); a screenshot of each main screen goes to docs/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser

from .pages import Visits, fill_referral_by_keyboard, press_button
from .stack import sign_in

pytestmark = pytest.mark.integration

VICTIM = "Alex Marker-Victim"
OFFENDER = "Sam Marker-Offender"
SUMMARY = "Pushed during an argument in the kitchen"
YES = {"current_injury", "very_frightened", "separation"}


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
        await fill_referral_by_keyboard(
            page,
            victim=VICTIM,
            offender=OFFENDER,
            summary=SUMMARY,
            court_reference="T20260042",
            dash_yes=YES,
        )
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
