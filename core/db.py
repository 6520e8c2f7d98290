"""Declarative base and database engine (framework-free)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from config.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    """Now, in UTC, timezone-aware. Only for staff-side records: never for reporters."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """A stored time as UTC-aware (SQLite hands back naive datetimes; all are UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def today() -> date:
    """The current UTC day: the finest time the anonymous side ever stores."""
    return datetime.now(UTC).date()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own transaction handling is off: every transaction is begun by
    # `_sqlite_begin`, as BEGIN IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # A rollback journal, not WAL: a copy of a running instance's WAL file lists recent commits
    # in order, which would date a reporter's writes between timed audit rows. Every
    # transaction takes the write lock at BEGIN anyway (see `_sqlite_begin`), so WAL's
    # concurrent readers would not help.
    cursor.execute("PRAGMA journal_mode=DELETE")
    cursor.execute("PRAGMA busy_timeout=10000")
    # Deleted rows are overwritten, so purged concerns do not linger in free pages.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Every SQLite transaction takes the write lock when it starts.

    With the driver's deferred transactions a request that reads and then writes can find the
    database changed under it and fail at once with "database is locked" (no wait), and two
    requests can both read the audit chain's last row before either writes. BEGIN IMMEDIATE makes
    them queue (up to the busy timeout) instead: SQLite has one writer at a time anyway, so a
    trust with more than a handful of guardians acting at once belongs on PostgreSQL.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine and session factory for one database URL."""

    def __init__(self, url: str, *, audit_key: bytes | None = None) -> None:
        self.url = url
        # Never put query parameters (case references, digests, staff ids) into exception
        # messages, which can end up in logs.
        kwargs: dict[str, Any] = {"future": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        # Sessions carry the audit chain's key (derived from a server secret, never stored).
        info = {"audit_key": audit_key} if audit_key is not None else {}
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False, info=info)

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database the settings name, with the audit key derived from the staff secret."""
        from core.encryption import server_key

        return cls(settings.database_url,
                   audit_key=server_key(settings.staff_secret, "audit-chain"))

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on any error."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def create_all(self) -> None:
        import_models()
        Base.metadata.create_all(self.engine)

    def drop_all(self) -> None:
        import_models()
        Base.metadata.drop_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def import_models() -> None:
    """Import every models module so ``Base.metadata`` knows all tables."""
    import accounts.models
    import accounts.orgkeys  # noqa: F401
    import core.audit
    import core.ratelimit
    import core.release_store
    import core.unlinkable  # noqa: F401
    import equality.models
    import equality.summary_cache  # noqa: F401
    import speakup.models  # noqa: F401
    import surveys.models  # noqa: F401
