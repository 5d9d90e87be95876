"""Debian's chromium driven by Playwright against a served portal: sign in, move between pages, screenshots.

`playwright install` cannot download a browser here, so the tests drive `/usr/bin/chromium` (installed by
.ci/run; the tests skip with the reason when it is missing). Selectors are the pages' own labels from
portal/service/texts.py, never Streamlit's generated ids, so a reworded label fails loudly in one place.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hil_tests.portal_stack import Account
from portal.service.texts import t

CHROMIUM = Path("/usr/bin/chromium")
WIDE, PHONE = (1280, 900), (390, 844)  # a desktop, and the 390-px phone screen issue 17 asks the pages to fit
TIMEOUT_MS = 20_000
SHOT_MAX_H = 2400  # px: a long zone page is cut here so a committed screenshot stays small
SHOT_COLOURS = 128  # palette PNGs: a screenshot of flat UI colours loses nothing visible and shrinks ~3x

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing: Debian's chromium "
                                    "(.ci/run installs it; `playwright install` cannot download here)")


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Debian chromium (`--no-sandbox`: the tests run as root, where its sandbox refuses to start)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"],
                                    timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Browser, size: tuple[int, int] = WIDE) -> Page:
    """A fresh browser profile (its own Streamlit session) in Korean, on Seoul time."""
    context = browser.new_context(viewport={"width": size[0], "height": size[1]}, locale="ko-KR",
                                  timezone_id="Asia/Seoul")
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def main(page: Page) -> str:
    """The page's own text (the sidebar left out)."""
    return page.locator("[data-testid='stMain']").inner_text()


def sign_in(page: Page, base_url: str, account: Account, path: str = "") -> None:
    """Open `path` (e.g. "zone?site=hil&zone=gh1"), sign in on the form shown there, wait for the signed-in view."""
    page.goto(f"{base_url}/{path}")
    page.get_by_label(t("username", "ko")).fill(account.username)
    page.get_by_label(t("password", "ko")).fill(account.password)
    page.get_by_role("button", name=t("sign in", "ko")).click()
    expect(page.get_by_text(t("signed in as", "ko", name=account.username.title(),
                              role=t(f"role name:{account.role}", "ko")))).to_be_visible()


def go(page: Page, key: str) -> None:
    """Open a page from the navigation (`key`: myfarm, zone, controls, alarms, account, admin) in this session;
    on a phone the navigation is in the collapsed sidebar, opened first."""
    opener = page.get_by_test_id("stExpandSidebarButton")
    folded = opener.is_visible()
    if folded:
        opener.click()
    link = page.get_by_role("link", name=t(f"page:{key}", "ko"), exact=True)
    expect(link).to_be_in_viewport()
    link.click()
    expect(page).to_have_url(re.compile(f"/{key}" if key != "myfarm" else "/(myfarm)?([?#].*)?$"))
    if folded:  # a phone: the open sidebar covers the page
        page.get_by_test_id("stSidebarCollapseButton").click()
        expect(opener).to_be_visible()


def shoot(page: Page, folder: Path, name: str) -> Path:
    """The whole page (at most SHOT_MAX_H px tall) as a palette PNG `folder/NAME-WIDTHpx.png`.

    Streamlit scrolls its main section inside a viewport-high frame, so a "full page" screenshot is only the
    viewport: the viewport is stretched to the section's height for the shot, then put back."""
    from PIL import Image

    size = page.viewport_size or {"width": WIDE[0], "height": WIDE[1]}
    page.wait_for_timeout(1500)  # the page's elements drawn, not their placeholders
    tall = page.get_by_test_id("stMain").evaluate("e => e.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(int(tall), SHOT_MAX_H))})
    try:
        page.wait_for_timeout(500)  # the layout follows the new height (charts resize)
        raw = page.screenshot()
    finally:
        page.set_viewport_size(size)
    image = Image.open(io.BytesIO(raw)).convert("RGB").quantize(SHOT_COLOURS, method=Image.Quantize.MEDIANCUT)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{size['width']}px.png"
    image.save(path, optimize=True)
    return path
