"""Staff accounts and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

# "board": a board member (executive or non-executive director) who reads the workforce
# equality figures and the board pack: aggregates only, no uploads, no cases, no surveys.
ROLES = (("guardian", "Freedom to Speak Up guardian"), ("edi", "Equality, diversity and inclusion lead"),
         ("board", "Board member"))


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="guardian")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Argon2id(HMAC(pepper, password), salt) -> verifier (stored) and wrapping key (never
    # stored). ``password_kdf``: "peppered" (128 MiB with the server pepper) or "v1" (the first
    # release's 64 MiB without pepper, upgraded at the next successful sign-in).
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    password_kdf: Mapped[str] = mapped_column(String(12), default="peppered")
    # X25519 key pair; the private half only ever stored wrapped. ``public_key_binding`` is a
    # MAC under a server secret tying the key to this account: nothing is sealed to a public key
    # whose MAC fails, so a database writer cannot substitute their own key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    public_key_binding: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_by_password: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    private_key_by_recovery: Mapped[bytes] = mapped_column(LargeBinary)
    # The TOTP secret sealed under a key derived from the password (so neither the database
    # nor the server's own secrets open it), and a copy sealed to the account's public key for
    # recovery and password changes. "v1" rows still hold the first release's copy sealed under
    # the staff secret, re-sealed at the next sign-in.
    totp_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    totp_secret_by_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    totp_last_counter: Mapped[int] = mapped_column(Integer, default=0)

    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_guardian(self) -> bool:
        return self.role == "guardian"

    @property
    def owner(self) -> str:
        """What the public key's binding MAC names: the id, role, email and name. The role, so a
        database writer cannot make an EDI lead (or anyone) a guardian who new concerns are
        sealed to; the id and name, so swapping two guardians' names (which the concern form
        shows beside the id a reporter excludes) breaks both bindings instead of sending a
        concern to the guardian the reporter meant to exclude."""
        return f"{self.id}:{self.role}:{self.email}:{self.name}"


class StaffSession(Base):
    """A logged-in staff session.

    The row holds the user's private key sealed under a random key that exists only in the
    user's (encrypted) session cookie; the row is deleted at logout, timeout or disabling.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_digest: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    private_key_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[StaffUser] = relationship(back_populates="sessions")
