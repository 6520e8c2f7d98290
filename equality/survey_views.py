"""EDI leads' survey pages (staff app): surveys, waves, invitation codes, results."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from accounts.views import require_role
from analysis.disclosure import DisclosureError
from core.db import today
from core.web import db, settings
from equality import charts, qr
from surveys import definition as definitions
from surveys import results as survey_results
from surveys import services
from surveys.definition import SurveyDefinition
from surveys.forms import (
    TREND,
    CloseWaveForm,
    CodesForm,
    DefinitionForm,
    ImportForm,
    NewSurveyForm,
    ResultsForm,
    WaveForm,
)
from surveys.models import Survey, SurveyWave

bp = Blueprint("edi", __name__, url_prefix="/surveys", template_folder="templates")
edi_only = require_role("edi")


def _actor() -> str:
    return f"staff:{g.identity.user.id}"


def _new_survey_form() -> NewSurveyForm:
    form = NewSurveyForm()
    form.template.choices = [(name, definitions.load_template(name).title)
                             for name in definitions.template_names()]
    return form


def _survey_or_404(survey_id: int) -> Survey:
    survey = db().get(Survey, survey_id)
    if survey is None:
        abort(404)
    return survey


def _wave_or_404(survey: Survey, wave_id: int) -> SurveyWave:
    wave_ = db().get(SurveyWave, wave_id)
    if wave_ is None or wave_.survey_id != survey.id:
        abort(404)
    return wave_


def _render_index(status: int = 200, **forms: Any) -> Any:
    context = {"form": _new_survey_form(), "definition_form": DefinitionForm(), **forms}
    return render_template("equality/index.html", surveys=_all_surveys(), **context), status


@bp.get("/")
@edi_only
def index() -> Any:
    return _render_index()


@bp.get("/templates/<name>.toml")
@edi_only
def template_file(name: str) -> Any:
    """A built-in definition to start a survey of one's own from."""
    if name not in definitions.template_names():
        abort(404)
    return Response(definitions.template_text(name), mimetype="text/plain", headers={
        "Content-Disposition": f'attachment; filename="{name}.toml"'})


@bp.post("/definition")
@edi_only
def load_definition() -> Any:
    """A survey of the lead's own design (as ``speakup survey import`` loads it): created, or
    updated if its id exists (questions that have answers are kept)."""
    form = DefinitionForm()
    if form.validate_on_submit():
        try:
            text = form.definition.data.read().decode("utf-8-sig")
            survey = services.save_survey(db(), definition_text=text, settings=settings(),
                                          actor=_actor())
            db().commit()
        except UnicodeDecodeError:
            form.definition.errors = ["The file is not text saved as UTF-8."]
        except definitions.DefinitionError as e:
            db().rollback()
            form.definition.errors = [f"The definition cannot be used: {e}"]
        else:
            flash(f"Survey {survey.title!r} is ready. Start a wave to collect answers.", "success")
            return redirect(url_for("edi.survey", survey_id=survey.id))
    return _render_index(400, definition_form=form)


def _all_surveys() -> list[Survey]:
    return list(db().scalars(select(Survey).order_by(Survey.id.desc())))


@bp.post("/new")
@edi_only
def create() -> Any:
    form = _new_survey_form()
    if form.validate_on_submit():
        text = definitions.template_text(form.template.data or "")
        try:
            survey = services.save_survey(db(), definition_text=text, settings=settings(),
                                          actor=_actor())
            db().commit()
        except definitions.DefinitionError as e:
            db().rollback()
            form.template.errors = [str(e)]
        else:
            flash(f"Survey {survey.title!r} is ready. Start a wave to collect answers.", "success")
            return redirect(url_for("edi.survey", survey_id=survey.id))
    return _render_index(400, form=form)


def _open_links(survey: Survey) -> dict[int, tuple[str, Any]]:
    """Each open-link wave's full address (on this server, where the anonymous side is served
    outside /staff) and its QR code, drawn here."""
    base = request.host_url.rstrip("/")
    out = {}
    for w in survey.waves:
        if w.open_link:
            address = f"{base}/survey/link/{w.open_link}"
            out[w.id] = (address, qr.qr_svg(address, label=f"QR code of the open link to "
                                                             f"wave {w.label}"))
    return out


def _render_survey(survey: Survey, status: int = 200, **forms: Any) -> Any:
    k = settings().min_cell_size
    # A wave's size is a group like any other: it goes through disclosure control.
    shown = survey_results.wave_sizes(db(), survey=survey, settings=settings())
    context = {"wave_form": WaveForm(), "codes_form": CodesForm(), **forms}
    return render_template("equality/survey.html", survey=survey, counts=shown, k=k,
                           definition=services.definition_of(survey, settings()),
                           links=_open_links(survey), **context), status


@bp.get("/<int:survey_id>")
@edi_only
def survey(survey_id: int) -> Any:
    return _render_survey(_survey_or_404(survey_id))


@bp.post("/<int:survey_id>/waves")
@edi_only
def start_wave(survey_id: int) -> Any:
    survey_ = _survey_or_404(survey_id)
    form = WaveForm()
    if form.validate_on_submit():
        try:
            wave_ = services.wave(db(), survey_, form.label.data or "")
            services.open_wave(db(), wave_=wave_, open_link=form.open_link.data == "link",
                               actor=_actor())
            db().commit()
        except services.SurveyError as e:
            db().rollback()
            form.label.errors = [str(e)]
        else:
            flash(f"Wave {wave_.label!r} is open.", "success")
            return redirect(url_for("edi.survey", survey_id=survey_id))
    return _render_survey(survey_, 400, wave_form=form)


@bp.route("/<int:survey_id>/waves/<int:wave_id>/close", methods=["GET", "POST"])
@edi_only
def close_wave(survey_id: int, wave_id: int) -> Any:
    """"Close this wave" asks first, on a page of its own (GET; it works without
    JavaScript); the page's button closes it (POST)."""
    survey_ = _survey_or_404(survey_id)
    wave_ = _wave_or_404(survey_, wave_id)
    form = CloseWaveForm()
    if wave_.status != "open":
        return redirect(url_for("edi.survey", survey_id=survey_id))
    if request.method == "GET":
        return render_template("equality/close_wave.html", survey=survey_, wave=wave_,
                               form=form, codes_left=services.codes_left(db(), wave_))
    if form.validate_on_submit():
        services.close_wave(db(), wave_=wave_, actor=_actor(), settings=settings())
        db().commit()
        flash(f"Wave {wave_.label!r} is closed. Its results are ready.", "success")
    return redirect(url_for("edi.survey", survey_id=survey_id))


@bp.post("/<int:survey_id>/waves/<int:wave_id>/codes")
@edi_only
def codes(survey_id: int, wave_id: int) -> Any:
    survey_ = _survey_or_404(survey_id)
    wave_ = _wave_or_404(survey_, wave_id)
    form = CodesForm()
    if form.validate_on_submit():
        try:
            new = services.generate_codes(db(), wave_=wave_, count=form.count.data or 0,
                                          actor=_actor(), settings=settings())
        except services.SurveyError as e:
            db().rollback()
            form.count.errors = [str(e)]
            return _render_survey(survey_, 400, codes_form=form)
        db().commit()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code"])
        writer.writerows([c] for c in new)
        name = f"{survey_.slug}-{wave_.label}-codes.csv".replace(" ", "-")
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return _render_survey(survey_, 400, codes_form=form)


@bp.route("/<int:survey_id>/import", methods=["GET", "POST"])
@edi_only
def import_answers(survey_id: int) -> Any:
    """Answers from a spreadsheet (as ``speakup survey import``): every row is checked first;
    if any is wrong, each is listed by line and nothing is imported."""
    survey_ = _survey_or_404(survey_id)
    form = ImportForm()
    rows: list[services.ImportRowError] = []
    if form.validate_on_submit():
        try:
            text = form.responses.data.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            form.responses.errors = ["The file is not a CSV saved as UTF-8. In Excel, choose "
                                     "Save as, then 'CSV UTF-8'."]
        else:
            try:
                count = services.import_responses(db(), survey=survey_, csv_text=text,
                                                  wave_label=form.wave.data or "",
                                                  settings=settings(), actor=_actor())
                db().commit()
            except services.ImportRowsError as e:
                db().rollback()
                rows = e.errors
                some = "1 row of the file is" if len(rows) == 1 else \
                    f"{len(rows):,} rows of the file are"
                form.responses.errors = [f"{some} not right, so nothing was imported. Correct "
                                         "the rows listed and choose the file again."]
            except services.SurveyError as e:
                db().rollback()
                form.wave.errors = [str(e)]
            else:
                flash(f"Imported {count:,} response(s).", "success")
                return redirect(url_for("edi.survey", survey_id=survey_id))
    status = 400 if form.errors else 200
    return render_template("equality/import.html", survey=survey_, form=form, rows=rows,
                           definition=services.definition_of(survey_, settings())), status


# --- results -------------------------------------------------------------------------------



def _results_form(survey_: Survey, definition: SurveyDefinition) -> ResultsForm:
    waves = [w.label for w in survey_results.released_waves(survey_)]
    args = request.args.copy()
    if not args.get("by") and args.get("by2"):  # "and by" alone is the first breakdown
        args["by"], args["by2"] = args["by2"], ""
    form = ResultsForm(formdata=args, question="", by="", by2="", directorate="",
                       wave=waves[-1] if waves else "")
    demographics = [d.id for d in definition.demographics]
    dims = [*demographics, *(["ethnic_group"] if "ethnicity" in demographics else [])]
    breakdowns = [(d, survey_results.DIMENSION_LABELS.get(d, d)) for d in dims]
    form.question.choices = [("", "All questions")] + [
        (q.id, q.text) for q in definition.questions if not q.is_text]
    form.by.choices = [("", "Nothing: everyone together"), *breakdowns]
    form.by2.choices = [("", "Nothing else"), *breakdowns]
    directorates = definition.demographic("directorate").options \
        if "directorate" in demographics else ()
    form.directorate.choices = [("", "All directorates"), *directorates]
    form.wave.choices = [*((w, w) for w in reversed(waves)), (TREND, "Trend across waves")]
    return form


def _answer(survey_: Survey, form: ResultsForm) -> list[survey_results.QuestionResult] | None:
    """The released tables for a valid form; None (with the error on the form) otherwise."""
    if not form.validate():
        return None
    try:
        answered = survey_results.question_results(db(), survey=survey_, settings=settings(),
                                                   **form.query())
        db().commit()  # each wave's audited release is kept (core.release_store)
        return answered
    except (survey_results.ResultsError, DisclosureError) as e:
        form.form_errors.append(str(e)[:1].upper() + str(e)[1:])
        return None


def _render_results(survey_: Survey, definition: SurveyDefinition, form: ResultsForm,
                    answered: list[survey_results.QuestionResult] | None) -> Any:
    labels = charts.Labels(definition, tuple(
        w.label for w in survey_results.released_waves(survey_)))
    figures = [charts.question_charts(r.release, r.question, labels, f"q{i}")
               for i, r in enumerate(answered or [], start=1)]
    wres = []
    if answered and any(q.wres for q in definition.questions):
        wave = form.wave.data if form.wave.data != TREND else None
        wres = survey_results.wres_indicators(db(), survey=survey_, settings=settings(),
                                              wave_label=wave)
        db().commit()
    return render_template(
        "equality/results.html", survey=survey_, form=form, labels=labels, charts=charts,
        answered=list(zip(answered or [], figures, strict=True)), wres=wres,
        k=settings().min_cell_size, trend=form.wave.data == TREND,
        printed_on=charts.date_text(today()),
        released=bool(labels.waves),
        csv_url=url_for("edi.results_csv", survey_id=survey_.id,
                        **{name: value for name, value in form.data.items() if value})
    ), 200 if answered is not None or not labels.waves else 400


@bp.get("/<int:survey_id>/results", endpoint="results")
@edi_only
def results_page(survey_id: int) -> Any:
    survey_ = _survey_or_404(survey_id)
    definition = services.definition_of(survey_, settings())
    form = _results_form(survey_, definition)
    answered = _answer(survey_, form) if survey_results.released_waves(survey_) else None
    return _render_results(survey_, definition, form, answered)


@bp.get("/<int:survey_id>/results.csv", endpoint="results_csv")
@edi_only
def results_download(survey_id: int) -> Any:
    """The disclosure-controlled tables of the page as CSV; never a raw response."""
    survey_ = _survey_or_404(survey_id)
    definition = services.definition_of(survey_, settings())
    form = _results_form(survey_, definition)
    answered = _answer(survey_, form) if survey_results.released_waves(survey_) else None
    if answered is None:
        return _render_results(survey_, definition, form, None)
    labels = charts.Labels(definition, tuple(
        w.label for w in survey_results.released_waves(survey_)))
    text = survey_results.results_csv(answered, labels, settings().min_cell_size)
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{survey_.slug}-results.csv"'})
