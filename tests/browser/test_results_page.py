"""The survey results page in real headless Chromium: axe-core on a phone and a desktop.

An EDI lead signs in and opens the results of an imported survey: with no breakdown, by pay
band, by two dimensions, and as a trend across waves. Each page is screenshotted at 390px and
1280px and checked with axe-core (no serious or critical violation), and the charts' SVG must
draw under the app's CSP (no style attribute).
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
from tests.conftest import make_staff
from tests.surveys.conftest import population_csv

pytestmark = pytest.mark.browser

VIEWS = {
    "results everyone": "",
    "results by band": "?by=band&wave=W1",
    "results by band and white-global majority": "?question=roles_fair&by=band&by2=ethnic_group",
    "results trend": "?question=roles_fair&wave=trend",
    "results trend by ethnic group": "?question=roles_fair&wave=trend&by=ethnic_group",
}


class ResultsPage(ChartPage):
    """The results page of one survey, as the EDI lead sees it."""

    def __init__(self, tab: Tab, survey_id: int) -> None:
        super().__init__(tab)
        self.path = f"/staff/surveys/{survey_id}/results"

    def open(self, query: str) -> ResultsPage:
        self.tab.goto(self.path + query)
        expect(self.tab.h1()).to_have_text("Survey results")
        return self

    def break_down_twice_by(self, label: str) -> ResultsPage:
        """Choose ``label`` in both breakdowns and show the results: a 400 with an error."""
        self.page.get_by_label("Break down by").select_option(label=label)
        self.page.get_by_label("and by").select_option(label=label)
        self.tab.submit(self.page.get_by_role("button", name="Show results"), status=400)
        expect(self.tab.h1()).to_have_text("Survey results")
        return self


def test_results_pages_are_accessible_on_phone_and_desktop(
        chromium: Browser, live_url: str, database: Database, settings: Settings,
        axe_path: Path, shots_dir: Path, tmp_path: Path) -> None:
    # Given an imported survey with two closed waves, and an EDI lead
    (tmp_path / "d.toml").write_text(definitions.template_text("equality-pulse"))
    (tmp_path / "r.csv").write_text(population_csv())
    imported = create_app(settings, database).test_cli_runner().invoke(
        args=["survey", "import", str(tmp_path / "d.toml"), str(tmp_path / "r.csv")])
    assert imported.exit_code == 0, imported.output
    eddie = make_staff(database, settings, "Eddie Edi", role="edi")
    audit = Audit(axe_path=axe_path, shots_dir=shots_dir)
    tab = Tab(chromium, live_url, audit, who="edi lead", anonymous=False)
    try:
        # When they sign in and open each view of the results
        sign_in(tab, eddie.email, eddie.password, eddie.code())
        results = ResultsPage(tab, survey_id=1)
        for name, query in VIEWS.items():
            results.open(query)
            # Then every chart is an SVG image drawn without any style attribute
            assert results.charts() >= 2, name
            assert results.styled_svg_nodes() == 0, name
            # ... and axe finds nothing serious at phone and desktop widths
            results.audit_at(name, PHONE)
            results.audit_at(name, DESKTOP)

        # When they print the results by pay band
        results.open("?by=band&wave=W1")
        expect(results.page.get_by_role("button", name="Print these results")).to_be_visible()
        results.page.emulate_media(media="print")
        results.page.set_viewport_size(DESKTOP)
        # Then the paper has the trust and the date, the figures, and no form or link text
        results.check_printed("form.speakup-results-form", "Demo NHS Foundation Trust")
        expect(results.page.locator("svg.speakup-chart").first).to_be_visible()
        results.page.screenshot(path=str(shots_dir / "results-print.png"), full_page=True)
        results.page.screenshot(path=str(shots_dir / "results-print-top.png"),
                                clip={"x": 0, "y": 0, "width": 1280, "height": 1200})
        results.page.emulate_media(media="screen")

        # When they ask for the same breakdown twice
        results.break_down_twice_by("Pay band")
        # Then the page says what is wrong, and stays accessible
        expect(tab.error_summary()).to_contain_text("two different things")
        results.audit_at("results with an error", PHONE)
        results.audit_at("results with an error", DESKTOP)
    finally:
        tab.close()
    audit.assert_clean()
