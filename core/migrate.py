"""Alembic, driven from code: ``speakup db upgrade`` and the tests use this."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Migrate to ``revision``; return the revision the database is now at."""
    command.upgrade(alembic_config(engine), revision)
    with engine.connect() as conn:
        return str(MigrationContext.configure(conn).get_current_revision())
