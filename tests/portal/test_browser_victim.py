"""The victim view (issue 17) in a real browser on a phone's viewport (320x640 and 375x667),
with real Keycloak (realms accord and accord-victims) and the five services on real HTTP.

North-advocacy's advocate invites the victim in the staff portal and reads the code off the
panel; the victim types it on the start page, the portal redeems it, creates the account and
links it; the victim signs in at Keycloak with the username shown and the code, chooses a
password, and sees the case's stage, their choices, who has looked (the officer's read of the
flags), agreement news on request and the help numbers. They withdraw their participation (the
RJ case stops, read at the conference service) and their sharing with the police (the officer's
referral page, reloaded, shows no flags). Quick exit by the button and by Shift pressed three
times: the tab leaves for the neutral site, Back shows no case content, the session is gone.
After the journey the browser holds nothing in localStorage, sessionStorage, IndexedDB or the
Cache API, and every victim page was sent `no-store`. An expired, a reused and a revoked code
are each refused with a clear page, and nothing changes (statuses, Keycloak's users).
axe-core on every victim page (error states included), no horizontal scrolling at 320 px;
screenshots into docs/screenshots/victim-*.png."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from accord_platform.browser import check_accessibility
from accord_platform.harness import eventually
from accord_platform.infra import free_port
from accord_portal import victim
from playwright.async_api import Browser, BrowserContext, Page, Response
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from tests.journey import Journey

from .stack import serve, sign_in

pytestmark = pytest.mark.integration

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
NEW_PASSWORD = "Quiet-Harbour-2026"
FLAG_CODE, FLAG_WORDS = "threats_to_kill", "Threats to kill"
PHONES = {"320x640": {"width": 320, "height": 640}, "375x667": {"width": 375, "height": 667}}


class VictimPages:
    """Every victim page visited: axe-core, no horizontal scrolling, and `no-store` on every
    response the portal sent for it."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.visited: list[str] = []
        self.stored: list[str] = []

    def watch(self, page: Page) -> None:
        def seen(response: Response) -> None:
            ours = response.url.startswith(f"{self.base}/your-case")
            if ours and "no-store" not in (response.headers.get("cache-control") or ""):
                self.stored.append(response.url)

        page.on("response", seen)

    async def check(self, page: Page, screenshot: str | None = None) -> None:
        self.visited.append(page.url)
        await check_accessibility(page)
        wide = await page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert wide <= 0, f"{page.url} scrolls sideways by {wide}px"
        assert (await page.title()).endswith(" - Support service")
        if screenshot:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(SCREENSHOTS / f"{screenshot}.png"), full_page=True)


async def neutral_site(portal_stack: Any) -> str:
    """A neutral page on a local server (tests have no internet, and the browser does not
    route a redirect's target), made the portal's exit address as ACCORD_PORTAL_VICTIM_EXIT_URL
    would in a deployment."""
    found = getattr(portal_stack, "victim_neutral_url", None)
    if found:
        return str(found)

    async def weather(request: Any) -> HTMLResponse:
        return HTMLResponse("<!DOCTYPE html><html lang='en'><title>Weather</title><h1>Weather</h1>")

    port = free_port()
    portal_stack.servers.insert(
        0, await serve(Starlette(routes=[Route("/weather", weather)]), port)
    )
    url = f"http://127.0.0.1:{port}/weather"
    app = portal_stack.servers[-1][0].config.app
    area = getattr(app.state, "victim_area", None) or victim.build(app.state.portal)
    area.exit_url = url
    victim.install(app, area)
    portal_stack.victim_neutral_url = url
    return url


async def main_text(page: Page) -> str:
    return re.sub(r"\s+", " ", await page.inner_text("main"))


async def storage_is_empty(page: Page) -> None:
    held = await page.evaluate(
        """async () => ({
            local: localStorage.length,
            session: sessionStorage.length,
            idb: (await indexedDB.databases()).length,
            caches: (await caches.keys()).length,
        })"""
    )
    assert held == {"local": 0, "session": 0, "idb": 0, "caches": 0}, held


async def advocate_invites(browser: Browser, base: str, case_id: str, phone: str) -> str:
    """The advocate's screens: task list -> invitations -> create -> the code, shown once."""
    context = await browser.new_context(viewport=PHONES[phone])  # type: ignore[arg-type]
    page = await context.new_page()
    try:
        await page.goto(f"{base}/victims/{case_id}")
        await sign_in(page, "north-advocacy.advocate")
        await page.wait_for_url(f"{base}/victims/{case_id}")
        await page.get_by_role("link", name="Invite the victim to see their case").click()
        await page.wait_for_selector("h1:has-text('Invite the victim to see their case')")
        await check_accessibility(page)
        await page.get_by_role("button", name="Create a code").click()
        await page.wait_for_selector(".govuk-panel--confirmation")
        text = await main_text(page)
        assert "Give this code in person, when the victim is seen alone. It expires at" in text
        await check_accessibility(page)
        if phone == "320x640":
            await page.screenshot(
                path=str(SCREENSHOTS / "victim-advocate-code.png"), full_page=True
            )
        code = (await page.inner_text("#invitation-code")).strip()
        assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code), code
        assert code not in page.url
        await page.get_by_role("link", name="Done: back to invitations").click()
        listing = await main_text(page)
        assert "Code given, not used yet" in listing and code not in listing
        return code
    finally:
        await context.close()


async def redeem(page: Page, base: str, code: str) -> None:
    await page.goto(f"{base}/your-case/start")
    await page.get_by_label("Enter your code").fill(code)
    await page.get_by_role("button", name="Continue").click()


async def victim_signs_up(page: Page, pages: VictimPages, base: str, code: str, tag: str) -> str:
    """Start page -> code -> account ready -> Keycloak (username + code, new password) -> home.
    Returns the username."""
    await page.goto(f"{base}/your-case")
    await pages.check(page, f"victim-welcome{tag}")
    await page.get_by_role("button", name="I have a code").click()
    await page.wait_for_url(f"{base}/your-case/start")
    # Error state first: nothing typed.
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_selector(".govuk-error-summary")
    assert (await page.title()).startswith("Error: ")
    await pages.check(page, f"victim-start-error{tag}")
    # By keyboard alone: the error summary's link puts focus on the field.
    await page.get_by_role("link", name="Enter your code").click()
    await page.keyboard.type(code.lower().replace("-", " "))
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/your-case/ready")
    assert code not in page.url
    username = (await page.inner_text(".victim-username")).strip()
    assert re.fullmatch(r"victim-[0-9a-z]{6}", username), username
    await pages.check(page, f"victim-ready{tag}")

    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_selector("#username")
    await page.fill("#username", username)
    await page.fill("#password", code)
    await page.click("#kc-login")
    await page.wait_for_selector("#password-new")
    await page.fill("#password-new", NEW_PASSWORD)
    await page.fill("#password-confirm", NEW_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/your-case/")
    return username


async def keycloak_users(keycloak: Any) -> int:
    token = keycloak.enrolment_token()
    async with httpx.AsyncClient() as http:
        r = await http.get(
            f"{keycloak.victims_admin_url}/users/count",
            headers={"Authorization": f"Bearer {token}"},
        )
    assert r.status_code == 200, r.text
    return int(r.json())


async def invitation_statuses(journey: Journey) -> dict[str, str]:
    r = await journey.p.client("victim-support").get(
        f"/cases/{journey.case_id}/invitations", headers=journey.advocate
    )
    assert r.status_code == 200, r.text
    return {i["invitation_id"]: i["status"] for i in r.json()}


def flags_section(text: str) -> str:
    return text.split("Safety flags", 1)[1].split("Risk history", 1)[0]


async def officer_page(browser: Browser, base: str, case_id: str) -> tuple[BrowserContext, Page]:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{base}/referrals/{case_id}")
    await sign_in(page, "north-police.officer")
    await page.wait_for_url(f"{base}/referrals/{case_id}")
    return context, page


async def stop_choice(
    page: Page, pages: VictimPages, base: str, name: str, shot: str | None, also: str = ""
) -> None:
    """Your choices -> "Stop this" on the card named `name` -> (tick `also`) -> confirm ->
    banner. Keyboard only."""
    await page.goto(f"{base}/your-case/choices")
    card = page.locator(".govuk-summary-card", has=page.locator(f"h2:text-is('{name}')"))
    await card.get_by_role("link", name=re.compile("Stop this")).focus()
    await page.keyboard.press("Enter")
    await page.wait_for_selector("h1:has-text('Do you want to stop this?')")
    if also:
        box = page.get_by_label(re.compile(also))
        await box.focus()
        await page.keyboard.press("Space")
        assert await box.is_checked()
    await pages.check(page, shot)
    await page.get_by_role("button", name="Yes, stop this").click()
    await page.wait_for_url(f"{base}/your-case/choices")
    assert "You stopped it. This works straight away." in await main_text(page)


async def test_victim_journey_at_320_wide(
    browser: Browser, portal_stack: Any, keycloak: Any
) -> None:
    base = portal_stack.portal_url
    platform = portal_stack.platform
    neutral = await neutral_site(portal_stack)
    journey = Journey(platform)
    case_id = await journey.refer()
    await journey.victim_consents(participate=True, plan=False)
    share = await journey.share_flag_with_police(FLAG_CODE)
    await journey.accept_and_prepare()

    # The officer reads the flags (shown while consent holds): a read the victim will see.
    officer, officer_tab = await officer_page(browser, base, case_id)
    assert FLAG_WORDS in flags_section(await officer_tab.inner_text("main"))

    code = await advocate_invites(browser, base, case_id, "320x640")
    users_before = await keycloak_users(keycloak)

    pages = VictimPages(base)
    context = await browser.new_context(viewport=PHONES["320x640"])  # type: ignore[arg-type]
    page = await context.new_page()
    pages.watch(page)
    try:
        await victim_signs_up(page, pages, base, code, "")
        assert await keycloak_users(keycloak) == users_before + 1

        # The stage follows the RJ provider's events: the page says so once they arrived.
        for _ in range(60):
            home = await main_text(page)
            if "Getting ready" in home:
                break
            await page.wait_for_timeout(500)
            await page.reload()
        assert "Getting ready" in home and "North" in home  # stage and the supporting service
        assert "They will meet you on your own first" in home
        await pages.check(page, "victim-case")

        await page.locator("main").get_by_role("link", name="Your choices").click()
        await page.wait_for_url(f"{base}/your-case/choices")
        choices = await main_text(page)
        for shown in (
            "To take part",
            "To share what you told us",
            "Police",
            "Risks to your safety",
        ):
            assert shown in choices, shown
        await pages.check(page, "victim-choices")

        await page.goto(f"{base}/your-case/who-has-seen")
        seen = await main_text(page)
        assert "Police" in seen and "Officer" in seen and "To keep you safe" in seen
        await pages.check(page, "victim-who-has-seen")

        await page.goto(f"{base}/your-case/agreement")
        await page.get_by_role("button", name="Save").click()  # "No" is chosen: saved as is
        await page.wait_for_url(f"{base}/your-case/agreement")
        await page.get_by_label("Yes").check()
        await page.get_by_role("button", name="Save").click()
        await page.wait_for_selector("text=You will see news about the agreement here.")
        assert "There is no news yet." in await main_text(page)
        await pages.check(page, "victim-agreement")

        await page.goto(f"{base}/your-case/help")
        help_text = await main_text(page)
        assert "999" in help_text and "0808 2000 247" in help_text
        assert await page.locator("a[href='tel:08082000247']").count() == 1
        await pages.check(page, "victim-help")

        # Withdraw taking part, ticking "stop sharing with the police" on the same page (one
        # action): the RJ case stops (the conference service says so) and the officer's next
        # load shows no flags.
        await stop_choice(
            page,
            pages,
            base,
            "To take part",
            "victim-stop-confirm",
            also="Stop sharing with Police",
        )

        async def rj_stopped() -> bool:
            return (await journey.rj_case()).get("status") == "stopped"

        await eventually(rj_stopped, timeout=60, interval=0.5)
        await pages.check(page, "victim-choices-stopped")
        r = await platform.client("victim-support").get(
            f"/cases/{case_id}/consents", headers=journey.advocate
        )
        assert {c["consent_id"]: c["status"] for c in r.json()}[share] == "withdrawn"
        await officer_tab.reload()
        hidden = flags_section(await officer_tab.inner_text("main"))
        assert FLAG_WORDS not in hidden and "Withheld" in hidden
        await officer.close()
        # The advocate is told.
        assert "victim_withdrew_consent" in str(await journey.notifications())

        # Quick exit by the button: the tab leaves, Back shows no case content, no session.
        await page.goto(f"{base}/your-case/choices")
        await storage_is_empty(page)
        await page.get_by_role("button", name="Exit this page").click()
        await page.wait_for_url(neutral)
        cookies = {c["name"] for c in await context.cookies(base)}
        assert "visit" not in cookies
        await page.go_back()
        await page.wait_for_load_state()
        assert page.url.startswith(f"{base}/your-case")
        after = await main_text(page)
        assert "I have a code" in after
        for private in ("Your choices", "To take part", "Police", "Getting ready"):
            assert private not in after, private
        await pages.check(page)
        page_text = await page.content()
        assert "To share what you told us" not in page_text
        # The session is gone: a case page sends the browser to the start.
        await page.goto(f"{base}/your-case/choices")
        assert page.url == f"{base}/your-case/"
        await storage_is_empty(page)
        assert pages.stored == [], pages.stored
    finally:
        await context.close()


async def test_victim_at_375_wide_exits_by_shift_three_times_and_bad_codes_are_refused(
    browser: Browser, portal_stack: Any, keycloak: Any
) -> None:
    base = portal_stack.portal_url
    platform = portal_stack.platform
    neutral = await neutral_site(portal_stack)
    journey = Journey(platform)
    case_id = await journey.refer()
    await journey.victim_consents(participate=True, plan=False)
    code = await advocate_invites(browser, base, case_id, "375x667")

    pages = VictimPages(base)
    context = await browser.new_context(viewport=PHONES["375x667"])  # type: ignore[arg-type]
    page = await context.new_page()
    pages.watch(page)
    try:
        await victim_signs_up(page, pages, base, code, "-375")
        assert "Your support service has your case" in await main_text(page)
        await pages.check(page, "victim-case-375")
        await page.goto(f"{base}/your-case/choices")
        assert "To take part" in await main_text(page)
        await page.goto(f"{base}/your-case/who-has-seen")
        await pages.check(page)
        await page.goto(f"{base}/your-case/help")
        assert "999" in await main_text(page)
        await pages.check(page)

        # Quick exit by Shift pressed three times.
        await page.goto(f"{base}/your-case/choices")
        await page.wait_for_function("document.body.dataset.govukFrontendExitThisPageKeypress")
        for _ in range(3):
            await page.keyboard.press("Shift")
        await page.wait_for_url(neutral)
        await page.go_back()
        await page.wait_for_load_state()
        after = await main_text(page)
        assert "I have a code" in after and "To take part" not in after
        assert "visit" not in {c["name"] for c in await context.cookies(base)}
        await storage_is_empty(page)
    finally:
        await context.close()

    # Codes that do not work: each refused with the same clear page, and nothing changes.
    vs = platform.client("victim-support")
    app = platform.services["victim-support"].runtime.app

    async def new_invitation() -> tuple[str, str]:
        r = await vs.post(f"/cases/{case_id}/invitations", headers=journey.advocate, json={})
        assert r.status_code == 201, r.text
        return str(r.json()["invitation_id"]), str(r.json()["code"])

    expired_id, expired_code = await new_invitation()
    revoked_id, revoked_code = await new_invitation()
    r = await vs.post(f"/invitations/{revoked_id}/revocation", headers=journey.advocate)
    assert r.status_code == 204, r.text
    before = await invitation_statuses(journey)
    users = await keycloak_users(keycloak)
    real_clock: Callable[[], datetime] = app.clock
    context = await browser.new_context(viewport=PHONES["375x667"])  # type: ignore[arg-type]
    page = await context.new_page()
    try:
        for name, typed in (("reused", code), ("revoked", revoked_code), ("expired", expired_code)):
            if name == "expired":
                app.clock = lambda: real_clock() + timedelta(hours=73)
            try:
                await redeem(page, base, typed)
                await page.wait_for_selector("h1:has-text('This code does not work')")
            finally:
                app.clock = real_clock
            assert page.url == f"{base}/your-case/start"
            assert "ask your support worker for a new one." in await main_text(page)
            await pages.check(page, "victim-code-refused" if name == "reused" else None)
        after = await invitation_statuses(journey)
        assert after == before, (before, after)
        assert after[revoked_id] == "revoked" and after[expired_id] == "pending"
        assert await keycloak_users(keycloak) == users
    finally:
        await context.close()
