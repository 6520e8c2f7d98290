"""Alembic, driven from code: ``speakup db upgrade`` and the tests use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from config.settings import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine, settings: Settings | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    # Migrations that re-seal or re-key data (0005 onwards) need the server secrets.
    config.attributes["settings"] = settings
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        revision = MigrationContext.configure(conn).get_current_revision()
    return None if revision is None else str(revision)


def upgrade(engine: Engine, settings: Settings | None = None, revision: str = "head") -> str:
    """Migrate to ``revision``; return the revision the database is now at."""
    command.upgrade(alembic_config(engine, settings), revision)
    with engine.connect() as conn:
        return str(MigrationContext.configure(conn).get_current_revision())
