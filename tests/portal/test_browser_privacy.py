"""Break-glass and its review in a real browser, signed in at Keycloak: a police supervisor asks
for emergency access to a victim's location by keyboard alone (reason, justification, time
limit, the privacy-review warning, check answers) and sees the location under a banner saying
when access expires; the privacy officer finds the case's access log by typing its reference
into a form (the emergency read among the entries, in words), reviews the break-glass grant
through check answers, and verifies the audit log: the signed checkpoint, the emergency read's
entry included under the signed root, and consistency with the checkpoint verified before.
axe-core runs on every page visited, error states included; screenshots go to docs/screenshots/.

The referral, victim record and a safety flag are set up through the services' APIs as the
police officer and the advocate (their own screens are tested elsewhere)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from accord_platform.harness import eventually
from playwright.async_api import Browser, Page

from tests.journey import Journey

from .pages import Visits, choose, press_button, tab_to, type_into
from .stack import sign_in

pytestmark = pytest.mark.integration

JUSTIFICATION = "Caller reports the person who caused harm is outside the refuge with a weapon"
ADDRESS = "1 Safe Street"


async def main_text(page: Page) -> str:
    return await page.text_content("main") or ""


def emergency_rows(page: Page) -> Any:
    """Rows of the access log recording the supervisor's emergency read of the victim record."""
    return (
        page.locator("#access-log tbody tr")
        .filter(has=page.locator(".govuk-tag", has_text="Emergency access"))
        .filter(has_text="Victim's details")
    )


async def request_by_keyboard(page: Page, case_id: str) -> None:
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent.trim()") == (
        "Skip to main content"
    )
    await page.keyboard.press("Enter")
    await type_into(page, "case_reference", case_id)
    await press_button(page, "Continue")
    await page.wait_for_selector("h1:has-text('Request emergency access')")
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await choose(page, "reason_code", 0)
    await tab_to(page, "el.id === 'data_classes_victim.location'")
    await page.keyboard.press("Space")
    await tab_to(page, "el.id === 'data_classes_safety.flags'")
    await page.keyboard.press("Space")
    await type_into(page, "justification", JUSTIFICATION)
    await choose(page, "duration_minutes", 0)
    await press_button(page, "Continue")


async def test_supervisor_breaks_glass_and_the_privacy_officer_reviews_and_verifies(
    browser: Browser, portal_stack: Any
) -> None:
    visits = Visits()
    base = portal_stack.portal_url
    journey = Journey(portal_stack.platform)
    case_id = await journey.refer()
    await journey.victim_consents(participate=False, plan=False)
    r = await portal_stack.platform.client("victim-support").post(
        f"/cases/{case_id}/safety-flags",
        headers=journey.advocate,
        json={"code": "threats_to_kill", "severity": "high"},
    )
    assert r.status_code == 204, r.text
    ref = case_id[:8].upper()

    supervisor_context = await browser.new_context()
    supervisor = await supervisor_context.new_page()
    try:
        await supervisor.goto(f"{base}/emergency")
        await sign_in(supervisor, "north-police.supervisor")
        await supervisor.wait_for_url(f"{base}/emergency")
        assert "a privacy officer reviews" in await main_text(supervisor)
        await visits.check(supervisor, "supervisor-emergency-start")

        # Error state: a name typed instead of a case reference.
        await supervisor.get_by_label("Case reference").fill("Alex the victim")
        await supervisor.get_by_role("button", name="Continue").click()
        await supervisor.wait_for_selector(".govuk-error-summary")
        assert "Alex" not in supervisor.url
        await visits.check(supervisor)

        await supervisor.goto(f"{base}/emergency/{case_id}/request")
        await supervisor.get_by_role("button", name="Continue").click()
        await supervisor.wait_for_selector(".govuk-error-summary")
        text = await main_text(supervisor)
        for message in (
            "Select why emergency access is needed",
            "Select what you need to see",
            "Enter why this cannot wait",
            "Select how long you need access for",
        ):
            assert message in text, message
        await visits.check(supervisor, "supervisor-emergency-request-errors")

        await supervisor.goto(f"{base}/emergency")
        await request_by_keyboard(supervisor, case_id)
        await supervisor.wait_for_selector("h1:has-text('Check your request')")
        text = await main_text(supervisor)
        for shown in (
            "Someone's life is at immediate risk",
            JUSTIFICATION,
            "30 minutes",
            "Safety flags",
        ):
            assert shown in text, shown
        await visits.check(supervisor, "supervisor-emergency-check")
        await press_button(supervisor, "Ask for emergency access")
        await supervisor.wait_for_selector(".govuk-panel--confirmation")
        expires = (await supervisor.text_content("#expires") or "").strip()
        assert re.fullmatch(r"\d{1,2} \w+ \d{4} at \d{1,2}:\d\d[ap]m \(UTC\)", expires)
        await visits.check(supervisor, "supervisor-emergency-granted")

        await supervisor.get_by_role("button", name="See the victim's information").click()
        await supervisor.wait_for_url(f"{base}/emergency/{case_id}")
        banner = await supervisor.text_content("#emergency-banner") or ""
        assert f"Emergency access - expires at {expires}" in banner
        text = await main_text(supervisor)
        assert ADDRESS in text and "Threats to kill" in text and "High" in text
        await visits.check(supervisor, "supervisor-emergency-access")
    finally:
        await supervisor_context.close()

    officer_context = await browser.new_context()
    officer = await officer_context.new_page()
    try:
        await officer.goto(base)
        await officer.get_by_role("button", name="Sign in").click()
        await sign_in(officer, "privacy-office.privacy_officer")
        await officer.wait_for_url(f"{base}/privacy")
        assert "to review" in await main_text(officer)
        await visits.check(officer, "privacy-home")

        # Access log: the empty search first (error state), then the case's reference.
        await officer.goto(f"{base}/privacy/access")
        await officer.get_by_role("button", name="Search").click()
        await officer.wait_for_selector(".govuk-error-summary")
        await visits.check(officer, "privacy-access-errors")

        async def emergency_read_logged() -> str | None:
            await officer.goto(f"{base}/privacy/access")
            await officer.get_by_label("Case reference").fill(case_id)
            await officer.get_by_role("button", name="Search").click()
            await officer.wait_for_selector("h1:has-text('Access log of case')")
            rows = emergency_rows(officer)
            return await rows.first.text_content() if await rows.count() else None

        row = await eventually(emergency_read_logged, timeout=60)
        assert case_id not in officer.url
        for shown in ("Supervisor, Police", "North Constabulary", "Victim's details", "Shown"):
            assert shown in row, shown
        assert "Emergency access (the victim's location)" in row
        text = await main_text(officer)
        assert "Referral submitted" in text and "Emergency access granted" in text
        for code in ("victim_record", "break_glass", "public_task", "never_for_agency"):
            assert code not in text, code
        assert not re.search(r"\bpermit\b", text)
        # The audit log holds who and why, never what was read.
        assert ADDRESS not in await officer.content()
        entry = (
            await emergency_rows(officer).first.locator("td").last.text_content() or ""
        ).strip()
        assert entry.isdigit()
        await visits.check(officer, "privacy-access-log")

        # The break-glass review.
        await officer.goto(f"{base}/privacy/reviews")
        link = officer.get_by_role("link", name=re.compile(f"Review.*{ref}"))
        await visits.check(officer, "privacy-reviews")
        await link.click()
        await officer.wait_for_selector("h1:has-text('Review emergency access')")
        text = await main_text(officer)
        assert JUSTIFICATION in text and "Someone's life is at immediate risk" in text
        await visits.check(officer, "privacy-review")
        await officer.get_by_role("button", name="Continue").click()
        await officer.wait_for_selector(".govuk-error-summary")
        assert "Enter the reason for your decision" in await main_text(officer)
        await visits.check(officer, "privacy-review-errors")
        await officer.get_by_label("Justified", exact=True).check()
        await officer.get_by_label("Reason for your decision").fill(
            "Proportionate: a weapon was reported at the address"
        )
        await officer.get_by_role("button", name="Continue").click()
        await officer.wait_for_selector("h1:has-text('Check your review')")
        await visits.check(officer, "privacy-review-check")
        await officer.get_by_role("button", name="Record review").click()
        await officer.wait_for_selector(".govuk-panel--confirmation")
        assert "Justified" in await main_text(officer)
        await visits.check(officer, "privacy-review-recorded")
        await officer.goto(f"{base}/privacy/reviews")
        assert ref not in await main_text(officer)

        # Log verification: the signed checkpoint, then the emergency read's inclusion.
        await officer.goto(f"{base}/privacy/verify")
        text = await officer.text_content("#checkpoint") or ""
        assert "Verified" in text and "entries" in text
        await visits.check(officer, "privacy-verify")
        await officer.get_by_label("Log entry number").fill("many")
        await officer.get_by_role("button", name="Check entry").click()
        await officer.wait_for_selector(".govuk-error-summary")
        await visits.check(officer, "privacy-verify-errors")
        await officer.get_by_label("Log entry number").fill(entry)
        await officer.get_by_role("button", name="Check entry").click()
        await officer.wait_for_selector("#check-result")
        result = await officer.text_content("#check-result") or ""
        assert f"Log entry {entry} is in the signed log" in result, result
        assert "Victim's details read by Supervisor, Police" in result
        # The checkpoint verified a moment ago is remembered: the log only grew since.
        text = await officer.text_content("#checkpoint") or ""
        assert "The log has only grown since" in text
        await visits.check(officer, "privacy-verify-entry")
        size = re.search(r"(\d+) entries", text)
        root = (await officer.locator("#checkpoint code").text_content() or "").strip()
        assert size and root
        await officer.get_by_label("Tree size of the saved checkpoint").fill(size.group(1))
        await officer.get_by_label("Root hash of the saved checkpoint").fill(
            root[:-4] + ("AAA=" if not root.endswith("AAA=") else "BBB=")
        )
        await officer.get_by_role("button", name="Check consistency").click()
        await officer.wait_for_selector("#check-result")
        result = await officer.text_content("#check-result") or ""
        assert "could not be shown consistent" in result
        await visits.check(officer, "privacy-verify-inconsistent")
    finally:
        await officer_context.close()

    for url in visits.urls:
        assert "Alex" not in url and ADDRESS not in url, url
    assert len(visits.rules) > 20
