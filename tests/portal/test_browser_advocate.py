"""The victim-services advocate's journey in a real browser, through Keycloak sign-in, on a
referral north-police made naming north-advocacy: the case in the list, the task list, the
victim registered, a participation consent and a police safety-flags consent recorded by
keyboard alone (check answers, confirmation), a flag raised, a plan recorded, the access log,
and the sharing consent withdrawn in one action (police lose the flags on their next read).
Another organisation's advocate gets not-found. axe-core runs on every page (error states
included); a screenshot of each main screen goes to docs/screenshots/advocate-*.png."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from accord_platform.harness import eventually
from playwright.async_api import Browser, Page

from tests.journey import Journey

from .pages import Visits, choose, press_button, tab_to, type_into
from .stack import sign_in

pytestmark = pytest.mark.integration

VICTIM = "Robin Marker-Victim"
ADDRESS = "14 Hidden Marker Lane"
PLAN = "Stays with her sister on weekdays; code word agreed with the advocate"


async def text_of(page: Page) -> str:
    return re.sub(r"\s+", " ", await page.inner_text("main"))


async def record_consent_by_keyboard(
    page: Page, scope: int, agency: int, purpose: str, data_class: str | None
) -> None:
    """The consent form by keyboard alone: scope and agency radios, a purpose and a data class
    checkbox, the last day of the period, the seen-alone attestation; then check answers."""
    end = datetime.now(UTC).date() + timedelta(days=90)
    await page.keyboard.press("Tab")  # the skip link, as a keyboard user would
    await page.keyboard.press("Enter")
    await choose(page, "scope", scope)
    await choose(page, "p1_agency", agency)
    await tab_to(page, f"el.id === 'p1_purpose_{purpose}'")
    await page.keyboard.press("Space")
    if data_class:
        await tab_to(page, f"el.id === 'p1_class_{data_class}'")
        await page.keyboard.press("Space")
    await type_into(page, "p1_end-day", str(end.day))
    await type_into(page, "p1_end-month", str(end.month))
    await type_into(page, "p1_end-year", str(end.year))
    await tab_to(page, "el.id === 'seen_alone'")
    await page.keyboard.press("Space")
    await press_button(page, "Continue")
    await page.wait_for_selector("h1:has-text('Check the consent')")


async def test_advocate_registers_consents_flags_plans_and_withdraws_in_one_action(
    browser: Browser, portal_stack: Any
) -> None:
    visits = Visits()
    base = portal_stack.portal_url
    platform = portal_stack.platform
    journey = Journey(platform)  # dev tokens: north-police officer, north-advocacy advocate
    case_id = await journey.refer(victim={"name": VICTIM, "date_of_birth": "1990-01-01"})
    case_url = f"{base}/victims/{case_id}"
    reference = case_id[:8].upper()
    vs = platform.client("victim-support")
    victim_support = platform.services["victim-support"].runtime.app

    # Victim services learn of the case from the referral event; until then it has no record
    # of whose case it is, and registering would find no case.
    async def known() -> bool:
        return _responsible(victim_support, case_id)

    await eventually(known, timeout=60, interval=0.3)

    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(f"{base}/victims")
        await sign_in(page, "north-advocacy.advocate")
        await page.wait_for_url(f"{base}/victims")
        body = await page.text_content("body") or ""
        assert "Signed in as Priya" in body and "North Domestic Abuse Advocacy" in body
        text = await text_of(page)
        assert reference in text and VICTIM in text
        row = re.sub(r"\s+", " ", await page.locator("tr", has_text=reference).inner_text())
        assert "Standard" in row and "Not yet" in row
        await visits.check(page, "advocate-cases")

        await page.get_by_role("link", name=re.compile(reference)).click()
        await page.wait_for_url(case_url)
        text = await text_of(page)
        assert "Register the victim" in text and "Not yet started" in text
        assert text.count("Cannot start yet") == 5  # incl. inviting the victim to their view
        await visits.check(page, "advocate-case-new")

        # Registration: first the error state (name cleared), then the record.
        await page.get_by_role("link", name="Register the victim").click()
        await page.wait_for_url(f"{case_url}/victim/new")
        assert await page.get_by_label("Full name").input_value() == VICTIM  # from the referral
        await visits.check(page)
        await page.get_by_label("Full name").fill("")
        await page.get_by_label("Safe contact number (optional)").fill("ring me")
        await page.get_by_role("button", name="Register the victim").click()
        await page.wait_for_selector(".govuk-error-summary")
        assert (await page.title()).startswith("Error: ")
        summary = await page.text_content(".govuk-error-summary") or ""
        assert "Enter the victim's full name" in summary
        assert "Select how the victim prefers to be contacted" in summary
        await visits.check(page, "advocate-register-errors")
        await page.get_by_label("Full name").fill(VICTIM)
        await page.get_by_label("Safe contact number (optional)").fill("07700 900123")
        await page.get_by_label("Address (optional)").fill(ADDRESS)
        await page.get_by_label("Only through their advocate").check()
        await page.locator("#interpreter_needed-no").check()
        await page.locator("#refuge").check()  # yes
        await page.get_by_label("Child 1: age").fill("6")
        async with page.expect_navigation():
            await page.get_by_role("button", name="Register the victim").click()
        text = await text_of(page)
        assert page.url == case_url, text
        assert "Victim registered" in text and "Cannot start yet" not in text
        await visits.check(page)

        await page.goto(f"{case_url}/victim")
        text = await text_of(page)
        for shown in (VICTIM, ADDRESS, "07700 900123", "Only through their advocate", "Aged 6"):
            assert shown in text, shown
        assert "Confidential. Never shown to the person who caused harm" in text
        assert "In a refuge Yes" in text
        assert "Withheld" not in text  # the victim's own advocate sees every field
        await visits.check(page, "advocate-victim")

        # Consent: the error state, then two consents by keyboard alone.
        await page.goto(f"{case_url}/consents")
        assert "No consent has been recorded yet" in await text_of(page)
        await visits.check(page)
        await page.get_by_role("button", name="Record a consent").click()
        await page.wait_for_url(f"{case_url}/consents/new")
        await visits.check(page, "advocate-consent-new")
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector(".govuk-error-summary")
        summary = await page.text_content(".govuk-error-summary") or ""
        assert "Confirm that you saw the victim alone" in summary
        assert "Select what the victim is consenting to" in summary
        await visits.check(page, "advocate-consent-errors")

        await page.goto(f"{case_url}/consents/new")
        await record_consent_by_keyboard(page, 0, 1, "case_management", None)
        text = await text_of(page)
        assert "Taking part in restorative justice" in text
        assert "Allow: Restorative justice provider" in text
        assert "Yes, I saw the victim alone" in text
        await visits.check(page, "advocate-consent-check")
        await press_button(page, "Record consent")
        await page.wait_for_selector(".govuk-panel--confirmation")
        assert "Consent recorded" in await text_of(page)
        await visits.check(page, "advocate-consent-recorded")

        await page.goto(f"{case_url}/consents/new")
        await record_consent_by_keyboard(page, 1, 0, "safeguarding", "safety_flags")
        text = await text_of(page)
        assert "Allow: Police. Information: Safety flags. For: Safeguarding." in text
        await visits.check(page)
        await press_button(page, "Record consent")
        await page.wait_for_selector(".govuk-panel--confirmation")
        await visits.check(page)

        await page.goto(f"{case_url}/consents")
        cards = page.locator(".govuk-summary-card")
        assert await cards.count() == 2
        text = await text_of(page)
        assert text.count("Active") == 2 and "Withdrawn" not in text
        await visits.check(page, "advocate-consents")

        # A safety flag (error state first) and the plan.
        await page.goto(f"{case_url}/safety-flags")
        assert "No safety flags are raised" in await text_of(page)
        await visits.check(page)
        await page.get_by_role("button", name="Raise flag").click()
        await page.wait_for_selector(".govuk-error-summary")
        await visits.check(page, "advocate-flags-errors")
        await page.get_by_label("Threats to kill").check()
        await page.get_by_label("High", exact=True).check()
        await page.get_by_role("button", name="Raise flag").click()
        await page.wait_for_selector(".govuk-notification-banner--success")
        text = await text_of(page)
        assert "Safety flag raised" in text and "Threats to kill" in text
        await visits.check(page, "advocate-flags")
        await page.get_by_role("link", name="Clear Threats to kill").click()
        await page.wait_for_selector("h1:has-text('Clear the safety flag')")
        await visits.check(page)

        await page.goto(f"{case_url}/safety-plan")
        await visits.check(page)
        review = datetime.now(UTC).date() + timedelta(days=28)
        await page.get_by_label("The plan").fill(PLAN)
        await page.get_by_label("Day").fill(str(review.day))
        await page.get_by_label("Month").fill(str(review.month))
        await page.get_by_label("Year").fill(str(review.year))
        await page.get_by_role("button", name="Save safety plan").click()
        await page.wait_for_selector(".govuk-notification-banner--success")
        text = await text_of(page)
        assert "Safety plan saved" in text and PLAN in text
        await visits.check(page, "advocate-plan")

        # The police read the flags at source, allowed by the consent just recorded.
        r = await vs.get(
            f"/cases/{case_id}/safety-flags",
            params={"purpose": "safeguarding"},
            headers=journey.police,
        )
        assert r.status_code == 200 and r.json()["flags"][0]["code"] == "threats_to_kill"

        await page.goto(case_url)
        text = await text_of(page)
        for shown in ("Completed", "2 active", "1 raised"):
            assert shown in text, shown
        await visits.check(page, "advocate-case")

        # Who accessed: the police read arrives through Kafka at audit.
        audit = platform.client("audit")

        async def police_read_logged() -> bool:
            r = await audit.get(f"/victims/{case_id}/access-log", headers=journey.advocate)
            return r.status_code == 200 and any(e["agency"] == "police" for e in r.json())

        await eventually(police_read_logged, timeout=60, interval=0.5)
        await page.goto(f"{case_url}/access-log")
        text = await text_of(page)
        for shown in ("Police", "North Constabulary", "Officer", "Safeguarding", "Safety flags"):
            assert shown in text, shown
        for shown in ("Victim services", "Advocate", "Managing the case", "Victim's details"):
            assert shown in text, shown
        assert "safety_flags" not in text and "case_management" not in text
        await visits.check(page, "advocate-access-log")

        # Withdrawal in one action: the button, one confirmation, the banner.
        await page.goto(f"{case_url}/consents")
        share = page.locator(".govuk-summary-card", has_text="Sharing information")
        await share.get_by_role("button", name=re.compile("^Withdraw")).click()
        await page.wait_for_selector("h1:has-text('Are you sure you want to withdraw')")
        assert "This takes effect at once" in await text_of(page)
        await visits.check(page, "advocate-withdraw-confirm")
        await page.get_by_label("Reason (optional)").fill("The victim asked to stop sharing")
        await page.get_by_role("button", name="Withdraw consent").click()
        await page.wait_for_selector(".govuk-notification-banner--success")
        text = await text_of(page)
        assert "Consent withdrawn - this takes effect at once" in text
        assert text.count("Withdrawn") >= 1 and text.count("Active") == 1
        share = page.locator(".govuk-summary-card", has_text="Sharing information")
        assert await share.get_by_role("button", name=re.compile("^Withdraw")).count() == 0
        await visits.check(page, "advocate-consent-withdrawn")

        # ... and the police's very next read no longer returns the flags.
        r = await vs.get(
            f"/cases/{case_id}/safety-flags",
            params={"purpose": "safeguarding"},
            headers=journey.police,
        )
        assert r.status_code == 403 or "flags" not in r.json(), r.text

        # No case data in any URL the browser was sent to.
        for url in visits.urls:
            for secret in (VICTIM, "Marker", ADDRESS, "07700"):
                assert secret not in url, url
    finally:
        await context.close()

    other = await browser.new_context()
    page = await other.new_page()
    try:
        await page.goto(case_url)
        await sign_in(page, "south-advocacy.advocate")
        await page.wait_for_url(case_url)
        text = await text_of(page)
        assert "There is no case with this reference that you can see" in text
        content = await page.content()
        assert VICTIM not in content and ADDRESS not in content
        await visits.check(page, "advocate-other-organisation-not-found")
        for path in ("/victim", "/consents", "/safety-flags", "/access-log"):
            await page.goto(case_url + path)
            assert "There is no case with this reference" in await text_of(page), path
        await page.goto(f"{base}/victims")
        assert reference not in await text_of(page)
        await visits.check(page)
    finally:
        await other.close()

    supervisor = await browser.new_context()
    page = await supervisor.new_page()
    try:
        await page.goto(case_url)
        await sign_in(page, "north-advocacy.supervisor")
        await page.wait_for_url(case_url)
        text = await text_of(page)
        assert VICTIM in text and "2 active" not in text and "1 active" in text
        await visits.check(page, "advocate-supervisor-case")
    finally:
        await supervisor.close()
    assert len(visits.rules) > 20


def _responsible(app: Any, case_id: str) -> bool:
    case = app.policy_case(case_id)
    return bool(case.get("responsible", {}).get("victim_services") == "north-advocacy")
