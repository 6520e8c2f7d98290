"""Unlinkable records: what is written so that no row, order, id or transaction ties it to
the moment it was written, or to anything written in the same transaction.

Used for survey responses (a stream per wave) and for the equality record of concerns (the
``concerns`` stream). The attack it defeats (issue 8, finding 1): a response inserted in the
same transaction that spends an invitation code shares that transaction's id (``xmin``) with the
code's row on a live PostgreSQL, and both rows land at the end of their tables, so a pg_dump or
the SQLite file lists the used codes and the responses in the same order. Whoever holds the code
list (the EDI lead downloads it for the mail merge) could then name every answer.

Design
------
1. *Pending.* A record is first written to ``pending_records``, sealed (AES-GCM under a key
   derived from the staff secret, with a random nonce inside the plaintext), with a random id.
   This row is the only thing a live reader could tie to the moment of writing, and nothing can
   be read from it without the server secret. It is committed with the submission, so nothing
   acknowledged is lost if the process dies.
2. *Settling.* When a stream's lane has at least ``settings.batch_size`` pending records (k,
   11 by default), they are all deleted and re-written to ``records`` in one transaction, in a
   random order, each re-sealed with a fresh nonce and given a new random id. Every record of a
   batch then shares one transaction id, sits in a random position among the others and has a
   ciphertext unrelated to its pending one: a reader who saw a pending row appear (or a code
   disappear) at 10:03 can tell only that its record is one of the batch. ``force`` (a wave
   closing, a quarter being summarised) settles fewer, padded up to the batch size with
   already-settled records of the stream that are re-written alongside them.
3. *Lanes.* Records a guardian's action creates (a correction to a concern's themes) go in a
   ``correction`` lane that settles only in batches of its own of at least the batch size and is
   never forced: the action itself is audited with its time and case, so a correction settling
   alone, or among new concerns, could be paired with its case by someone who reads both.
4. *Storage.* Both tables are SQLite ``WITHOUT ROWID`` (rows kept in random-id order, no hidden
   insertion counter) and their ids are random. Counts per stream are not secret (they are the
   response count of a wave); contents are.

Records are opened only by the server (survey answers, for the results a closed wave releases
through disclosure control) or, for what is sealed inside them to the organisation's analysis
key (`core.orgkeys`), only in an EDI lead's session. A record carries a random nonce: a database
writer who duplicates a record does not change any count (:func:`read` drops repeats).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Final

from sqlalchemy import LargeBinary, String, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from config.settings import Settings
from core.db import Base
from core.encryption import new_id, open_sealed, pad, seal, server_key, unpad

NEW: Final = "new"
CORRECTION: Final = "correction"
LANES: Final = (NEW, CORRECTION)
_NONCE: Final = 16


class PendingRecord(Base):
    """A record waiting to settle: sealed, random id, its stream and lane in the clear."""

    __tablename__ = "pending_records"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    stream: Mapped[str] = mapped_column(String(60), index=True)
    lane: Mapped[str] = mapped_column(String(12))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Record(Base):
    """A settled record: written in a shuffled batch, re-sealed, random id."""

    __tablename__ = "records"
    __table_args__ = ({"sqlite_with_rowid": False},)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    stream: Mapped[str] = mapped_column(String(60), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


def _key(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, "records")


def _context(stream: str) -> bytes:
    return f"speakup/record/{stream}".encode()


def _seal(settings: Settings, stream: str, plaintext: bytes) -> bytes:
    return seal(_key(settings), plaintext, context=_context(stream))


def _open(settings: Settings, stream: str, blob: bytes) -> bytes:
    return open_sealed(_key(settings), blob, context=_context(stream))


def _plaintext(payload: bytes) -> bytes:
    """A record's plaintext: a random nonce (its identity for life, kept through every
    re-write) and the payload, padded to a size class so that lengths tie nothing together."""
    return pad(secrets.token_bytes(_NONCE) + payload, minimum=1024)


def add(db: Session, *, stream: str, payload: bytes, settings: Settings, lane: str = NEW) -> None:
    """Write ``payload`` to ``stream`` unlinkably (in the caller's transaction), settling the
    lane if it now holds a full batch."""
    if lane not in LANES:
        raise ValueError(f"unknown lane {lane!r}")
    db.add(PendingRecord(id=new_id(), stream=stream, lane=lane,
                         sealed=_seal(settings, stream, _plaintext(payload))))
    db.flush()
    settle(db, stream=stream, settings=settings, lanes=(lane,))


def add_many(db: Session, *, stream: str, payloads: Sequence[bytes], settings: Settings) -> None:
    """Write many payloads at once (an import, a migration): they form one shuffled batch of
    their own, padded like a forced settle when there are fewer than the batch size."""
    for payload in payloads:
        db.add(PendingRecord(id=new_id(), stream=stream, lane=NEW,
                             sealed=_seal(settings, stream, _plaintext(payload))))
    db.flush()
    settle(db, stream=stream, settings=settings, lanes=(NEW,), force=True)


def _take(db: Session, table: type[PendingRecord] | type[Record], ids: Sequence[str]) -> list[bytes]:
    """Delete rows by id and return the sealed values of those this transaction deleted (a
    concurrent settle that got there first leaves them out, so no record is written twice)."""
    taken: list[bytes] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        taken.extend(db.scalars(delete(table).where(table.id.in_(chunk))
                                .returning(table.sealed)))
    return taken


def _distinct(settings: Settings, stream: str, blobs: Sequence[bytes]) -> dict[bytes, bytes]:
    """Plaintexts by record nonce: a record a database writer copied counts once."""
    found: dict[bytes, bytes] = {}
    for blob in blobs:
        plaintext = _open(settings, stream, blob)
        found.setdefault(unpad(plaintext)[:_NONCE], plaintext)
    return found


def settle(db: Session, *, stream: str, settings: Settings, lanes: Sequence[str] = LANES,
           force: bool = False) -> int:
    """Move full batches of ``stream``'s pending records into ``records``; returns how many.

    A batch is counted in distinct records (copies of one pending row count once), so a
    database writer cannot make a lane settle early by duplicating rows. With ``force``, the
    ``new`` lane settles whatever it holds (padded, see the module); the ``correction`` lane
    never settles below the batch size.
    """
    batch = settings.batch_size
    moved = 0
    for lane in lanes:
        rows = db.execute(select(PendingRecord.id, PendingRecord.sealed).where(
            PendingRecord.stream == stream, PendingRecord.lane == lane)).all()
        pending = _distinct(settings, stream, [sealed for _id, sealed in rows])
        if not pending or (len(pending) < batch and not (force and lane == NEW)):
            continue
        taken = _distinct(settings, stream, _take(db, PendingRecord, [i for i, _ in rows]))
        plaintexts = list(taken.values())
        moved += len(plaintexts)
        if len(plaintexts) < batch:
            settled = list(db.scalars(select(Record.id).where(Record.stream == stream)))
            padding = secrets.SystemRandom().sample(settled, min(len(settled),
                                                                 batch - len(plaintexts)))
            plaintexts += list(_distinct(settings, stream, _take(db, Record, padding)).values())
        secrets.SystemRandom().shuffle(plaintexts)
        for plaintext in plaintexts:
            # Re-sealed with a fresh AES-GCM nonce: a ciphertext unrelated to the pending one,
            # of the same size class as every other record.
            db.add(Record(id=new_id(), stream=stream, sealed=_seal(settings, stream, plaintext)))
        db.flush()
    return moved


def read(db: Session, *, stream: str, settings: Settings) -> list[bytes]:
    """The payloads of ``stream``'s settled records (not the pending ones), in id order (which
    is random). A record a database writer duplicated is returned once (by its nonce)."""
    blobs = list(db.scalars(select(Record.sealed).where(Record.stream == stream)
                            .order_by(Record.id)))
    return [unpad(plaintext)[_NONCE:] for plaintext in _distinct(settings, stream, blobs).values()]


def counts(db: Session, *, streams: Sequence[str]) -> dict[str, int]:
    """Settled records per stream (a wave's response count)."""
    if not streams:
        return {}
    rows = db.execute(select(Record.stream, func.count()).where(Record.stream.in_(streams))
                      .group_by(Record.stream))
    found = {stream: int(n) for stream, n in rows}
    return {s: found.get(s, 0) for s in streams}


def pending(db: Session, *, stream: str) -> int:
    return int(db.scalar(select(func.count()).select_from(PendingRecord)
                         .where(PendingRecord.stream == stream)) or 0)


def drop_stream(db: Session, *, stream: str) -> None:
    db.execute(delete(PendingRecord).where(PendingRecord.stream == stream))
    db.execute(delete(Record).where(Record.stream == stream))
