"""Browser tests: Debian's Chromium driven by Playwright, and axe-core accessibility checks.

Playwright's own browser download cannot work on the machines Accord is built on, so the
browser is the Chromium `deploy/provision.sh` installs from Debian (ACCORD_CHROMIUM), and axe-core
is the copy npm installs for the portal (`services/portal/node_modules`, pinned by its lock).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, async_playwright

from accord_platform.infra import REPO

AXE_SCRIPT = REPO / "services" / "portal" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0, 2.1 and 2.2, levels A and AA (axe has no wcag22a tag: 2.2 added no A rule it tests).
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # No update checks, safe-browsing lists or other calls home from a test browser.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

# Runs in the page. Only violations are reported with their nodes; the other result types still
# name every rule that ran, which is what callers count.
_RUN_AXE = """async (tags) => {
    const results = await axe.run(document, {
        runOnly: {type: "tag", values: tags},
        resultTypes: ["violations"],
    });
    const ids = (list) => list.map((rule) => rule.id);
    return {
        checked: [...ids(results.violations), ...ids(results.passes),
                  ...ids(results.incomplete), ...ids(results.inapplicable)],
        violations: results.violations.map((rule) => ({
            id: rule.id,
            impact: rule.impact,
            help: rule.help,
            targets: rule.nodes.map((node) => node.target),
        })),
    };
}"""


def chromium_path(environ: dict[str, str] | None = None) -> str:
    """The Chromium to drive: ACCORD_CHROMIUM, else Debian's /usr/bin/chromium."""
    env = os.environ if environ is None else environ
    path = env.get("ACCORD_CHROMIUM") or "/usr/bin/chromium"
    if not Path(path).is_file():
        raise FileNotFoundError(f"no Chromium at {path}: run deploy/provision.sh")
    return path


@asynccontextmanager
async def launch_browser(executable: str | None = None) -> AsyncIterator[Browser]:
    """A headless Chromium, closed (with its Playwright driver) on leaving the block."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable or chromium_path(),
            args=list(CHROMIUM_ARGS),
            headless=True,
        )
        try:
            yield browser
        finally:
            await browser.close()


async def check_accessibility(page: Page) -> list[str]:
    """Runs axe-core on the page as it is now, with the WCAG 2.0/2.1/2.2 A and AA rules.

    Raises AssertionError naming each violated rule, its impact and the selectors of the
    offending elements; otherwise returns the ids of the rules that ran (so a caller can report
    how many were checked, and notice if none were)."""
    if not AXE_SCRIPT.is_file():
        raise FileNotFoundError(f"no axe-core at {AXE_SCRIPT}: run deploy/provision.sh (npm ci)")
    # evaluate(), not a <script> tag: DevTools evaluation is not subject to the page's
    # Content-Security-Policy, and the portal's forbids inline scripts.
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(AXE_SCRIPT.read_text())
    outcome: dict[str, Any] = await page.evaluate(_RUN_AXE, list(AXE_TAGS))
    checked = sorted(set(outcome["checked"]))
    if not checked:
        raise AssertionError(f"axe ran no rules on {page.url}")
    violations = outcome["violations"]
    if violations:
        lines = [f"{len(violations)} accessibility violation(s) on {page.url}:"]
        for rule in violations:
            targets = "; ".join(" >> ".join(map(str, target)) for target in rule["targets"])
            lines.append(f"  {rule['id']} ({rule['impact']}): {rule['help']} at {targets}")
        raise AssertionError("\n".join(lines))
    return checked
