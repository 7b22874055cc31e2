"""Page helpers shared by the portal's browser tests: axe-core on every page visited, and
keyboard-only form filling (Tab to a field, type, Space/arrows for radios and checkboxes)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from accord_platform.browser import check_accessibility
from playwright.async_api import Page

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


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


async def fill_referral_by_keyboard(
    page: Page,
    *,
    victim: str,
    offender: str,
    summary: str,
    court_reference: str,
    dash_yes: Collection[str],
) -> None:
    """The officer's new-referral form by keyboard alone, naming North's advocacy service and
    court; DASH questions in `dash_yes` answered yes, the rest no."""
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
    await type_into(page, "incident_summary", summary)
    await type_into(page, "victim_name", victim)
    await type_into(page, "offender_name", offender)
    await choose(page, "offender_acknowledged", 0)
    await choose(page, "guilty_plea", 1)
    await choose(page, "initiated_by", 0)
    await choose(page, "jurisdiction", 0)
    await pick(page, "victim_services_org", 1)  # North Domestic Abuse Advocacy
    await choose(page, "has_court_reference", 0)
    await type_into(page, "court_reference", court_reference)
    await pick(page, "court_org", 1)  # North Magistrates' Court
    for code, _ in QUESTIONS:
        await choose(page, f"dash_{code}", 0 if code in dash_yes else 1)
    await choose(page, "professional_judgement_high", 1)
    await press_button(page, "Continue")
