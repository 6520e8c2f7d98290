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
from core.db import today
from core.web import db, settings
from speakup import audit_words, inbox, services, themes
from speakup.forms import (
    CaseUpdateForm,
    ExportForm,
    NoteForm,
    NoThemeForm,
    ReplyForm,
    RetrainForm,
    ThemeForm,
    month_label,
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


def _inbox_query() -> inbox.InboxQuery:
    """The inbox query from the URL; anything unknown falls back to the default."""
    args = request.args
    status = args.get("status", "open")
    sort = args.get("sort", "received")
    try:
        number = max(1, min(int(args.get("page", "1")), 100_000))
    except ValueError:
        number = 1
    return inbox.InboxQuery(
        status=status if status in ("open", "all", *dict(STATUSES)) else "open",
        overdue=args.get("overdue") == "1", mine=args.get("mine") == "1",
        unread=args.get("unread") == "1",
        kind=args.get("kind", "") if args.get("kind", "") in dict(
            settings().organisation.concern_kinds) else "",
        theme=args.get("theme", "")[:64], ref=inbox.normalise_ref(args.get("ref", "")),
        sort=sort if sort in dict(inbox.SORTS) else "received", page=number)


@bp.get("/cases/", endpoint="inbox")
@guardian_only
def inbox_page() -> Any:
    query = _inbox_query()
    result = inbox.page(db(), identity=_identity(), settings=settings(), query=query,
                        page_size=inbox.PAGE_SIZE)
    db().commit()  # the guardian's sealed index, brought up to date
    theme_labels = dict(themes.theme_choices(db(), settings=settings()))
    return render_template(
        "speakup/inbox.html", result=result, query=query, statuses=STATUSES,
        sorts=inbox.SORTS, theme_labels=theme_labels,
        names={u.id: u.name for u in list_staff(db(), active_only=False)},
        args={k: v for k, v in request.args.items() if k != "page" and v})


def _assignees(record: Any) -> list[tuple[str, str]]:
    return [("", "Nobody yet")] + [
        (str(u.id), u.name) for u in services.assignable_guardians(db(), case=record,
                                                                    settings=settings())]


def _forms_for(case: services.CaseView) -> dict[str, Any]:
    concern, record = case.concern, case.record
    org = settings().organisation
    update = CaseUpdateForm(
        status=concern.status, assignee=str(concern.assigned_to_id or ""),
        raised=record.ngo.raised or record.identity_mode,
        elements=list(record.ngo.elements),
        professional_group=record.ngo.professional_group or record.professional_group or "",
        speak_up_again=record.ngo.speak_up_again)
    update.assignee.choices = _assignees(record)
    update.professional_group.choices = [("", "Not recorded"), *org.professional_groups]
    return {"reply_form": ReplyForm(), "note_form": NoteForm(prefix="note"),
            "update_form": update}


def _themes_for(case: services.CaseView) -> dict[str, Any]:
    found = themes.case_themes(db(), case=case, settings=settings())
    form = ThemeForm()
    form.theme.choices = [("", "Choose a theme"), *found.addable]
    return {"themes": found, "theme_form": form, "no_theme_form": NoThemeForm()}


def _open(ref: str) -> services.CaseView:
    try:
        return services.open_case(db(), identity=_identity(), ref=ref)
    except services.CaseNotFoundError:
        abort(404)


def _render_case(ref: str, status: int = 200, case: services.CaseView | None = None,
                 **forms: Any) -> Any:
    case = case or _open(ref)
    context = {**_forms_for(case), **_themes_for(case), **forms}
    org = settings().organisation
    return render_template(
        "speakup/guardian_case.html", case=case,
        deadlines=services.deadlines(case.concern, settings=settings()),
        happened=month_label(case.record.happened_month),
        labels={"kind": dict(org.concern_kinds), "site": dict(org.sites),
                "group": {**dict(org.professional_groups), PREFER_NOT_TO_SAY[0]: "Prefer not to say"}},
        **context,
    ), status


@bp.get("/cases/<ref>")
@guardian_only
def case(ref: str) -> Any:
    case = _open(ref)
    response = _render_case(ref, case=case)
    services.mark_read(db(), identity=_identity(), ref=ref)
    inbox.mark_seen(db(), identity=_identity(), case=case)
    db().commit()
    return response


def _act(ref: str, form: Any, form_name: str, action: Any, done: str | Callable[[], str],
         case: services.CaseView | None = None) -> Any:
    """Validate ``form``, run ``action``, commit; or show the case again with the errors
    (and everything the guardian chose or typed, so nothing is lost)."""
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
            flash(done if isinstance(done, str) else done(), "success")
            return redirect(url_for("guardian.case", ref=ref))
    return _render_case(ref, status=400, case=case, **{form_name: form})


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


@bp.post("/cases/<ref>/update")
@guardian_only
def update(ref: str) -> Any:
    """Status, assignment and NGO record, saved together (one Save button)."""
    case = _open(ref)
    form = CaseUpdateForm()
    # Any guardian passes the form; the service says why an excluded one cannot be given it.
    form.assignee.choices = [("", "Nobody yet")] + [
        (str(u.id), u.name) for u in list_staff(db(), role="guardian")]
    form.professional_group.choices = [("", "Not recorded"),
                                       *settings().organisation.professional_groups]
    changes: list[str] = []

    def save() -> None:
        changes.extend(services.update_case(
            db(), identity=_identity(), ref=ref, settings=settings(),
            update_=services.CaseUpdate(
                status=form.status.data or "",
                assignee_id=int(form.assignee.data) if form.assignee.data else None,
                ngo=services.NgoFields(
                    raised=form.raised.data or "",
                    elements=frozenset(form.elements.data or []),
                    professional_group=form.professional_group.data,
                    speak_up_again=form.speak_up_again.data),
                closing_message=form.closing_message.data or "",
                close_without_message=bool(form.close_without_message.data))))

    return _act(ref, form, "update_form", save, lambda: (
        "Saved: " + ", ".join(changes) + "." if changes else "Nothing had changed."),
        case=case)


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


@bp.get("/themes")
@guardian_only
def themes_overview() -> Any:
    """The themes across this guardian's own cases (from their sealed inbox index). These are
    counts of cases the guardian can open one by one (each row links to them in the inbox),
    not figures released to anyone else, so no group is hidden here; equality figures for EDI
    leads and boards go through disclosure control (`analysis.disclosure`)."""
    open_, closed, n_open, n_closed = inbox.theme_overview(db(), identity=_identity())
    db().commit()  # the index, brought up to date
    rows = [(theme_id, label, open_.get(theme_id, 0), closed.get(theme_id, 0))
            for theme_id, label in themes.theme_choices(db(), settings=settings())]
    rows.sort(key=lambda r: (-(r[2] + r[3]), r[1]))
    return render_template("speakup/themes_overview.html", rows=rows, n_open=n_open,
                           n_closed=n_closed)


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
    return render_template("speakup/retrain.html", form=form, status=status,
                           judge_min=themes.JUDGE_MIN_EXTRACTS,
                           judge_min_theme=themes.JUDGE_MIN_PER_THEME), (
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
    periods = {p.value: p for p in services.reporting_periods(today())}
    form.period.choices = [(p.value, p.label) for p in periods.values()]
    result = None
    if form.validate_on_submit():
        period = periods[form.period.data or ""]
        try:
            result = services.ngo_return(db(), identity=_identity(), start=period.start,
                                         end=period.end, settings=settings())
            db().commit()
        except services.NotAllCasesOpenError as e:
            db().commit()  # the refusal is audited
            form.form_errors.append(str(e))
        else:
            if request.form.get("format") == "csv":
                name = f"ngo-return-{period.value}.csv"
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
    names = {u.id: u.name for u in list_staff(db(), active_only=False)}
    theme_labels = dict(themes.theme_choices(db(), settings=settings()))
    return render_template("speakup/audit.html", lines=[
        audit_words.describe(e, names=names, themes=theme_labels)
        for e in services.visible_events(db(), identity=_identity())],
        chain=audit.verify_chain(db()))
