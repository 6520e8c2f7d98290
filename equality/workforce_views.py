"""Workforce equality pages (staff app): the EDI lead's uploads and publication, the dashboard,
the voice-and-data page and the board pack (printable, and as a PDF made from the same HTML).

Who sees what:

- EDI leads (role ``edi``) upload the CSV files, publish a period, enter the Staff Survey
  figures, and see every version of every period (drafts included) and the voice-and-data page.
- Board members (role ``board``) see aggregates only: the dashboard and the board pack of
  published periods. They cannot upload, publish, enter figures or see drafts, and they do not
  hold the analysis key that opens the concerns' equality record, so the voice-and-data page
  (theme counts of concerns and survey comments) is the EDI lead's: it reaches the board in the
  board pack the EDI lead prints or saves as a PDF.

Every figure comes from `equality.payload` (the same JSON as ``speakup workforce
indicators``), which puts every breakdown below trust level through disclosure control.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections import Counter, OrderedDict
from datetime import date
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup
from sqlalchemy import select
from wtforms import DecimalField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from accounts.views import require_role
from analysis.disclosure import DisclosureError
from analysis.workforce import formats
from analysis.workforce.formats import KINDS
from core.web import db, settings
from equality import payload, services, workforce_pages
from equality.models import DRAFT, PUBLISHED, STAFF_SURVEY_INDICATORS, WorkforcePeriod
from surveys.services import SurveyError

bp = Blueprint("workforce", __name__, url_prefix="/workforce", template_folder="templates")
edi_only = require_role("edi")
readers = require_role("edi", "board")

KIND_LABELS = {"staff": "Staff snapshot (ESR extract, one row per person)",
               "recruitment": "Recruitment (one row per application)",
               "board": "Board composition (one row per member, no names)",
               "targets": "Model Employer targets (one row per band and year)"}
MAX_ERRORS_SHOWN = 200
VOICE_THEMES = {
    "nepotism_favouritism": ("Nepotism or favouritism", ("wres2", "routes")),
    "overlooked_for_promotion": ("Overlooked for promotion", ("wres1", "wres2")),
    "roles_not_advertised": ("Roles not advertised", ("routes",)),
    "racial_discrimination": ("Racial discrimination", ("wres3", "wres4")),
}


def _actor() -> str:
    return f"staff:{g.identity.user.id}"


def _is_board() -> bool:
    return bool(g.identity.user.role == "board")


def _last_march_31() -> str:
    today = date.today()
    year = today.year if (today.month, today.day) >= (3, 31) else today.year - 1
    return date(year, 3, 31).isoformat()


class UploadForm(FlaskForm):
    kind = SelectField("What is in the file", choices=list(KIND_LABELS.items()))
    period = StringField("Reporting period (its 31 March snapshot date)",
                         validators=[Length(max=10)])
    note = TextAreaField("What this correction changes", validators=[Optional(),
                                                                     Length(max=2000)])
    file = FileField("CSV file")

    def validate_period(self, field: StringField) -> None:
        if self.kind.data == "targets":
            return
        try:
            day = date.fromisoformat((field.data or "").strip())
        except ValueError:
            raise ValidationError("Enter the period as a date, for example 2026-03-31.") from None
        if (day.month, day.day) != (3, 31):
            raise ValidationError("A reporting period is a 31 March snapshot: enter a date "
                                  "like 2026-03-31.")

    def validate_file(self, field: FileField) -> None:
        if not field.data or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose a CSV file to upload.")


class PublishForm(FlaskForm):
    snapshot = HiddenField()


def _survey_form(current: dict[str, dict[str, float]]) -> FlaskForm:
    fields: dict[str, Any] = {}
    for indicator in STAFF_SURVEY_INDICATORS:
        for group, words in services_groups():
            fields[f"{indicator}_{group.replace('-', '_')}"] = DecimalField(
                f"{words}", places=1, validators=[Optional(), NumberRange(0, 100, message=(
                    "Enter a percentage from 0 to 100."))],
                default=current.get(indicator, {}).get(group))
    form_class = type("StaffSurveyForm", (FlaskForm,), fields)
    return form_class()  # type: ignore[no-any-return]


def services_groups() -> tuple[tuple[str, str], ...]:
    return (("white", "White staff (%)"), ("global-majority", "BME staff (%)"))


def _snapshot_or_404(value: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        abort(404)
    if (day.month, day.day) != (3, 31):
        abort(404)
    return day


# --- the EDI lead's page: periods, uploads, publication ---------------------------------------


def _periods() -> list[WorkforcePeriod]:
    periods = services.list_periods(db())
    if _is_board():
        periods = [p for p in periods if p.status == PUBLISHED]
    return periods


def _index(form: UploadForm, errors: list[formats.RowError] | None = None,
           error_count: int = 0, status: int = 200) -> Any:
    return render_template(
        "equality/workforce_index.html", periods=_periods(), form=form, errors=errors or [],
        error_count=error_count, publish_form=PublishForm(), kinds=KIND_LABELS,
        board=_is_board(), draft=DRAFT, published=PUBLISHED), status


@bp.get("/", endpoint="index")
@readers
def index() -> Any:
    return _index(UploadForm(period=_last_march_31()))


@bp.post("/upload", endpoint="upload")
@edi_only
def upload() -> Any:
    """Validate and import one file; every bad row is listed by line and nothing is imported."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _index(form, status=400)
    raw = form.file.data.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = ["The file is not UTF-8 text: save it from your spreadsheet as "
                            "'CSV UTF-8' and upload it again."]
        return _index(form, status=400)
    kind = form.kind.data
    snapshot = None if kind == "targets" else date.fromisoformat(form.period.data.strip())
    try:
        result = services.import_file(db(), kind=kind, csv_text=text, snapshot=snapshot,
                                      settings=settings(), actor=_actor(),
                                      note=form.note.data or None)
    except services.ImportRowsError as e:
        db().rollback()
        form.form_errors.append(f"{len(e.errors):,} problem(s) in {form.file.data.filename}: "
                                "nothing was imported. Correct the rows listed below and upload "
                                "the whole file again.")
        return _index(form, e.errors[:MAX_ERRORS_SHOWN], len(e.errors), status=400)
    except services.NoteRequiredError as e:
        db().rollback()
        form.note.errors = [str(e)]
        return _index(form, status=400)
    except services.WorkforceDataError as e:
        db().rollback()
        form.form_errors.append(str(e))
        return _index(form, status=400)
    db().commit()
    if result.snapshot is None:
        flash(f"Imported {result.rows:,} Model Employer targets.", "success")
    else:
        flash(f"Imported {result.rows:,} rows of {kind} data into {result.snapshot.isoformat()} "
              f"version {result.version}"
              + (" (a correction of the published figures: publish it to replace them)."
                 if result.correction else "."), "success")
    return redirect(url_for("workforce.index"))


@bp.get("/template/<kind>.csv", endpoint="template")
@edi_only
def template(kind: str) -> Any:
    if kind not in KINDS:
        abort(404)
    return Response(formats.template(kind), mimetype="text/csv", headers={  # type: ignore[arg-type]
        "Content-Disposition": f'attachment; filename="workforce-{kind}-template.csv"'})


@bp.post("/publish", endpoint="publish")
@edi_only
def publish() -> Any:
    form = PublishForm()
    if not form.validate_on_submit():
        abort(400)
    snapshot = _snapshot_or_404(form.snapshot.data or "")
    try:
        published = services.publish(db(), snapshot=snapshot, actor=_actor())
    except services.WorkforceDataError as e:
        db().rollback()
        upload_form = UploadForm(period=snapshot.isoformat())
        upload_form.form_errors.append(str(e))
        return _index(upload_form, status=400)
    version = published.version
    db().commit()
    flash(f"Published {snapshot.isoformat()} version {version}.", "success")
    return redirect(url_for("workforce.dashboard", snapshot=snapshot.isoformat()))


# --- figures ---------------------------------------------------------------------------------

_CACHE_SIZE = 16
_cache: OrderedDict[tuple[object, ...], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def period_payload(period: WorkforcePeriod) -> dict[str, Any]:
    """The indicators JSON of a period version. Published and superseded versions never change,
    so their figures are kept in memory (keyed with the Model Employer targets, which can);
    a draft is computed afresh each time, as imports replace its data."""
    key = (period.id, period.status, services.targets_stamp(db()), settings().min_cell_size,
           settings().organisation.name) if period.status != DRAFT else None
    if key is not None:
        with _cache_lock:
            if key in _cache:
                _cache.move_to_end(key)
                return _cache[key]
    data = services.load_period(db(), period)
    if not data.staff:
        raise services.WorkforceDataError(
            f"Version {period.version} of {period.snapshot.isoformat()} has no staff snapshot "
            "yet: import one first.")
    from analysis.workforce.report import build_report

    result = payload.workforce_payload(period, build_report(data), k=settings().min_cell_size,
                                       organisation=settings().organisation.name)
    if key is not None:
        with _cache_lock:
            _cache[key] = result
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return result


def _period_for(snapshot: date) -> WorkforcePeriod:
    """The version a reader sees: board members the published one, EDI leads the one asked for
    (``?version=``) or the latest."""
    if _is_board():
        found = db().scalars(select(WorkforcePeriod).where(
            WorkforcePeriod.snapshot == snapshot, WorkforcePeriod.status == PUBLISHED)).first()
        if found is None:
            abort(404)
        return found
    version = request.args.get("version", type=int)
    try:
        return services.find_period(db(), snapshot, version)
    except services.PeriodNotFoundError:
        abort(404)


def _in_year() -> list[tuple[str, list[Any]]]:
    """WRES 5-8 from the trust's pulse surveys (latest closed wave of each survey asking them)."""
    from surveys import results
    from surveys.models import Survey

    out = []
    for survey in db().scalars(select(Survey).order_by(Survey.id)):
        waves = results.released_waves(survey)
        if not waves:
            continue
        try:
            found = results.wres_indicators(db(), survey=survey, settings=settings(),
                                            wave_label=waves[-1].label)
        except (SurveyError, DisclosureError):  # nothing this survey can release
            continue
        if found:
            out.append((f"{survey.title}, wave {waves[-1].label}", found))
    return out


def _page(snapshot: date) -> tuple[WorkforcePeriod, workforce_pages.Page]:
    period = _period_for(snapshot)
    try:
        current = period_payload(period)
    except services.WorkforceDataError as e:
        abort(Response(render_template("equality/workforce_message.html", message=str(e)), 404))
    history = []
    previous = None
    for p in services.published_versions(db()):
        if p.snapshot > snapshot:
            continue
        one = current if p.id == period.id else period_payload(p)
        history.append(one)
        if p.snapshot == date(snapshot.year - 1, 3, 31):
            previous = one
    if not history or history[-1] is not current:
        history.append(current)
    page = workforce_pages.build_page(
        current, previous=previous, history=history,
        survey=services.survey_figures(db(), snapshot), in_year=_in_year())
    return period, page


@bp.get("/<snapshot>/", endpoint="dashboard")
@readers
def dashboard(snapshot: str) -> Any:
    period, page = _page(_snapshot_or_404(snapshot))
    return render_template("equality/workforce_dashboard.html", page=page, period=period,
                           board=_is_board(), versions=[p for p in _periods()
                                                        if p.snapshot == period.snapshot])


@bp.route("/<snapshot>/staff-survey", methods=["GET", "POST"], endpoint="staff_survey")
@edi_only
def staff_survey(snapshot: str) -> Any:
    day = _snapshot_or_404(snapshot)
    form = _survey_form(services.survey_figures(db(), day))
    status = 200
    if form.validate_on_submit():
        figures = {}
        for indicator in STAFF_SURVEY_INDICATORS:
            for group, _ in services_groups():
                value = form[f"{indicator}_{group.replace('-', '_')}"].data
                figures[indicator, group] = None if value is None else float(value)
        services.save_survey_figures(db(), snapshot=day, figures=figures, actor=_actor())
        db().commit()
        flash("Saved the NHS Staff Survey figures.", "success")
        return redirect(url_for("workforce.dashboard", snapshot=snapshot) + "#staff-survey")
    if form.is_submitted():
        status = 400
    return render_template("equality/workforce_staff_survey.html", form=form, snapshot=day,
                           indicators=STAFF_SURVEY_INDICATORS, groups=services_groups(),
                           titles=workforce_pages.SURVEY_TITLES), status


# --- voice and data --------------------------------------------------------------------------


def voice_rows(snapshot: date) -> tuple[list[str], list[dict[str, Any]], str]:
    """Theme counts of concerns per quarter (through disclosure control in `equality.themes`)
    for the four recruitment and race themes, for the eight quarters up to the end of the
    period (its year and the one before); ([quarters], [rows], message)."""
    from accounts import orgkeys
    from equality import themes
    from speakup import analytics

    try:
        key = orgkeys.private_key(db(), g.identity.user, g.identity.private_key)
    except orgkeys.OrgKeyError:
        return [], [], ("Your account has not been given the analysis key yet: it is shared "
                        "with you the next time another EDI lead signs in.")
    facts = analytics.current_facts(db(), analysis_private=key, settings=settings())
    db().commit()
    last = f"{snapshot.year - 1}/{snapshot.year % 100:02d} Q4"
    ended = [q for q in themes.concern_quarters(facts) if q <= last]
    if not ended:
        return [], [], "No quarter of concerns up to the end of this period has ended yet."
    try:
        summary = themes.concern_summary(db(), settings=settings(), facts=facts,
                                         quarter=ended[-1])
    except themes.ThemeSummaryError as e:
        return [], [], str(e)
    quarters: list[str] = []
    rows = []
    for section in summary.sections:
        if section.theme.id not in VOICE_THEMES:
            continue
        label, matching = VOICE_THEMES[section.theme.id]
        counts = {}
        for period_row in section.trend:
            if period_row.period not in quarters:
                quarters.append(period_row.period)
            cell = period_row.cells[0]
            counts[period_row.period] = ("hidden" if cell.n is None else f"{cell.n:,}")
        rows.append({"theme": label, "counts": counts, "matching": matching})
    return quarters, rows, ""


def survey_theme_rows() -> list[dict[str, Any]]:
    """The same four themes in the latest closed wave of each survey, through disclosure control."""
    from accounts import orgkeys
    from equality import themes
    from surveys import results
    from surveys.models import Survey

    try:
        key = orgkeys.private_key(db(), g.identity.user, g.identity.private_key)
    except orgkeys.OrgKeyError:
        return []
    out = []
    for survey in db().scalars(select(Survey).order_by(Survey.id)):
        if not results.released_waves(survey):
            continue
        try:
            summary = themes.survey_summary(db(), settings=settings(), survey=survey,
                                            analysis_key=key)
        except themes.ThemeSummaryError:
            continue
        for section in summary.sections:
            if section.theme.id in VOICE_THEMES:
                cell = section.current[0]
                out.append({"source": f"{survey.title}, wave {summary.period}",
                            "theme": VOICE_THEMES[section.theme.id][0],
                            "count": "hidden" if cell.n is None else f"{cell.n:,}"})
    return out


def _matching(current: dict[str, Any]) -> dict[str, str]:
    """The indicators shown beside the themes, in words (trust level, exact)."""
    out = {}
    for indicator in ("wres2", "wres3", "wres4"):
        e = next((x for x in current["indicators"] if x["id"] == indicator and x["by"] is None),
                 None)
        if e:
            out[indicator] = (f"{workforce_pages.SHORT[indicator]}: "
                              f"{workforce_pages.ratio(e['value'])} "
                              f"(95% interval {workforce_pages.interval(e['ci'])})")
    overall = next((r for r in current["representation"] if r["indicator"] == "wres1"
                    and r["by"] is None), None)
    if overall:
        out["wres1"] = f"WRES 1: BME share of the workforce {workforce_pages.pct(overall['share'])}"
    trust = [r for r in current["routes"] if r["band"] is None and r["ethnic_group"] is None]
    if trust and trust[0]["total"]:
        n = sum(r["appointments"] for r in trust if not r["advertised"])
        out["routes"] = (f"Appointments not advertised: {n:,} of {trust[0]['total']:,} "
                         f"({workforce_pages.pct(100 * n / trust[0]['total'])})")
    return out


def _unadvertised(current: dict[str, Any]) -> dict[str, str]:
    """Unadvertised appointments of the period per quarter of decision (posts, not people)."""
    by_quarter = Counter(u["quarter"] for u in current["unadvertised"] if u["quarter"])
    return {q: f"{n:,}" for q, n in sorted(by_quarter.items())}


@bp.get("/<snapshot>/voice", endpoint="voice")
@edi_only
def voice(snapshot: str) -> Any:
    period = _period_for(_snapshot_or_404(snapshot))
    try:
        current = period_payload(period)
    except services.WorkforceDataError as e:
        return render_template("equality/workforce_message.html", message=str(e)), 404
    quarters, rows, message = voice_rows(period.snapshot)
    by_quarter = Counter(u["quarter"] or "Not given" for u in current["unadvertised"])
    return render_template(
        "equality/workforce_voice.html", period=period, quarters=quarters, rows=rows,
        message=message, matching=_matching(current), unadvertised=_unadvertised(current),
        survey_table=[[r["source"], r["theme"], r["count"]] for r in survey_theme_rows()],
        unadvertised_by_quarter=[[q, f"{n:,}"] for q, n in sorted(by_quarter.items())])


# --- the board pack --------------------------------------------------------------------------


def _board_pack_html(snapshot: date, *, for_pdf: bool) -> str:
    period, page = _page(snapshot)
    voice: dict[str, Any] | None = None
    if not _is_board():
        quarters, rows, message = voice_rows(snapshot)
        current = period_payload(period)
        voice = {"quarters": quarters, "rows": rows, "message": message,
                 "matching": _matching(current), "unadvertised": _unadvertised(current)}
    css = None
    if for_pdf:  # Chromium reads the page from a file: the stylesheet goes inside it
        sheet = Path(str(current_app.static_folder)) / "css" / "speakup.css"
        # The app's own built stylesheet (no user input): safe to inline as is.
        css = Markup(sheet.read_text(encoding="utf-8")) if sheet.exists() else None  # noqa: S704
    return render_template("equality/workforce_board_pack.html", page=page, period=period,
                           voice=voice, for_pdf=for_pdf, inline_css=css)


@bp.get("/<snapshot>/board-pack", endpoint="board_pack")
@readers
def board_pack(snapshot: str) -> Any:
    return _board_pack_html(_snapshot_or_404(snapshot), for_pdf=False)


def chromium_path() -> str | None:
    """Headless Chromium for the PDF: $CHROMIUM_PATH, else chromium on the PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class PdfError(Exception):
    pass


def html_to_pdf(html: str, chromium: str | None) -> bytes:
    """Print ``html`` to PDF with headless Chromium, offline (the page has no external request:
    the stylesheet is inlined and the charts are inline SVG)."""
    if chromium is None:
        raise PdfError("The PDF needs headless Chromium, which is not installed on this server "
                       "(set CHROMIUM_PATH, or install the chromium package). Use the printable "
                       "page and your browser's 'Save as PDF' instead.")
    with tempfile.TemporaryDirectory(prefix="speakup-pack-") as work:
        source = Path(work) / "pack.html"
        target = Path(work) / "pack.pdf"
        source.write_text(html, encoding="utf-8")
        command = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                   "--no-pdf-header-footer", "--print-to-pdf-no-header",
                   f"--user-data-dir={work}/profile",
                   "--disable-background-networking", "--disable-extensions",
                   f"--print-to-pdf={target}", source.as_uri()]
        try:
            # A fixed argument list (no shell); the only input is the page this app rendered.
            subprocess.run(command, check=True, capture_output=True, timeout=120)  # noqa: S603
        except (OSError, subprocess.SubprocessError) as e:
            raise PdfError("Chromium could not make the PDF; use the printable page and your "
                           "browser's 'Save as PDF' instead.") from e
        if not target.exists() or target.stat().st_size == 0:
            raise PdfError("Chromium made no PDF; use the printable page and your browser's "
                           "'Save as PDF' instead.")
        return target.read_bytes()


@bp.get("/<snapshot>/board-pack.pdf", endpoint="board_pack_pdf")
@readers
def board_pack_pdf(snapshot: str) -> Any:
    day = _snapshot_or_404(snapshot)
    html = _board_pack_html(day, for_pdf=True)
    try:
        pdf = html_to_pdf(html, chromium_path())
    except PdfError as e:
        return render_template("equality/workforce_message.html", message=str(e)), 503
    name = f"workforce-board-pack-{day.isoformat()}.pdf"
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
