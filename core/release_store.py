"""Release decisions of disclosure control, kept so that they survive restarts.

`analysis.disclosure` decides the release of a closed wave (or quarter) once, over its whole
query space, and audits it; this module keeps each decision in the ``disclosure_releases``
table, so a restart, another server or the CLI shows exactly the same figures without deciding
again (`adopt` still re-audits a saved decision before using it). A row holds, sealed under a
server key, the decision, every figure it released and the counts it was made from (needed to
audit the next version); the subject (survey, question, wave) and a keyed fingerprint of the
data are HMACs, so the table alone says nothing about which survey or whose answers.

Versions: when the data behind a published release changes (a late import into a closed wave,
a guardian's theme correction, a re-imported workforce period), the next view makes a new
version, audited against the previous one (`Population.audit_change`): someone holding both
cannot tie the records that changed to a small group. Old versions are kept (they were shown).
"""

from __future__ import annotations

import contextlib
import json
import zlib
from typing import Final

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from analysis.disclosure import DisclosureError, Policy, Population
from config.settings import Settings
from core.db import Base
from core.encryption import DecryptionError, mac, open_sealed, seal, server_key

_PURPOSE: Final = "disclosure-release"


class ReleaseDecision(Base):
    __tablename__ = "disclosure_releases"
    __table_args__ = (UniqueConstraint("subject", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


def _key(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, _PURPOSE)


def decide(db: Session, settings: Settings, *, subject: str, population: Population,
           policy: Policy, wave: str | None) -> int:
    """Make ``population`` use the kept decision of ``subject`` for ``wave`` when its data is
    unchanged, or decide (audited against the last version, if any) and keep a new version.
    Returns the version shown. In the caller's transaction."""
    key = _key(settings)
    subject_id = mac(key, "subject", subject, repr(policy), wave or "").hex()
    fingerprint = mac(key, "data", population.fingerprint(policy, wave)).hex()
    latest = db.scalars(select(ReleaseDecision).where(ReleaseDecision.subject == subject_id)
                        .order_by(ReleaseDecision.version.desc()).limit(1)).first()
    if latest is not None and latest.fingerprint == fingerprint and population.decided(policy, wave):
        return latest.version  # this process made or adopted it already (populations are cached)
    previous = None
    if latest is not None:
        try:
            previous = json.loads(zlib.decompress(open_sealed(
                key, latest.sealed, context=subject_id.encode())))
        except (DecryptionError, zlib.error, ValueError):
            previous = None  # unreadable (e.g. the secret changed): decide afresh
    if latest is not None and previous is not None and latest.fingerprint == fingerprint:
        try:
            population.adopt(policy, wave, previous["decision"])
            return latest.version
        except DisclosureError:
            pass  # categories or policy changed: a new version
    if previous is not None:
        # Other categories (DisclosureError): the versions share no cells to compare.
        with contextlib.suppress(DisclosureError):
            population.audit_change(policy, wave, previous)
    version = 1 if latest is None else latest.version + 1
    record = json.dumps(population.record(policy, wave), separators=(",", ":")).encode()
    db.add(ReleaseDecision(subject=subject_id, version=version, fingerprint=fingerprint,
                           sealed=seal(key, zlib.compress(record), context=subject_id.encode())))
    db.flush()
    return version
