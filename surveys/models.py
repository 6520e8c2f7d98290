"""Pulse surveys, their waves, invitation codes and unlinkable responses.

Unlinkability: an invitation code is stored only as a digest with a used flag; a response row
has a random id, no reference to any code, and no time finer than its wave. Free-text answers
are sealed under a key derived from a server secret that is not in the database.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

DEMOGRAPHIC_COLUMNS = ("ethnicity", "band", "staff_group", "directorate",
                       "internationally_educated", "disability", "sex", "age_band")


class Survey(Base):
    __tablename__ = "surveys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    definition: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    waves: Mapped[list[SurveyWave]] = relationship(
        back_populates="survey", cascade="all, delete-orphan", order_by="SurveyWave.id")


class SurveyWave(Base):
    """One run of a survey. Responses carry their wave and nothing finer about time."""

    __tablename__ = "survey_waves"
    __table_args__ = (UniqueConstraint("survey_id", "label"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="draft")  # draft, open, closed
    opened_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The token in the wave's open link, for informal pulses (None: invitation codes only).
    open_link: Mapped[str | None] = mapped_column(String(40), unique=True, nullable=True)

    survey: Mapped[Survey] = relationship(back_populates="waves")


class InvitationCode(Base):
    """A single-use code: its digest and whether it has been used. Nothing else."""

    __tablename__ = "survey_invitation_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"))
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class SurveyResponse(Base):
    """One person's answers: demographics here, answers in rows below. Random id, no time."""

    __tablename__ = "survey_responses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"),
                                         index=True)
    ethnicity: Mapped[str | None] = mapped_column(String(40), nullable=True)
    band: Mapped[str | None] = mapped_column(String(20), nullable=True)
    staff_group: Mapped[str | None] = mapped_column(String(40), nullable=True)
    directorate: Mapped[str | None] = mapped_column(String(40), nullable=True)
    internationally_educated: Mapped[str | None] = mapped_column(String(20), nullable=True)
    disability: Mapped[str | None] = mapped_column(String(20), nullable=True)
    sex: Mapped[str | None] = mapped_column(String(20), nullable=True)
    age_band: Mapped[str | None] = mapped_column(String(20), nullable=True)

    answers: Mapped[list[SurveyAnswer]] = relationship(cascade="all, delete-orphan")
    comments: Mapped[list[SurveyComment]] = relationship(cascade="all, delete-orphan")


class SurveyAnswer(Base):
    """A chosen option (one row per option for multiple-choice questions)."""

    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_question", "question_id", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(40))


class SurveyComment(Base):
    """A free-text answer, sealed; never shown raw (see the theme analysis)."""

    __tablename__ = "survey_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("survey_responses.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(40))
    text_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Theme ids found at ingest (space-separated; never the words) and the comment's tone.
    themes: Mapped[str] = mapped_column(String(400), default="", server_default="")
    tone: Mapped[float | None] = mapped_column(Float, nullable=True)
