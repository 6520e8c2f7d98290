"""The guardian's pages through the Flask test client: inbox at scale, case page, extras."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from speakup import inbox
from tests.conftest import Staff, csrf_token, reporter_sign_in, submit_concern

REF = re.compile(r'href="/staff/cases/([A-Z0-9]{8})"')


def _refs(html: str) -> list[str]:
    return REF.findall(html)


def _new_tags(html: str) -> int:
    return len(re.findall(r'<strong class="nhsuk-tag[^"]*">\s*New message', html))


def _staff(app: Flask, guardian: Staff) -> FlaskClient:
    """Signed in as ``guardian`` without spending a TOTP code (each works once), so a test can
    sign in through the login form as well."""
    from accounts.models import StaffUser
    from accounts.services import start_session
    from core.db import Database

    database: Database = app.extensions["speakup.database"]
    with database.session() as db:
        user = db.get(StaffUser, guardian.id)
        assert user is not None
        token = start_session(db, user=user, private_key=guardian.private_key)
    staff = app.test_client()
    with staff.session_transaction() as session:
        session["token"] = token
    return staff


def _reply(staff: FlaskClient, ref: str, text: str) -> None:
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    done = staff.post(f"/staff/cases/{ref}/reply", data={"csrf_token": csrf_token(page),
                                                         "text": text})
    assert done.status_code == 302, done.data.decode()[:3000]


def test_new_message_marks_only_unread_reporter_messages_and_sorts_first(
        app: Flask, guardian: Staff) -> None:
    receipts = [submit_concern(app.test_client(), f"Concern number {i}.")[0] for i in range(3)]
    staff = _staff(app, guardian)
    listing = staff.get("/staff/cases/").data.decode()
    assert len(_refs(listing)) == 3
    assert _new_tags(listing) == 0  # a new case is not a message

    first = next(ref for ref in _refs(listing)
                 if "Concern number 0." in staff.get(f"/staff/cases/{ref}").data.decode())
    _reply(staff, first, "Thank you, can you say more?")
    reporter = reporter_sign_in(app.test_client(), receipts[0])
    page = reporter.get("/concern").data.decode()
    assert reporter.post("/concern/message", data={
        "csrf_token": csrf_token(page), "text": "It happened again on Tuesday."},
        content_type="multipart/form-data").status_code == 302

    listing = staff.get("/staff/cases/").data.decode()
    assert _new_tags(listing) == 1
    tagged = re.search(r'/staff/cases/([A-Z0-9]{8})">\1</a>\s*<strong class="nhsuk-tag[^"]*">'
                       r'\s*New message', listing)
    assert tagged and tagged.group(1) == first
    by_message = staff.get("/staff/cases/?sort=message").data.decode()
    assert _refs(by_message)[0] == first
    assert _refs(staff.get("/staff/cases/?unread=1").data.decode()) == [first]

    staff.get(f"/staff/cases/{first}")  # read it
    assert _new_tags(staff.get("/staff/cases/").data.decode()) == 0
    assert _refs(staff.get("/staff/cases/?unread=1").data.decode()) == []


def test_inbox_filters_search_and_pages_keep_the_query_in_the_url(
        app: Flask, guardian: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in ("bullying", "patient-safety", "other"):
        submit_concern(app.test_client(), f"About {kind}.", kind=kind)
    staff = _staff(app, guardian)
    refs = _refs(staff.get("/staff/cases/").data.decode())
    bullying = _refs(staff.get("/staff/cases/?kind=bullying").data.decode())
    assert len(bullying) == 1 and "About bullying." in staff.get(
        f"/staff/cases/{bullying[0]}").data.decode()
    assert _refs(staff.get(f"/staff/cases/?ref={refs[1].lower()}").data.decode()) == [refs[1]]
    assert "No case matches" in staff.get("/staff/cases/?mine=1").data.decode()

    page = staff.get(f"/staff/cases/{refs[2]}").data.decode()
    assert staff.post(f"/staff/cases/{refs[2]}/update", data={
        "csrf_token": csrf_token(page), "status": "in-progress", "raised": "anonymous",
        "assignee": str(guardian.id)}).status_code == 302
    assert _refs(staff.get("/staff/cases/?mine=1").data.decode()) == [refs[2]]
    assert _refs(staff.get("/staff/cases/?status=in-progress").data.decode()) == [refs[2]]

    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    first = staff.get("/staff/cases/?status=all&sort=oldest").data.decode()
    assert len(_refs(first)) == 2 and "page 1 of 2" in first
    link = re.search(r'href="(/staff/cases/\?[^"]*page=2[^"]*)"', first)
    assert link and "sort=oldest" in link.group(1) and "status=all" in link.group(1)
    second = staff.get(link.group(1).replace("&amp;", "&")).data.decode()
    assert len(_refs(second)) == 1 and set(_refs(first) + _refs(second)) == set(refs)
    # Nonsense in the URL is the default, never an error.
    assert staff.get("/staff/cases/?page=abc&sort=x&status=y&kind=z").status_code == 200


def test_case_page_tells_replies_from_private_notes_and_puts_the_reply_box_first(
        app: Flask, guardian: Staff) -> None:
    submit_concern(app.test_client(), "The band 6 went to her best mate. Favouritism is rife.",
                   happened_month="2026-11")
    staff = _staff(app, guardian)
    ref = _refs(staff.get("/staff/cases/").data.decode())[0]
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    assert "November 2026" in page and ">2026-11<" not in page
    # Who sees what is said before sending, and the reply box comes before the theme cards.
    assert page.index("The reporter will read this") < page.index("Send to the reporter")
    assert page.index("The reporter never sees notes.") < page.index("Save private note")
    assert page.index('id="reply"') < page.index('id="themes"')
    token = csrf_token(page)
    staff.post(f"/staff/cases/{ref}/note", data={"csrf_token": token,
                                                "note-text": "Checked the rota."})
    _reply(staff, ref, "Thank you for telling us.")
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    note = page[page.index("Private note by"):]
    reply = page[page.index("Reply to the reporter from"):]
    assert "Private: the reporter never sees this" in note[:800]
    assert "The reporter sees this" in reply[:800]
    assert "speakup-thread-entry--note" in page and "speakup-thread-entry--guardian" in page


def test_one_save_for_status_assignment_and_ngo_and_closing_asks_for_a_message(
        app: Flask, guardian: Staff) -> None:
    receipt, _html = submit_concern(app.test_client(), "Nobody answers the phone at night.")
    staff = _staff(app, guardian)
    ref = _refs(staff.get("/staff/cases/").data.decode())[0]
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    assert page.count("Save changes") == 1
    for old in ("Update status", "Save record", ">Assign<"):
        assert old not in page
    form = {"csrf_token": csrf_token(page), "status": "closed", "assignee": str(guardian.id),
            "raised": "anonymous", "elements": ["patient_safety"],
            "professional_group": "nursing-midwifery"}
    refused = staff.post(f"/staff/cases/{ref}/update", data=form)
    assert refused.status_code == 400
    body = refused.data.decode()
    assert "Write a closing message to the reporter" in body
    # Nothing chosen is lost: the choices are still on the form.
    assert re.search(r'value="closed"\s+checked', body)
    assert re.search(rf'<option value="{guardian.id}" selected', body)
    assert re.search(r'value="patient_safety"\s+checked', body)

    saved = staff.post(f"/staff/cases/{ref}/update", data={
        **form, "closing_message": "We have changed the night rota. Thank you."})
    assert saved.status_code == 302
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    assert "Saved: closing message sent to the reporter, status changed, assignment changed" \
        in page
    assert re.search(r'value="patient_safety"\s+checked', page)

    reporter = reporter_sign_in(app.test_client(), receipt)
    mine = reporter.get("/concern").data.decode()
    assert "We have changed the night rota." in mine
    assert "usually reply within 7 days" not in mine
    answered = reporter.post("/concern/feedback", data={"csrf_token": csrf_token(mine),
                                                        "answer": "yes"})
    assert answered.status_code == 302
    mine = reporter.get("/concern").data.decode()
    assert "Your answer is recorded" in mine and 'name="answer"' not in mine


def test_closing_without_a_message_needs_a_tick_and_the_reporter_is_told(
        app: Flask, guardian: Staff) -> None:
    receipt, _html = submit_concern(app.test_client(), "Short staffed again.")
    staff = _staff(app, guardian)
    ref = _refs(staff.get("/staff/cases/").data.decode())[0]
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    assert staff.post(f"/staff/cases/{ref}/update", data={
        "csrf_token": csrf_token(page), "status": "closed", "raised": "anonymous",
        "close_without_message": "y"}).status_code == 302
    mine = reporter_sign_in(app.test_client(), receipt).get("/concern").data.decode()
    assert "closed your concern without sending a message" in mine
    assert "usually reply within 7 days" not in mine


def test_reply_typed_after_the_staff_session_ended_is_kept_through_signing_in(
        app: Flask, guardian: Staff) -> None:
    from tests.conftest import PASSWORD

    submit_concern(app.test_client(), "Please help.")
    staff = _staff(app, guardian)
    ref = _refs(staff.get("/staff/cases/").data.decode())[0]
    page = staff.get(f"/staff/cases/{ref}").data.decode()
    expired = app.test_client()  # the staff session is gone (a new browser, or timed out)
    kept = expired.post(f"/staff/cases/{ref}/reply", data={
        "csrf_token": csrf_token(page), "text": "We are looking into the night rota."})
    body = kept.data.decode()
    assert kept.status_code == 401
    assert "nothing was sent or saved" in body
    login_page = body
    signed = expired.post("/staff/login", data={
        "csrf_token": csrf_token(login_page), "email": guardian.email, "password": PASSWORD,
        "code": guardian.code(),
        "next": re.search(r'name="next" type="hidden" value="([^"]*)"', login_page).group(1),
        "kept": re.search(r'name="kept" type="hidden" value="([^"]*)"', login_page).group(1)
        .replace("&#34;", '"').replace("&quot;", '"')})
    again = signed.data.decode()
    assert signed.status_code == 200
    assert "We are looking into the night rota." in again and "not been sent or saved" in again
    assert f'action="/staff/cases/{ref}/reply"' in again
    sent = expired.post(f"/staff/cases/{ref}/reply", data={
        "csrf_token": csrf_token(again), "text": "We are looking into the night rota."})
    assert sent.status_code == 302


def test_sign_in_returns_to_the_page_asked_for_with_its_query_string(
        app: Flask, guardian: Staff, second_guardian: Staff) -> None:
    from tests.conftest import PASSWORD

    client = app.test_client()
    asked = client.get("/staff/cases/?kind=bullying&sort=oldest")
    assert asked.status_code == 302
    assert asked.location.endswith("next=/staff/cases/?kind%3Dbullying%26sort%3Doldest")
    page = client.get(asked.location).data.decode()
    done = client.post("/staff/login", data={
        "csrf_token": csrf_token(page), "email": guardian.email, "password": PASSWORD,
        "code": guardian.code(), "next": "/staff/cases/?kind=bullying&sort=oldest"})
    assert done.status_code == 302 and done.location == "/staff/cases/?kind=bullying&sort=oldest"
    # Only ever a page of this app.
    other = app.test_client()
    page = other.get("/staff/login").data.decode()
    away = other.post("/staff/login", data={
        "csrf_token": csrf_token(page), "email": second_guardian.email, "password": PASSWORD,
        "code": second_guardian.code(), "next": "https://evil.example/"})
    assert away.location == "/staff/"


def test_themes_nav_opens_an_overview_of_the_guardians_own_cases(
        app: Flask, guardian: Staff) -> None:
    for _ in range(2):
        submit_concern(app.test_client(), "My manager shouts at me in front of patients and "
                       "belittles me. I'm being bullied.", kind="bullying")
    staff = _staff(app, guardian)
    inbox_page = staff.get("/staff/cases/").data.decode()
    assert 'href="/staff/themes">Themes<' in inbox_page
    page = staff.get("/staff/themes").data.decode()
    assert "Themes in your cases" in page and "2 cases you can open (2 open, 0 closed)" in page
    link = re.search(r'href="(/staff/cases/\?theme=[a-z_]+)">2<', page)
    assert link, page[page.index("<table"):page.index("</table>")]
    assert len(_refs(staff.get(link.group(1)).data.decode())) == 2
    assert 'href="/staff/retrain"' in page


def test_retrain_page_says_when_too_few_extracts_to_judge(
        app: Flask, guardian: Staff, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from speakup import themes
    from speakup.themes import ModelInfo, RetrainStatus

    def tiny(*_args: object, **_kwargs: object) -> RetrainStatus:
        return RetrainStatus(ModelInfo(retrained=True, trained_at=datetime(2026, 12, 1, tzinfo=UTC),
                                       trained_by="Gina", examples=12, heldout=2,
                                       macro_f1_before=1.0, macro_f1_after=1.0), usable=12)

    monkeypatch.setattr(themes, "retrain_status", tiny)
    page = _staff(app, guardian).get("/staff/retrain").data.decode()
    assert "Too few extracts to judge: 2 were kept back" in page
    assert "1.00 before retraining" not in page


def test_audit_log_in_words_with_links_to_cases(app: Flask, guardian: Staff) -> None:
    submit_concern(app.test_client(), "Words please.")
    staff = _staff(app, guardian)
    ref = _refs(staff.get("/staff/cases/").data.decode())[0]
    _reply(staff, ref, "Thanks.")
    page = staff.get("/staff/audit").data.decode()
    assert "Opened the case" in page and "Replied to the reporter" in page
    assert f'<a href="/staff/cases/{ref}">Case {ref}</a>' in page
    assert "case.view" not in page and "case:" not in page and "staff:" not in page
    assert "nhsuk-table--responsive" in page


def test_ngo_return_is_picked_by_quarter_or_financial_year(app: Flask, guardian: Staff) -> None:
    from datetime import date

    from speakup.services import reporting_periods

    submit_concern(app.test_client(), "Counted.")
    staff = _staff(app, guardian)
    page = staff.get("/staff/export").data.decode()
    assert 'type="date"' not in page and '<select class="nhsuk-select" id="period"' in page
    periods = reporting_periods(date.today())
    quarter = periods[0]
    assert quarter.value.endswith(("Q1", "Q2", "Q3", "Q4")) and quarter.label in page
    shown = staff.post("/staff/export", data={"csrf_token": csrf_token(page),
                                              "period": quarter.value}).data.decode()
    assert "1 case received from" in shown
    csv = staff.post("/staff/export", data={"csrf_token": csrf_token(page),
                                            "period": quarter.value, "format": "csv"})
    assert csv.headers["Content-Disposition"].endswith(f'ngo-return-{quarter.value}.csv"')
    bad = staff.post("/staff/export", data={"csrf_token": csrf_token(page), "period": "1999-00"})
    assert bad.status_code == 400


def test_reporting_periods_follow_the_financial_year() -> None:
    from datetime import date

    from speakup.services import reporting_periods

    periods = reporting_periods(date(2026, 12, 3), years=2)
    assert [p.value for p in periods] == [
        "2026-27-Q3", "2026-27-Q2", "2026-27-Q1", "2026-27",
        "2025-26-Q4", "2025-26-Q3", "2025-26-Q2", "2025-26-Q1", "2025-26"]
    q4 = periods[4]
    assert (q4.start, q4.end) == (date(2026, 1, 1), date(2026, 3, 31))
    assert (periods[3].start, periods[3].end) == (date(2026, 4, 1), date(2027, 3, 31))
