"""Guardians' inbox, case page, NGO export and audit log (staff app, under /staff)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from accounts.services import StaffIdentity, list_staff
from accounts.views import require_role
from config.vocabulary import NGO_ELEMENTS, PREFER_NOT_TO_SAY, SPEAK_UP_AGAIN, STATUSES
from core import audit
from core.web import db, settings
from speakup import services, themes
from speakup.forms import (
    AssignForm,
    ExportForm,
    NgoForm,
    NoteForm,
    NoThemeForm,
    ReplyForm,
    RetrainForm,
    StatusForm,
    ThemeForm,
)

bp = Blueprint("guardian", __name__, template_folder="templates")
_REF = re.compile(r"[A-Z0-9]{1,16}")
_ID = re.compile(r"[0-9a-f]{32}")
F = TypeVar("F", bound=Callable[..., Any])


def guardian_only(view: F) -> F:
    """Guardians only; a case reference that cannot exist (a NUL byte, which PostgreSQL
    refuses in a query, or any other junk) is a 404 without touching the database."""
    @require_role("guardian")
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if "ref" in kwargs and not _REF.fullmatch(kwargs["ref"]):
            abort(404)
        return view(*args, **kwargs)
    return wrapped  # type: ignore[return-value]


def _identity() -> StaffIdentity:
    identity: StaffIdentity = g.identity
    return identity


@bp.get("/cases/")
@guardian_only
def inbox() -> Any:
    status = request.args.get("status", "open")
    if status not in ("open", "all", *dict(STATUSES)):
        status = "open"
    overdue = request.args.get("overdue") == "1"
    rows = services.inbox(db(), identity=_identity(), settings=settings(),
                          status=None if status == "all" else status, overdue_only=overdue)
    return render_template("speakup/inbox.html", rows=rows, status=status, overdue=overdue,
                           statuses=STATUSES)


def _forms_for(case: services.CaseView) -> dict[str, Any]:
    concern, record = case.concern, case.record
    org = settings().organisation
    assign = AssignForm(assignee=str(concern.assigned_to_id or ""))
    assign.assignee.choices = [("", "Nobody yet")] + [
        (str(u.id), u.name) for u in services.assignable_guardians(db(), case=record,
                                                                    settings=settings())]
    ngo = NgoForm(
        raised=record.ngo.raised or record.identity_mode,
        elements=list(record.ngo.elements),
        professional_group=record.ngo.professional_group or record.professional_group or "",
        speak_up_again=record.ngo.speak_up_again,
    )
    ngo.professional_group.choices = [("", "Not recorded"), *org.professional_groups]
    return {"reply_form": ReplyForm(), "note_form": NoteForm(prefix="note"),
            "status_form": StatusForm(status=concern.status), "assign_form": assign,
            "ngo_form": ngo}


def _themes_for(case: services.CaseView) -> dict[str, Any]:
    found = themes.case_themes(db(), case=case, settings=settings())
    form = ThemeForm()
    form.theme.choices = [("", "Choose a theme"), *found.addable]
    return {"themes": found, "theme_form": form, "no_theme_form": NoThemeForm()}


def _render_case(ref: str, status: int = 200, **forms: Any) -> Any:
    try:
        case = services.open_case(db(), identity=_identity(), ref=ref)
    except services.CaseNotFoundError:
        abort(404)
    context = {**_forms_for(case), **_themes_for(case), **forms}
    org = settings().organisation
    return render_template(
        "speakup/guardian_case.html", case=case,
        deadlines=services.deadlines(case.concern, settings=settings()),
        labels={"kind": dict(org.concern_kinds), "site": dict(org.sites),
                "group": {**dict(org.professional_groups), PREFER_NOT_TO_SAY[0]: "Prefer not to say"}},
        **context,
    ), status


@bp.get("/cases/<ref>")
@guardian_only
def case(ref: str) -> Any:
    response = _render_case(ref)
    services.mark_read(db(), identity=_identity(), ref=ref)
    db().commit()
    return response


def _act(ref: str, form: Any, form_name: str, action: Any, done: str) -> Any:
    """Validate ``form``, run ``action``, commit; or show the case again with the errors."""
    if form.validate_on_submit():
        try:
            action()
            db().commit()
        except services.CaseNotFoundError:
            abort(404)
        except services.ConcernInvalidError as e:
            db().rollback()
            field = getattr(form, e.field or "", None)
            (field.errors if field is not None else form.form_errors).append(str(e))
        else:
            flash(done, "success")
            return redirect(url_for("guardian.case", ref=ref))
    return _render_case(ref, status=400, **{form_name: form})


@bp.post("/cases/<ref>/reply")
@guardian_only
def reply(ref: str) -> Any:
    form = ReplyForm()
    return _act(ref, form, "reply_form", lambda: services.reply_to_reporter(
        db(), identity=_identity(), ref=ref, text=form.text.data or ""),
        "Your reply has been sent. The reporter will see it when they return with their receipt.")


@bp.post("/cases/<ref>/note")
@guardian_only
def note(ref: str) -> Any:
    form = NoteForm(prefix="note")
    return _act(ref, form, "note_form", lambda: services.add_note(
        db(), identity=_identity(), ref=ref, text=form.text.data or ""), "Note added.")


@bp.post("/cases/<ref>/status")
@guardian_only
def status(ref: str) -> Any:
    form = StatusForm()
    return _act(ref, form, "status_form", lambda: services.change_status(
        db(), identity=_identity(), ref=ref, status=form.status.data or ""), "Status updated.")


@bp.post("/cases/<ref>/assign")
@guardian_only
def assign(ref: str) -> Any:
    form = AssignForm()
    form.assignee.choices = [("", "Nobody yet")] + [
        (str(u.id), u.name) for u in list_staff(db(), role="guardian")]
    return _act(ref, form, "assign_form", lambda: services.assign(
        db(), identity=_identity(), ref=ref, settings=settings(),
        assignee_id=int(form.assignee.data) if form.assignee.data else None), "Case assigned.")


@bp.post("/cases/<ref>/ngo")
@guardian_only
def ngo(ref: str) -> Any:
    form = NgoForm()
    form.professional_group.choices = [("", "Not recorded"),
                                       *settings().organisation.professional_groups]
    return _act(ref, form, "ngo_form", lambda: services.record_ngo(
        db(), identity=_identity(), ref=ref, fields=services.NgoFields(
            raised=form.raised.data or "", elements=frozenset(form.elements.data or []),
            professional_group=form.professional_group.data,
            speak_up_again=form.speak_up_again.data)),
        "National Guardian's Office fields saved.")


@bp.post("/cases/<ref>/themes")
@guardian_only
def theme(ref: str) -> Any:
    form = ThemeForm()
    choices = themes.theme_choices(db(), settings=settings())
    form.theme.choices = [("", "Choose a theme"), *choices]
    theme_id, decision = form.theme.data or "", form.decision.data or ""
    label = dict(choices).get(theme_id, theme_id)
    done = (f"Theme removed: {label}. It stays listed as removed, and you can undo that."
            if decision == "removed" else f"Theme confirmed: {label}.")
    return _act(ref, form, "theme_form", lambda: themes.review_theme(
        db(), identity=_identity(), ref=ref, theme_id=theme_id, decision=decision,
        settings=settings()), done)


@bp.post("/cases/<ref>/themes/none")
@guardian_only
def no_theme(ref: str) -> Any:
    form = NoThemeForm()
    return _act(ref, form, "no_theme_form", lambda: themes.mark_no_theme(
        db(), identity=_identity(), ref=ref, settings=settings()),
        "You recorded that no theme applies to this case. Any themes on it are now listed "
        "as removed. If a theme does apply after all, undo its removal or add it.")


@bp.route("/retrain", methods=["GET", "POST"])
@guardian_only
def retrain() -> Any:
    form = RetrainForm()
    if form.validate_on_submit():
        try:
            result = themes.retrain(db(), identity=_identity(), settings=settings())
            db().commit()
        except services.ConcernInvalidError as e:
            db().rollback()
            form.form_errors.append(str(e))
        else:
            flash(f"The theme engine has been retrained on {result.stored.examples} reviewed "
                  "cases and the real staff text it ships with. New concerns are tagged with it "
                  "from now on.", "success")
            return redirect(url_for("guardian.retrain"))
    status = themes.retrain_status(db(), identity=_identity(), settings=settings())
    return render_template("speakup/retrain.html", form=form, status=status), (
        400 if form.is_submitted() else 200)


@bp.get("/cases/<ref>/files/<attachment_id>")
@guardian_only
def attachment(ref: str, attachment_id: str) -> Any:
    if not _ID.fullmatch(attachment_id):
        abort(404)
    try:
        meta, content = services.guardian_attachment(db(), identity=_identity(), ref=ref,
                                                     attachment_id=attachment_id)
        db().commit()
    except services.CaseNotFoundError:
        abort(404)
    # send_file encodes a non-Latin-1 name (RFC 6266); a raw header would break the server.
    return send_file(io.BytesIO(content), mimetype=meta.content_type, as_attachment=True,
                     download_name=meta.filename, conditional=False, etag=False)


@bp.route("/export", methods=["GET", "POST"])
@guardian_only
def export() -> Any:
    form = ExportForm()
    result = None
    if form.validate_on_submit():
        try:
            result = services.ngo_return(db(), identity=_identity(), start=form.start.data,
                                         end=form.end.data, settings=settings())
            db().commit()
        except services.ConcernInvalidError as e:
            form.end.errors = [*form.end.errors, str(e)]
        except services.NotAllCasesOpenError as e:
            db().commit()  # the refusal is audited
            form.form_errors.append(str(e))
        else:
            if request.form.get("format") == "csv":
                name = f"ngo-return-{form.start.data}-to-{form.end.data}.csv"
                return Response(services.ngo_return_csv(result), mimetype="text/csv",
                                headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render_template("speakup/export.html", form=form, result=result,
                           labels=_return_labels()), (
        400 if form.is_submitted() and result is None else 200)


def _return_labels() -> dict[str, dict[str, str]]:
    org = settings().organisation
    return {"raised": {"anonymous": "Anonymously", "confidential": "Confidentially",
                       "open": "Openly"},
            "element": dict(NGO_ELEMENTS),
            "professional_group": {**dict(org.professional_groups), "not-known": "Not known"},
            "speak_up_again": dict(SPEAK_UP_AGAIN), "status": dict(STATUSES)}


@bp.get("/audit")
@guardian_only
def audit_log() -> Any:
    """The audit log, without the references of cases this guardian cannot open (a guardian a
    reporter excluded learns nothing about the case from it)."""
    return render_template("speakup/audit.html",
                           events=services.visible_events(db(), identity=_identity()),
                           chain=audit.verify_chain(db()),
                           names={u.id: u.name for u in list_staff(db(), active_only=False)})
