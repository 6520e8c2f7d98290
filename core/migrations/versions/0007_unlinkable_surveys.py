"""unlinkable survey responses, the analysis key, keyed invitation codes

Every survey response (demographics, answers and comments) becomes one sealed, unlinkable record
(`core.unlinkable`), each wave's existing responses written as one shuffled batch, and the
response, answer and comment tables are dropped. Comments, which the first release sealed under
the staff secret, are re-sealed to the organisation's analysis key (`accounts.orgkeys`), which is
made here: its private half is sealed to every EDI lead whose key binding is valid, or kept as a
bootstrap copy until the first EDI lead account exists. Used invitation codes are deleted (the
rows told which codes had been spent, in the order of the answers); unused ones are kept with
their plain digests (``keyed`` false). A wave's ``codes_issued`` keeps how many were issued.

Revision ID: 0007
Revises: 0006
"""

import base64
import json

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.orm import Session

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

NO_ROWID = {"sqlite_with_rowid": False}
DEMOGRAPHICS = ("ethnicity", "band", "staff_group", "directorate", "internationally_educated",
                "disability", "sex", "age_band")


def _analysis_public_key(bind, settings) -> bytes:
    """Make the analysis key pair as `accounts.orgkeys.public_key` does, in plain SQL (this
    migration must not depend on today's models)."""
    from core.encryption import (bind_public_key, generate_keypair, public_key_bound, seal,
                                 seal_to_public_key, server_key)

    binding_key = server_key(settings.staff_secret, "key-binding")
    pair = generate_keypair()
    bind.execute(sa.text("INSERT INTO org_keys (name, public_key, public_key_binding) "
                         "VALUES ('analysis', :p, :b)"),
                 {"p": pair.public, "b": bind_public_key(binding_key, "org:analysis", pair.public)})
    context_ = b"speakup/org-key/analysis"
    granted = 0
    for row in bind.execute(sa.text(
            "SELECT id, role, email, name, public_key, public_key_binding FROM staff_users "
            "WHERE role = 'edi' AND disabled = :f ORDER BY id"), {"f": False}):
        if public_key_bound(binding_key, f"{row.id}:{row.role}:{row.email}:{row.name}",
                            row.public_key,
                            row.public_key_binding):
            bind.execute(sa.text("INSERT INTO org_key_grants (name, staff_id, key_sealed) "
                                 "VALUES ('analysis', :s, :k)"),
                         {"s": row.id, "k": seal_to_public_key(row.public_key, pair.private,
                                                                context=context_)})
            granted += 1
    if not granted:
        bind.execute(sa.text("INSERT INTO org_key_grants (name, staff_id, key_sealed) "
                             "VALUES ('analysis', NULL, :k)"),
                     {"k": seal(server_key(settings.staff_secret, "org-key-bootstrap"),
                                pair.private, context=context_)})
    return pair.public


def upgrade() -> None:
    from core import unlinkable
    from core.encryption import (derive_subkey, new_id, open_sealed, seal_to_public_key)

    settings = context.config.attributes.get("settings")
    if settings is None:
        raise RuntimeError("migration 0007 re-seals survey answers with server secrets: run it "
                           "with `speakup db upgrade`")
    bind = op.get_bind()
    op.create_table('org_keys',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('public_key_binding', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_org_keys'))
    )
    op.create_table('org_key_grants',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('key_sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['name'], ['org_keys.name'], name=op.f('fk_org_key_grants_name_org_keys'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_users.id'], name=op.f('fk_org_key_grants_staff_id_staff_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_org_key_grants'))
    )
    op.create_table('pending_records',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('stream', sa.String(length=60), nullable=False),
    sa.Column('lane', sa.String(length=12), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_records')),
    **NO_ROWID)
    op.create_index(op.f('ix_pending_records_stream'), 'pending_records', ['stream'], unique=False)
    op.create_table('records',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('stream', sa.String(length=60), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_records')),
    **NO_ROWID)
    op.create_index(op.f('ix_records_stream'), 'records', ['stream'], unique=False)

    # Waves: how many codes were issued.
    op.add_column('survey_waves', sa.Column('codes_issued', sa.Integer(), nullable=False,
                                            server_default='0'))
    bind.execute(sa.text("UPDATE survey_waves SET codes_issued = (SELECT count(*) FROM "
                         "survey_invitation_codes c WHERE c.wave_id = survey_waves.id)"))

    # Invitation codes: only the unspent ones survive, with random ids.
    unused = bind.execute(sa.text("SELECT wave_id, code_digest FROM survey_invitation_codes "
                                  "WHERE used = :f"), {"f": False}).all()
    all_codes = bind.execute(sa.text(
        "SELECT wave_id, code_digest FROM survey_invitation_codes")).all()
    op.drop_table('survey_invitation_codes')
    op.create_table('survey_invitation_codes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('keyed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['wave_id'], ['survey_waves.id'], name=op.f('fk_survey_invitation_codes_wave_id_survey_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_invitation_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_survey_invitation_codes_code_digest')),
    **NO_ROWID)
    op.create_index(op.f('ix_survey_invitation_codes_wave_id'), 'survey_invitation_codes',
                    ['wave_id'], unique=False)
    op.create_table('survey_issued_codes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('wave_id', sa.Integer(), nullable=False),
    sa.Column('code_digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('keyed', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['wave_id'], ['survey_waves.id'], name=op.f('fk_survey_issued_codes_wave_id_survey_waves'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_survey_issued_codes')),
    sa.UniqueConstraint('code_digest', name=op.f('uq_survey_issued_codes_code_digest')),
    **NO_ROWID)
    op.create_index(op.f('ix_survey_issued_codes_wave_id'), 'survey_issued_codes',
                    ['wave_id'], unique=False)
    codes = sa.table('survey_invitation_codes', sa.column('id'), sa.column('wave_id'),
                     sa.column('code_digest'), sa.column('keyed'))
    issued = sa.table('survey_issued_codes', sa.column('id'), sa.column('wave_id'),
                      sa.column('code_digest'), sa.column('keyed'))
    if unused:
        bind.execute(codes.insert(), [{"id": new_id(), "wave_id": w, "code_digest": d,
                                       "keyed": False} for w, d in unused])
    open_waves = {w for (w,) in bind.execute(sa.text(
        "SELECT id FROM survey_waves WHERE status = 'open'"))}
    every = [{"id": new_id(), "wave_id": w, "code_digest": d, "keyed": False}
             for w, d in all_codes if w in open_waves]
    if every:
        bind.execute(issued.insert(), every)

    # Responses: one sealed record each, a shuffled batch per wave.
    analysis_public = _analysis_public_key(bind, settings)
    comment_key = derive_subkey(settings.staff_secret, "survey-comments")
    responses: dict[str, dict] = {}
    waves: dict[str, int] = {}
    for row in bind.execute(sa.text(f"SELECT id, wave_id, {', '.join(DEMOGRAPHICS)} "
                                    "FROM survey_responses")):
        waves[row.id] = row.wave_id
        responses[row.id] = {"d": {c: getattr(row, c) for c in DEMOGRAPHICS
                                   if getattr(row, c) is not None}, "a": {}, "c": []}
    for rid, qid, value in bind.execute(sa.text(
            "SELECT response_id, question_id, value FROM survey_answers ORDER BY id")):
        responses[rid]["a"].setdefault(qid, []).append(value)
    for rid, qid, sealed, themes, tone in bind.execute(sa.text(
            "SELECT response_id, question_id, text_sealed, themes, tone FROM survey_comments")):
        text = open_sealed(comment_key, sealed,
                           context=f"speakup/survey-comment/{rid}/{qid}".encode())
        resealed = seal_to_public_key(analysis_public, text,
                                      context=b"speakup/analysis/survey-comment")
        responses[rid]["c"].append({"q": qid, "t": themes.split(), "tone": tone,
                                    "x": base64.b64encode(resealed).decode()})
    session = Session(bind=bind)
    by_wave: dict[int, list[bytes]] = {}
    for rid, payload in responses.items():
        by_wave.setdefault(waves[rid], []).append(
            json.dumps(payload, separators=(",", ":")).encode())
    for wave_id, payloads in by_wave.items():
        unlinkable.add_many(session, stream=f"survey:{wave_id}", payloads=payloads,
                            settings=settings)
    session.flush()
    op.drop_table('survey_comments')
    op.drop_table('survey_answers')
    op.drop_table('survey_responses')


def downgrade() -> None:
    raise RuntimeError("0007 cannot be undone: responses were made unlinkable on purpose")
