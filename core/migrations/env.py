"""Alembic environment: the engine (and the settings) come from the caller (core/migrate.py).

On SQLite, foreign keys are switched off while migrating (outside any transaction, as SQLite
requires) and checked afterwards: rebuilding a table in batch mode would otherwise run ON
DELETE CASCADE on every row that refers to it.
"""

from alembic import context

from core.db import Base, import_models

import_models()
engine = context.config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection, target_metadata=Base.metadata,
        render_as_batch=sqlite, compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with broken references: {broken[:5]}")
    connection.commit()
    if sqlite:
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")
