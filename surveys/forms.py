"""Survey forms, built from a survey definition. Shape only: answers are checked against the
definition by :func:`surveys.services.validate_answers`."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    Field,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, ValidationError

from config.vocabulary import PREFER_NOT_TO_SAY
from surveys.definition import SurveyDefinition


class CodeForm(FlaskForm):
    code = StringField("Your invitation code", validators=[
        DataRequired("Enter the code from your invitation."),
        Length(max=40, message="That is too long to be an invitation code.")])


def answer_form(definition: SurveyDefinition, formdata: Any = None) -> FlaskForm:
    """A form with one field per question and demographic.

    All are optional to answer; the page says so once, so no field carries the Optional
    validator (which would add "(optional)" to every label).
    """
    fields: dict[str, Field] = {}
    for q in definition.questions:
        if q.kind == "text":
            fields[q.id] = TextAreaField(q.text, validators=[
                Length(max=q.max_length,
                                   message=f"Keep it under {q.max_length:,} characters.")])
        elif q.kind == "multiple":
            fields[q.id] = SelectMultipleField(q.text, choices=list(q.options),
                                               validate_choice=False)
        else:
            fields[q.id] = RadioField(q.text, choices=list(q.options), validate_choice=False)
    for d in definition.demographics:
        if len(d.options) <= 3:  # yes / no and other short lists: radios, not a dropdown
            fields[d.id] = RadioField(d.text, choices=[*d.options, PREFER_NOT_TO_SAY],
                                      validate_choice=False)
        else:
            fields[d.id] = SelectField(d.text, choices=[("", "Choose an option"), *d.options,
                                                        PREFER_NOT_TO_SAY],
                                       validate_choice=False)
    form_class = type("SurveyAnswerForm", (FlaskForm,), fields)
    form: FlaskForm = form_class(formdata=formdata) if formdata is not None else form_class()
    return form


class CodesForm(FlaskForm):
    count = IntegerField("How many codes", validators=[
        DataRequired("Enter how many codes you need."),
        NumberRange(min=1, max=100_000, message="Between 1 and 100,000 codes.")])


class NewSurveyForm(FlaskForm):
    template = RadioField("Start from", validators=[DataRequired("Choose a template.")])


class WaveForm(FlaskForm):
    label = StringField("Wave name", validators=[
        DataRequired("Give the wave a name, like 'Spring 2027'."), Length(max=40)])
    open_link = RadioField("How will people answer?", choices=[
        ("codes", "With single-use invitation codes only"),
        ("link", "With invitation codes or an open link anyone with the link can use"),
    ], default="codes", validators=[DataRequired("Choose how people will answer.")])


class CloseWaveForm(FlaskForm):
    pass


class DefinitionForm(FlaskForm):
    """A survey definition of the lead's own (TOML), checked by
    `surveys.definition.parse_definition`."""

    definition = FileField("Survey definition (TOML file)", validators=[
        FileRequired("Choose the survey definition file to load.")])


class ImportForm(FlaskForm):
    """A responses spreadsheet for one survey (shape only; rows are checked by
    `surveys.services.import_responses`)."""

    responses = FileField("Spreadsheet of answers (CSV)", validators=[
        FileRequired("Choose the CSV file of answers to import.")])
    wave = StringField("Wave name", default="Imported", validators=[
        DataRequired("Give the wave a name, like 'Staff survey 2026'."),
        Length(max=40, message="Keep the wave name under 40 characters.")])


TREND = "trend"  # the wave choice that breaks down by wave instead of fixing one


class ResultsForm(FlaskForm):
    """The results query, read from the query string: dimension names, a question id, a
    directorate and a wave label, nothing else. Choices are set per survey."""

    class Meta:
        csrf = False  # a GET form that changes nothing

    question = SelectField("Question", validate_choice=False)
    by = SelectField("Break down by", validate_choice=False)
    by2 = SelectField("and by", validate_choice=False)
    directorate = SelectField("Directorate", validate_choice=False)
    wave = SelectField("Wave", validate_choice=False)

    @staticmethod
    def _offered(field: Field, message: str) -> None:
        if field.data not in {value for value, _ in field.choices}:
            raise ValidationError(message)

    def validate_question(self, field: Field) -> None:
        self._offered(field, "Choose a question from the list.")

    def validate_by(self, field: Field) -> None:
        self._offered(field, "Choose what to break the results down by from the list.")

    def validate_by2(self, field: Field) -> None:
        self._offered(field, "Choose a second breakdown from the list, or none.")
        if field.data and field.data == self.by.data:
            raise ValidationError("Choose two different things to break the results down by.")
        if field.data and self.wave.data == TREND:
            raise ValidationError("A trend across waves can be broken down by one thing only: "
                                  "remove the second breakdown.")

    def validate_directorate(self, field: Field) -> None:
        self._offered(field, "Choose a directorate from the list.")
        if field.data and "directorate" in (self.by.data, self.by2.data):
            raise ValidationError("You cannot filter by one directorate and break down by "
                                  "directorate: remove the filter or the breakdown.")

    def validate_wave(self, field: Field) -> None:
        self._offered(field, "Choose a wave from the list.")

    def query(self) -> dict[str, Any]:
        """Keyword arguments for `surveys.results.question_results`."""
        by = [d for d in (self.by.data, self.by2.data) if d]
        trend = self.wave.data == TREND
        return {"by": [*by, "wave"] if trend else by,
                "where": {"directorate": self.directorate.data} if self.directorate.data else {},
                "question_ids": [self.question.data] if self.question.data else None,
                "wave_label": None if trend else self.wave.data}
