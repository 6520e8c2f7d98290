"""The anonymous side: raise a concern, get a receipt, come back to read replies.

Nothing here reads the client's address or user agent, and no time finer than the day is
stored. The reporter's access to their concern lives only in the encrypted session cookie.
"""

from __future__ import annotations

import io
import secrets
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage

from config.vocabulary import SPEAK_UP_AGAIN
from core import ratelimit
from core.db import today
from core.web import db, settings
from speakup import services
from speakup.attachments import AttachmentError, CleanFile, clean_upload
from speakup.forms import (
    ConcernForm,
    FeedbackForm,
    LeaveForm,
    ReceiptForm,
    ReporterMessageForm,
)

bp = Blueprint("report", __name__, template_folder="templates")


def _files(field: Any) -> tuple[list[CleanFile], list[str]]:
    """Clean every uploaded file; return the good ones and a message per bad one."""
    # A plain form value sent under the files' name is not a file: ignore it.
    uploads: list[FileStorage] = [f for f in (field.data or [])
                                  if isinstance(f, FileStorage) and f.filename]
    cfg = settings()
    if len(uploads) > cfg.max_attachments:
        return [], [f"You can attach up to {cfg.max_attachments} files."]
    good, errors = [], []
    for upload in uploads:
        try:
            good.append(clean_upload(upload.filename or "file", upload.read(),
                                     max_bytes=cfg.max_attachment_bytes))
        except AttachmentError as e:
            errors.append(str(e))
    return good, errors


@bp.get("/")
def start() -> str:
    return render_template("speakup/start.html")


@bp.get("/privacy")
def privacy() -> str:
    return render_template("speakup/privacy.html")


def _browser_secret() -> str:
    """A random value in this browser's (sealed) session: only the browser that sent a form
    sees its receipt again when the form is repeated."""
    if "bs" not in session:
        session["bs"] = secrets.token_urlsafe(16)
    value: str = session["bs"]
    return value


def _submit_once(draft: services.ConcernDraft, form_token: str) -> services.Submission:
    """Submit and commit. A double click sends the same form token twice at once: the
    second request then hits the token's unique constraint, and trying again finds the
    first request's receipt instead of failing."""
    for attempt in (1, 2):
        try:
            submission = services.submit_concern(db(), draft=draft, form_token=form_token,
                                                 browser_secret=_browser_secret(),
                                                 settings=settings())
            db().commit()
            return submission
        except IntegrityError:
            db().rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@bp.route("/concern/new", methods=["GET", "POST"])
def new_concern() -> Any:
    # Back after sending re-fetches this page (no-store): an empty form with a fresh token. The
    # browser does not put the text back (autocomplete="off" on the form; a page restored from
    # the back-forward cache reloads itself), so what was sent is neither shown again on a
    # shared device nor sent twice by accident; the page says a concern was just sent.
    just_sent = request.method == "GET" and bool(session.pop("sent", False))
    form = ConcernForm()
    guardians = services.eligible_guardians(db(), settings())
    form.fill_choices(organisation=settings().organisation,
                      guardians=[(g_.id, g_.name) for g_ in guardians], today=today())
    if not form.form_token.data:
        form.form_token.data = secrets.token_urlsafe(24)
    _browser_secret()
    file_errors: list[str] = []
    if form.validate_on_submit():
        files, file_errors = _files(form.files)
        if not file_errors:
            try:
                submission = _submit_once(form.to_draft(files), form.form_token.data)
            except services.ConcernInvalidError as e:
                db().rollback()
                target = getattr(form, e.field or "text", form.text)
                target.errors = [*target.errors, str(e)]
            except services.NoGuardianError:
                db().rollback()
                form.form_errors.append(
                    "This service is not ready to receive concerns yet: no guardian has been "
                    "set up. Nothing was saved. Please contact your Freedom to Speak Up "
                    "guardian another way, or try again later.")
            else:
                if submission.receipt is None:
                    return render_template("speakup/already_sent.html"), 409
                session["sent"] = True
                return render_template("speakup/receipt.html", receipt=submission.receipt,
                                       repeated=submission.repeated)
        else:
            form.files.errors = [*form.files.errors, *file_errors]
    status = 400 if form.is_submitted() else 200
    return render_template("speakup/new_concern.html", form=form, guardians=guardians,
                           just_sent=just_sent), status


def _receipt_form_page(form: ReceiptForm, status: int) -> Any:
    """The receipt form with a fresh proof-of-work challenge (see core.ratelimit)."""
    bits = ratelimit.required_bits(db(), settings=settings())
    form.pow_token.data = ratelimit.challenge(bits=bits, settings=settings()).token
    form.pow_solution.data = ""
    db().commit()
    return render_template("speakup/return.html", form=form, pow_bits=bits), status


@bp.route("/return", methods=["GET", "POST"])
def sign_in() -> Any:
    """Sign in with a receipt: limited per session chain, and with proof of work while the
    service as a whole sees many wrong receipts (see core.ratelimit); nobody is locked out."""
    form = ReceiptForm()
    # The session chain starts when the form is first shown, so a copy of the cookie taken
    # before the first attempt carries it too. (A client that sends no cookie at all starts a
    # new chain each time: what limits it is the proof of work.)
    chain = session.setdefault("rl", secrets.token_hex(16))
    if not form.validate_on_submit():
        return _receipt_form_page(form, 400 if form.is_submitted() else 200)
    cfg = settings()
    window = cfg.receipt_window_seconds
    # Counted before it is checked (and committed at once), so parallel requests from one
    # session cannot all be checked against the same count.
    attempts = ratelimit.hit(db(), name=f"receipt-session:{chain}", window_seconds=window,
                             settings=cfg)
    db().commit()
    if attempts > cfg.receipt_session_limit:
        form.receipt.errors = ["There have been too many attempts from this browser. Wait 10 "
                               "minutes and try again."]
        return _receipt_form_page(form, 429)
    required = ratelimit.required_bits(db(), settings=cfg)
    # While no work is asked for, a form without a challenge (a page saved before this
    # release, a client without the hidden fields) is fine; under attack it is not.
    if (required or form.pow_token.data) and not ratelimit.check(
            db(), token=form.pow_token.data or "",
                           solution=form.pow_solution.data or "", required_bits=required,
                           settings=cfg):
        db().commit()
        form.receipt.errors = [
            "The service is busy checking receipts. Please send the form again: your browser "
            "will take a few seconds to prove it is not a machine (this needs JavaScript). "
            "If it does not work, try again later."]
        return _receipt_form_page(form, 429)
    try:
        access = services.open_with_receipt(db(), receipt=form.receipt.data or "", settings=cfg)
    except services.ReceiptNotFoundError:
        ratelimit.hit(db(), name="receipt-failures", window_seconds=window, settings=cfg)
        db().commit()
        form.receipt.errors = ["We could not find a concern with that receipt. Check each "
                               "word and try again."]
        return _receipt_form_page(form, 400)
    db().commit()
    session.clear()
    session["rl"] = chain
    session["sid"] = secrets.token_hex(16)
    session["cid"] = access.concern_id
    session["ck"] = access.concern_key
    if form.pending_message.data:
        return _render_case(message_form=ReporterMessageForm(
            formdata=None, text=form.pending_message.data), pending=True)
    return redirect(url_for("report.case"))


def _has_access() -> bool:
    return not ("cid" not in session or "ck" not in session or "sid" not in session or
                ratelimit.is_spent(db(), value=str(session["sid"]), kind="left",
                                   settings=settings()))


def _access() -> services.ReporterAccess:
    """The concern this browser session opened; a session that was left (its id spent) or has
    none is sent back to the receipt form."""
    if not _has_access():
        session.clear()
        abort(redirect(url_for("report.sign_in")))
    return services.ReporterAccess(concern_id=str(session["cid"]),
                                   concern_key=bytes(session["ck"]))


def _render_case(message_form: ReporterMessageForm | None = None,
                 feedback_form: FeedbackForm | None = None, status: int = 200,
                 pending: bool = False) -> Any:
    try:
        case = services.reporter_case(db(), access=_access())
    except services.ReceiptNotFoundError:
        session.clear()
        return redirect(url_for("report.sign_in"))
    return render_template(
        "speakup/case.html", case=case, form=message_form or ReporterMessageForm(),
        feedback_form=feedback_form or FeedbackForm(), leave_form=LeaveForm(),
        speak_up_again_labels=dict(SPEAK_UP_AGAIN), pending=pending,
    ), status


@bp.get("/concern")
def case() -> Any:
    return _render_case()


@bp.post("/concern/message")
def add_message() -> Any:
    text = request.form.get("text", "")
    if text.strip() and not _has_access():
        # The session ended (the browser was closed, or left open too long) while the reporter
        # was writing: keep what they wrote and ask for the receipt again.
        session.clear()
        form = ReceiptForm(formdata=None, pending_message=text)
        return _receipt_form_page(form, 401)
    access = _access()
    form = ReporterMessageForm()
    if form.validate_on_submit():
        files, errors = _files(form.files)
        if errors:
            form.files.errors = errors
        else:
            try:
                services.add_reporter_message(db(), access=access, text=form.text.data or "",
                                              files=files)
                db().commit()
            except (services.ConcernInvalidError, services.CaseClosedError) as e:
                db().rollback()
                form.text.errors = [str(e)]
            else:
                flash("Your message has been sent to the guardian.", "success")
                return redirect(url_for("report.case"))
    return _render_case(message_form=form, status=400)


@bp.post("/concern/feedback")
def feedback() -> Any:
    access = _access()
    form = FeedbackForm()
    if form.validate_on_submit():
        try:
            services.record_reporter_feedback(db(), access=access,
                                              answer=form.answer.data or "")
            db().commit()
        except services.ConcernInvalidError as e:
            db().rollback()
            form.answer.errors = [str(e)]
        else:
            flash("Thank you for answering.", "success")
            return redirect(url_for("report.case"))
    return _render_case(feedback_form=form, status=400)


@bp.get("/concern/files/<attachment_id>")
def attachment(attachment_id: str) -> Any:
    try:
        meta, content = services.reporter_attachment(db(), access=_access(),
                                                     attachment_id=attachment_id)
    except (services.CaseNotFoundError, services.ReceiptNotFoundError):
        abort(404)
    # send_file encodes a non-Latin-1 name (RFC 6266); a raw header would break the server.
    return send_file(io.BytesIO(content), mimetype=meta.content_type, as_attachment=True,
                     download_name=meta.filename, conditional=False, etag=False)


@bp.post("/concern/leave")
def leave() -> Any:
    """Leave: the session is ended on the server too, so a copy of the cookie (a replay, a
    shared computer's back button) no longer opens the concern."""
    form = LeaveForm()
    if form.validate_on_submit():
        if "sid" in session:
            ratelimit.spend(db(), value=str(session["sid"]), kind="left", settings=settings())
            db().commit()
        session.clear()
        flash("You have left your concern. Use your receipt to come back.", "success")
    return redirect(url_for("report.start"))
