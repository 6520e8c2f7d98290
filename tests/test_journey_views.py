"""The whole journey through the Flask test client: submit, read, reply, answer."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.conftest import Staff, csrf_token, login, pow_fields, reporter_sign_in, submit_concern


def test_reporter_and_guardian_exchange_messages(
    app, client: FlaskClient, guardian: Staff
) -> None:
    receipt, html = submit_concern(client, "Jobs on our ward go to the manager's friends.")
    assert len(receipt.split()) == 8
    assert "cannot be recovered" in html

    staff = app.test_client()
    login(staff, guardian)
    inbox = staff.get("/staff/cases/").data.decode()
    ref = re.search(r'href="/staff/cases/([A-Z0-9]{8})"', inbox).group(1)
    case = staff.get(f"/staff/cases/{ref}").data.decode()
    assert "manager&#39;s friends" in case

    reply = staff.post(f"/staff/cases/{ref}/reply", data={
        "csrf_token": csrf_token(case), "text": "Thank you. Can you tell me which posts?"})
    assert reply.status_code == 302

    reporter = reporter_sign_in(app.test_client(), receipt)
    page = reporter.get("/concern").data.decode()
    assert "Can you tell me which posts?" in page
    assert "Acknowledged" in page
    sent = reporter.post("/concern/message", data={
        "csrf_token": csrf_token(page), "text": "The band 7 post in March."},
        content_type="multipart/form-data")
    assert sent.status_code == 302

    case = staff.get(f"/staff/cases/{ref}").data.decode()
    assert "The band 7 post in March." in case


def test_wrong_receipt_gets_the_same_message_as_malformed(client: FlaskClient, guardian) -> None:
    submit_concern(client)
    messages = []
    for attempt in ("abandon " * 8, "not a receipt at all", "zzzz"):
        page = client.get("/return").data.decode()
        response = client.post("/return", data={"csrf_token": csrf_token(page),
                                                "receipt": attempt, **pow_fields(page)})
        assert response.status_code == 400
        body = response.data.decode()
        messages.append("We could not find a concern with that receipt" in body)
    assert messages == [True, True, True]


def test_receipt_attempts_are_rate_limited(client: FlaskClient, guardian) -> None:
    statuses = []
    for _ in range(7):
        page = client.get("/return").data.decode()
        statuses.append(client.post("/return", data={
            "csrf_token": csrf_token(page), "receipt": "abandon " * 8,
            **pow_fields(page)}).status_code)
    assert statuses[:5] == [400] * 5
    assert statuses[5:] == [429, 429]


def test_double_click_sends_one_concern_and_both_get_the_receipt(app, database, guardian) -> None:
    """Two simultaneous posts of one form: one concern, the same receipt, never a 500."""
    import threading

    from sqlalchemy import func, select

    from speakup.models import Concern
    from tests.conftest import form_token, receipt_on

    client = app.test_client()
    page = client.get("/concern/new").data.decode()
    data = {"csrf_token": csrf_token(page), "form_token": form_token(page),
            "text": "double click", "kind": "other", "identity_mode": "anonymous"}
    cookie = client.get_cookie("su_r").value
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(2)

    def post() -> None:
        c = app.test_client()
        c.set_cookie("su_r", cookie)
        barrier.wait()
        r = c.post("/concern/new", data=data, content_type="multipart/form-data")
        results.append((r.status_code, r.data.decode()))

    threads = [threading.Thread(target=post) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [status for status, _ in results] == [200, 200]
    assert receipt_on(results[0][1]) == receipt_on(results[1][1])
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Concern)) == 1


def test_staff_error_is_never_a_bare_500_even_when_the_page_fails(app, guardian, monkeypatch,
                                                                  caplog) -> None:
    """Finding 13: after a dropped connection the staff error page itself raised and gunicorn
    sent its bare "Internal Server Error", with SQL parameters in the log."""
    from sqlalchemy.exc import OperationalError

    from core import web
    from speakup import inbox

    staff = app.test_client()
    login(staff, guardian)

    def dropped(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT secret FROM t WHERE ref = %(ref)s", {"ref": "REF123"},
                               Exception("server closed the connection"))

    monkeypatch.setattr(inbox, "page", dropped)
    app.config["TESTING"] = False  # as in production: no traceback in the log
    response = staff.get("/staff/cases/")
    body = response.data.decode()
    assert response.status_code == 500 and "Sorry, there is a problem" in body
    assert "Nothing you sent was saved" not in body  # a GET sent nothing
    assert "REF123" not in caplog.text and "REF123" not in body

    def broken_page(*_args: object, **_kwargs: object) -> str:
        raise RuntimeError("the page cannot be drawn either")

    monkeypatch.setattr(web, "render_template", broken_page)
    response = staff.get("/staff/cases/")
    assert response.status_code == 500
    assert "Sorry, there is a problem with the service" in response.data.decode()
    assert response.mimetype == "text/html"


def test_anonymous_side_logs_nothing_when_it_fails(app, client, guardian, monkeypatch,
                                                   caplog) -> None:
    import logging

    from speakup import services

    def failing(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("boom with the concern text")

    monkeypatch.setattr(services, "submit_concern", failing)
    with caplog.at_level(logging.DEBUG):
        page = client.get("/concern/new").data.decode()
        from tests.conftest import form_token

        response = client.post("/concern/new", data={
            "csrf_token": csrf_token(page), "form_token": form_token(page),
            "text": "Private words", "kind": "other", "identity_mode": "anonymous"},
            content_type="multipart/form-data")
        # A CSRF failure on the anonymous side is not logged either.
        client.post("/concern/new", data={"text": "x"}, content_type="multipart/form-data")
    assert response.status_code == 500 and "Nothing you sent was saved" in response.data.decode()
    assert [r for r in caplog.records if r.name.startswith(("speakup", "flask_wtf"))] == []


def test_back_after_sending_shows_an_empty_form_saying_it_was_sent(
        client: FlaskClient, guardian: Staff, database) -> None:
    from sqlalchemy import func, select

    from speakup.models import Concern

    receipt, _html = submit_concern(client, "Unsafe staffing on ward 9 last night.")
    again = client.get("/concern/new")  # what Back re-fetches (the page is never cached)
    page = again.data.decode()
    assert again.status_code == 200 and again.headers["Cache-Control"] == "no-store"
    assert "Your concern has been sent." in page and "Unsafe staffing on ward 9" not in page
    # The browser must not put the text back into the fresh form, nor show a cached copy.
    assert 'autocomplete="off" data-no-back-cache' in page
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Concern)) == 1
    # Said once: the next visit is a plain form.
    assert "Your concern has been sent." not in client.get("/concern/new").data.decode()
    assert len(receipt.split()) == 8


def test_message_typed_after_the_session_ended_is_kept_and_the_receipt_asked_again(
        app, guardian: Staff) -> None:
    receipt, _html = submit_concern(app.test_client(), "Rota worries.")
    reporter = reporter_sign_in(app.test_client(), receipt)
    page = reporter.get("/concern").data.decode()
    reporter = app.test_client()  # the session ended while they typed: no cookie any more
    kept = reporter.post("/concern/message", data={
        "csrf_token": csrf_token(page), "text": "Also the night of the 4th."},
        content_type="multipart/form-data")
    body = kept.data.decode()
    assert kept.status_code == 401
    assert "Your message has not been sent yet" in body and "Also the night of the 4th." in body
    signed = reporter.post("/return", data={
        "csrf_token": csrf_token(body), "receipt": receipt,
        "pending_message": "Also the night of the 4th.", **pow_fields(body)})
    back = signed.data.decode()
    assert signed.status_code == 200
    assert "Also the night of the 4th." in back and "not been sent yet" in back
    assert "You wrote" not in back  # not sent without the reporter pressing Send


def test_start_page_signposts_urgent_help_guardians_and_the_law(client: FlaskClient) -> None:
    page = client.get("/").data.decode()
    assert "Call 999" in page
    assert "incident reporting" in page and "employee assistance" in page
    assert "020 3117 2520" in page  # Protect's advice line
    assert "Public Interest Disclosure Act 1998" in page
    assert "Who the guardians are" in page and "Demo Guardian" in page
    assert 'class="speakup-header-trust">Demo NHS Foundation Trust<' in page
    privacy = client.get("/privacy").data.decode()
    assert "365 days (about 12 months) after it was closed" in privacy


def test_concern_form_asks_the_three_needed_questions_first_and_reveals_name_fields(
        client: FlaskClient, guardian: Staff) -> None:
    page = client.get("/concern/new").data.decode()
    order = [page.index(f'name="{name}"') for name in
             ("text", "kind", "identity_mode", "name", "contact", "site", "happened_month")]
    assert order == sorted(order)
    assert "what happened, what it is mainly about, and how you want to raise it" in page
    region = page[page.index('id="identity-details"') - 200:page.index('name="contact"')]
    # Shown without JavaScript (no hidden attribute); the script hides it for "Anonymously".
    assert 'data-reveal-values="confidential open"' in region and " hidden" not in region
    assert 'autocomplete="off" data-no-back-cache' in page


def test_receipt_page_numbers_words_offers_copy_and_names_the_address(
        client: FlaskClient, guardian: Staff) -> None:
    receipt, html = submit_concern(client)
    assert 'data-copy="receipt"' in html and f'data-copy-text="{receipt}"' in html
    assert "http://localhost/return" in html  # where to come back to, in words
    download = re.search(r'download="speak-up-receipt.txt" href="data:text/plain;charset=utf-8,'
                         r'([^"]+)"', html)
    assert download
    from urllib.parse import unquote
    text = unquote(download.group(1))
    assert receipt in text and "http://localhost/return" in text


def test_too_large_states_the_limit_and_offers_go_back(app, client: FlaskClient,
                                                       guardian: Staff) -> None:
    page = client.get("/concern/new").data.decode()
    limit = app.config["MAX_CONTENT_LENGTH"]
    response = client.post("/concern/new", data={
        "csrf_token": csrf_token(page), "text": "x" * (limit + 10)})
    body = response.data.decode()
    assert response.status_code == 413
    assert "at most" in body and " MB each" in body
    assert 'href="/concern/new" data-go-back>Go back</a>' in body
