"""Concerns, their threads and attachments, and the keys that open them.

Every free-text value is stored only as ciphertext under the concern's own key. Times on
this side are dates (UTC day), never finer. Coded values (site, kind, month, professional
group, ethnicity, NGO fields) stay in the clear so counts can be made without decrypting.
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import StaffUser
from core.db import Base, utcnow


class Concern(Base):
    __tablename__ = "concerns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    receipt_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The concern key sealed under the key derived from the reporter's receipt.
    reporter_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The concern key sealed to the organisation's offline escrow key, if one is configured.
    escrow_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # JSON {"text", "name", "contact"} sealed under the concern key.
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)

    received_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="new")
    acknowledged_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    awaiting_guardian: Mapped[bool] = mapped_column(Boolean, default=True)
    awaiting_reporter: Mapped[bool] = mapped_column(Boolean, default=False)

    kind: Mapped[str] = mapped_column(String(40))
    site: Mapped[str | None] = mapped_column(String(40), nullable=True)
    happened_month: Mapped[str | None] = mapped_column(String(7), nullable=True)
    identity_mode: Mapped[str] = mapped_column(String(20))
    professional_group: Mapped[str | None] = mapped_column(String(40), nullable=True)
    ethnicity: Mapped[str | None] = mapped_column(String(40), nullable=True)
    quote_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # With consent only: a redacted extract for equality summaries, sealed under the server's
    # analysis key (not the concern key), so EDI leads can quote it without opening the case.
    quote_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Tone of the text (VADER, domain-corrected), rounded to one decimal: a secondary signal.
    tone: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The day a guardian recorded that no theme applies (every theme row is then removed);
    # None otherwise, and cleared when a theme is confirmed or added. A reviewed negative
    # example for retraining the theme engine.
    no_theme_on: Mapped[date | None] = mapped_column(Date, nullable=True)

    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )

    # National Guardian's Office recording fields, set by the guardian.
    ngo_raised: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ngo_patient_safety: Mapped[bool] = mapped_column(Boolean, default=False)
    ngo_worker_safety: Mapped[bool] = mapped_column(Boolean, default=False)
    ngo_bullying_harassment: Mapped[bool] = mapped_column(Boolean, default=False)
    ngo_inappropriate_behaviours: Mapped[bool] = mapped_column(Boolean, default=False)
    ngo_detriment: Mapped[bool] = mapped_column(Boolean, default=False)
    ngo_professional_group: Mapped[str | None] = mapped_column(String(40), nullable=True)
    ngo_speak_up_again: Mapped[str | None] = mapped_column(String(20), nullable=True)

    assigned_to: Mapped[StaffUser | None] = relationship()
    grants: Mapped[list[ConcernGrant]] = relationship(
        back_populates="concern", cascade="all, delete-orphan"
    )
    exclusions: Mapped[list[ConcernExclusion]] = relationship(cascade="all, delete-orphan")
    messages: Mapped[list[Message]] = relationship(
        back_populates="concern", cascade="all, delete-orphan", order_by="Message.id"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="concern", cascade="all, delete-orphan", order_by="Attachment.id"
    )
    themes: Mapped[list[ConcernTheme]] = relationship(
        back_populates="concern", cascade="all, delete-orphan", order_by="ConcernTheme.theme_id"
    )


class ConcernGrant(Base):
    """The concern key sealed to one guardian's public key."""

    __tablename__ = "concern_grants"
    __table_args__ = (UniqueConstraint("concern_id", "staff_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)

    concern: Mapped[Concern] = relationship(back_populates="grants")


class ConcernExclusion(Base):
    """A guardian the reporter said must never see this concern (conflict of interest)."""

    __tablename__ = "concern_exclusions"
    __table_args__ = (UniqueConstraint("concern_id", "staff_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))


class Message(Base):
    """One entry in a concern's thread: from the reporter, to the reporter, or a private note."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    # "reporter", "guardian" (a reply the reporter sees) or "note" (guardians only).
    author: Mapped[str] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[date] = mapped_column(Date)
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)

    concern: Mapped[Concern] = relationship(back_populates="messages")
    staff: Mapped[StaffUser | None] = relationship()


class Attachment(Base):
    """A file sent with a concern or a reporter's message, sealed under the concern key."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True
    )
    # JSON {"filename", "content_type"} sealed, then the content sealed separately.
    meta_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)

    concern: Mapped[Concern] = relationship(back_populates="attachments")
    message: Mapped[Message | None] = relationship()


class SubmissionToken(Base):
    """Makes a concern form submit at most once.

    Each form carries a random token. Its digest is stored with the receipt sealed under a key
    derived from the token, so a repeated submission (a double click, a refresh) shows the same
    receipt instead of creating a second concern. Purged after a day.
    """

    __tablename__ = "submission_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    receipt_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date] = mapped_column(Date)


class ConcernTheme(Base):
    """A theme on a concern: its id only, never the words that triggered it.

    ``source`` says who put it there (``engine`` at submission, or ``guardian``); ``status``
    is ``suggested`` (engine, unreviewed), ``confirmed`` or ``removed`` (by a guardian). The
    reviewed rows are the labels the theme engine retrains on.
    """

    __tablename__ = "concern_themes"
    __table_args__ = (UniqueConstraint("concern_id", "theme_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"))
    theme_id: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(10), default="engine")
    status: Mapped[str] = mapped_column(String(10), default="suggested")
    score: Mapped[float | None] = mapped_column(Float, nullable=True)

    concern: Mapped[Concern] = relationship(back_populates="themes")


class ThemeModel(Base):
    """A retrained supervised layer of the theme engine, sealed under the analysis key.

    Trained from guardians' reviewed labels; only n-grams seen in several concerns are kept,
    and the whole model is sealed, because its features are words from concerns.
    """

    __tablename__ = "theme_models"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    trained_by: Mapped[str] = mapped_column(String(120))
    examples: Mapped[int] = mapped_column(Integer)
    macro_f1_before: Mapped[float | None] = mapped_column(Float, nullable=True)
    macro_f1_after: Mapped[float | None] = mapped_column(Float, nullable=True)
    model_sealed: Mapped[bytes] = mapped_column(LargeBinary)
