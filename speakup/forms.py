"""Forms of the anonymous side and of the guardians' case page.

Forms check shape (required, length, allowed choices); services check business rules.
Choices that depend on the organisation or the database are filled in by the view.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Optional

from config.settings import Organisation
from config.vocabulary import (
    ETHNICITIES,
    IDENTITY_MODES,
    NGO_ELEMENTS,
    PREFER_NOT_TO_SAY,
    SPEAK_UP_AGAIN,
    STATUSES,
)
from speakup.attachments import CleanFile
from speakup.services import ConcernDraft

TEXT_LIMIT = 20_000
MESSAGE_LIMIT = 10_000


def _strip(value: object) -> object:
    """Optional() passes a whitespace-only choice without checking it against the choices:
    strip it, so that it counts as not chosen instead of being stored."""
    return value.strip() if isinstance(value, str) else value


def recent_months(today: date, count: int = 24) -> list[tuple[str, str]]:
    """("2026-11", "November 2026") for this month and the ``count - 1`` before it."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append((f"{year:04d}-{month:02d}", date(year, month, 1).strftime("%B %Y")))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def month_label(value: str | None) -> str:
    """"2026-12" as "December 2026"; anything else as given, or "Not given"."""
    if not value:
        return "Not given"
    try:
        year, month = (int(part) for part in value.split("-"))
        return date(year, month, 1).strftime("%B %Y")
    except ValueError:
        return value


class ConcernForm(FlaskForm):
    text = TextAreaField(
        "What happened?",
        validators=[DataRequired("Tell us what happened."),
                    Length(max=TEXT_LIMIT, message=f"Keep it under {TEXT_LIMIT:,} characters. "
                           "You can add more after sending, with your receipt.")],
    )
    kind = RadioField("What is it mainly about?",
                      validators=[InputRequired("Choose what it is mainly about.")])
    identity_mode = RadioField(
        "How do you want to raise it?",
        choices=[(code, label) for code, label, _ in IDENTITY_MODES],
        validators=[InputRequired("Choose how you want to raise it.")],
    )
    name = StringField("Your name", validators=[Optional(), Length(max=120)])
    contact = StringField("How the guardian can contact you",
                          validators=[Optional(), Length(max=200)])
    site = SelectField("Where did it happen?", validators=[Optional()], filters=[_strip])
    happened_month = SelectField("Roughly when did it happen?", validators=[Optional()],
                                 filters=[_strip])
    professional_group = SelectField("Your professional group", validators=[Optional()],
                                     filters=[_strip])
    ethnicity = SelectField("Your ethnic group", validators=[Optional()], filters=[_strip],
                            choices=[("", "Choose an option"), *ETHNICITIES, PREFER_NOT_TO_SAY])
    quote_consent = BooleanField(
        "Short extracts, with names and details removed, may be quoted in equality summaries",
        validators=[Optional()],
    )
    # strip_whitespace=False: with a blank first value, Optional() would clear the "could not
    # be coerced" error and silently drop every exclusion sent with it.
    excluded_guardians = SelectMultipleField(
        "Guardians who must not see this concern", coerce=int,
        validators=[Optional(strip_whitespace=False)])
    files = MultipleFileField("Attach files", validators=[Optional()])
    form_token = HiddenField()

    def fill_choices(self, *, organisation: Organisation, guardians: list[tuple[int, str]],
                     today: date) -> None:
        org = organisation
        self.kind.choices = list(org.concern_kinds)
        self.site.choices = [("", "Choose a place"), *org.sites]
        self.happened_month.choices = [("", "Choose a month"), *recent_months(today),
                                       ("earlier", "Earlier than that")]
        self.professional_group.choices = [
            ("", "Choose an option"),
            *org.professional_groups,
            PREFER_NOT_TO_SAY,
        ]
        self.excluded_guardians.choices = guardians

    def to_draft(self, files: Sequence[CleanFile]) -> ConcernDraft:
        """The validated answers as the service's draft."""
        return ConcernDraft(
            text=self.text.data or "", kind=self.kind.data or "",
            identity_mode=self.identity_mode.data or "anonymous",
            site=self.site.data, happened_month=self.happened_month.data,
            name=self.name.data or "", contact=self.contact.data or "",
            professional_group=self.professional_group.data, ethnicity=self.ethnicity.data,
            quote_consent=bool(self.quote_consent.data),
            excluded_guardian_ids=self.excluded_guardians.data or [], files=files,
        )


class ReceiptForm(FlaskForm):
    receipt = StringField("Your receipt", validators=[
        DataRequired("Enter your receipt."),
        Length(max=200, message="That is too long to be a receipt."),
    ])
    # The proof-of-work challenge (core.ratelimit) and the browser's solution to it.
    # A reply typed after the reporter's session ended: carried through signing in again,
    # then put back on the message form (never sent without the reporter pressing Send).
    pending_message = TextAreaField("Your message (not sent yet)", validators=[
        Optional(), Length(max=MESSAGE_LIMIT,
                           message=f"Keep it under {MESSAGE_LIMIT:,} characters.")])
    pow_token = HiddenField(validators=[Optional(), Length(max=120)])
    pow_solution = HiddenField(validators=[Optional(), Length(max=20)])


class ReporterMessageForm(FlaskForm):
    text = TextAreaField("Your message", validators=[
        Length(max=MESSAGE_LIMIT, message=f"Keep it under {MESSAGE_LIMIT:,} characters."),
    ])
    files = MultipleFileField("Attach files", validators=[Optional()])


class FeedbackForm(FlaskForm):
    answer = RadioField("Given your experience, would you speak up again?",
                        choices=list(SPEAK_UP_AGAIN),
                        validators=[InputRequired("Choose an answer.")])


class LeaveForm(FlaskForm):
    pass


# --- guardian case page -----------------------------------------------------------------------


class ReplyForm(FlaskForm):
    text = TextAreaField("Reply to the reporter", validators=[
        DataRequired("Write your reply."),
        Length(max=MESSAGE_LIMIT, message=f"Keep it under {MESSAGE_LIMIT:,} characters."),
    ])


class NoteForm(FlaskForm):
    text = TextAreaField("Private note for guardians", validators=[
        DataRequired("Write your note."),
        Length(max=MESSAGE_LIMIT, message=f"Keep it under {MESSAGE_LIMIT:,} characters."),
    ])


class CaseUpdateForm(FlaskForm):
    """Status, assignment and the National Guardian's Office record: one form, one Save, so a
    choice made in one part is never lost by saving another. Closing asks for a closing message
    to the reporter, or a tick to close without one (the service checks it)."""

    status = RadioField("Status", choices=list(STATUSES),
                        validators=[InputRequired("Choose a status.")])
    closing_message = TextAreaField("Closing message to the reporter", validators=[
        Optional(),
        Length(max=MESSAGE_LIMIT, message=f"Keep it under {MESSAGE_LIMIT:,} characters."),
    ])
    close_without_message = BooleanField("Close without a message to the reporter")
    assignee = SelectField("Assigned guardian", coerce=str, validators=[Optional()],
                           filters=[_strip])
    raised = RadioField("Raised", choices=[(c, label) for c, label, _ in IDENTITY_MODES],
                        validators=[InputRequired("Choose how the concern was raised.")])
    elements = SelectMultipleField("Elements of the case", choices=list(NGO_ELEMENTS),
                                   validators=[Optional()])
    professional_group = SelectField("Professional or worker group", validators=[Optional()],
                                     filters=[_strip])
    speak_up_again = RadioField("Given your experience, would you speak up again?",
                                choices=list(SPEAK_UP_AGAIN), validators=[Optional()],
                                filters=[_strip])


class ExportForm(FlaskForm):
    """A financial-year quarter or a whole year; the view fills in the periods."""

    period = SelectField("Period", validators=[InputRequired("Choose a quarter or a year.")])


class ThemeForm(FlaskForm):
    """Confirm or remove a theme on a case; confirming one not on the case adds it.

    Each theme's own form sends ``theme`` hidden and ``decision`` from the button pressed; the
    "add a theme" form sends ``theme`` from its list. The view fills in the taxonomy's themes.
    """

    theme = SelectField("Add a theme the engine missed", validate_choice=False, filters=[_strip],
                        validators=[DataRequired("Choose a theme to add."), Length(max=40)])
    decision = HiddenField(validators=[AnyOf(("confirmed", "removed"),
                                             message="Choose to confirm or remove the theme.")])


class NoThemeForm(FlaskForm):
    """Record that no theme applies to a case (every theme on it is removed)."""


class RetrainForm(FlaskForm):
    pass
