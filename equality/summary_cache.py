"""Themed summaries, kept sealed once made: a closed quarter's (or closed wave's) summary is
computed once and read back on later views.

Making a summary opens every concern's equality record and tags and redacts every consented
quote (issue 12: 2.3 s at 20,000 concerns, on every view). The figures of a closed period do not
change, so each summary asked for is stored here, sealed to the organisation's analysis key
(`accounts.orgkeys.seal_for_analysis`): only an EDI lead's session can open it, exactly like
the equality records and comments it is made from, and never the staff secret alone (an
operator with the server's secrets cannot read it). The row's key is a digest of what the
summary depends on (the period, the choices on the form, the settings, the taxonomy and theme
model, the responses of each wave), so a change to any of them simply misses; rows for
concerns are also deleted whenever a concern's facts change in a closed quarter (a guardian's
theme correction, see `speakup.analytics`). Nothing in a row says when it was made or who
asked.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from typing import Final

from sqlalchemy import LargeBinary, String, delete
from sqlalchemy.orm import Mapped, Session, mapped_column

from accounts import orgkeys
from config.settings import Settings
from core.db import Base
from core.encryption import DecryptionError

_PURPOSE: Final = "theme-summary"
CONCERNS: Final = "concerns"


class CachedSummary(Base):
    __tablename__ = "theme_summary_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(40), index=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


def _key(parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def load(db: Session, *, parts: object, analysis_private: bytes) -> bytes | None:
    """The payload stored for ``parts``, opened with the analysis key; None if there is none
    (or it cannot be opened: it is then made again)."""
    row = db.get(CachedSummary, _key(parts))
    if row is None:
        return None
    try:
        return zlib.decompress(orgkeys.open_for_analysis(analysis_private, row.sealed,
                                                         purpose=_PURPOSE))
    except (DecryptionError, zlib.error):
        return None


def store(db: Session, settings: Settings, *, source: str, parts: object, payload: bytes) -> None:
    """Keep ``payload`` for ``parts``, sealed to the analysis key (in the caller's
    transaction)."""
    key = _key(parts)
    db.info["summary_kept"] = True  # the caller has something to commit
    db.execute(delete(CachedSummary).where(CachedSummary.key == key))
    db.add(CachedSummary(key=key, source=source, sealed=orgkeys.seal_for_analysis(
        db, settings, zlib.compress(payload), purpose=_PURPOSE)))
    db.flush()


def invalidate(db: Session, *, source: str) -> None:
    """Forget every stored summary of ``source`` (``concerns``, or ``survey-<id>``)."""
    db.execute(delete(CachedSummary).where(CachedSummary.source == source))
