"""SPEC 1.3 in the browser: once the advocate withdraws the victim's consent, the officer's
referral page stops showing the safety flags on its very next load (the portal reads them at
victim services with the officer's token on every load and keeps no copy)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from accord_platform.browser import check_accessibility
from playwright.async_api import Browser

from tests.journey import Journey

from .stack import sign_in

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
# The oracle, in the SPEC's words: the flag as the officer reads it while consent holds.
FLAG_CODE, FLAG_WORDS = "threats_to_kill", "Threats to kill"


def flags_section(text: str) -> str:
    return text.split("Safety flags", 1)[1].split("Risk history", 1)[0]


async def test_withdrawn_consent_hides_the_flags_on_the_officers_next_page_load(
    browser: Browser, portal_stack: Any
) -> None:
    platform = portal_stack.platform
    journey = Journey(platform)  # dev tokens of north-police and north-advocacy
    case_id = await journey.refer()
    await journey.victim_consents(participate=False, plan=False)
    consent_id = await journey.share_flag_with_police(FLAG_CODE)
    vs = platform.client("victim-support")

    context = await browser.new_context()
    page = await context.new_page()
    try:
        # Signed out, the case page sends the browser to Keycloak and back to the case page.
        await page.goto(f"{portal_stack.portal_url}/referrals/{case_id}")
        await sign_in(page, "north-police.officer")
        await page.wait_for_url(f"{portal_stack.portal_url}/referrals/{case_id}")
        shown = flags_section(await page.text_content("main") or "")
        assert FLAG_WORDS in shown and "High" in shown
        assert "Withheld" not in shown
        await check_accessibility(page)
        await page.screenshot(path=str(SCREENSHOTS / "police-flags-shown.png"), full_page=True)

        r = await vs.post(
            f"/consents/{consent_id}/withdrawal",
            headers=journey.advocate,
            json={"reason": "The victim asked to stop sharing"},
        )
        assert r.status_code == 204, r.text

        await page.reload()
        hidden = flags_section(await page.text_content("main") or "")
        assert FLAG_WORDS not in hidden
        assert "Withheld" in hidden
        assert FLAG_WORDS not in (await page.content())
        await check_accessibility(page)
        await page.screenshot(path=str(SCREENSHOTS / "police-flags-withheld.png"), full_page=True)
    finally:
        await context.close()
