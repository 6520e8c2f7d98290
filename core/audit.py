"""Append-only, hash-chained audit log of staff actions.

Each row stores the SHA-256 of its own content and of the previous row, so editing, deleting
or re-ordering rows breaks the chain and :func:`verify_chain` names the first bad row. Rows say
who (a staff account, or ``cli``), what and when; they never describe a reporter or hold any
concern text. On PostgreSQL a trigger also refuses UPDATE and DELETE (see the migration).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, utcnow

GENESIS = "0" * 64


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(120), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


def _digest(prev_hash: str, at: datetime, actor: str, action: str, target: str, detail: str) -> str:
    # SQLite hands back naive datetimes; every stored time is UTC.
    at_utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    payload = json.dumps(
        [prev_hash, at_utc.isoformat(timespec="seconds"), actor, action, target, detail],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def record(db: Session, *, actor: str, action: str, target: str = "", detail: str = "") -> AuditEvent:
    """Append one event to the chain, in the caller's transaction.

    On PostgreSQL the table is locked for the rest of the transaction so two writers cannot
    both chain onto the same previous row.
    """
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text("LOCK TABLE audit_events IN EXCLUSIVE MODE"))
    last = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).first()
    prev = last.hash if last else GENESIS
    at = utcnow().replace(microsecond=0)
    event = AuditEvent(
        at=at, actor=actor[:120], action=action[:60], target=target[:120], detail=detail[:500],
        prev_hash=prev, hash=_digest(prev, at, actor[:120], action[:60], target[:120], detail[:500]),
    )
    db.add(event)
    db.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""


def verify_chain(db: Session) -> ChainReport:
    """Walk the whole log in order and check every link and every row's own hash."""
    prev = GENESIS
    checked = 0
    # populate_existing: re-read every row from the database, never trust cached objects.
    query = select(AuditEvent).order_by(AuditEvent.id).execution_options(populate_existing=True)
    for event in db.scalars(query):
        if event.prev_hash != prev:
            return ChainReport(False, checked, event.id, "a row before it was changed or removed")
        expected = _digest(event.prev_hash, event.at, event.actor, event.action, event.target,
                           event.detail)
        if expected != event.hash:
            return ChainReport(False, checked, event.id, "this row was changed")
        prev = event.hash
        checked += 1
    return ChainReport(True, checked)


def recent(db: Session, limit: int = 200) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))
