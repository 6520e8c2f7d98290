"""Rate limits, spent tokens and proof of work, kept in the database.

Everything here is shared by every worker and every server of a deployment (a trust may run two
behind a load balancer), survives restarts, and is atomic under parallel requests: a counter is
incremented with one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, a token is spent by
inserting its digest under a primary key.

Receipts (the anonymous side never sees an IP address) are protected three ways, so that a
stranger can slow guessing down but never lock everyone out (finding 6 of issue 8):

* per *session chain*: a random id kept in the reporter's sealed session cookie and in the
  counter's key. Replaying an old cookie replays the same id, so it meets the same count.
* *proof of work*, as GlobaLeaks does: each receipt form carries a signed challenge; while the
  failures across the whole service in the current window are below a threshold the challenge
  asks for no work (so the form works without JavaScript), above it every attempt must come with
  a solution that costs a browser a second or two (`frontend/speakup.js` solves it) and costs
  someone making thousands of guesses thousands of times that. Nobody is locked out: honest
  reporters pay a short wait while an attack lasts; without JavaScript they are asked to come
  back later.
* each check costs two scrypt runs, and a receipt has 88 bits.

Keys are stored only as keyed digests, and windows as whole window numbers: nothing here names
a concern or says more than "someone in this session tried, in this ten-minute window".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

from sqlalchemy import Date, Integer, LargeBinary, String, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from config.settings import Settings
from core.db import Base
from core.db import today as utc_today
from core.encryption import keyed_digest, server_key

POW_BITS: Final = 18
"""Leading zero bits a solution needs while the service is under attack (about 260,000
SHA-256 hashes: a second or two in a phone's browser)."""
POW_SECONDS: Final = 20 * 60
"""How long a challenge stays valid."""


class RateCounter(Base):
    """Attempts for one key in its current window."""

    __tablename__ = "rate_counters"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    window: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class SpentToken(Base):
    """A single-use value that has been used (a proof-of-work challenge, a reporter session
    that was left), until the day it could no longer be used anyway."""

    __tablename__ = "spent_tokens"
    __table_args__ = ({"sqlite_with_rowid": False},)

    digest: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    expires_on: Mapped[date] = mapped_column(Date)


def _digest(settings: Settings, name: str) -> bytes:
    return keyed_digest(server_key(settings.staff_secret, "rate-limit"), name)


def _window(window_seconds: int, now: float | None = None) -> int:
    return int((now if now is not None else time.time()) // window_seconds)


def hit(db: Session, *, name: str, window_seconds: int, settings: Settings,
        now: float | None = None) -> int:
    """Count one attempt for ``name`` in the current window; returns the count including it.
    Atomic: parallel requests each get a different count."""
    key = _digest(settings, name)
    window = _window(window_seconds, now)
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(RateCounter).values(key=key, window=window, count=1)
    table = RateCounter.__table__
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={"count": statement.excluded.count + table.c.count * (table.c.window == window)
              .cast(Integer), "window": window},
    ).returning(table.c.count)
    return int(db.execute(statement).scalar_one())


def count(db: Session, *, name: str, window_seconds: int, settings: Settings,
          now: float | None = None) -> int:
    """Attempts for ``name`` in the current window, without counting one."""
    row = db.get(RateCounter, _digest(settings, name))
    if row is None or row.window != _window(window_seconds, now):
        return 0
    return row.count


def spend(db: Session, *, value: str, kind: str, settings: Settings, days: int = 1) -> bool:
    """Mark ``value`` used; False if it already was (atomic: of parallel spends one wins)."""
    digest = _digest(settings, f"{kind}:{value}")
    try:
        with db.begin_nested():
            db.add(SpentToken(digest=digest, kind=kind,
                              expires_on=utc_today() + timedelta(days=days)))
    except IntegrityError:
        return False
    return True


def is_spent(db: Session, *, value: str, kind: str, settings: Settings) -> bool:
    return db.get(SpentToken, _digest(settings, f"{kind}:{value}")) is not None


def purge(db: Session, *, settings: Settings, window_seconds: int) -> int:
    """Delete spent tokens past their day and counters of past windows."""
    gone = db.execute(delete(SpentToken).where(SpentToken.expires_on < utc_today()))
    db.execute(delete(RateCounter).where(RateCounter.window < _window(window_seconds) - 1))
    return int(getattr(gone, "rowcount", 0) or 0)


# --- proof of work ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Challenge:
    token: str  # nonce.expires.bits.mac
    bits: int


def _pow_mac(settings: Settings, body: str) -> str:
    return hmac.new(server_key(settings.staff_secret, "pow"), body.encode(),
                    hashlib.sha256).hexdigest()[:32]


def challenge(*, bits: int, settings: Settings, now: float | None = None) -> Challenge:
    """A signed challenge asking for ``bits`` leading zero bits (0: no work)."""
    expires = int((now if now is not None else time.time()) + POW_SECONDS)
    body = f"{secrets.token_hex(12)}.{expires}.{bits}"
    return Challenge(f"{body}.{_pow_mac(settings, body)}", bits)


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve(token: str, bits: int) -> str:
    """A solution (for tests and the benchmark; browsers run frontend/speakup.js)."""
    counter = 0
    while leading_zero_bits(hashlib.sha256(f"{token}:{counter}".encode()).digest()) < bits:
        counter += 1
    return str(counter)


def check(db: Session, *, token: str, solution: str, required_bits: int, settings: Settings,
          now: float | None = None) -> bool:
    """Whether ``solution`` solves ``token``, a challenge this server signed that has not
    expired, asks for at least ``required_bits`` and has not been used before (it is spent
    now). A challenge asking for no work still has to be genuine and unused."""
    parts = token.split(".")
    if len(parts) != 4 or len(solution) > 20:
        return False
    nonce, expires, bits, mac = parts
    body = f"{nonce}.{expires}.{bits}"
    if not hmac.compare_digest(_pow_mac(settings, body), mac):
        return False
    if not (expires.isdigit() and bits.isdigit()) or int(expires) < (now or time.time()):
        return False
    if int(bits) < required_bits:
        return False
    if int(bits) and leading_zero_bits(
            hashlib.sha256(f"{token}:{solution}".encode()).digest()) < int(bits):
        return False
    return spend(db, value=nonce, kind="pow", settings=settings)


def required_bits(db: Session, *, settings: Settings, now: float | None = None) -> int:
    """The work receipt attempts need now: none, or `POW_BITS` while failures across the
    service in this window are at or above ``settings.receipt_attack_threshold``."""
    failures = count(db, name="receipt-failures", window_seconds=settings.receipt_window_seconds,
                     settings=settings, now=now)
    return POW_BITS if failures >= settings.receipt_attack_threshold else 0
