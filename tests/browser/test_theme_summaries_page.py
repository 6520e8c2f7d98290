"""The themed summaries page in real headless Chromium: axe-core on a phone and a desktop.

An EDI lead signs in and opens the summary of concerns (by site, by quarter and by month) and
of an imported survey (by pay band). Each view is screenshotted at 390px and 1280px and checked
with axe-core (no serious or critical violation); the charts must draw under the app's CSP (no
style attribute), and the print layout must drop the form and keep the tables and charts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from config.settings import Settings
from core import create_app
from core.db import Database
from surveys import definition as definitions
from tests.browser.pages import DESKTOP, PHONE, Audit, ChartPage, Tab, sign_in
from tests.conftest import Staff, make_staff
from tests.equality.test_theme_summaries import Q2, _survey_csv
from tests.equality.test_theme_summaries import concerns as concerns  # the fixture, by name

pytestmark = pytest.mark.browser



class ThemesPage(ChartPage):
    """The themed summaries page, as the EDI lead sees it."""

    def open(self, query: str) -> ThemesPage:
        self.tab.goto("/staff/themes/" + query)
        expect(self.tab.h1()).to_have_text("Themed summaries")
        return self

    def summarise(self, source: str, breakdown: str, status: int = 200) -> ThemesPage:
        """Choose a source and a breakdown in the form and show the summary."""
        self.page.get_by_label("Summarise").select_option(label=source)
        self.page.get_by_label("Break down by").select_option(label=breakdown)
        self.tab.submit(self.page.get_by_role("button", name="Show summary"), status=status)
        expect(self.tab.h1()).to_have_text("Themed summaries")
        return self

    def printed(self, shots_dir: Path, name: str) -> None:
        """As printed: no form, no print button, no contents list; every section kept."""
        self.page.emulate_media(media="print")
        try:
            self.page.set_viewport_size(DESKTOP)
            self.check_printed("form.speakup-themes-form", "Demo NHS Foundation Trust")
            for section in ("counts", "trends", "tone", "phrases", "quotes"):
                expect(self.page.locator(f"#themes-{section}")).to_be_visible()
            expect(self.page.locator("svg.speakup-chart").first).to_be_visible()
            self.page.screenshot(path=str(shots_dir / f"{name}.png"), full_page=True)
            self.page.screenshot(path=str(shots_dir / f"{name}-top.png"),
                                 clip={"x": 0, "y": 0, "width": 1280, "height": 1200})
        finally:
            self.page.emulate_media(media="screen")


def test_theme_summaries_are_accessible_and_printable(
        chromium: Browser, live_url: str, database: Database, settings: Settings,
        axe_path: Path, shots_dir: Path, tmp_path: Path, concerns: None,
        guardian: Staff) -> None:
    # Given concerns in 2024/25 Q2 and an imported survey with two closed waves, and an EDI lead
    (tmp_path / "d.toml").write_text(definitions.template_text("equality-pulse"))
    (tmp_path / "r.csv").write_text(_survey_csv())
    imported = create_app(settings, database).test_cli_runner().invoke(
        args=["survey", "import", str(tmp_path / "d.toml"), str(tmp_path / "r.csv")])
    assert imported.exit_code == 0, imported.output
    eddie = make_staff(database, settings, "Eddie Edi", role="edi")
    audit = Audit(axe_path=axe_path, shots_dir=shots_dir)
    tab = Tab(chromium, live_url, audit, who="edi lead", anonymous=False)
    try:
        # When they sign in and open each view of the summary
        sign_in(tab, eddie.email, eddie.password, eddie.code())
        themes = ThemesPage(tab)
        views = {
            "themes concerns by site": f"?quarter={Q2}&by=site",
            "themes concerns by month": f"?quarter={Q2}&grain=month",
            "themes survey by band": "?source=survey-1&wave=W1&by=band",
        }
        for name, query in views.items():
            themes.open(query)
            # Then every chart is an SVG image drawn without any style attribute
            assert themes.charts() >= 3, name  # overview, a trend per theme mentioned, tone
            assert themes.styled_svg_nodes() == 0, name
            # ... and axe finds nothing serious at phone and desktop widths
            themes.audit_at(name, PHONE)
            themes.audit_at(name, DESKTOP)
        # ... and the print layout keeps the figures without the controls
        themes.open(f"?quarter={Q2}&by=site").printed(shots_dir, "themes-print")

        # When they switch to the survey keeping a breakdown only concerns have
        themes.open(f"?quarter={Q2}&by=site")
        themes.page.get_by_label("Summarise").select_option(label="Survey: Equality pulse")
        tab.submit(themes.page.get_by_role("button", name="Show summary"), status=400)
        # Then the page says what is wrong, offers the survey's breakdowns, and stays accessible
        expect(tab.error_summary()).to_contain_text("Choose a breakdown from the list")
        themes.audit_at("themes with an error", PHONE)
        themes.summarise("Survey: Equality pulse", "Pay band")
        assert themes.charts() >= 3
    finally:
        tab.close()
    audit.assert_clean()
