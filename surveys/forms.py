"""Survey forms, built from a survey definition. Shape only: answers are checked against the
definition by :func:`surveys.services.validate_answers`."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    Field,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange

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
