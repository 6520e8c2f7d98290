"""Pulse surveys, their waves and invitation codes.

Responses are not rows of their own: each is an unlinkable record (`core.unlinkable`, stream
``survey:<wave id>``), sealed, written in shuffled batches, with no id, order or transaction
shared with the code it spent (which is deleted). Demographic answers are quasi-identifiers, so
they are sealed with the rest; free-text answers are sealed inside them to the organisation's
analysis key (`accounts.orgkeys`), which only EDI leads can open.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

DEMOGRAPHIC_COLUMNS = ("ethnicity", "band", "staff_group", "directorate",
                       "internationally_educated", "disability", "sex", "gender_identity",
                       "age_band")


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
    # Codes issued for the wave (those spent are deleted, so issued minus left were used).
    codes_issued: Mapped[int] = mapped_column(Integer, default=0)

    survey: Mapped[Survey] = relationship(back_populates="waves")


class InvitationCode(Base):
    """A single-use code, stored as a keyed digest and deleted when spent.

    The digest is an HMAC under a server secret, so whoever holds the printed code list cannot
    find which codes are still unspent (who has not answered yet) in a copy of the database.
    ``keyed`` is False only for codes issued by the first release (plain SHA-256). Random ids and
    a WITHOUT ROWID table: nothing records the order codes were made or spent in.
    """

    __tablename__ = "survey_invitation_codes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"),
                                         index=True)
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    keyed: Mapped[bool] = mapped_column(Boolean, default=True)


class IssuedCode(Base):
    """Every code issued for a wave (a keyed digest), spent or not, until the wave closes.

    The code form checks a code against this table, so entering a code says only whether it
    was issued for an open wave, never whether it was already used: whoever holds the code list
    cannot probe which colleagues have answered. Whether a code is unspent is learnt only by
    submitting answers with it, which spends it (`InvitationCode`). Rows are written in random
    order and deleted when the wave closes.
    """

    __tablename__ = "survey_issued_codes"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    wave_id: Mapped[int] = mapped_column(ForeignKey("survey_waves.id", ondelete="CASCADE"),
                                         index=True)
    code_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    keyed: Mapped[bool] = mapped_column(Boolean, default=True)
