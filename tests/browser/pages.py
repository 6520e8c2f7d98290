"""Small page objects for the browser journey, and the watcher every page goes through.

A ``Tab`` is one browser context with one page, watched from the first request: every request
it makes, every console error, the cookies it holds. Each page object checks on arrival that it
is the page it claims to be, then has the tab audit it (axe-core, screenshot, cookies), so no
page of the journey can be skipped by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    ViewportSize,
    expect,
)

from core.db import today
from equality.charts import date_text

PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
BLOCKING_IMPACTS = ("serious", "critical")
SESSION_COOKIE = "su_r"
FAILED_LOAD = re.compile(r"^Failed to load resource: the server responded with a status of (\d+)")

# axe's label-content-name-mismatch joins the visible text of adjacent inline elements with no
# separator: nhsuk-frontend's file upload button renders <span>No files chosen</span><span
# hidden>, </span><span>Choose files ...</span>, so axe compares "No files chosenChoose files"
# with the name "..., No files chosen, Choose files ..." and reports a mismatch that is not
# there (Chromium's own accessible name holds every visible word, in order). Re-check each node
# ignoring spaces and punctuation, as the ACT rule 2ee8b8 does, and drop only the nodes where
# the visible words really are in the name.
LABEL_IN_NAME = "label-content-name-mismatch"
LABEL_IN_NAME_RECHECK = """(selector) => {
  const el = document.querySelector(selector)
  if (!el) return false
  axe.setup()
  try {
    const node = axe.utils.getNodeFromTree(el)
    const squash = (s) => s.toLowerCase().replace(/[^\\p{L}\\p{N}]+/gu, '')
    const visible = squash(axe.commons.text.visibleVirtual(node))
    return visible.length > 0 &&
      squash(axe.commons.text.accessibleTextVirtual(node)).includes(visible)
  } finally {
    axe.teardown()
  }
}"""


@dataclass
class Audit:
    """Everything wrong found along the journey, reported together at the end."""

    axe_path: Path
    shots_dir: Path
    findings: list[str] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)

    def add(self, where: str, what: str) -> None:
        self.findings.append(f"[{where}] {what}")

    def assert_clean(self) -> None:
        assert not self.findings, (
            f"{len(self.findings)} problem(s) on the journey "
            f"(pages audited: {', '.join(self.pages)}):\n" + "\n".join(self.findings))


class Tab:
    """One browser context and page, at phone size, with the app's CSP bypassed for axe."""

    def __init__(self, browser: Browser, base_url: str, audit: Audit, *, who: str,
                 anonymous: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.audit = audit
        self.who = who
        self.anonymous = anonymous
        self.where = f"{who}: (no page yet)"
        self._expected_statuses: set[int] = set()
        self._excused: list[tuple[int, str]] = []
        self.context = browser.new_context(
            viewport=PHONE, is_mobile=True, has_touch=True, bypass_csp=True,
            base_url=self.base_url, locale="en-GB", timezone_id="Europe/London")
        self.context.set_default_timeout(10_000)
        self.page: Page = self.context.new_page()
        self.page.on("request", self._on_request)
        self.page.on("console", self._on_console)
        self.page.on("pageerror", lambda error: self.audit.add(self.where, f"page error: {error}"))

    # --- watching -------------------------------------------------------------------------

    def _on_request(self, request: Request) -> None:
        url = urlsplit(request.url)
        if url.scheme == "data":  # inline images in the stylesheet: nothing leaves the page
            return
        if (url.scheme, url.hostname, url.port) != ("http", "127.0.0.1",
                                                    urlsplit(self.base_url).port):
            self.audit.add(self.where, f"request off the app: {request.method} {request.url}")

    def _on_console(self, message: ConsoleMessage) -> None:
        failed = FAILED_LOAD.match(message.text)
        if failed and int(failed.group(1)) in self._expected_statuses:
            # Chromium logs a 4xx document as a console error; a form shown again with its
            # errors is meant to be a 400. Excused only if it was that document (see submit).
            self._excused.append((int(failed.group(1)), message.location.get("url", "")))
            return
        if message.type == "error":
            self.audit.add(self.where, f"console error: {message.text} ({message.location})")

    # --- moving ---------------------------------------------------------------------------

    def goto(self, path: str) -> None:
        self.where = f"{self.who}: {path}"
        self._expected_statuses = set()
        response = self.page.goto(path, wait_until="load")
        assert response is not None and response.ok, f"GET {path}: {response and response.status}"

    def submit(self, button: Locator, status: int = 200) -> None:
        """Click a button or link that loads a new page, and wait for that page, which must
        come with ``status`` (after any redirect)."""
        # Kept until the next page is asked for, in case the console message comes late.
        self._expected_statuses = {status} if status >= 400 else set()
        self._excused = []
        with self.page.expect_navigation(wait_until="load") as navigation:
            button.click()
        response = navigation.value
        assert response is not None and response.status == status, (
            f"{self.where}: expected {status}, got {response and response.status}")
        for code, url in self._excused:
            if (code, url) != (status, response.url):
                self.audit.add(self.where, f"console error: failed to load {url} ({code})")

    # --- auditing -------------------------------------------------------------------------

    def arrived(self, name: str) -> None:
        """Audit the page now showing: axe-core, a phone screenshot, and the cookies."""
        self.where = f"{self.who}: {name}"
        self.page.wait_for_load_state("load")
        self.audit.pages.append(name)
        number = len(self.audit.pages)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        self.page.screenshot(path=str(self.audit.shots_dir / f"{number:02d}-{slug}.png"),
                             full_page=True)
        self._axe()
        if self.anonymous:
            self._cookies()

    def _axe(self) -> None:
        self.page.add_script_tag(path=str(self.audit.axe_path))
        results: dict[str, Any] = self.page.evaluate(
            "() => axe.run(document, {resultTypes: ['violations']})")
        for violation in results["violations"]:
            if violation["impact"] not in BLOCKING_IMPACTS:
                continue
            targets = [" >>> ".join(map(str, node["target"])) for node in violation["nodes"]]
            if violation["id"] == LABEL_IN_NAME:
                targets = [t for t in targets
                           if " >>> " in t or not self.page.evaluate(LABEL_IN_NAME_RECHECK, t)]
                if not targets:
                    continue
            self.audit.add(self.where, f"axe {violation['id']} ({violation['impact']}): "
                           f"{violation['help']} -> {targets}")

    def _cookies(self) -> None:
        for cookie in self.context.cookies():
            if cookie["name"] != SESSION_COOKIE:
                self.audit.add(self.where, f"unexpected cookie {cookie['name']!r}")
            elif cookie["expires"] != -1:
                self.audit.add(self.where, f"{SESSION_COOKIE} is not a session cookie: "
                               f"expires={cookie['expires']}")
            elif not cookie["httpOnly"] or cookie["sameSite"] != "Strict":
                self.audit.add(self.where, f"{SESSION_COOKIE} flags: {cookie}")

    # --- reading --------------------------------------------------------------------------

    def unlabelled_controls(self) -> list[str]:
        """Visible form fields that no label of their own names (a <label for> pointing at an
        id used twice labels only the first element with that id)."""
        found: list[str] = self.page.evaluate("""() => {
          const fields = document.querySelectorAll(
            'input:not([type=hidden]):not([hidden]), textarea, select')
          const problems = []
          for (const el of fields) {
            if (el.closest('[aria-hidden=true]')) continue
            const form = el.form ? el.form.getAttribute('action') : '(no form)'
            const where = `${el.tagName.toLowerCase()} name=${el.name} in ${form}`
            if (!el.labels.length && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby')) problems.push(`unlabelled ${where}`)
            if (el.id && document.querySelectorAll(`[id="${CSS.escape(el.id)}"]`).length > 1)
              problems.push(`duplicate id "${el.id}" on ${where}`)
          }
          return problems
        }""")
        return found

    def h1(self) -> Locator:
        return self.page.get_by_role("heading", level=1)

    def success_banner(self) -> Locator:
        return self.page.locator(".nhsuk-notification-banner--success")

    def error_summary(self) -> Locator:
        return self.page.locator(".nhsuk-error-summary")

    def close(self) -> None:
        self.context.close()


class _Page:
    """A page of the journey: ``heading`` is its h1; arriving audits it as ``name``."""

    heading = ""
    name = ""

    def __init__(self, tab: Tab, name: str | None = None) -> None:
        self.tab = tab
        self.page = tab.page
        expect(tab.h1()).to_have_text(self.heading)
        tab.arrived(name or self.name)


# --- the anonymous side -------------------------------------------------------------------


class StartPage(_Page):
    heading = "Speak up about something that worries you"
    name = "start"

    @classmethod
    def open(cls, tab: Tab) -> StartPage:
        tab.goto("/")
        return cls(tab)

    def raise_a_concern(self) -> ConcernForm:
        self.tab.submit(self.page.get_by_role("button", name="Raise a concern"))
        return ConcernForm(self.tab)

    def check_for_a_reply(self) -> ReturnPage:
        self.tab.submit(self.page.get_by_role("button", name="Check for a reply"))
        return ReturnPage(self.tab)


class ConcernForm(_Page):
    heading = "Raise a concern"
    name = "new concern form"

    def send_expecting_errors(self) -> ConcernForm:
        self.tab.submit(self.page.get_by_role("button", name="Send concern"), status=400)
        expect(self.tab.error_summary()).to_be_visible()
        return ConcernForm(self.tab, "new concern form with errors")

    def errors(self) -> list[str]:
        return [t.strip() for t in self.tab.error_summary().get_by_role("link").all_inner_texts()]

    def describe(self, text: str) -> ConcernForm:
        self.page.get_by_label("What happened?").fill(text)
        return self

    def about(self, kind: str) -> ConcernForm:
        self.page.get_by_role("group", name="What is it mainly about?").get_by_label(
            kind, exact=True).check()
        return self

    def raise_it(self, how: str) -> ConcernForm:
        self.page.get_by_role("group", name="How do you want to raise it?").get_by_label(
            how, exact=True).check()
        return self

    def send(self) -> ReceiptPage:
        self.tab.submit(self.page.get_by_role("button", name="Send concern"))
        return ReceiptPage(self.tab)


class ReceiptPage(_Page):
    heading = "Your concern has been sent"
    name = "receipt"

    def receipt(self) -> str:
        return self.page.locator("p.speakup-receipt").inner_text().strip()


class ReturnPage(_Page):
    heading = "Check for a reply"
    name = "return"

    def enter_receipt(self, receipt: str) -> ReporterCase:
        self.page.get_by_label("Your receipt").fill(receipt)
        self.tab.submit(self.page.get_by_role("button", name="Continue"))
        return ReporterCase(self.tab)


class ReporterCase(_Page):
    heading = "Your concern"
    name = "reporter case"

    def what_i_told_them(self) -> str:
        return self.page.locator("h2:has-text('What you told us') + .speakup-message").inner_text()

    def guardian_replies(self) -> list[str]:
        entries = self.page.locator(".speakup-thread-entry--guardian .speakup-message")
        return [t.strip() for t in entries.all_inner_texts()]

    def answer(self, text: str) -> ReporterCase:
        self.page.get_by_label("Your message").fill(text)
        self.tab.submit(self.page.get_by_role("button", name="Send message"))
        expect(self.tab.success_banner()).to_be_visible()
        return ReporterCase(self.tab, "reporter case after answering")

    def confirmation(self) -> str:
        return self.tab.success_banner().inner_text()


# --- the staff side -----------------------------------------------------------------------


class StaffLogin(_Page):
    heading = "Sign in"
    name = "staff login"

    @classmethod
    def open(cls, tab: Tab) -> StaffLogin:
        tab.goto("/staff/login")
        return cls(tab)

    def sign_in(self, email: str, password: str, code: str) -> Inbox:
        submit_sign_in(self.tab, email, password, code)
        return Inbox(self.tab)


class Inbox(_Page):
    heading = "Cases"
    name = "inbox"

    def case_refs(self) -> list[str]:
        links = self.page.locator("table a[href^='/staff/cases/']")
        return [t.strip() for t in links.all_inner_texts()]

    def open_case(self, ref: str) -> GuardianCase:
        self.tab.submit(self.page.get_by_role("link", name=ref, exact=True))
        return GuardianCase(self.tab, ref)


class GuardianCase(_Page):
    name = "guardian case"

    def __init__(self, tab: Tab, ref: str, name: str | None = None) -> None:
        self.ref = ref
        self.heading = f"Case {ref}"
        super().__init__(tab, name)

    def concern_text(self) -> str:
        return self.page.locator("h2:has-text('The concern') + .speakup-message").inner_text()

    def thread(self, author: str) -> list[str]:
        entries = self.page.locator(f".speakup-thread-entry--{author} .speakup-message")
        return [t.strip() for t in entries.all_inner_texts()]

    def reply(self, text: str) -> GuardianCase:
        self.page.get_by_label("Reply to the reporter").fill(text)
        self.tab.submit(self.page.get_by_role("button", name="Send reply"))
        expect(self.tab.success_banner()).to_be_visible()
        return GuardianCase(self.tab, self.ref, "guardian case after reply")

    def ngo_element(self, label: str) -> Locator:
        return self.page.get_by_role("group", name="Elements of the case").get_by_label(
            label, exact=True)

    def record_ngo_element(self, label: str) -> GuardianCase:
        self.ngo_element(label).check()
        self.tab.submit(self.page.get_by_role("button", name="Save record"))
        expect(self.tab.success_banner()).to_be_visible()
        return GuardianCase(self.tab, self.ref, "guardian case after NGO record")

    def reload(self, name: str) -> GuardianCase:
        self.tab.goto(f"/staff/cases/{self.ref}")
        return GuardianCase(self.tab, self.ref, name)

    def confirmation(self) -> str:
        return self.tab.success_banner().inner_text()


def sign_in(tab: Tab, email: str, password: str, code: str) -> None:
    """Open the staff login page and sign in (whatever page the role then lands on)."""
    tab.goto("/staff/login")
    submit_sign_in(tab, email, password, code)


def submit_sign_in(tab: Tab, email: str, password: str, code: str) -> None:
    """Fill in and send the staff login form already on the page."""
    tab.page.get_by_label("Email address").fill(email)
    tab.page.get_by_label("Password").fill(password)
    tab.page.get_by_label("Code from your authenticator app").fill(code)
    tab.submit(tab.page.get_by_role("button", name="Sign in"))


class ChartPage:
    """What the EDI pages with server-drawn SVG charts share."""

    def __init__(self, tab: Tab) -> None:
        self.tab = tab
        self.page = tab.page

    def audit_at(self, name: str, viewport: ViewportSize) -> None:
        self.page.set_viewport_size(viewport)
        self.tab.arrived(f"{name} {viewport['width']}px")

    def charts(self) -> int:
        return self.page.locator("svg.speakup-chart[role=img]").count()

    def styled_svg_nodes(self) -> int:
        return self.page.locator("svg.speakup-chart [style], svg.speakup-chart[style]").count()

    def check_printed(self, form: str, trust: str) -> None:
        """With print media: the query ``form`` and every button hidden, the trust's name and
        the date shown, and no link printed as "(Link: ...)"."""
        expect(self.page.locator(form)).to_be_hidden()
        expect(self.page.locator(".nhsuk-header")).to_be_hidden()
        expect(self.page.locator("button[data-print]")).to_be_hidden()
        printed = self.page.locator("[data-printed]")
        expect(printed).to_be_visible()
        expect(printed).to_contain_text(trust)
        expect(printed).to_contain_text(f"Produced on {date_text(today())}")
        after = self.page.evaluate(
            "() => [...document.querySelectorAll('.speakup-report a')]"
            ".map(a => getComputedStyle(a, '::after').content)")
        assert after and all(c in ("none", "normal") for c in after), after

