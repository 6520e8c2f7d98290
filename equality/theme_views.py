"""EDI leads' themed summaries (staff app): themes in concerns and in survey comments.

Every figure comes from `equality.themes`, which puts each one through disclosure control.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, g, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import Field, SelectField
from wtforms.validators import ValidationError

from accounts import orgkeys
from accounts.views import require_role
from analysis.disclosure import DisclosureError
from core.db import today
from core.web import db, settings
from equality import charts, theme_charts, themes
from speakup import analytics
from surveys import results
from surveys.models import Survey

bp = Blueprint("edi_themes", __name__, url_prefix="/themes", template_folder="templates")
edi_only = require_role("edi")

SURVEY_PREFIX = "survey-"
NO_KEY = ("The summaries are sealed so that only EDI leads can read them, and your account has "
          "not been given the key yet. It is shared with you automatically the next time "
          "another EDI lead signs in.")


class SummaryForm(FlaskForm):
    """The summary asked for, read from the query string. Choices are set per source."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    source = SelectField("Summarise", validate_choice=False)
    grain = SelectField("Show the trend by", validate_choice=False,
                        choices=[(themes.QUARTER, "Quarter"), (themes.MONTH, "Month")])
    by = SelectField("Break down by", validate_choice=False)
    quarter = SelectField("Quarter", validate_choice=False)
    wave = SelectField("Wave", validate_choice=False)

    @staticmethod
    def _offered(field: Field, message: str) -> None:
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError(message)

    def validate_source(self, field: Field) -> None:
        self._offered(field, "Choose concerns or a survey from the list.")

    def validate_grain(self, field: Field) -> None:
        self._offered(field, "Choose quarters or months for the trend.")

    def validate_by(self, field: Field) -> None:
        self._offered(field, "Choose a breakdown from the list: each source has its own.")

    def validate_quarter(self, field: Field) -> None:
        self._offered(field, "Choose a quarter from the list.")

    def validate_wave(self, field: Field) -> None:
        self._offered(field, "Choose a wave of this survey from the list.")


def _survey(source: str) -> Survey | None:
    number = source.removeprefix(SURVEY_PREFIX)
    if not source.startswith(SURVEY_PREFIX) or not number.isdigit():
        return None
    return db().get(Survey, int(number))


def _analysis_key() -> bytes | None:
    """The analysis private key, opened in this EDI lead's session (None if they do not hold
    it yet: it is shared with a new EDI lead when another one signs in)."""
    identity = g.identity
    try:
        return orgkeys.private_key(db(), identity.user, identity.private_key)
    except orgkeys.OrgKeyError:
        return None


def _facts() -> list[analytics.Facts]:
    if "concern_facts" not in g:
        key = _analysis_key()
        g.concern_facts = [] if key is None else analytics.current_facts(
            db(), analysis_private=key, settings=settings())
        db().commit()  # settling pending facts (see speakup.analytics) is kept
    facts: list[analytics.Facts] = g.concern_facts
    return facts


def _form() -> tuple[SummaryForm, Survey | None]:
    form = SummaryForm(formdata=request.args, source=themes.CONCERNS, grain=themes.QUARTER,
                       by="", quarter="", wave="")
    surveys = list(db().scalars(select(Survey).order_by(Survey.id)))
    form.source.choices = [(themes.CONCERNS, "Concerns raised with guardians"),
                           *((f"{SURVEY_PREFIX}{s.id}", f"Survey: {s.title}") for s in surveys)]
    survey = _survey(form.source.data or "")
    if survey is None:
        dims = [(d, themes.CONCERN_DIMENSION_LABELS[d]) for d in themes.CONCERN_BREAKDOWNS]
        key = _analysis_key()
        quarters = [] if key is None else themes.cached_concern_quarters(
            db(), settings=settings(), analysis_key=key, facts=_facts)
        form.quarter.choices = [("", "The latest quarter that has ended"),
                                *((q, q) for q in reversed(quarters))]
        form.wave.choices = [("", "")]
        form.wave.data = ""  # a survey's field, not on this form: ignored
    else:
        dims = [(d, results.DIMENSION_LABELS.get(d, d))
                for d in themes.survey_breakdowns(survey, settings())]
        waves = [w.label for w in results.released_waves(survey)]
        form.wave.choices = [("", "The latest closed wave"), *((w, w) for w in reversed(waves))]
        form.quarter.choices = [("", "")]
        form.quarter.data = ""  # concerns' fields, not on this form: ignored
        form.grain.data = themes.QUARTER
    form.by.choices = [("", "Nothing: everyone together"), *dims]
    return form, survey


def _summarise() -> tuple[SummaryForm, Survey | None, themes.ThemeSummary | None, str, int]:
    """The form, its survey, and the summary (or a message and its status)."""
    form, survey = _form()
    if not form.validate():
        return form, survey, None, "", 400
    key = _analysis_key()
    try:
        if key is None:
            return form, survey, None, NO_KEY, 200
        if survey is None:
            summary = themes.cached_concern_summary(
                db(), settings=settings(), analysis_key=key, facts=_facts,
                grain=form.grain.data, by=form.by.data or None,
                quarter=form.quarter.data or None)
        else:
            summary = themes.cached_survey_summary(
                db(), settings=settings(), survey=survey, analysis_key=key,
                by=form.by.data or None, wave_label=form.wave.data or None)
        if db().info.pop("summary_kept", False) or "concern_facts" in g:
            db().commit()  # the summary kept sealed, as it was made now
    except themes.NothingToSummariseError as e:
        db().rollback()
        return form, survey, None, str(e), 200
    except (themes.ThemeSummaryError, DisclosureError) as e:
        db().rollback()
        form.form_errors.append(str(e)[:1].upper() + str(e)[1:])
        return form, survey, None, "", 400
    return form, survey, summary, "", 200


@bp.get("/", endpoint="summary")
@edi_only
def summary_page() -> Any:
    form, survey, summary, message, status = _summarise()
    return _render(form, survey, summary, message, status)


def _render(form: SummaryForm, survey: Survey | None, summary: themes.ThemeSummary | None,
            message: str, status: int) -> Any:
    query = {name: value for name, value in form.data.items() if value}
    return render_template(
        "equality/themes.html", form=form, survey=survey, summary=summary, message=message,
        charts=charts, figures=theme_charts.summary_charts(summary) if summary else None,
        k=settings().min_cell_size, csv_url=url_for("edi_themes.summary_csv", **query),
        printed_on=charts.date_text(today()),
    ), status


@bp.get("/summary.csv", endpoint="summary_csv")
@edi_only
def summary_download() -> Any:
    """The summary's disclosure-controlled tables as CSV: no phrase, quote or hidden figure."""
    form, survey, summary, message, status = _summarise()
    if summary is None:
        return _render(form, survey, summary, message, status)
    name = f"{'concerns' if survey is None else survey.slug}-themes-{summary.period}"
    name = "".join(ch if ch.isalnum() else "-" for ch in name)
    return Response(themes.summary_csv(summary), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}.csv"'})
