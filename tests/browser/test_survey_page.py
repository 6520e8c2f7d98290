"""The EDI lead's survey page in real headless Chromium, at 390px and 1280px with axe-core:
an open wave's link with its QR code and copy button, closing a wave after a confirmation
page, and importing a spreadsheet with a wrong row."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from config.settings import Settings
from core import create_app
from core.db import Database
from surveys import definition as definitions
from surveys import services
from tests.browser.pages import DESKTOP, PHONE, Audit, ChartPage, Tab, sign_in
from tests.conftest import make_staff
from tests.surveys.conftest import population_csv

pytestmark = pytest.mark.browser


def test_survey_page_link_close_and_import(chromium: Browser, live_url: str, database: Database,
                                           settings: Settings, axe_path: Path, shots_dir: Path,
                                           tmp_path: Path) -> None:
    # Given an imported survey (waves W1 and W2) with an open wave, and an EDI lead
    (tmp_path / "d.toml").write_text(definitions.template_text("equality-pulse"))
    (tmp_path / "r.csv").write_text(population_csv())
    imported = create_app(settings, database).test_cli_runner().invoke(
        args=["survey", "import", str(tmp_path / "d.toml"), str(tmp_path / "r.csv")])
    assert imported.exit_code == 0, imported.output
    with database.session() as db:
        survey = services.find_survey(db, "equality-pulse")
        services.open_wave(db, wave_=services.wave(db, survey, "Spring 2027"), open_link=True,
                           actor="t")
    eddie = make_staff(database, settings, "Eddie Edi", role="edi")
    audit = Audit(axe_path=axe_path, shots_dir=shots_dir)
    tab = Tab(chromium, live_url, audit, who="edi lead", anonymous=False)
    page = ChartPage(tab)
    try:
        sign_in(tab, eddie.email, eddie.password, eddie.code())
        # When they open the survey page
        tab.goto("/staff/surveys/1")
        # Then past waves are closed with results, the open wave shows its full link, a copy
        # button (JavaScript is on) and a QR code
        expect(tab.page.locator(".nhsuk-tag", has_text="Closed: results published")).to_have_count(2)
        expect(tab.page.locator(".nhsuk-tag", has_text="Draft")).to_have_count(0)
        link = tab.page.get_by_label("Open link: anyone with it can answer")
        expect(link).to_have_value(f"{live_url}/survey/link/" + link.input_value().rsplit("/", 1)[1])
        expect(tab.page.get_by_role("button", name="Copy link")).to_be_visible()
        expect(tab.page.get_by_role("img", name="QR code of the open link to wave Spring 2027")
               ).to_be_visible()
        page.audit_at("survey page", PHONE)
        page.audit_at("survey page", DESKTOP)

        # When they choose "Close this wave"
        tab.page.set_viewport_size(PHONE)
        tab.submit(tab.page.get_by_role("link", name="Close this wave"))
        # Then they are asked first, and keeping it open changes nothing
        expect(tab.h1()).to_have_text("Close wave Spring 2027?")
        page.audit_at("close wave confirmation", PHONE)
        page.audit_at("close wave confirmation", DESKTOP)
        tab.submit(tab.page.get_by_role("link", name="No, keep it open"))
        expect(tab.page.locator(".nhsuk-tag", has_text="Open")).to_have_count(1)
        tab.submit(tab.page.get_by_role("link", name="Close this wave"))
        tab.submit(tab.page.get_by_role("button", name="Yes, close this wave"))
        expect(tab.success_banner()).to_contain_text("Wave 'Spring 2027' is closed")

        # When they import a spreadsheet with a wrong answer
        bad = tmp_path / "answers.csv"
        bad.write_text("roles_fair,band\nagree,5\nmaybe,5\n")
        tab.submit(tab.page.get_by_role("link", name="import answers"))
        tab.page.locator("input[type=file][name=responses]").set_input_files(str(bad))
        tab.submit(tab.page.get_by_role("button", name="Import answers"), status=400)
        # Then the wrong row is listed by line, and nothing was imported
        expect(tab.error_summary()).to_contain_text("nothing was imported")
        expect(tab.page.locator("#import-errors")).to_contain_text("roles_fair")
        page.audit_at("import with an error", PHONE)
        page.audit_at("import with an error", DESKTOP)
    finally:
        tab.close()
    audit.assert_clean()
