"""The workforce pages in real headless Chromium: upload, dashboard, voice and data, board pack.

An EDI lead uploads a staff file with a bad row (the rows are listed by line, nothing is
imported), then the good staff, recruitment and board files through the file input, publishes
the period, and opens the dashboard, the voice-and-data page and the board pack (and its PDF).
A board member then reads the published dashboard and board pack. Every page is checked with
axe-core (no serious or critical violation) at 390px and 1280px and screenshotted; the charts
must draw under the app's CSP (no style attribute), and the board pack's print layout keeps
every figure.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from analysis.workforce import formats, synthetic
from config.settings import Settings
from core.db import Database
from equality import services
from tests.browser.pages import DESKTOP, PHONE, Audit, ChartPage, Tab, sign_in
from tests.conftest import make_staff

pytestmark = pytest.mark.browser

PERIOD = "2026-03-31"


class WorkforcePage(ChartPage):
    """The EDI lead's and the board's workforce pages."""

    def open(self, path: str, heading: str) -> WorkforcePage:
        self.tab.goto("/staff/workforce/" + path)
        expect(self.tab.h1()).to_contain_text(heading)
        return self

    def upload(self, kind: str, file: Path, status: int = 200) -> WorkforcePage:
        self.page.get_by_label("What is in the file").select_option(kind)
        self.page.get_by_label("Reporting period (its 31 March snapshot date)").fill(PERIOD)
        self.page.locator("input[type=file][name=file]").set_input_files(str(file))
        self.tab.submit(self.page.get_by_role("button", name="Check and import"), status=status)
        return self


def _previous_year(database: Database, settings: Settings) -> None:
    """The year before, imported and published directly (the trend needs two periods)."""
    before = synthetic.generate(seed=5, snapshot=date(2025, 3, 31), staff=2_000,
                                applications=5_000)
    with database.session() as db:
        for kind, text in (("staff", formats.staff_csv(before.staff, before.person_ids)),
                           ("recruitment", formats.recruitment_csv(before.applications,
                                                                   before.application_ids)),
                           ("board", formats.board_csv(before.board))):
            services.import_file(db, kind=kind, csv_text=text, snapshot=date(2025, 3, 31),
                                 settings=settings, actor="test")
        services.import_file(db, kind="targets", csv_text=formats.targets_csv(before.targets),
                             snapshot=None, settings=settings, actor="test")
        services.publish(db, snapshot=date(2025, 3, 31), actor="test")


def test_upload_dashboard_and_board_pack_are_accessible(
        chromium: Browser, live_url: str, database: Database, settings: Settings,
        axe_path: Path, shots_dir: Path, tmp_path: Path) -> None:
    _previous_year(database, settings)
    trust = synthetic.generate(seed=6, staff=2_000, applications=5_000)
    files = synthetic.write_csvs(trust, tmp_path / "csv")
    lines = files["staff"].read_text().splitlines()
    bad = tmp_path / "staff-bad.csv"
    bad.write_text("\n".join([lines[0], lines[1].replace(",yes,", ",perhaps,", 1), *lines[2:]])
                   + "\n")
    eddie = make_staff(database, settings, "Eddie Edi", role="edi")
    bea = make_staff(database, settings, "Bea Board", role="board")
    audit = Audit(axe_path=axe_path, shots_dir=shots_dir)
    tab = Tab(chromium, live_url, audit, who="edi lead", anonymous=False)
    try:
        sign_in(tab, eddie.email, eddie.password, eddie.code())
        pages = WorkforcePage(tab)
        pages.open("", "Workforce equality")
        pages.audit_at("workforce upload", PHONE)
        # A file with a bad row: listed by line, nothing imported, the choices kept
        pages.upload("staff", bad, status=400)
        expect(tab.error_summary()).to_contain_text("nothing was imported")
        expect(pages.page.get_by_role("table", name="Rows that could not be imported")
               ).to_contain_text("2")
        expect(pages.page.get_by_label("Reporting period (its 31 March snapshot date)")
               ).to_have_value(PERIOD)
        pages.audit_at("workforce upload errors", PHONE)
        pages.audit_at("workforce upload errors", DESKTOP)
        # The good files, then publication
        for kind in ("staff", "recruitment", "board"):
            pages.upload(kind, files[kind])
            expect(tab.success_banner()).to_contain_text(f"rows of {kind} data")
        tab.submit(pages.page.get_by_role("button", name="Publish version 1 of 2026"))
        expect(tab.h1()).to_have_text("Workforce equality: 31 March 2026")
        # The dashboard: every chart an SVG image without a style attribute
        assert pages.charts() >= 12
        assert pages.styled_svg_nodes() == 0
        expect(pages.page.locator("#what-changed li").first).to_be_visible()
        pages.audit_at("workforce dashboard", PHONE)
        pages.audit_at("workforce dashboard", DESKTOP)
        # Voice and data
        pages.open(f"{PERIOD}/voice", "Voice and data")
        pages.audit_at("workforce voice and data", PHONE)
        pages.audit_at("workforce voice and data", DESKTOP)
        # The board pack, on screen and as printed
        pages.open(f"{PERIOD}/board-pack", "Workforce equality: board pack")
        assert pages.charts() >= 12 and pages.styled_svg_nodes() == 0
        pages.audit_at("workforce board pack", PHONE)
        pages.audit_at("workforce board pack", DESKTOP)
        pages.page.emulate_media(media="print")
        try:
            expect(pages.page.locator(".nhsuk-header")).to_be_hidden()
            expect(pages.page.locator("#headline svg")).to_be_visible()
            pages.page.screenshot(path=str(shots_dir / "workforce-board-pack-print.png"),
                                  full_page=True)
        finally:
            pages.page.emulate_media(media="screen")
        pdf = pages.page.request.get(f"/staff/workforce/{PERIOD}/board-pack.pdf")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    finally:
        tab.close()

    # A board member: the published dashboard and board pack, nothing to upload
    tab = Tab(chromium, live_url, audit, who="board member", anonymous=False)
    try:
        sign_in(tab, bea.email, bea.password, bea.code())
        pages = WorkforcePage(tab)
        expect(tab.h1()).to_have_text("Workforce equality")
        expect(pages.page.get_by_role("button", name="Check and import")).to_have_count(0)
        pages.audit_at("workforce board member index", PHONE)
        pages.open(f"{PERIOD}/", "Workforce equality: 31 March 2026")
        assert pages.charts() >= 12
        pages.audit_at("workforce board member dashboard", PHONE)
        pages.audit_at("workforce board member dashboard", DESKTOP)
    finally:
        tab.close()
    audit.assert_clean()
