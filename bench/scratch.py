"""Where a benchmark runs: a temporary SQLite file, and a scratch PostgreSQL schema when a
server URL is given (created here, dropped afterwards, so a benchmark never touches the
schemas others use)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text


@contextmanager
def database_urls(tmp: str | Path, postgresql_url: str | None,
                  prefix: str) -> Iterator[list[tuple[str, str]]]:
    """(backend name, database URL) pairs: SQLite in ``tmp``, then PostgreSQL if given."""
    targets = [("sqlite", f"sqlite:///{tmp}/bench.db")]
    if not postgresql_url:
        yield targets
        return
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = create_engine(postgresql_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgresql_url else "?"
    targets.append(("postgresql", f"{postgresql_url}{sep}options=-csearch_path%3D{schema}"))
    try:
        yield targets
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
