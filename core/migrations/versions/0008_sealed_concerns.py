"""concerns: record sealed, random ids, equality facts unlinkable

The first release kept each concern's site, kind, month, identity, professional group,
ethnicity, themes, tone and NGO fields in the clear, with sequential ids. This migration moves
all of it into a sealed case record and gives every row of the anonymous side a random id in
WITHOUT ROWID tables (SQLite). A migration cannot open concern keys (only guardians' private
keys, the reporter's receipt or the offline escrow key can), so each concern's record is sealed
to the public key of every guardian holding a grant (``legacy_record``), and its messages and
files keep their first-release sealing (``legacy_order``/``legacy``); the first guardian to open
the case moves them under the concern key (`speakup.services._finish_migration`). Each concern's
equality facts are written to the unlinkable equality record as one shuffled batch. Pending
double-submission tokens are dropped (they expire within a day anyway).

Revision ID: 0008
Revises: 0007
"""

import json
import random
from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}
ELEMENTS = ("patient_safety", "worker_safety", "bullying_harassment", "inappropriate_behaviours",
            "detriment")


def _rows(bind, sql):
    return [dict(r._mapping) for r in bind.execute(sa.text(sql))]


def _day(value):
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _create_tables() -> None:
    op.create_table('concerns',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('ref', sa.String(length=16), nullable=False),
    sa.Column('receipt_lookup', sa.LargeBinary(length=32), nullable=False),
    sa.Column('reporter_key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('escrow_key_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('body_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('record_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('record_version', sa.Integer(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('acknowledged_on', sa.Date(), nullable=True),
    sa.Column('closed_on', sa.Date(), nullable=True),
    sa.Column('awaiting_guardian', sa.Boolean(), nullable=False),
    sa.Column('awaiting_reporter', sa.Boolean(), nullable=False),
    sa.Column('assigned_to_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assigned_to_id'], ['staff_users.id'], name=op.f('fk_concerns_assigned_to_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concerns')),
    sa.UniqueConstraint('receipt_lookup', name=op.f('uq_concerns_receipt_lookup')),
    sa.UniqueConstraint('ref', name=op.f('uq_concerns_ref')),
    **NO_ROWID)
    op.create_table('concern_grants',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('concern_id', sa.String(length=32), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('key_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('legacy_record', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], name=op.f('fk_concern_grants_concern_id_concerns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_concern_grants_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_concern_grants')),
    sa.UniqueConstraint('concern_id', 'staff_id', name=op.f('uq_concern_grants_concern_id')),
    **NO_ROWID)
    op.create_index(op.f('ix_concern_grants_concern_id'), 'concern_grants', ['concern_id'], unique=False)
    op.create_table('messages',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('concern_id', sa.String(length=32), nullable=False),
    sa.Column('author', sa.String(length=20), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.Column('body_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('legacy_order', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], name=op.f('fk_messages_concern_id_concerns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_messages_staff_id_staff_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages')),
    **NO_ROWID)
    op.create_index(op.f('ix_messages_concern_id'), 'messages', ['concern_id'], unique=False)
    op.create_table('attachments',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('concern_id', sa.String(length=32), nullable=False),
    sa.Column('message_id', sa.String(length=32), nullable=True),
    sa.Column('meta_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('content_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('legacy', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['concern_id'], ['concerns.id'], name=op.f('fk_attachments_concern_id_concerns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_attachments_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachments')),
    **NO_ROWID)
    op.create_index(op.f('ix_attachments_concern_id'), 'attachments', ['concern_id'], unique=False)
    op.create_table('submission_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('token_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('receipt_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('created_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_tokens')),
    sa.UniqueConstraint('token_digest', name=op.f('uq_submission_tokens_token_digest')),
    **NO_ROWID)


def upgrade() -> None:
    from core import unlinkable
    from core.encryption import (concern_context, derive_subkey, new_id, open_sealed,
                                 public_key_bound, seal_to_public_key, server_key)
    from speakup.analytics import month_of, quarter_of

    settings = context.config.attributes.get("settings")
    if settings is None:
        raise RuntimeError("migration 0008 seals concern records with server secrets: run it "
                           "with `speakup db upgrade`")
    bind = op.get_bind()
    concerns = _rows(bind, "SELECT * FROM concerns")
    themes = defaultdict(list)
    for row in _rows(bind, "SELECT * FROM concern_themes ORDER BY theme_id"):
        themes[row["concern_id"]].append(row)
    exclusions = defaultdict(list)
    for row in _rows(bind, "SELECT concern_id, staff_id FROM concern_exclusions"):
        exclusions[row["concern_id"]].append(row["staff_id"])
    grants = _rows(bind, "SELECT * FROM concern_grants")
    messages = _rows(bind, "SELECT * FROM messages ORDER BY id")
    attachments = _rows(bind, "SELECT * FROM attachments ORDER BY id")
    staff = {r["id"]: r for r in _rows(
        bind, "SELECT id, role, email, name, public_key, public_key_binding FROM staff_users")}
    analysis_public = bind.execute(sa.text(
        "SELECT public_key FROM org_keys WHERE name = 'analysis'")).scalar_one()

    for table in ("attachments", "messages", "concern_grants", "concern_exclusions",
                  "concern_themes", "concerns", "submission_tokens"):
        op.drop_table(table)
    _create_tables()

    binding_key = server_key(settings.staff_secret, "key-binding")
    quote_key = derive_subkey(settings.staff_secret, "concern-quotes")
    ids = {c["id"]: new_id() for c in concerns}
    counts = defaultdict(int)
    for m in messages:
        counts[m["concern_id"]] += 1
    facts_payloads = []
    concerns_table = sa.table('concerns', *(sa.column(c) for c in (
        'id', 'ref', 'receipt_lookup', 'reporter_key_sealed', 'escrow_key_sealed', 'body_sealed',
        'record_sealed', 'record_version', 'received_on', 'status', 'acknowledged_on',
        'closed_on', 'awaiting_guardian', 'awaiting_reporter', 'assigned_to_id')))
    records = {}
    rows = []
    for c in concerns:
        received = _day(c["received_on"])
        quote = None
        if c.get("quote_sealed"):
            quote = open_sealed(quote_key, c["quote_sealed"],
                                context=concern_context(c["ref"], "quote")).decode()
        counted = {t["theme_id"]: round(t["score"] or 0.0, 4) for t in themes[c["id"]]
                   if t["status"] != "removed"}
        facts = {"quarter": quarter_of(received), "month": month_of(received),
                 "site": c["site"] or None, "professional_group": c["professional_group"] or None,
                 "ethnicity": c["ethnicity"] or None, "kind": c["kind"],
                 "raised": c["identity_mode"], "themes": dict(sorted(counted.items())),
                 "tone": c["tone"], "quote": quote}
        facts_payloads.append(facts)
        no_theme = _day(c.get("no_theme_on"))
        records[c["id"]] = {
            "kind": c["kind"], "identity_mode": c["identity_mode"], "site": c["site"],
            "happened_month": c["happened_month"], "professional_group": c["professional_group"],
            "ethnicity": c["ethnicity"], "quote_consent": bool(c["quote_consent"]),
            "excluded": sorted(exclusions[c["id"]]), "tone": c["tone"],
            "themes": [{"theme_id": t["theme_id"], "source": t["source"], "status": t["status"],
                        "score": t["score"]} for t in themes[c["id"]]],
            "themes_failed": False, "no_theme_on": no_theme.isoformat() if no_theme else None,
            "ngo": {"raised": c["ngo_raised"],
                    "elements": [e for e in ELEMENTS if c[f"ngo_{e}"]],
                    "professional_group": c["ngo_professional_group"],
                    "speak_up_again": c["ngo_speak_up_again"]},
            "messages": counts[c["id"]], "equality": facts}
        rows.append({"id": ids[c["id"]], "ref": c["ref"], "receipt_lookup": c["receipt_lookup"],
                     "reporter_key_sealed": c["reporter_key_sealed"],
                     "escrow_key_sealed": c["escrow_key_sealed"],
                     "body_sealed": c["body_sealed"], "record_sealed": None, "record_version": 1,
                     "received_on": received, "status": c["status"],
                     "acknowledged_on": _day(c["acknowledged_on"]),
                     "closed_on": _day(c["closed_on"]),
                     "awaiting_guardian": bool(c["awaiting_guardian"]),
                     "awaiting_reporter": bool(c["awaiting_reporter"]),
                     "assigned_to_id": c["assigned_to_id"]})
    random.SystemRandom().shuffle(rows)
    if rows:
        bind.execute(concerns_table.insert(), rows)
    refs = {c["id"]: c["ref"] for c in concerns}
    grant_rows = []
    for g in grants:
        user = staff.get(g["staff_id"])
        legacy = None
        if user is not None and public_key_bound(binding_key,
                                                 f"{user['id']}:{user['role']}:{user['email']}:{user['name']}",
                                                 user["public_key"], user["public_key_binding"]):
            legacy = seal_to_public_key(
                user["public_key"], json.dumps(records[g["concern_id"]]).encode(),
                context=concern_context(refs[g["concern_id"]], "legacy"))
        grant_rows.append({"id": new_id(), "concern_id": ids[g["concern_id"]],
                           "staff_id": g["staff_id"], "key_sealed": g["key_sealed"],
                           "legacy_record": legacy})
    if grant_rows:
        bind.execute(sa.table('concern_grants', *(sa.column(c) for c in (
            'id', 'concern_id', 'staff_id', 'key_sealed', 'legacy_record'))).insert(), grant_rows)
    message_ids = {m["id"]: new_id() for m in messages}
    order = defaultdict(int)
    message_rows = []
    for m in messages:
        order[m["concern_id"]] += 1
        message_rows.append({"id": message_ids[m["id"]], "concern_id": ids[m["concern_id"]],
                             "author": m["author"], "staff_id": m["staff_id"],
                             "created_on": _day(m["created_on"]), "body_sealed": m["body_sealed"],
                             "legacy_order": order[m["concern_id"]]})
    if message_rows:
        bind.execute(sa.table('messages', *(sa.column(c) for c in (
            'id', 'concern_id', 'author', 'staff_id', 'created_on', 'body_sealed',
            'legacy_order'))).insert(), message_rows)
    attachment_rows = [{"id": new_id(), "concern_id": ids[a["concern_id"]],
                        "message_id": message_ids.get(a["message_id"]),
                        "meta_sealed": a["meta_sealed"], "content_sealed": a["content_sealed"],
                        "legacy": True} for a in attachments]
    if attachment_rows:
        bind.execute(sa.table('attachments', *(sa.column(c) for c in (
            'id', 'concern_id', 'message_id', 'meta_sealed', 'content_sealed',
            'legacy'))).insert(), attachment_rows)

    if facts_payloads:
        sealed = [seal_to_public_key(analysis_public,
                                     json.dumps({"plus": f}, separators=(",", ":"),
                                                sort_keys=True).encode(),
                                     context=b"speakup/analysis/concern-facts")
                  for f in facts_payloads]
        unlinkable.add_many(Session(bind=bind), stream="concerns", payloads=sealed,
                            settings=settings)


def downgrade() -> None:
    raise RuntimeError("0008 cannot be undone: concern records were sealed on purpose")
