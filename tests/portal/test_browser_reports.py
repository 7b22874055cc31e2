"""The reports page in a real browser, signed in at Keycloak: a police manager sees their
force's tables, each with its chart and the same figures as a table, filters by period and
jurisdiction, with a CSV link per table carrying the filters; a commissioner sees the region.
(An officer's refusal and the CSV download are in test_reports_unit.) axe-core runs on every
page visited; a screenshot goes to docs/screenshots/."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from accord_platform.harness import eventually
from accord_referral.examples import referral
from playwright.async_api import Browser

from .pages import Visits
from .stack import sign_in

pytestmark = pytest.mark.integration


async def test_managers_and_commissioners_read_suppressed_figures(
    browser: Browser, portal_stack: Any
) -> None:
    platform = portal_stack.platform
    police = platform.token("police", "officer", org="north-police")
    for n in range(7):
        r = await platform.client("referral").post(
            "/referrals",
            json=referral(initiated_by="victim" if n < 6 else "police", court_reference=None),
            headers=police,
        )
        assert r.status_code == 201, r.text
    manager_token = platform.token("police", "manager", org="north-police")

    async def counted() -> bool:
        r = await platform.client("reporting").get("/reports", headers=manager_token)
        rows = r.json()["tables"][0]["rows"]
        return r.status_code == 200 and len(rows) > 1

    await eventually(counted)
    visits = Visits()
    base = portal_stack.portal_url
    month = datetime.now(UTC).strftime("%Y-%m")

    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(base)
        await page.get_by_role("button", name="Sign in").click()
        await sign_in(page, "north-police.manager")
        await page.wait_for_url(f"{base}/reports")
        main = await page.text_content("main") or ""
        assert "Referrals by who initiated them" in main
        assert "suppressed" in main  # the single police-initiated referral
        assert await page.locator("svg[role='img'] title").count() >= 1
        await visits.check(page, screenshot="reports-manager")
        await page.get_by_label("From month").fill(month)
        await page.get_by_label("Jurisdiction").select_option("england-wales")
        await page.get_by_role("button", name="Apply filters").click()
        await page.wait_for_url(f"{base}/reports?from={month}*")
        await visits.check(page)
        # each table's CSV link carries the filters (the download itself: test_reports_unit)
        link = page.locator("a[href^='/reports/referrals_by_initiator.csv']")
        assert (await link.get_attribute("href")) == (
            f"/reports/referrals_by_initiator.csv?from={month}&jurisdiction=england-wales"
        )
    finally:
        await context.close()

    context = await browser.new_context()
    page = await context.new_page()
    try:
        await page.goto(base)
        await page.get_by_role("button", name="Sign in").click()
        await sign_in(page, "north-commissioner.commissioner")
        await page.wait_for_url(f"{base}/reports")
        assert "your region" in (await page.text_content("h1") or "")
        await visits.check(page)
    finally:
        await context.close()

    assert all("case" not in url for url in visits.urls)
