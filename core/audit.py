"""Append-only audit log of staff actions, chained with a key the database does not hold.

Each row stores an HMAC-SHA256, under a key derived from the staff server secret, of its own
content and of the previous row's MAC. Someone who can write to the database (a DBA, a stolen
backup restored elsewhere) can delete or edit rows, but cannot compute the MACs of a re-chained
history, so :func:`verify_chain` names the first bad row. Truncating the tail leaves a valid but
shorter chain: that is caught by *checkpoints*, lines holding the head of the chain written
outside the database (:func:`write_checkpoint`, run by ``speakup audit checkpoint`` from a timer
and by ``speakup purge``; ship the file to syslog or another host), which ``verify`` checks the
chain still contains. The database refuses UPDATE, DELETE and (PostgreSQL) TRUNCATE on the table;
the README explains how to give the table to a separate owner role.

Writers are serialised by ``audit_head``, a single row holding the last sequence number and MAC:
each event first updates it (a row lock on PostgreSQL, the write lock on SQLite, where every
transaction begins IMMEDIATE), so concurrent staff actions never chain onto the same row.

Rows say who (a staff account, or ``cli``), what and when; they never describe a reporter or
hold any concern text.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import DateTime, Integer, String, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.db import Base, utcnow
from core.encryption import mac

GENESIS = "0" * 64
KEY_INFO = "audit_key"
"""Where a session's ``info`` holds the chain key (see `core.db.Database`)."""


class AuditError(RuntimeError):
    """The audit log cannot be written or checked (no key configured)."""


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(120), default="")
    detail: Mapped[str] = mapped_column(String(500), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's last sequence number and MAC: one row (id 1), the writers' lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


def _key(db: Session) -> bytes:
    key = db.info.get(KEY_INFO)
    if not isinstance(key, bytes):
        raise AuditError("the audit log needs its key: open sessions from Database.from_settings")
    return key


def _digest(key: bytes, seq: int, prev_hash: str, at: datetime, actor: str, action: str,
            target: str, detail: str) -> str:
    # SQLite hands back naive datetimes; every stored time is UTC.
    at_utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return mac(key, "speakup/audit", str(seq), prev_hash, at_utc.isoformat(timespec="seconds"),
               actor, action, target, detail).hex()


def record(db: Session, *, actor: str, action: str, target: str = "", detail: str = "") -> AuditEvent:
    """Append one event to the chain, in the caller's transaction (which it serialises)."""
    key = _key(db)
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    seq, prev = int(head.seq), str(head.hash)
    at = utcnow().replace(microsecond=0)
    actor, action, target, detail = actor[:120], action[:60], target[:120], detail[:500]
    event = AuditEvent(id=seq, at=at, actor=actor, action=action, target=target, detail=detail,
                       prev_hash=prev,
                       hash=_digest(key, seq, prev, at, actor, action, target, detail))
    db.add(event)
    db.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=event.hash))
    db.flush()
    return event


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    line: int


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_id: int | None = None
    problem: str = ""
    checkpoints: int = 0


def verify_chain(db: Session, checkpoints: Iterable[Checkpoint] = ()) -> ChainReport:
    """Walk the whole log in order, check every link and every row's MAC, then that the chain
    still holds every checkpoint (so rows cut from its end are noticed)."""
    key = _key(db)
    prev = GENESIS
    checked = 0
    expected_id = 1
    hashes: dict[int, str] = {}
    # populate_existing: re-read every row from the database, never trust cached objects.
    query = select(AuditEvent).order_by(AuditEvent.id).execution_options(populate_existing=True)
    for event in db.scalars(query):
        if event.id != expected_id or event.prev_hash != prev:
            return ChainReport(False, checked, event.id, "a row before it was changed or removed")
        expected = _digest(key, event.id, event.prev_hash, event.at, event.actor, event.action,
                           event.target, event.detail)
        if expected != event.hash:
            return ChainReport(False, checked, event.id, "this row was changed or forged")
        hashes[event.id] = event.hash
        prev = event.hash
        checked += 1
        expected_id += 1
    count = 0
    for point in checkpoints:
        count += 1
        if hashes.get(point.seq) != point.hash:
            return ChainReport(False, checked, point.seq,
                               f"checkpoint line {point.line} records event {point.seq}, which "
                               "the log no longer holds as it was (rows removed or rewritten)",
                               count)
    head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is not None and (head.seq != checked or head.hash != prev):
        return ChainReport(False, checked, None, "the chain's head does not match its last row",
                           count)
    return ChainReport(True, checked, checkpoints=count)


def _checkpoint_mac(key: bytes, seq: int, hash_: str) -> str:
    return mac(key, "speakup/audit-checkpoint", str(seq), hash_).hex()[:32]


def write_checkpoint(db: Session, path: Path) -> Checkpoint | None:
    """Append the chain's head to ``path`` (a line ``audit-checkpoint seq=N hash=H mac=M``);
    None (nothing written) while the log is empty."""
    key = _key(db)
    head = db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one_or_none()
    if head is None or head.seq == 0:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().replace(microsecond=0).isoformat()
    line = (f"{stamp} speakup audit-checkpoint seq={head.seq} hash={head.hash} "
            f"mac={_checkpoint_mac(key, head.seq, head.hash)}\n")
    with path.open("a", encoding="ascii") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return Checkpoint(int(head.seq), str(head.hash), 0)


def read_checkpoints(db: Session, path: Path) -> list[Checkpoint]:
    """The checkpoints in ``path`` whose MAC is right (lines a writer without the key forged or
    mangled are reported as such by raising :class:`AuditError`)."""
    key = _key(db)
    if not path.exists():
        return []
    points = []
    for number, raw in enumerate(path.read_text(encoding="ascii").splitlines(), 1):
        fields = dict(part.split("=", 1) for part in raw.split() if "=" in part)
        if "audit-checkpoint" not in raw:
            continue
        try:
            seq, hash_ = int(fields["seq"]), fields["hash"]
        except (KeyError, ValueError) as e:
            raise AuditError(f"{path}: line {number} is not a checkpoint") from e
        if fields.get("mac") != _checkpoint_mac(key, seq, hash_):
            raise AuditError(f"{path}: line {number} has a wrong MAC (not written by this server)")
        points.append(Checkpoint(seq, hash_, number))
    return points


def recent(db: Session, limit: int = 200) -> list[AuditEvent]:
    return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)))


def rekey(db: Session) -> int:
    """Re-chain every existing row under the key (migration from the first release's unkeyed
    SHA-256 chain); returns the number of rows. The caller lifts the append-only guard."""
    key = _key(db)
    prev = GENESIS
    rows = list(db.execute(text(
        "SELECT id, at, actor, action, target, detail FROM audit_events ORDER BY id")))
    for seq, (_old_id, at, actor, action, target, detail) in enumerate(rows, 1):
        at_dt = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
        new_hash = _digest(key, seq, prev, at_dt, actor, action, target, detail)
        db.execute(text("UPDATE audit_events SET id = :new, prev_hash = :p, hash = :h "
                        "WHERE id = :old"),
                   {"new": -seq, "p": prev, "h": new_hash, "old": _old_id})
        prev = new_hash
    db.execute(text("UPDATE audit_events SET id = -id WHERE id < 0"))
    db.execute(text("DELETE FROM audit_head"))
    db.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, :s, :h)"),
               {"s": len(rows), "h": prev})
    return len(rows)
