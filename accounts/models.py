"""Staff accounts and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base, utcnow

ROLES = (("guardian", "Freedom to Speak Up guardian"), ("edi", "Equality, diversity and inclusion lead"))


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="guardian")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    # Argon2id(password, salt) -> verifier (stored) and wrapping key (never stored).
    password_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    password_verifier: Mapped[bytes] = mapped_column(LargeBinary(32))
    # X25519 key pair; the private half only ever stored wrapped.
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_by_password: Mapped[bytes] = mapped_column(LargeBinary)
    recovery_salt: Mapped[bytes] = mapped_column(LargeBinary(16))
    private_key_by_recovery: Mapped[bytes] = mapped_column(LargeBinary)
    # TOTP secret sealed under a key derived from the staff server secret.
    totp_secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    totp_last_counter: Mapped[int] = mapped_column(Integer, default=0)

    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    sessions: Mapped[list[StaffSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_guardian(self) -> bool:
        return self.role == "guardian"


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
