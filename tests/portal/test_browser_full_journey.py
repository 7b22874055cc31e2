"""The README's journey end to end in a real browser, each step done by the person whose job it
is, each in their own browser context signed in through Keycloak:

north-police.officer refers the case with DASH (by keyboard) -> north-advocacy.advocate
registers the victim, records a participation consent and a police safety-flags consent (seen
alone, by keyboard), raises a flag, records a safety plan -> the officer's referral page shows
the flag -> north-rj.coordinator accepts from the intake, registers (by keyboard) and assigns
the facilitator -> north-rj.facilitator records the preparation, sees the gate open, schedules,
records the conference held, drafts the agreement, records the parties' consents and reports
the item done -> north-court.clerk sees the compliance and north-court.judge records the review
decision -> north-police.supervisor breaks glass (by keyboard) -> privacy-office.privacy_officer
finds the case's access log with the emergency read, reviews the grant and verifies the log ->
the advocate withdraws the police consent in one action -> the officer's page, reloaded, shows
the flags withheld.

Nothing is set up through the APIs: every change is made on a portal page, on a platform of
the module's own. Other
organisations' advocate, RJ coordinator and court clerk get the not-found page along the way.
axe-core runs on every page visited; the number of pages and of distinct rules is printed at
the end (pytest -s)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
import pytest_asyncio
from accord_platform.harness import eventually
from playwright.async_api import Browser, BrowserContext, Page

from .pages import Visits, fill_referral_by_keyboard, press_button
from .stack import portal_stack as start_stack
from .stack import sign_in
from .test_browser_advocate import record_consent_by_keyboard
from .test_browser_privacy import JUSTIFICATION, emergency_rows, request_by_keyboard
from .test_browser_rj import FACILITATOR_NAME, fill_date, gate_failures, register_by_keyboard
from .test_browser_withdrawal import flags_section

pytestmark = pytest.mark.integration

VICTIM = "Jordan Journey-Victim"
OFFENDER = "Casey Journey-Offender"
SUMMARY = "Phone thrown at the victim during an argument"
DASH_YES = {"current_injury", "very_frightened", "separation"}
ADDRESS = "7 Journey Marker Close"
PHONE = "07700 900456"
PLAN = "Stays with a friend at weekends; code word agreed with the advocate"
ITEM = "Attend a domestic abuse perpetrator programme, ten sessions"
NOT_FOUND = "There is no case with this reference that you can see"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def journey_stack(
    infrastructure: Any, keycloak: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Any]:
    """A platform of its own: the journey starts from nothing, and what it leaves (the
    north-rj.facilitator account registered once per provider) does not meet the per-role
    tests sharing the session's stack."""
    async with start_stack(infrastructure, keycloak, tmp_path_factory.mktemp("journey")) as stack:
        yield stack


async def text_of(page: Page) -> str:
    return re.sub(r"\s+", " ", await page.inner_text("main"))


class People:
    """One browser context per person, each signed in at Keycloak on first use."""

    def __init__(self, browser: Browser, base: str) -> None:
        self.browser, self.base = browser, base
        self.contexts: dict[str, BrowserContext] = {}
        self.pages: dict[str, Page] = {}

    async def open(self, username: str, path: str) -> Page:
        """`path` as `username`: signed out, the portal sends the browser to Keycloak and back."""
        if username not in self.pages:
            context = await self.browser.new_context()
            self.contexts[username] = context
            self.pages[username] = page = await context.new_page()
            await page.goto(self.base + path)
            await sign_in(page, username)
            await page.wait_for_url(self.base + path)
            return page
        page = self.pages[username]
        await page.goto(self.base + path)
        return page

    async def close(self, username: str) -> None:
        self.pages.pop(username, None)
        context = self.contexts.pop(username, None)
        if context:
            await context.close()

    async def close_all(self) -> None:
        for username in list(self.contexts):
            await self.close(username)


async def reload_until(page: Page, holds: Any, timeout: float = 60) -> None:
    """Reloads until `holds(page_text)`: another service learns of the last step through Kafka,
    and a user would refresh the page."""

    async def check() -> bool:
        await page.reload()
        return bool(holds(await text_of(page)))

    await eventually(check, timeout=timeout, interval=1)


async def test_the_whole_journey_each_step_in_the_browser_by_the_right_person(
    browser: Browser, journey_stack: Any
) -> None:
    started = time.monotonic()
    visits = Visits()
    base = journey_stack.portal_url
    people = People(browser, base)
    court_reference = "T" + uuid.uuid4().hex[:9].upper()  # one court case per reference
    try:
        # --- Police: the referral with DASH, by keyboard ----------------------------------
        officer = await people.open("north-police.officer", "/referrals/new")
        await visits.check(officer)
        await fill_referral_by_keyboard(
            officer,
            victim=VICTIM,
            offender=OFFENDER,
            summary=SUMMARY,
            court_reference=court_reference,
            dash_yes=DASH_YES,
        )
        await officer.wait_for_selector("h1:has-text('Check your answers')")
        text = await text_of(officer)
        for shown in (VICTIM, OFFENDER, SUMMARY, court_reference, "3 out of 24"):
            assert shown in text, shown
        await visits.check(officer)
        await press_button(officer, "Send referral")
        await officer.wait_for_selector(".govuk-panel--confirmation")
        await visits.check(officer)
        link = await officer.get_by_role("link", name="View the referral").get_attribute("href")
        assert link and re.fullmatch(r"/referrals/[0-9a-f-]{36}", link)
        case_id = link.rsplit("/", 1)[1]
        ref = case_id[:8].upper()
        referral_path = link
        await officer.goto(base + referral_path)
        text = await text_of(officer)
        for shown in (VICTIM, SUMMARY, "Eligible", "Standard", "Referral submitted"):
            assert shown in text, shown
        assert "Threats to kill" not in text
        await visits.check(officer)

        # --- Victim services: the victim, two consents, a flag, a plan ---------------------
        victim_path = f"/victims/{case_id}"
        advocate = await people.open("north-advocacy.advocate", "/victims")
        await reload_until(advocate, lambda t: ref in t)
        row = re.sub(r"\s+", " ", await advocate.locator("tr", has_text=ref).inner_text())
        assert VICTIM in row and "Standard" in row and "Not yet" in row
        await visits.check(advocate)
        await advocate.get_by_role("link", name=re.compile(ref)).click()
        await advocate.wait_for_url(base + victim_path)
        assert "Register the victim" in await text_of(advocate)
        await visits.check(advocate)

        await advocate.get_by_role("link", name="Register the victim").click()
        await advocate.wait_for_url(f"{base}{victim_path}/victim/new")
        assert await advocate.get_by_label("Full name").input_value() == VICTIM
        await visits.check(advocate)
        await advocate.get_by_label("Safe contact number (optional)").fill(PHONE)
        await advocate.get_by_label("Address (optional)").fill(ADDRESS)
        await advocate.get_by_label("Only through their advocate").check()
        await advocate.locator("#interpreter_needed-no").check()
        await advocate.locator("#refuge-no").check()
        async with advocate.expect_navigation():
            await advocate.get_by_role("button", name="Register the victim").click()
        assert advocate.url == base + victim_path
        assert "Victim registered" in await text_of(advocate)
        await visits.check(advocate)
        await advocate.goto(f"{base}{victim_path}/victim")
        text = await text_of(advocate)
        for shown in (VICTIM, ADDRESS, PHONE, "Only through their advocate"):
            assert shown in text, shown
        assert "Withheld" not in text
        await visits.check(advocate)

        await advocate.goto(f"{base}{victim_path}/consents/new")
        await visits.check(advocate)
        await record_consent_by_keyboard(advocate, 0, 1, "case_management", None)
        text = await text_of(advocate)
        assert "Taking part in restorative justice" in text
        assert "Allow: Restorative justice provider" in text
        assert "Yes, I saw the victim alone" in text
        await visits.check(advocate)
        await press_button(advocate, "Record consent")
        await advocate.wait_for_selector(".govuk-panel--confirmation")
        await visits.check(advocate)
        await advocate.goto(f"{base}{victim_path}/consents/new")
        await record_consent_by_keyboard(advocate, 1, 0, "safeguarding", "safety_flags")
        text = await text_of(advocate)
        assert "Allow: Police. Information: Safety flags. For: Safeguarding." in text
        assert "Yes, I saw the victim alone" in text
        await visits.check(advocate)
        await press_button(advocate, "Record consent")
        await advocate.wait_for_selector(".govuk-panel--confirmation")
        assert "Consent recorded" in await text_of(advocate)
        await visits.check(advocate)

        await advocate.goto(f"{base}{victim_path}/safety-flags")
        await advocate.get_by_label("Threats to kill").check()
        await advocate.get_by_label("High", exact=True).check()
        await advocate.get_by_role("button", name="Raise flag").click()
        await advocate.wait_for_selector(".govuk-notification-banner--success")
        text = await text_of(advocate)
        assert "Safety flag raised" in text and "Threats to kill" in text
        await visits.check(advocate)

        review = date.today() + timedelta(days=28)
        await advocate.goto(f"{base}{victim_path}/safety-plan")
        await visits.check(advocate)
        await advocate.get_by_label("The plan").fill(PLAN)
        await advocate.get_by_label("Day").fill(str(review.day))
        await advocate.get_by_label("Month").fill(str(review.month))
        await advocate.get_by_label("Year").fill(str(review.year))
        await advocate.get_by_role("button", name="Save safety plan").click()
        await advocate.wait_for_selector(".govuk-notification-banner--success")
        assert PLAN in await text_of(advocate)
        await visits.check(advocate)

        await advocate.goto(base + victim_path)
        text = await text_of(advocate)
        for shown in ("Completed", "2 active", "1 raised"):
            assert shown in text, shown
        await visits.check(advocate)

        south = await people.open("south-advocacy.advocate", victim_path)
        assert NOT_FOUND in await text_of(south)
        assert VICTIM not in await south.content() and ADDRESS not in await south.content()
        await visits.check(south)
        await people.close("south-advocacy.advocate")

        # --- Police: the flag, read at victim services with the officer's token ------------
        await officer.goto(base + referral_path)
        flags = flags_section(await text_of(officer))
        assert "Threats to kill" in flags and "High" in flags and "Withheld" not in flags
        assert ADDRESS not in await officer.content() and PLAN not in await officer.content()
        await visits.check(officer)

        # --- RJ provider: intake, facilitator, assignment ----------------------------------
        rj_path = f"/rj-cases/{case_id}"
        facilitator = await people.open("north-rj.facilitator", "/facilitators")
        account_id = (await facilitator.text_content("#account-id") or "").strip()
        assert account_id
        await visits.check(facilitator)

        coordinator = await people.open("north-rj.coordinator", "/intake")
        await reload_until(coordinator, lambda t: ref in t)
        row_text = await (
            coordinator.locator("tr", has=coordinator.locator(f"a[href='/intake/{case_id}']"))
        ).text_content()
        assert row_text and "Eligible (direct or indirect)" in row_text
        await visits.check(coordinator)

        await coordinator.goto(f"{base}/facilitators")
        assert account_id not in await coordinator.inner_html("main")
        await coordinator.goto(f"{base}/facilitators/new")
        await visits.check(coordinator)
        await register_by_keyboard(coordinator, account_id)
        await coordinator.wait_for_url(f"{base}/facilitators")
        assert "Facilitator registered" in await text_of(coordinator)
        assert FACILITATOR_NAME in await text_of(coordinator)
        await visits.check(coordinator)

        await coordinator.goto(f"{base}/intake/{case_id}")
        await visits.check(coordinator)
        await coordinator.get_by_role("button", name="Accept referral").click()
        await coordinator.wait_for_url(base + rj_path)
        text = await text_of(coordinator)
        assert "Referral accepted" in text and "Open: no facilitator assigned yet" in text
        await visits.check(coordinator)
        await coordinator.goto(f"{base}{rj_path}/assign")
        await visits.check(coordinator)
        await coordinator.select_option("#facilitator_id", account_id)
        await coordinator.check("#role")
        await coordinator.get_by_role("button", name="Assign facilitator").click()
        await coordinator.wait_for_url(base + rj_path)
        text = await text_of(coordinator)
        assert "Facilitator assigned" in text and FACILITATOR_NAME in text
        assert "Preparing" in text
        await visits.check(coordinator)

        # --- RJ facilitator: preparation, the gate, the conference, the agreement ----------
        await facilitator.goto(base + rj_path)
        assert "Face to face (direct): not ready" in await text_of(facilitator)
        assert "No preparation meeting with the victim is recorded" in (
            await gate_failures(facilitator, "direct")
        )
        await visits.check(facilitator)
        await facilitator.goto(f"{base}{rj_path}/offender-consent")
        await visits.check(facilitator)
        await facilitator.check("#given")
        await facilitator.get_by_role("button", name="Save").click()
        await facilitator.wait_for_url(base + rj_path)
        await facilitator.goto(f"{base}{rj_path}/preparation")
        await visits.check(facilitator)
        await facilitator.check("#participant")
        await facilitator.check("#seen_alone")
        await facilitator.check("#coercion_screen")
        await facilitator.fill("#support_persons", "A friend")
        await facilitator.get_by_role("button", name="Save meeting").click()
        await facilitator.wait_for_url(base + rj_path)
        await facilitator.goto(f"{base}{rj_path}/preparation")
        await facilitator.check("#participant-offender")
        await facilitator.get_by_role("button", name="Save meeting").click()
        await facilitator.wait_for_url(base + rj_path)

        async def gate_open() -> bool:
            await facilitator.reload()
            return not await gate_failures(facilitator, "direct")

        # The advocate's consent and plan reach the conference service through Kafka.
        await eventually(gate_open, timeout=60, interval=1)
        text = await text_of(facilitator)
        assert "Face to face (direct): ready" in text and "Meeting with the victim" in text
        await visits.check(facilitator)

        when = date.today() + timedelta(days=7)
        for _ in range(5):
            await facilitator.goto(f"{base}{rj_path}/schedule")
            await facilitator.check("#modality")
            await fill_date(facilitator, "conference_date", when)
            await facilitator.fill("#conference_time", "10:00")
            await visits.check(facilitator)
            await facilitator.get_by_role("button", name="Schedule conference").click()
            await facilitator.wait_for_load_state()
            if "changed while you were working on it" not in await text_of(facilitator):
                break
            # An event from another agency moved the case on: reload and try again, as a user.
            await visits.check(facilitator)
        await facilitator.wait_for_url(base + rj_path)
        text = await text_of(facilitator)
        assert "Conference scheduled" in text
        assert f"{when.day} {when:%B %Y} at 10:00am" in text

        await facilitator.goto(f"{base}{rj_path}/held")
        await visits.check(facilitator)
        await facilitator.fill("#notes", "Both attended")
        await facilitator.get_by_role("button", name="Record conference").click()
        await facilitator.wait_for_url(base + rj_path)
        assert "Conference held" in await text_of(facilitator)

        await facilitator.goto(f"{base}{rj_path}/agreement")
        await visits.check(facilitator)
        await facilitator.fill("#item1_what", ITEM)
        await facilitator.select_option("#item1_owner", "offender")
        await fill_date(facilitator, "item1_due", date.today() + timedelta(days=30))
        await facilitator.select_option("#item1_agency", "rj_provider")
        await facilitator.get_by_role("button", name="Save draft agreement").click()
        await facilitator.wait_for_url(base + rj_path)
        text = await text_of(facilitator)
        assert "Outcome agreement drafted" in text and ITEM in text
        for party in ("#party", "#party-offender"):
            await facilitator.goto(f"{base}{rj_path}/agreement/consent")
            await facilitator.check(party)
            await facilitator.check("#agrees")
            await facilitator.check("#share_with_court")
            await visits.check(facilitator)
            await facilitator.get_by_role("button", name="Record consent").click()
            await facilitator.wait_for_url(base + rj_path)
        assert "Agreement being monitored" in await text_of(facilitator)
        await visits.check(facilitator)
        await facilitator.get_by_role("link", name=f"Report on item: {ITEM}").click()
        await facilitator.wait_for_selector("h1:has-text('Report on an agreement item')")
        await visits.check(facilitator)
        await facilitator.check("#status")
        await facilitator.fill("#evidence", "Programme attendance sheet on file")
        await facilitator.get_by_role("button", name="Send report").click()
        await facilitator.wait_for_url(base + rj_path)
        text = await text_of(facilitator)
        assert "Item reported as completed" in text and "Completed" in text
        await visits.check(facilitator)
        await people.close("north-rj.facilitator")
        await people.close("north-rj.coordinator")

        south = await people.open("south-rj.coordinator", rj_path)
        assert NOT_FOUND in await text_of(south)
        assert ITEM not in await south.content()
        await visits.check(south)
        await people.close("south-rj.coordinator")

        # --- Court: compliance, then the review decision -----------------------------------
        court_path = f"/court/cases/{case_id}"
        clerk = await people.open("north-court.clerk", "/court")
        await reload_until(clerk, lambda t: court_reference in t and "1 of 1 completed" in t)
        row_text = await (
            clerk.locator("tr", has=clerk.locator(f"a[href='{court_path}']"))
        ).text_content()
        assert row_text and "Awaiting review" in row_text and "1 of 1 completed" in row_text
        await visits.check(clerk)
        await clerk.goto(base + court_path)
        text = await text_of(clerk)
        assert court_reference in text and "Awaiting review" in text and "Completed" in text
        # Both parties agreed to share the agreement with the court, so the item text shows.
        assert ITEM in text and "Withheld" not in text
        assert ADDRESS not in await clerk.content() and PLAN not in await clerk.content()
        await visits.check(clerk)
        await people.close("north-court.clerk")

        judge = await people.open("north-court.judge", court_path)
        await judge.get_by_role("button", name="Record a review decision").click()
        await visits.check(judge)
        await judge.get_by_label("Compliance accepted").check()
        await judge.get_by_label("Notes (optional)").fill("Programme completed")
        await judge.get_by_role("button", name="Continue").click()
        await judge.wait_for_selector("h1:has-text('Check the decision')")
        assert "This decision closes the review" in await text_of(judge)
        await visits.check(judge)
        await judge.get_by_role("button", name="Record decision").click()
        await judge.wait_for_selector(".govuk-panel--confirmation")
        assert "Compliance accepted recorded" in await text_of(judge)
        await visits.check(judge)
        await judge.goto(base + court_path)
        text = await text_of(judge)
        assert "Compliance accepted" in text and "Programme completed" in text
        assert "Record a review decision" not in text
        await visits.check(judge)
        await people.close("north-court.judge")

        south = await people.open("south-court.clerk", court_path)
        assert NOT_FOUND in await text_of(south)
        assert court_reference not in await south.content()
        await visits.check(south)
        await people.close("south-court.clerk")

        # --- Police supervisor: emergency access, by keyboard ------------------------------
        supervisor = await people.open("north-police.supervisor", "/emergency")
        await visits.check(supervisor)
        await request_by_keyboard(supervisor, case_id)
        await supervisor.wait_for_selector("h1:has-text('Check your request')")
        text = await text_of(supervisor)
        assert JUSTIFICATION in text and "30 minutes" in text
        await visits.check(supervisor)
        await press_button(supervisor, "Ask for emergency access")
        await supervisor.wait_for_selector(".govuk-panel--confirmation")
        expires = (await supervisor.text_content("#expires") or "").strip()
        await visits.check(supervisor)
        await supervisor.get_by_role("button", name="See the victim's information").click()
        await supervisor.wait_for_url(f"{base}/emergency/{case_id}")
        assert f"Emergency access - expires at {expires}" in (
            await supervisor.text_content("#emergency-banner") or ""
        )
        text = await text_of(supervisor)
        assert ADDRESS in text and "Threats to kill" in text
        await visits.check(supervisor)
        await people.close("north-police.supervisor")

        # --- Privacy officer: the access log, the review, the log verified -----------------
        privacy = await people.open("privacy-office.privacy_officer", "/privacy")
        await visits.check(privacy)

        async def emergency_read_logged() -> str | None:
            await privacy.goto(f"{base}/privacy/access")
            await privacy.get_by_label("Case reference").fill(case_id)
            await privacy.get_by_role("button", name="Search").click()
            await privacy.wait_for_selector("h1:has-text('Access log of case')")
            rows = emergency_rows(privacy)
            return await rows.first.text_content() if await rows.count() else None

        row = await eventually(emergency_read_logged, timeout=60)
        assert "Supervisor, Police" in row and "Emergency access (the victim's location)" in row
        text = await text_of(privacy)
        # The journey so far, in words: the referral, the officer's consented read of the
        # flags, the grant.
        for shown in ("Referral submitted", "Emergency access granted", "Officer, Police"):
            assert shown in text, shown
        for absent in ("break_glass", "victim_record", "safety_flags", ADDRESS, PLAN):
            assert absent not in text, absent
        entry = (
            await emergency_rows(privacy).first.locator("td").last.text_content() or ""
        ).strip()
        assert entry.isdigit()
        await visits.check(privacy)

        await privacy.goto(f"{base}/privacy/reviews")
        await visits.check(privacy)
        await privacy.get_by_role("link", name=re.compile(f"Review.*{ref}")).click()
        await privacy.wait_for_selector("h1:has-text('Review emergency access')")
        assert JUSTIFICATION in await text_of(privacy)
        await visits.check(privacy)
        await privacy.get_by_label("Justified", exact=True).check()
        await privacy.get_by_label("Reason for your decision").fill(
            "Proportionate to the risk reported"
        )
        await privacy.get_by_role("button", name="Continue").click()
        await privacy.wait_for_selector("h1:has-text('Check your review')")
        await visits.check(privacy)
        await privacy.get_by_role("button", name="Record review").click()
        await privacy.wait_for_selector(".govuk-panel--confirmation")
        assert "Justified" in await text_of(privacy)
        await visits.check(privacy)

        await privacy.goto(f"{base}/privacy/verify")
        assert "Verified" in (await privacy.text_content("#checkpoint") or "")
        await visits.check(privacy)
        await privacy.get_by_label("Log entry number").fill(entry)
        await privacy.get_by_role("button", name="Check entry").click()
        await privacy.wait_for_selector("#check-result")
        result = await privacy.text_content("#check-result") or ""
        assert f"Log entry {entry} is in the signed log" in result, result
        assert "Victim's details read by Supervisor, Police" in result
        assert "The log has only grown since" in (await privacy.text_content("#checkpoint") or "")
        await visits.check(privacy)
        await people.close("privacy-office.privacy_officer")

        # --- Victim services: the police consent withdrawn in one action -------------------
        await advocate.goto(f"{base}{victim_path}/consents")
        share = advocate.locator(".govuk-summary-card", has_text="Sharing information")
        await share.get_by_role("button", name=re.compile("^Withdraw")).click()
        await advocate.wait_for_selector("h1:has-text('Are you sure you want to withdraw')")
        await visits.check(advocate)
        await advocate.get_by_role("button", name="Withdraw consent").click()
        await advocate.wait_for_selector(".govuk-notification-banner--success")
        text = await text_of(advocate)
        assert "Consent withdrawn - this takes effect at once" in text
        assert text.count("Active") == 1  # the participation consent stands
        await visits.check(advocate)

        # --- Police: the very next load no longer shows the flags --------------------------
        await officer.reload()
        flags = flags_section(await text_of(officer))
        assert "Withheld" in flags and "Threats to kill" not in flags
        assert "Threats to kill" not in await officer.content()
        await visits.check(officer)
    finally:
        await people.close_all()

    # No case data in any address the browsers were sent to.
    for url in visits.urls:
        for secret in (VICTIM, OFFENDER, "Journey", ADDRESS, PHONE, court_reference, ITEM):
            assert secret not in url, url
    assert len(visits.rules) > 20
    print(
        f"\nfull journey: {len(visits.urls)} pages checked by axe-core, "
        f"{len(visits.rules)} distinct rules, {time.monotonic() - started:.0f} s"
    )
