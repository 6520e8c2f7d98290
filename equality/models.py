"""Workforce reporting periods and the rows imported into them.

A period is a 31 March snapshot and the year to it. Each import goes into the period's latest
version while it is a draft (replacing that kind of data); once a version is published, an
import makes a new draft version (a correction, with a note) that copies the other data, and
publishing it supersedes the old one. Old versions are kept, so every published figure can be
recomputed.

Staff and applications are stored with keyed digests of their identifiers, never the
identifiers themselves (see `equality.services`). Nothing here names anyone.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, utcnow

DRAFT = "draft"
PUBLISHED = "published"
SUPERSEDED = "superseded"


class WorkforcePeriod(Base):
    """One version of a reporting period. ``note`` says what a correction changed."""

    __tablename__ = "workforce_periods"
    __table_args__ = (UniqueConstraint("snapshot", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default=DRAFT)  # draft, published, superseded
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WorkforceStaff(Base):
    """One person in a period's staff snapshot. ``person_key``: keyed digest of person_id."""

    __tablename__ = "workforce_staff"
    __table_args__ = (UniqueConstraint("period_id", "person_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("workforce_periods.id", ondelete="CASCADE"))
    person_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    ethnicity: Mapped[str] = mapped_column(String(40))
    band: Mapped[str] = mapped_column(String(24))
    staff_group: Mapped[str] = mapped_column(String(40))
    directorate: Mapped[str] = mapped_column(String(80), default="")
    clinical: Mapped[bool] = mapped_column(Boolean)
    disability: Mapped[str] = mapped_column(String(12))
    sex: Mapped[str] = mapped_column(String(12))
    board_voting_member: Mapped[bool] = mapped_column(Boolean)
    entered_formal_disciplinary: Mapped[bool] = mapped_column(Boolean)
    entered_formal_capability: Mapped[bool] = mapped_column(Boolean)
    accessed_non_mandatory_training: Mapped[bool] = mapped_column(Boolean)
    hourly_pay: Mapped[float | None] = mapped_column(Float, nullable=True)
    bonus_pay: Mapped[float | None] = mapped_column(Float, nullable=True)


class WorkforceBoardMember(Base):
    """One member of the board in a period (public office holders; no names kept)."""

    __tablename__ = "workforce_board_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("workforce_periods.id", ondelete="CASCADE"),
                                           index=True)
    voting: Mapped[bool] = mapped_column(Boolean)
    executive: Mapped[bool] = mapped_column(Boolean)
    ethnicity: Mapped[str] = mapped_column(String(40))
    disability: Mapped[str] = mapped_column(String(12))
    sex: Mapped[str] = mapped_column(String(12))


class WorkforceApplication(Base):
    """One application in a period's recruitment extract. ``application_key``: keyed digest of
    the recruitment system's application reference."""

    __tablename__ = "workforce_applications"
    __table_args__ = (UniqueConstraint("period_id", "application_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    period_id: Mapped[int] = mapped_column(ForeignKey("workforce_periods.id", ondelete="CASCADE"))
    application_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    vacancy_id: Mapped[str] = mapped_column(String(100))
    band: Mapped[str] = mapped_column(String(24))
    ethnicity: Mapped[str] = mapped_column(String(40))
    disability: Mapped[str] = mapped_column(String(12))
    sex: Mapped[str] = mapped_column(String(12))
    internal_candidate: Mapped[bool] = mapped_column(Boolean)
    shortlisted: Mapped[bool] = mapped_column(Boolean)
    interviewed: Mapped[bool] = mapped_column(Boolean)
    appointed: Mapped[bool] = mapped_column(Boolean)
    route: Mapped[str] = mapped_column(String(24))
    panel_diverse: Mapped[str] = mapped_column(String(8))
    directorate: Mapped[str] = mapped_column(String(80), default="")
    decision_date: Mapped[date | None] = mapped_column(Date, nullable=True)


class WorkforceTarget(Base):
    """A Model Employer target: BME share (percent) of a band's headcount by 31 March of
    ``year``. Targets belong to the trust, not to a period."""

    __tablename__ = "workforce_targets"
    __table_args__ = (UniqueConstraint("year", "band"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    band: Mapped[str] = mapped_column(String(24))
    share: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


STAFF_SURVEY_INDICATORS = ("wres5", "wres6", "wres7", "wres8")


class WorkforceSurveyFigure(Base):
    """A WRES indicator 5-8 as the NHS Staff Survey published it for the trust: the percent of
    ``group`` (``white`` or ``global-majority``) staff, for the period of ``snapshot`` (the
    survey reported in that year's WRES return). Entered by an EDI lead from the published
    benchmark report; already national figures, so shown exactly."""

    __tablename__ = "workforce_survey_figures"
    __table_args__ = (UniqueConstraint("snapshot", "indicator", "group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    snapshot: Mapped[date] = mapped_column(Date)
    indicator: Mapped[str] = mapped_column(String(8))
    group: Mapped[str] = mapped_column(String(20))
    percent: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
