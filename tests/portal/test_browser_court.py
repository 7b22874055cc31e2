"""The court's journey in a real browser, signed in at Keycloak: the clerk finds the case among
the court's cases, sees the compliance of each agreement item with its text withheld (the
parties did not consent to share the agreement with the court) and adjourns the review by
keyboard; the judge then accepts compliance through check answers to the confirmation. Another
court's clerk gets the not-found page. axe-core runs on every page visited, error states
included; screenshots of the main screens go to docs/screenshots/.

The referral, victim record, consents, RJ case, conference and agreement are set up through the
services' APIs as the other agencies (their own screens are tested elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest
from accord_platform.harness import eventually
from playwright.async_api import Browser, Page

from tests.journey import Journey

from .pages import Visits, choose, press_button, type_into
from .stack import sign_in

pytestmark = pytest.mark.integration


async def main_text(page: Page) -> str:
    return await page.text_content("main") or ""


async def test_court_clerk_and_judge_review_compliance_and_other_courts_cannot_see_it(
    browser: Browser, portal_stack: Any
) -> None:
    visits = Visits()
    base = portal_stack.portal_url
    journey = Journey(portal_stack.platform)
    case_id = await journey.refer()
    await journey.victim_consents()
    await journey.accept_and_prepare()
    await journey.conference_and_agreement(share_with_court=False)
    await journey.report("item-1", "completed")

    async def court_knows() -> bool:
        view = await journey.court_view()
        return bool(view) and any(
            i["status"] == "completed" for i in (view or {}).get("items_status", [])
        )

    await eventually(court_knows)
    reference = journey.court_reference
    case_url = f"{base}/court/cases/{case_id}"

    clerk_context = await browser.new_context()
    clerk = await clerk_context.new_page()
    try:
        await clerk.goto(base)
        await clerk.get_by_role("button", name="Sign in").click()
        await sign_in(clerk, "north-court.clerk")
        await clerk.wait_for_url(f"{base}/court")
        row = clerk.locator("tr", has=clerk.locator(f"a[href='/court/cases/{case_id}']"))
        row_text = await row.text_content() or ""
        assert reference in row_text and "Awaiting review" in row_text
        assert "1 of 3 completed" in row_text
        assert "awaiting_review" not in await main_text(clerk)
        await visits.check(clerk, "court-cases")

        await clerk.goto(case_url)
        text = await main_text(clerk)
        assert reference in text and "Awaiting review" in text
        assert "1 of 3 completed" in text and "Completed" in text and "Open" in text
        # SPEC section 4: no outcome consent to share with the court, so no item text.
        assert "Withheld" in text and "Not every party has consented" in text
        assert "AGREEMENT-TEXT" not in await clerk.content()
        assert "CONFERENCE-NOTES" not in await clerk.content()
        assert "No review decision has been recorded" in text
        await visits.check(clerk, "court-case")

        # Error state: the decision form sent empty.
        await clerk.goto(f"{case_url}/decision")
        await visits.check(clerk)
        await clerk.get_by_role("button", name="Continue").click()
        await clerk.wait_for_selector(".govuk-error-summary")
        assert (await clerk.title()).startswith("Error: ")
        assert "Select the review decision" in await main_text(clerk)
        await visits.check(clerk, "court-decision-errors")

        # The clerk adjourns the review, by keyboard alone.
        await clerk.goto(f"{case_url}/decision")
        await clerk.keyboard.press("Tab")
        assert await clerk.evaluate("document.activeElement.textContent.trim()") == (
            "Skip to main content"
        )
        await clerk.keyboard.press("Enter")
        await choose(clerk, "decision", 2)
        await type_into(clerk, "notes", "Listed again in four weeks")
        await press_button(clerk, "Continue")
        await clerk.wait_for_selector("h1:has-text('Check the decision')")
        text = await main_text(clerk)
        assert "Review adjourned" in text and "Listed again in four weeks" in text
        assert "closes the review" not in text
        await visits.check(clerk, "court-decision-check")
        await press_button(clerk, "Record decision")
        await clerk.wait_for_selector(".govuk-panel--confirmation")
        text = await main_text(clerk)
        assert "Review adjourned recorded" in text and reference in text
        assert "Awaiting review" in text
        await visits.check(clerk, "court-decision-recorded")
        await clerk.goto(case_url)
        assert "Listed again in four weeks" in await main_text(clerk)
    finally:
        await clerk_context.close()

    judge_context = await browser.new_context()
    judge = await judge_context.new_page()
    try:
        await judge.goto(case_url)
        await sign_in(judge, "north-court.judge")
        await judge.wait_for_url(case_url)
        await judge.get_by_role("button", name="Record a review decision").click()
        await judge.get_by_label("Compliance accepted").check()
        await judge.get_by_label("Notes (optional)").fill("Agreement being kept")
        await judge.get_by_role("button", name="Continue").click()
        await judge.wait_for_selector("h1:has-text('Check the decision')")
        assert "This decision closes the review" in await main_text(judge)
        await judge.get_by_role("button", name="Record decision").click()
        await judge.wait_for_selector(".govuk-panel--confirmation")
        text = await main_text(judge)
        assert "Compliance accepted recorded" in text
        await visits.check(judge)
        await judge.goto(case_url)
        text = await main_text(judge)
        assert "Compliance accepted" in text and "Review adjourned" in text
        assert "Record a review decision" not in text
        await visits.check(judge, "court-case-decided")
    finally:
        await judge_context.close()

    other_context = await browser.new_context()
    other = await other_context.new_page()
    try:
        await other.goto(case_url)
        await sign_in(other, "south-court.clerk")
        await other.wait_for_url(case_url)
        assert "There is no case with this reference that you can see" in await main_text(other)
        assert reference not in await other.content()
        await visits.check(other, "court-other-court-not-found")
        await other.goto(f"{base}/court")
        assert case_id not in await other.inner_html("main")
        await visits.check(other)
    finally:
        await other_context.close()

    for url in visits.urls:
        assert reference not in url, url
    assert len(visits.rules) > 20
