"""EDI leads' survey pages (staff app): surveys, waves, invitation codes, results."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from accounts.views import require_role
from core.web import db, explain_csrf, settings
from surveys import definition as definitions
from surveys import services
from surveys.forms import CloseWaveForm, CodesForm, NewSurveyForm, WaveForm
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


@bp.get("/")
@edi_only
def index() -> Any:
    return render_template("surveys/index.html", surveys=_all_surveys(), form=_new_survey_form())


def _all_surveys() -> list[Survey]:
    return list(db().scalars(select(Survey).order_by(Survey.id.desc())))


@bp.post("/new")
@edi_only
def create() -> Any:
    form = _new_survey_form()
    explain_csrf(form)
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
    return render_template("surveys/index.html", surveys=_all_surveys(), form=form), 400


def _render_survey(survey: Survey, status: int = 200, **forms: Any) -> Any:
    k = settings().min_cell_size
    counts = {w.id: services.response_count(db(), w) for w in survey.waves}
    # A count below k is shown as "fewer than k": the wave's size is a group like any other.
    shown = {wid: (n if n >= k else None) for wid, n in counts.items()}
    context = {"wave_form": WaveForm(), "codes_form": CodesForm(),
               "close_form": CloseWaveForm(), **forms}
    return render_template("surveys/survey.html", survey=survey, counts=shown, k=k,
                           definition=services.definition_of(survey, settings()),
                           **context), status


@bp.get("/<int:survey_id>")
@edi_only
def survey(survey_id: int) -> Any:
    return _render_survey(_survey_or_404(survey_id))


@bp.post("/<int:survey_id>/waves")
@edi_only
def start_wave(survey_id: int) -> Any:
    survey_ = _survey_or_404(survey_id)
    form = WaveForm()
    explain_csrf(form)
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


@bp.post("/<int:survey_id>/waves/<int:wave_id>/close")
@edi_only
def close_wave(survey_id: int, wave_id: int) -> Any:
    survey_ = _survey_or_404(survey_id)
    form = CloseWaveForm()
    if form.validate_on_submit():
        services.close_wave(db(), wave_=_wave_or_404(survey_, wave_id), actor=_actor())
        db().commit()
        flash("The wave is closed.", "success")
    return redirect(url_for("edi.survey", survey_id=survey_id))


@bp.post("/<int:survey_id>/waves/<int:wave_id>/codes")
@edi_only
def codes(survey_id: int, wave_id: int) -> Any:
    survey_ = _survey_or_404(survey_id)
    wave_ = _wave_or_404(survey_, wave_id)
    form = CodesForm()
    explain_csrf(form)
    if form.validate_on_submit():
        new = services.generate_codes(db(), wave_=wave_, count=form.count.data or 0,
                                      actor=_actor())
        db().commit()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code"])
        writer.writerows([c] for c in new)
        name = f"{survey_.slug}-{wave_.label}-codes.csv".replace(" ", "-")
        return Response(out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return _render_survey(survey_, 400, codes_form=form)
