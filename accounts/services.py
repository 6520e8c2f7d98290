"""Staff accounts: creation, login with password and TOTP, lockout, sessions, recovery."""

from __future__ import annotations

import gzip
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import pyotp
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from accounts import orgkeys
from accounts.keys import bind_key, key_fingerprint, key_is_bound
from accounts.models import ROLES, StaffSession, StaffUser
from config.settings import KdfProfile, Settings
from core import audit
from core.db import as_utc, utcnow
from core.encryption import (
    DecryptionError,
    PasswordKeys,
    derive_password_keys,
    derive_subkey,
    fingerprint,
    generate_keypair,
    generate_recovery_key,
    new_salt,
    open_sealed,
    open_with_private_key,
    public_key_of,
    recovery_wrapping_key,
    seal,
    seal_to_public_key,
    server_key,
    token_digest,
    token_key,
    unwrap_private_key,
    verify_password,
    wrap_private_key,
)

MIN_PASSWORD_LENGTH = 12
KDF_PEPPERED = "peppered"
KDF_V1 = "v1"
_TOTP_CONTEXT = b"speakup/totp-secret"
_COMMON_PASSWORDS = frozenset(
    gzip.decompress((Path(__file__).parent / "common-passwords.txt.gz").read_bytes())
    .decode().split())


class AccountError(Exception):
    """Root of account errors."""


class LoginError(AccountError):
    """Wrong email, password or code. Deliberately says no more than that."""


class AccountLockedError(AccountError):
    """Too many failed attempts; the account is locked for a while."""


class AccountExistsError(AccountError):
    pass


class AccountNotFoundError(AccountError):
    pass


class WeakPasswordError(AccountError):
    pass


@dataclass(frozen=True)
class NewAccount:
    """Shown once to the person creating the account, never stored in the clear."""

    user: StaffUser
    totp_secret: str
    recovery_key: str
    # For code in the same process that acts as the new account at once (the demo, tests).
    private_key: bytes = field(default=b"", repr=False)

    def provisioning_uri(self, issuer: str) -> str:
        return pyotp.TOTP(self.totp_secret).provisioning_uri(
            name=self.user.email, issuer_name=issuer
        )


@dataclass(frozen=True)
class StaffIdentity:
    """A logged-in staff member with their private key unlocked for this request."""

    user: StaffUser
    private_key: bytes
    session_token: str


# --- keys derived from the server secret ----------------------------------------------------


def _pepper(settings: Settings) -> bytes:
    return server_key(settings.staff_secret, "password-pepper")


def _legacy_totp_key(settings: Settings) -> bytes:
    """The first release sealed TOTP secrets under the staff secret alone (upgraded at sign-in)."""
    return derive_subkey(settings.staff_secret, "totp")


def _totp_key(wrapping_key: bytes) -> bytes:
    return derive_subkey(wrapping_key, "totp")


# --- passwords ------------------------------------------------------------------------------


def check_password_strength(password: str, email: str) -> None:
    """At least 12 characters, not the email, not a common or breached password (a list of
    about 20,000 shipped with the app, also after removing digits and symbols added to one),
    and not one character or a short pattern repeated."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    lowered = password.lower()
    if lowered in email.lower() or email.split("@")[0].lower() in lowered:
        raise WeakPasswordError("The password must not contain the email address.")
    letters = "".join(ch for ch in lowered if ch.isalpha())
    stripped = lowered.strip("0123456789!@#$%^&*()-_=+.,?~ ")
    runs = ("01234567890123456789", "98765432109876543210", "abcdefghijklmnopqrstuvwxyz",
            "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv5tgb")
    if any(lowered in run * 2 for run in runs) or {lowered, stripped, letters} & _COMMON_PASSWORDS \
            or len(set(lowered)) < 5 or any(
            lowered == lowered[:n] * (len(lowered) // n) + lowered[:len(lowered) % n]
            for n in range(1, 5)):
        raise WeakPasswordError("That password is too common or too easy to guess. Use three "
                                "or four unrelated words, or a passphrase only you would think of.")


def _derive(password: str, salt: bytes, settings: Settings, kdf: str) -> PasswordKeys:
    if kdf == KDF_V1:
        legacy = replace(settings.kdf, argon2_memory_kib=settings.kdf.legacy_argon2_memory_kib)
        return derive_password_keys(password, salt, legacy)
    return derive_password_keys(password, salt, settings.kdf, _pepper(settings))


def _set_password(user: StaffUser, password: str, private: bytes, totp_secret: str,
                  settings: Settings) -> None:
    """Derive new password keys and re-wrap the private key and TOTP secret under them."""
    salt = new_salt()
    pw = _derive(password, salt, settings, KDF_PEPPERED)
    user.password_salt = salt
    user.password_verifier = pw.verifier
    user.password_kdf = KDF_PEPPERED
    user.private_key_by_password = wrap_private_key(pw.wrapping_key, private, purpose="password")
    user.totp_secret_sealed = seal(_totp_key(pw.wrapping_key), totp_secret.encode(),
                                   context=_TOTP_CONTEXT)
    user.totp_secret_by_key = seal_to_public_key(user.public_key, totp_secret.encode(),
                                                 context=_TOTP_CONTEXT)


def _set_recovery(user: StaffUser, private: bytes, settings: Settings) -> str:
    recovery_key = generate_recovery_key()
    user.recovery_salt = new_salt()
    user.private_key_by_recovery = wrap_private_key(
        recovery_wrapping_key(recovery_key, user.recovery_salt, settings.kdf), private,
        purpose="recovery")
    return recovery_key


def create_staff(
    db: Session, *, name: str, email: str, password: str, role: str, settings: Settings,
    actor: str = "cli",
) -> NewAccount:
    """Create a staff account with a fresh, bound key pair, TOTP secret and recovery key."""
    email = email.strip().lower()
    if role not in dict(ROLES):
        raise AccountError(f"role must be one of: {', '.join(dict(ROLES))}")
    if not name.strip() or "@" not in email:
        raise AccountError("A name and a valid email address are needed.")
    check_password_strength(password, email)
    if db.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise AccountExistsError(f"An account for {email} already exists.")

    keys = generate_keypair()
    totp_secret = pyotp.random_base32()
    user = StaffUser(name=name.strip(), email=email, role=role, public_key=keys.public,
                     public_key_binding=b"")
    _set_password(user, password, keys.private, totp_secret, settings)
    recovery_key = _set_recovery(user, keys.private, settings)
    db.add(user)
    db.flush()
    bind_key(user, settings)  # the binding names the id, which exists from here
    db.flush()
    audit.record(db, actor=actor, action="staff.create", target=f"staff:{user.id}", detail=role)
    orgkeys.on_holder_created(db, user, settings)
    return NewAccount(user=user, totp_secret=totp_secret, recovery_key=recovery_key,
                      private_key=keys.private)


def find_staff(db: Session, email: str) -> StaffUser:
    user = db.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        raise AccountNotFoundError(f"No account for {email}.")
    return user


def disable_staff(db: Session, *, email: str, actor: str = "cli") -> StaffUser:
    """Disable an account and end all its sessions at once."""
    user = find_staff(db, email)
    user.disabled = True
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    audit.record(db, actor=actor, action="staff.disable", target=f"staff:{user.id}")
    return user


def enable_staff(db: Session, *, email: str, actor: str = "cli") -> StaffUser:
    user = find_staff(db, email)
    user.disabled = False
    user.failed_logins = 0
    user.locked_until = None
    audit.record(db, actor=actor, action="staff.enable", target=f"staff:{user.id}")
    return user


def _totp_counter(secret: str, code: str, now: datetime, last_counter: int) -> int | None:
    """The time step a code belongs to (allowing one step of clock drift), if unused."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    base = int(now.timestamp()) // totp.interval
    for counter in (base, base - 1, base + 1):
        if counter > last_counter and secrets.compare_digest(
            totp.generate_otp(counter), code
        ):
            return counter
    return None


# An Argon2id verifier for a password nobody has, so unknown emails cost the same time.
_DUMMY_SALT = b"\x00" * 16


def _reserve_attempt(db: Session, user: StaffUser, settings: Settings, now: datetime) -> None:
    """Count this attempt before checking it, atomically, so that parallel requests cannot
    all be checked against the same count: at most ``lockout_threshold`` attempts are ever
    checked before the account locks. Committed at once, so other workers see it."""
    unlocked = or_(StaffUser.locked_until.is_(None), StaffUser.locked_until <= now)
    reserved = db.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, unlocked,
               StaffUser.failed_logins < settings.lockout_threshold)
        .values(failed_logins=StaffUser.failed_logins + 1)
        .execution_options(synchronize_session=False))
    if getattr(reserved, "rowcount", 0) == 1:
        db.commit()
        return
    locked = db.execute(
        update(StaffUser)
        .where(StaffUser.id == user.id, unlocked)
        .values(locked_until=now + timedelta(minutes=settings.lockout_minutes), failed_logins=0)
        .execution_options(synchronize_session=False))
    if getattr(locked, "rowcount", 0) == 1:
        audit.record(db, actor=f"staff:{user.id}", action="staff.locked")
    db.commit()
    raise AccountLockedError


def _open_totp(user: StaffUser, wrapping_key: bytes, settings: Settings) -> str:
    if user.password_kdf == KDF_V1 or user.totp_secret_by_key is None:
        sealed_key = _legacy_totp_key(settings)
    else:
        sealed_key = _totp_key(wrapping_key)
    return open_sealed(sealed_key, user.totp_secret_sealed, context=_TOTP_CONTEXT).decode()


def authenticate(
    db: Session, *, email: str, password: str, code: str, settings: Settings,
    now: datetime | None = None,
) -> tuple[StaffUser, bytes]:
    """Check password and TOTP code; return the user and their unwrapped private key.

    Every failure raises :class:`LoginError` with no detail, after the same Argon2id work.
    Attempts are counted before they are checked (`_reserve_attempt`), so ``lockout_threshold``
    failures lock the account for ``lockout_minutes`` even when sent in parallel. A code is
    spent with a conditional UPDATE, so of parallel logins with one code exactly one succeeds.
    An account on the first release's key derivation is moved to the peppered one; a public key
    that does not match the private key (or whose binding a database writer broke) is restored
    from the private key and the event audited.
    """
    now = now or utcnow()
    user = db.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        derive_password_keys(password, _DUMMY_SALT, settings.kdf, _pepper(settings))
        raise LoginError
    _reserve_attempt(db, user, settings, now)
    db.refresh(user)
    keys = verify_password(password, user.password_salt, user.password_verifier,
                           *_verify_args(user, settings))
    if keys is None or user.disabled:
        raise LoginError
    try:
        private = unwrap_private_key(keys.wrapping_key, user.private_key_by_password,
                                     purpose="password")
        secret = _open_totp(user, keys.wrapping_key, settings)
    except DecryptionError as e:
        raise LoginError from e
    counter = _totp_counter(secret, code, now, user.totp_last_counter)
    spent = None if counter is None else db.execute(
        update(StaffUser).where(StaffUser.id == user.id, StaffUser.totp_last_counter < counter)
        .values(totp_last_counter=counter).execution_options(synchronize_session=False))
    if spent is None or getattr(spent, "rowcount", 0) != 1:
        raise LoginError
    user.failed_logins = 0
    user.locked_until = None
    if public_key_of(private) != user.public_key or not key_is_bound(user, settings):
        user.public_key = public_key_of(private)
        bind_key(user, settings)
        audit.record(db, actor=f"staff:{user.id}", action="staff.key-restored",
                     detail="the stored public key did not match the private key or its binding")
    if user.password_kdf != KDF_PEPPERED or user.totp_secret_by_key is None:
        _set_password(user, password, private, secret, settings)
    if user.role == orgkeys.HOLDER_ROLE:
        orgkeys.share(db, user, private, settings)
    return user, private


def _verify_args(user: StaffUser, settings: Settings) -> tuple[KdfProfile, bytes | None]:
    if user.password_kdf == KDF_V1:
        return replace(settings.kdf, argon2_memory_kib=settings.kdf.legacy_argon2_memory_kib), None
    return settings.kdf, _pepper(settings)


def change_password(db: Session, *, identity: StaffIdentity, current_password: str,
                    new_password: str, settings: Settings) -> None:
    """Change a signed-in user's password: the current one is checked again, the private key
    and TOTP secret are re-wrapped under the new one; other sessions end."""
    user = identity.user
    keys = verify_password(current_password, user.password_salt, user.password_verifier,
                           *_verify_args(user, settings))
    if keys is None:
        raise LoginError("Your current password is not right.")
    check_password_strength(new_password, user.email)
    secret = _open_totp(user, keys.wrapping_key, settings)
    _set_password(user, new_password, identity.private_key, secret, settings)
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id,
                                          StaffSession.token_digest
                                          != token_digest(identity.session_token)))
    audit.record(db, actor=f"staff:{user.id}", action="staff.password", target=f"staff:{user.id}")


Resealer = Callable[[Session, StaffUser, bytes, bytes], int]
"""Re-seals one kind of grant held by a user from the old private key to the new public key
(``db, user, old_private, new_public``); returns how many grants it re-sealed."""


@dataclass(frozen=True)
class Rotation:
    recovery_key: str
    resealed: int
    identity: StaffIdentity


def rotate_keys(db: Session, *, identity: StaffIdentity, password: str, settings: Settings,
                resealers: Sequence[Resealer]) -> Rotation:
    """Give a signed-in user a new key pair: every grant sealed to the old public key is
    re-sealed to the new one by ``resealers``, the private key is re-wrapped under the password
    and a new recovery key (returned, shown once), and other sessions end."""
    user = identity.user
    keys = verify_password(password, user.password_salt, user.password_verifier,
                           *_verify_args(user, settings))
    if keys is None:
        raise LoginError("Your password is not right.")
    secret = _open_totp(user, keys.wrapping_key, settings)
    fresh = generate_keypair()
    resealed = sum(reseal(db, user, identity.private_key, fresh.public) for reseal in resealers)
    user.public_key = fresh.public
    bind_key(user, settings)
    _set_password(user, password, fresh.private, secret, settings)
    recovery = _set_recovery(user, fresh.private, settings)
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    token = start_session(db, user=user, private_key=fresh.private)
    audit.record(db, actor=f"staff:{user.id}", action="staff.rotate-keys",
                 target=f"staff:{user.id}", detail=f"grants={resealed}")
    return Rotation(recovery, resealed, StaffIdentity(user, fresh.private, token))


def start_session(db: Session, *, user: StaffUser, private_key: bytes) -> str:
    """Open a server-side session; the returned token goes in the (encrypted) cookie only."""
    token = secrets.token_urlsafe(32)
    db.add(StaffSession(
        token_digest=token_digest(token), user_id=user.id,
        private_key_sealed=seal(token_key(token), private_key, context=b"speakup/staff-session"),
    ))
    audit.record(db, actor=f"staff:{user.id}", action="staff.login")
    return token


def resume_session(
    db: Session, *, token: str, settings: Settings, now: datetime | None = None
) -> StaffIdentity | None:
    """The identity behind a session token, or None if it has ended, idled out or is
    disabled. Touches the session's last-seen time."""
    now = now or utcnow()
    row = db.scalar(select(StaffSession).where(StaffSession.token_digest == token_digest(token)))
    if row is None:
        return None
    idle = now - as_utc(row.last_seen_at)
    age = now - as_utc(row.created_at)
    if (row.user.disabled or idle > timedelta(minutes=settings.staff_idle_minutes)
            or age > timedelta(hours=settings.staff_max_hours)):
        db.delete(row)
        return None
    try:
        private = open_sealed(token_key(token), row.private_key_sealed,
                              context=b"speakup/staff-session")
    except DecryptionError:
        db.delete(row)
        return None
    row.last_seen_at = now
    return StaffIdentity(user=row.user, private_key=private, session_token=token)


def end_session(db: Session, *, token: str) -> None:
    row = db.scalar(select(StaffSession).where(StaffSession.token_digest == token_digest(token)))
    if row is not None:
        audit.record(db, actor=f"staff:{row.user_id}", action="staff.logout")
        db.delete(row)


def purge_sessions(db: Session, *, settings: Settings, now: datetime | None = None) -> int:
    """Delete sessions past their idle timeout (for the daily purge job)."""
    now = now or utcnow()
    cutoff = now - timedelta(minutes=settings.staff_idle_minutes)
    result = db.execute(delete(StaffSession).where(StaffSession.last_seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


def recover_account(
    db: Session, *, email: str, recovery_key: str, new_password: str, settings: Settings,
    actor: str = "cli",
) -> str:
    """Set a new password using the recovery key; returns a new recovery key (shown once).

    The private key, and so every case sealed to it, survives a forgotten password; the TOTP
    secret is re-sealed from its copy sealed to the account's public key.
    """
    user = find_staff(db, email)
    check_password_strength(new_password, user.email)
    try:
        private = unwrap_private_key(
            recovery_wrapping_key(recovery_key, user.recovery_salt, settings.kdf),
            user.private_key_by_recovery, purpose="recovery",
        )
        if user.totp_secret_by_key is not None:
            secret = open_with_private_key(private, user.totp_secret_by_key,
                                           context=_TOTP_CONTEXT).decode()
        else:
            secret = open_sealed(_legacy_totp_key(settings), user.totp_secret_sealed,
                                 context=_TOTP_CONTEXT).decode()
    except DecryptionError as e:
        raise LoginError("That recovery key does not match this account.") from e
    _set_password(user, new_password, private, secret, settings)
    new_recovery = _set_recovery(user, private, settings)
    user.failed_logins = 0
    user.locked_until = None
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    audit.record(db, actor=actor, action="staff.recover", target=f"staff:{user.id}")
    return new_recovery


@dataclass(frozen=True)
class KeyEntry:
    holder: str
    role: str
    fingerprint: str
    bound: bool


def key_list(db: Session, settings: Settings) -> list[KeyEntry]:
    """Every public key things are sealed to, with its fingerprint, for staff to compare with
    each other out of band: active staff (a key whose binding fails is flagged and receives
    nothing), the organisation's analysis key, and the escrow key if one is configured."""
    entries = [KeyEntry(u.name, dict(ROLES).get(u.role, u.role), key_fingerprint(u),
                        key_is_bound(u, settings)) for u in list_staff(db)]
    analysis = db.get(orgkeys.OrgKey, orgkeys.ANALYSIS)
    if analysis is not None:
        entries.append(KeyEntry("Equality analysis key (held by EDI leads)", "Organisation",
                                fingerprint(analysis.public_key), True))
    if settings.escrow_public_key:
        entries.append(KeyEntry("Emergency (escrow) key, kept offline", "Organisation",
                                fingerprint(settings.escrow_public_key), True))
    return entries


def list_staff(db: Session, *, role: str | None = None, active_only: bool = True) -> list[StaffUser]:
    query = select(StaffUser).order_by(func.lower(StaffUser.name))
    if role:
        query = query.where(StaffUser.role == role)
    if active_only:
        query = query.where(StaffUser.disabled.is_(False))
    return list(db.scalars(query))
