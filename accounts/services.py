"""Staff accounts: creation, login with password and TOTP, lockout, sessions, recovery."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from accounts.models import ROLES, StaffSession, StaffUser
from config.settings import Settings
from core import audit
from core.db import as_utc, utcnow
from core.encryption import (
    DecryptionError,
    derive_password_keys,
    derive_subkey,
    generate_keypair,
    generate_recovery_key,
    new_salt,
    open_sealed,
    recovery_wrapping_key,
    seal,
    token_digest,
    token_key,
    unwrap_private_key,
    verify_password,
    wrap_private_key,
)

MIN_PASSWORD_LENGTH = 12
_TOTP_CONTEXT = b"speakup/totp-secret"


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


def _totp_key(settings: Settings) -> bytes:
    return derive_subkey(settings.staff_secret, "totp")


def _check_password_strength(password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPasswordError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if password.lower() in email.lower() or email.split("@")[0].lower() in password.lower():
        raise WeakPasswordError("The password must not contain the email address.")


def create_staff(
    db: Session, *, name: str, email: str, password: str, role: str, settings: Settings,
    actor: str = "cli",
) -> NewAccount:
    """Create a staff account with a fresh key pair, TOTP secret and recovery key."""
    email = email.strip().lower()
    if role not in dict(ROLES):
        raise AccountError(f"role must be one of: {', '.join(dict(ROLES))}")
    if not name.strip() or "@" not in email:
        raise AccountError("A name and a valid email address are needed.")
    _check_password_strength(password, email)
    if db.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise AccountExistsError(f"An account for {email} already exists.")

    keys = generate_keypair()
    salt = new_salt()
    pw = derive_password_keys(password, salt, settings.kdf)
    recovery_key = generate_recovery_key()
    recovery_salt = new_salt()
    totp_secret = pyotp.random_base32()
    user = StaffUser(
        name=name.strip(), email=email, role=role,
        password_salt=salt, password_verifier=pw.verifier,
        public_key=keys.public,
        private_key_by_password=wrap_private_key(pw.wrapping_key, keys.private, purpose="password"),
        recovery_salt=recovery_salt,
        private_key_by_recovery=wrap_private_key(
            recovery_wrapping_key(recovery_key, recovery_salt, settings.kdf), keys.private,
            purpose="recovery",
        ),
        totp_secret_sealed=seal(_totp_key(settings), totp_secret.encode(), context=_TOTP_CONTEXT),
    )
    db.add(user)
    db.flush()
    audit.record(db, actor=actor, action="staff.create", target=f"staff:{user.id}", detail=role)
    return NewAccount(user=user, totp_secret=totp_secret, recovery_key=recovery_key)


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


def authenticate(
    db: Session, *, email: str, password: str, code: str, settings: Settings,
    now: datetime | None = None,
) -> tuple[StaffUser, bytes]:
    """Check password and TOTP code; return the user and their unwrapped private key.

    Every failure raises :class:`LoginError` with no detail, after the same Argon2id work, and
    counts towards a lockout of ``settings.lockout_minutes`` after
    ``settings.lockout_threshold`` failures. A used code cannot be replayed.
    """
    now = now or utcnow()
    user = db.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))
    if user is None:
        derive_password_keys(password, _DUMMY_SALT, settings.kdf)
        raise LoginError
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        raise AccountLockedError
    keys = verify_password(password, user.password_salt, user.password_verifier, settings.kdf)
    counter = None
    if keys is not None and not user.disabled:
        secret = open_sealed(_totp_key(settings), user.totp_secret_sealed,
                             context=_TOTP_CONTEXT).decode()
        counter = _totp_counter(secret, code, now, user.totp_last_counter)
    if keys is None or counter is None or user.disabled:
        user.failed_logins += 1
        if user.failed_logins >= settings.lockout_threshold:
            user.locked_until = now + timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            audit.record(db, actor=f"staff:{user.id}", action="staff.locked")
        db.commit()
        raise LoginError
    try:
        private = unwrap_private_key(keys.wrapping_key, user.private_key_by_password,
                                     purpose="password")
    except DecryptionError as e:
        raise LoginError from e
    user.failed_logins = 0
    user.locked_until = None
    user.totp_last_counter = counter
    return user, private


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

    The private key, and so every case sealed to it, survives a forgotten password.
    """
    user = find_staff(db, email)
    _check_password_strength(new_password, user.email)
    try:
        private = unwrap_private_key(
            recovery_wrapping_key(recovery_key, user.recovery_salt, settings.kdf),
            user.private_key_by_recovery, purpose="recovery",
        )
    except DecryptionError as e:
        raise LoginError("That recovery key does not match this account.") from e
    salt = new_salt()
    pw = derive_password_keys(new_password, salt, settings.kdf)
    user.password_salt = salt
    user.password_verifier = pw.verifier
    user.private_key_by_password = wrap_private_key(pw.wrapping_key, private, purpose="password")
    new_recovery = generate_recovery_key()
    user.recovery_salt = new_salt()
    user.private_key_by_recovery = wrap_private_key(
        recovery_wrapping_key(new_recovery, user.recovery_salt, settings.kdf), private,
        purpose="recovery",
    )
    user.failed_logins = 0
    user.locked_until = None
    db.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    audit.record(db, actor=actor, action="staff.recover", target=f"staff:{user.id}")
    return new_recovery


def list_staff(db: Session, *, role: str | None = None, active_only: bool = True) -> list[StaffUser]:
    query = select(StaffUser).order_by(func.lower(StaffUser.name))
    if role:
        query = query.where(StaffUser.role == role)
    if active_only:
        query = query.where(StaffUser.disabled.is_(False))
    return list(db.scalars(query))
