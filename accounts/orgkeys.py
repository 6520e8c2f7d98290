"""The organisation's analysis key: what EDI leads, and only they, can open.

Free text for equality summaries (survey comments, consented quote extracts of concerns) and
each concern's equality record are sealed to the *analysis* X25519 public key. Its private half
is stored only sealed to each EDI lead's own public key (`OrgKeyGrant`), so it is opened in an
EDI lead's session and nowhere else: not by a copy of the database, and not by an operator who
holds the server secrets (finding 14 of issue 8: these were sealed under the staff secret alone).

The public key carries a binding MAC under a server secret, checked every time something is
sealed to it, so a database writer cannot substitute their own. EDI leads' keys are checked the
same way (`accounts.services.sealable_public_key`) before the private half is shared with them.

Bootstrapping: the pair is made the first time something is sealed to it. If no EDI lead exists
yet, its private half is kept sealed under a key derived from the staff secret (a *bootstrap*
grant, ``staff_id`` NULL) until the first EDI lead account is created, which receives it and
deletes the bootstrap copy; until then the operator could open what was sealed. Later EDI leads
receive it the next time an EDI lead who holds it signs in (`share`).
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from accounts.keys import KeyBindingError, sealable_public_key
from accounts.models import StaffUser
from config.settings import Settings
from core import audit
from core.db import Base
from core.encryption import (
    DecryptionError,
    EncryptionError,
    bind_public_key,
    generate_keypair,
    open_sealed,
    open_with_private_key,
    public_key_bound,
    seal,
    seal_to_public_key,
    server_key,
)

ANALYSIS: Final = "analysis"
HOLDER_ROLE: Final = "edi"


class OrgKeyError(EncryptionError):
    """The analysis key is missing, unbound or cannot be opened by this user."""


class OrgKey(Base):
    __tablename__ = "org_keys"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    public_key_binding: Mapped[bytes] = mapped_column(LargeBinary(32))


class OrgKeyGrant(Base):
    """The private half sealed to one staff member's public key (or, ``staff_id`` None, the
    bootstrap copy under a server-derived key)."""

    __tablename__ = "org_key_grants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(ForeignKey("org_keys.name", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), nullable=True)
    key_sealed: Mapped[bytes] = mapped_column(LargeBinary)


def _binding_key(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, "key-binding")


def _bootstrap_key(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, "org-key-bootstrap")


def _context(name: str) -> bytes:
    return f"speakup/org-key/{name}".encode()


def _holders(db: Session) -> list[StaffUser]:
    return list(db.scalars(select(StaffUser).where(StaffUser.role == HOLDER_ROLE,
                                                   StaffUser.disabled.is_(False))
                           .order_by(StaffUser.id)))


def _grant_to(db: Session, name: str, user: StaffUser, private: bytes, settings: Settings) -> bool:
    try:
        public = sealable_public_key(user, settings)
    except KeyBindingError:
        return False
    db.add(OrgKeyGrant(name=name, staff_id=user.id,
                       key_sealed=seal_to_public_key(public, private, context=_context(name))))
    return True


def public_key(db: Session, settings: Settings, name: str = ANALYSIS) -> bytes:
    """The analysis public key, checked against its binding; made on first use."""
    row = db.get(OrgKey, name)
    if row is None:
        pair = generate_keypair()
        db.add(OrgKey(name=name, public_key=pair.public,
                      public_key_binding=bind_public_key(_binding_key(settings), f"org:{name}",
                                                         pair.public)))
        db.flush()
        holders = [u for u in _holders(db) if _grant_to(db, name, u, pair.private, settings)]
        if not holders:
            db.add(OrgKeyGrant(name=name, staff_id=None, key_sealed=seal(
                _bootstrap_key(settings), pair.private, context=_context(name))))
        db.flush()
        return pair.public
    if not public_key_bound(_binding_key(settings), f"org:{name}", row.public_key,
                            row.public_key_binding):
        raise OrgKeyError("the analysis public key was changed in the database")
    return row.public_key


def private_key(db: Session, user: StaffUser, user_private: bytes, name: str = ANALYSIS) -> bytes:
    """The analysis private key, opened with this staff member's private key."""
    grant = db.scalar(select(OrgKeyGrant).where(OrgKeyGrant.name == name,
                                                OrgKeyGrant.staff_id == user.id))
    if grant is None:
        raise OrgKeyError("you do not hold the analysis key yet: it is shared with you the next "
                          "time another EDI lead signs in")
    try:
        return open_with_private_key(user_private, grant.key_sealed, context=_context(name))
    except DecryptionError as e:
        raise OrgKeyError("your copy of the analysis key does not open") from e


def on_holder_created(db: Session, user: StaffUser, settings: Settings,
                      name: str = ANALYSIS) -> bool:
    """Give a new EDI lead the bootstrap copy, if there is one, and delete it."""
    boot = db.scalar(select(OrgKeyGrant).where(OrgKeyGrant.name == name,
                                               OrgKeyGrant.staff_id.is_(None)))
    if boot is None or user.role != HOLDER_ROLE:
        return False
    private = open_sealed(_bootstrap_key(settings), boot.key_sealed, context=_context(name))
    if _grant_to(db, name, user, private, settings):
        db.delete(boot)
        audit.record(db, actor="system", action="orgkey.grant", target=f"staff:{user.id}",
                     detail=f"{name} (first holder; bootstrap copy deleted)")
        db.flush()
        return True
    return False


def share(db: Session, user: StaffUser, user_private: bytes, settings: Settings,
          name: str = ANALYSIS) -> int:
    """Seal the key to every active EDI lead who lacks it (their binding checked); returns how
    many received it. Called when an EDI lead who holds it signs in."""
    if db.get(OrgKey, name) is None:
        return 0
    try:
        private = private_key(db, user, user_private, name)
    except OrgKeyError:
        return 0
    held = set(db.scalars(select(OrgKeyGrant.staff_id).where(OrgKeyGrant.name == name)))
    given = 0
    for holder in _holders(db):
        if holder.id not in held and _grant_to(db, name, holder, private, settings):
            given += 1
            audit.record(db, actor=f"staff:{user.id}", action="orgkey.grant",
                         target=f"staff:{holder.id}", detail=name)
    if given:
        db.execute(delete(OrgKeyGrant).where(OrgKeyGrant.name == name,
                                             OrgKeyGrant.staff_id.is_(None)))
    db.flush()
    return given


def reseal_grants(db: Session, user: StaffUser, old_private: bytes, new_public: bytes) -> int:
    """Key rotation: re-seal this user's grants to their new public key."""
    count = 0
    for grant in db.scalars(select(OrgKeyGrant).where(OrgKeyGrant.staff_id == user.id)):
        private = open_with_private_key(old_private, grant.key_sealed, context=_context(grant.name))
        grant.key_sealed = seal_to_public_key(new_public, private, context=_context(grant.name))
        count += 1
    return count


def seal_for_analysis(db: Session, settings: Settings, plaintext: bytes, *, purpose: str) -> bytes:
    """Seal ``plaintext`` so only EDI leads (in session) can open it."""
    return seal_to_public_key(public_key(db, settings), plaintext,
                              context=f"speakup/analysis/{purpose}".encode())


def open_for_analysis(analysis_private: bytes, blob: bytes, *, purpose: str) -> bytes:
    return open_with_private_key(analysis_private, blob,
                                 context=f"speakup/analysis/{purpose}".encode())
