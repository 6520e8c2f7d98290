"""Answering a pulse survey (anonymous side): with a single-use code or an open link.

The code is kept in the encrypted session cookie between the two steps and never appears in
a URL. Nothing here stores or logs who answered or when.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, session, url_for

from core.web import db, settings
from surveys import services
from surveys.forms import CodeForm, answer_form
from surveys.models import SurveyWave

bp = Blueprint("survey", __name__, url_prefix="/survey", template_folder="templates")


@bp.route("/", methods=["GET", "POST"])
def enter_code() -> Any:
    form = CodeForm()
    if form.validate_on_submit():
        try:
            wave_ = services.wave_for_code(db(), form.code.data or "", settings())
        except services.SurveyError as e:
            form.code.errors = [str(e)]
        else:
            session["survey"] = {"wave": wave_.id, "code": form.code.data}
            return redirect(url_for("survey.answer"))
    return render_template("surveys/code.html", form=form), (400 if form.is_submitted() else 200)


@bp.get("/link/<token>")
def open_link(token: str) -> Any:
    try:
        wave_ = services.wave_for_link(db(), token)
    except services.SurveyClosedError as e:
        return render_template("surveys/closed.html", message=str(e)), 404
    session["survey"] = {"wave": wave_.id, "code": None}
    return redirect(url_for("survey.answer"))


@bp.route("/answer", methods=["GET", "POST"])
def answer() -> Any:
    state = session.get("survey")
    wave_ = db().get(SurveyWave, state["wave"]) if state else None
    if wave_ is None:
        return redirect(url_for("survey.enter_code"))
    if wave_.id in session.get("answered", []):
        return render_template("surveys/thanks.html", repeated=True)
    definition = services.definition_of(wave_.survey, settings())
    form = answer_form(definition)
    if form.validate_on_submit():
        try:
            services.submit_response(db(), wave_=wave_, code=state["code"],
                                     answers={k: v for k, v in form.data.items() if k != "csrf_token"},
                                     settings=settings())
            db().commit()
        except services.AnswerError as e:
            db().rollback()
            getattr(form, e.field).errors = [str(e)]
        except services.SurveyError as e:
            db().rollback()
            form.form_errors.append(str(e))
        else:
            session.pop("survey", None)
            session["answered"] = [*session.get("answered", []), wave_.id]
            return render_template("surveys/thanks.html", repeated=False)
    return render_template("surveys/answer.html", form=form, definition=definition,
                           wave=wave_, min_cell_size=settings().min_cell_size), (
        400 if form.is_submitted() else 200)
