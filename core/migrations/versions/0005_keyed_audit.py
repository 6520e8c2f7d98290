"""keyed audit chain

The first release chained audit rows with plain SHA-256, so anyone who could write to the
database could re-chain a rewritten history. This migration checks the old chain, re-chains every
row with HMAC-SHA256 under a key derived from the staff secret (rows keep their content and
order, and are numbered 1..n), adds ``audit_head`` (the writers' lock and the chain's head),
records the re-keying as an event that states whether the old chain was intact and its old head,
writes a checkpoint outside the database, and on PostgreSQL also refuses TRUNCATE.

Revision ID: 0005
Revises: 0004
"""

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def _settings():
    settings = context.config.attributes.get("settings")
    if settings is None:
        raise RuntimeError("migration 0005 re-keys the audit log and needs the server secrets: "
                           "run it with `speakup db upgrade`")
    return settings


def _old_digest(prev, at, actor, action, target, detail):
    at = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    at_utc = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    payload = json.dumps([prev, at_utc.isoformat(timespec="seconds"), actor, action, target,
                          detail], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _old_chain(bind):
    prev, checked = GENESIS, 0
    for row in bind.execute(sa.text("SELECT id, at, actor, action, target, detail, prev_hash, "
                                    "hash FROM audit_events ORDER BY id")):
        if row.prev_hash != prev or _old_digest(row.prev_hash, row.at, row.actor, row.action,
                                                row.target, row.detail) != row.hash:
            return f"BROKEN at old event {row.id} after {checked} intact", prev
        prev = row.hash
        checked += 1
    return f"intact ({checked} events)", prev


def _guard(bind, on: bool) -> None:
    if bind.dialect.name == "postgresql":
        verb = "ENABLE" if on else "DISABLE"
        op.execute(f"ALTER TABLE audit_events {verb} TRIGGER audit_events_append_only")
    elif on:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_events_no_{event.lower()} BEFORE {event} ON "
                       "audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END")
    else:
        op.execute("DROP TRIGGER audit_events_no_update")
        op.execute("DROP TRIGGER audit_events_no_delete")


def upgrade() -> None:
    from core import audit
    from core.encryption import server_key

    settings = _settings()
    bind = op.get_bind()
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    state, old_head = _old_chain(bind)
    session = Session(bind=bind, info={"audit_key": server_key(settings.staff_secret,
                                                               "audit-chain")})
    _guard(bind, False)
    rows = audit.rekey(session)
    _guard(bind, True)
    if rows:
        audit.record(session, actor="migration", action="audit.rekey",
                     detail=f"chain re-keyed with HMAC; old chain {state}; old head {old_head}")
    session.flush()
    if bind.dialect.name == "postgresql":
        op.execute("CREATE FUNCTION speakup_audit_no_truncate() RETURNS trigger AS $$ BEGIN "
                   "RAISE EXCEPTION 'audit_events cannot be truncated'; END; $$ LANGUAGE plpgsql")
        op.execute("CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
                   "FOR EACH STATEMENT EXECUTE FUNCTION speakup_audit_no_truncate()")
    audit.write_checkpoint(session, settings.checkpoint_path)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS speakup_audit_no_truncate()")
    op.drop_table('audit_head')
