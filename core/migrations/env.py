"""Alembic environment: the engine comes from the caller (see core/migrate.py)."""

from alembic import context

from core.db import Base, import_models

import_models()
engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(
        connection=connection, target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite", compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
