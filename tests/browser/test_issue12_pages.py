"""Issue 12's reporter and guardian pages in real headless Chromium: axe-core on each, phone
screenshots through the audited tab and desktop screenshots beside them (SPEAKUP_SHOTS_DIR)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from config.settings import Settings
from core.db import Database
from tests.browser.pages import DESKTOP, Audit, Tab, sign_in
from tests.conftest import PASSWORD, make_staff, submit_concern

pytestmark = pytest.mark.browser

TEXT = "Browser marker 12: the rota left one nurse for 30 patients on Tuesday night."


def _desktop(chromium: Browser, live_url: str, shots_dir: Path, name: str, path: str,
             cookies: list | None = None) -> None:
    context = chromium.new_context(viewport=DESKTOP, base_url=live_url, bypass_csp=True)
    if cookies:
        context.add_cookies(cookies)
    page = context.new_page()
    page.goto(path, wait_until="load")
    page.screenshot(path=str(shots_dir / f"desktop-{name}.png"), full_page=True)
    context.close()


def test_back_after_sending_shows_an_empty_form_and_the_name_fields_follow_the_choice(
        chromium: Browser, live_url: str, database: Database, settings: Settings,
        axe_path: Path, shots_dir: Path) -> None:
    make_staff(database, settings, "Gina Guardian")
    audit = Audit(axe_path=axe_path, shots_dir=shots_dir)
    tab = Tab(chromium, live_url, audit, who="reporter", anonymous=True)
    try:
        # Given the start page, with help and the guardians
        tab.goto("/")
        tab.arrived("issue12 start")
        expect(tab.page.get_by_text("Call 999 now.")).to_be_visible()
        tab.submit(tab.page.get_by_role("button", name="Raise a concern"))
        page = tab.page
        name = page.get_by_label("Your name (optional)")
        # When "Anonymously" is chosen, the name and contact fields are hidden
        page.get_by_label("What happened?").fill(TEXT)
        page.get_by_label("Patient safety or quality of care").check()
        page.get_by_label("Anonymously").check()
        expect(name).to_be_hidden()
        # ... and shown for "Confidentially"
        page.get_by_label("Confidentially").check()
        expect(name).to_be_visible()
        page.get_by_label("Anonymously").check()
        # The ethnic group list fits the phone's width (its long labels did not)
        page.get_by_text("About you (optional)").click()
        box = page.get_by_label("Your ethnic group (optional)").bounding_box()
        assert box is not None and box["x"] + box["width"] <= 390, box
        tab.arrived("issue12 concern form")
        tab.submit(page.get_by_role("button", name="Send concern"))
        expect(page.locator("#receipt")).to_be_visible()
        tab.arrived("issue12 receipt")
        expect(page.get_by_role("button", name="Copy receipt")).to_be_visible()
        # When the reporter goes Back
        page.go_back(wait_until="load")
        # Then the form is empty (not the text they sent), and says the concern was sent
        expect(page.get_by_text("Your concern has been sent.")).to_be_visible()
        expect(page.get_by_label("What happened?")).to_have_value("")
        tab.arrived("issue12 concern form after back")
        audit.assert_clean()
    finally:
        tab.close()
    for name_, path in (("start", "/"), ("concern-form", "/concern/new")):
        _desktop(chromium, live_url, shots_dir, name_, path)


def test_guardian_pages_at_phone_and_desktop_size(
        chromium: Browser, live_url: str, database: Database, settings: Settings,
        axe_path: Path, shots_dir: Path, app) -> None:
    gina = make_staff(database, settings, "Gina Guardian")
    client = app.test_client()
    for kind in ("bullying", "patient-safety", "recruitment"):
        submit_concern(client, f"{TEXT} My manager shouts at me and the post was never "
                       "advertised.", kind=kind, happened_month="2026-11")
    audit = Audit(axe_path=axe_path, shots_dir=shots_dir)
    tab = Tab(chromium, live_url, audit, who="guardian", anonymous=False)
    try:
        sign_in(tab, gina.email, PASSWORD, gina.code())
        tab.arrived("issue12 inbox")
        ref = tab.page.locator("table a[href^='/staff/cases/']").first.inner_text().strip()
        tab.goto(f"/staff/cases/{ref}")
        tab.arrived("issue12 guardian case")
        expect(tab.page.get_by_role("button", name="Save changes")).to_have_count(1)
        for path, name in (("/staff/themes", "themes overview"), ("/staff/audit", "audit log"),
                           ("/staff/export", "ngo return"), ("/staff/retrain", "retrain"),
                           ("/staff/cases/?kind=bullying&sort=oldest", "inbox filtered")):
            tab.goto(path)
            tab.arrived(f"issue12 {name}")
        # The audit table fits a phone: no sideways scrolling.
        tab.goto("/staff/audit")
        wide = tab.page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 390, wide
        audit.assert_clean()
        cookies = tab.context.cookies()
    finally:
        tab.close()
    for path, name in ((f"/staff/cases/{ref}", "guardian-case"), ("/staff/cases/", "inbox"),
                       ("/staff/themes", "themes"), ("/staff/audit", "audit"),
                       ("/staff/export", "export")):
        _desktop(chromium, live_url, shots_dir, name, path, cookies)
