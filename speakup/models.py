"""Concerns, their threads and attachments, and the keys that open them.

Every free-text value, and every answer or recorded fact about a concern, is stored only as
ciphertext under the concern's own key. Times on this side are dates (UTC day), never finer.
Ids are random and the tables are SQLite WITHOUT ROWID, so neither ids nor storage order say
when or in which order rows were written (PostgreSQL's heap order and transaction ids are
re-written by `speakup mix`; see `speakup.services.mix`). Equality analysis never reads these
tables: it reads the unlinkable equality record (`speakup.analytics`).
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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import StaffUser
from core.db import Base, utcnow

_NO_ROWID = {"sqlite_with_rowid": False}


class Concern(Base):
    """A concern: sealed content and record, clear workflow fields, random id.

    What stays in the clear is what guardians triage and sort on without opening the case:
    the day it arrived (for the deadlines), status, the days it was acknowledged and closed,
    who it is assigned to, and whether a reporter's message is waiting. Everything the reporter
    said about themselves or the concern (kind, site, month, identity, professional group,
    ethnicity, excluded guardians) and everything recorded about it (themes, tone, NGO fields) is
    in ``record_sealed``, under the concern key like the text.
    """

    __tablename__ = "concerns"
    # The inbox reads these clear columns of a guardian's cases without the sealed blobs.
    __table_args__ = (Index("ix_concerns_inbox", "id", "ref", "status", "received_on",
                            "assigned_to_id", "record_version", "awaiting_guardian"), _NO_ROWID)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    receipt_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    # The concern key sealed under the key derived from the reporter's receipt.
    reporter_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # The concern key sealed to the organisation's offline escrow key, if one is configured.
    escrow_key_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # JSON {"text", "name", "contact"} sealed under the concern key.
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # JSON case record (`speakup.record.CaseRecord`) sealed under the concern key; None only for
    # a concern migrated from the first release that no guardian has opened since (its record
    # then waits in each grant's ``legacy_record``).
    record_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Bumped at every change of the record: two writers never overwrite each other's change.
    record_version: Mapped[int] = mapped_column(Integer, default=1)

    received_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="new")
    acknowledged_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    awaiting_guardian: Mapped[bool] = mapped_column(Boolean, default=True)
    awaiting_reporter: Mapped[bool] = mapped_column(Boolean, default=False)

    assigned_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )

    assigned_to: Mapped[StaffUser | None] = relationship()
    grants: Mapped[list[ConcernGrant]] = relationship(
        back_populates="concern", cascade="all, delete-orphan"
    )
    messages: Mapped[list[Message]] = relationship(
        back_populates="concern", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[Attachment]] = relationship(
        back_populates="concern", cascade="all, delete-orphan"
    )


class ConcernGrant(Base):
    """The concern key sealed to one guardian's public key."""

    __tablename__ = "concern_grants"
    __table_args__ = (UniqueConstraint("concern_id", "staff_id"),
                      Index("ix_concern_grants_staff_id", "staff_id", "concern_id"), _NO_ROWID)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    concern_id: Mapped[str] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"),
                                            index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Migration from the first release only: the case record sealed to this guardian's public
    # key (the migration could not open the concern key), moved under it at first opening.
    legacy_record: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    concern: Mapped[Concern] = relationship(back_populates="grants")


class Message(Base):
    """One entry in a concern's thread: from the reporter, to the reporter, or a private note.

    The body is JSON ``{"seq", "text"}`` sealed with the message's own id and author in the
    associated data, so a database writer cannot move, swap or reorder messages; the case
    record counts them, so one removed is noticed.
    """

    __tablename__ = "messages"
    __table_args__ = (_NO_ROWID,)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    concern_id: Mapped[str] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"),
                                            index=True)
    # "reporter", "guardian" (a reply the reporter sees) or "note" (guardians only).
    author: Mapped[str] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[date] = mapped_column(Date)
    body_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # Migrated from the first release and not yet re-sealed: its place in the thread (the
    # first release's order) and the old associated data. None for every other message.
    legacy_order: Mapped[int | None] = mapped_column(Integer, nullable=True)

    concern: Mapped[Concern] = relationship(back_populates="messages")
    staff: Mapped[StaffUser | None] = relationship()


class Attachment(Base):
    """A file sent with a concern or a reporter's message, sealed under the concern key with
    its own id in the associated data."""

    __tablename__ = "attachments"
    __table_args__ = (_NO_ROWID,)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    concern_id: Mapped[str] = mapped_column(ForeignKey("concerns.id", ondelete="CASCADE"),
                                            index=True)
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True
    )
    # JSON {"filename", "content_type", "sanitised"} sealed, then the content sealed separately.
    meta_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    content_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    legacy: Mapped[bool] = mapped_column(Boolean, default=False)

    concern: Mapped[Concern] = relationship(back_populates="attachments")
    message: Mapped[Message | None] = relationship()


class SubmissionToken(Base):
    """Makes a concern form submit at most once.

    Each form carries a random token. Its digest is stored with the receipt sealed under a key
    derived from the token *and* a random value kept in the sender's session cookie, so a repeat
    of the same form from the same browser (a double click, a refresh) shows the same receipt,
    while a copy of the form sent from another browser learns only that it was already sent.
    Purged after a day.
    """

    __tablename__ = "submission_tokens"
    __table_args__ = (_NO_ROWID,)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    receipt_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_on: Mapped[date] = mapped_column(Date)


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


class InboxIndex(Base):
    """One guardian's sealed case index (see `speakup.inbox`). No times, no clear data."""

    __tablename__ = "inbox_indexes"

    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True)
    # Bumped by every save of the index (two saves never overwrite each other).
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Bumped by every change to a case this guardian holds (`speakup.services.touch_indexes`):
    # a count, never a time. The index is rebuilt when it was built from an older generation.
    generation: Mapped[int] = mapped_column(Integer, default=0)
    index_sealed: Mapped[bytes] = mapped_column(LargeBinary)
