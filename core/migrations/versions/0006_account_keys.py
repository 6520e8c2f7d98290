"""account keys bound by a MAC, peppered passwords, TOTP sealed under the password

Existing accounts keep the first release's password derivation ("v1") and TOTP copy until
their next sign-in, which moves them to the peppered 128 MiB derivation (the password is needed
for that). Their public keys are bound now, trusting the keys the database holds at upgrade.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import context, op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from core.encryption import bind_public_key, server_key

    settings = context.config.attributes.get("settings")
    if settings is None:
        raise RuntimeError("migration 0006 binds public keys with a server secret: run it with "
                           "`speakup db upgrade`")
    binding_key = server_key(settings.staff_secret, "key-binding")
    bind = op.get_bind()
    op.add_column('staff_users', sa.Column('password_kdf', sa.String(length=12), nullable=False,
                                           server_default='v1'))
    op.add_column('staff_users', sa.Column('public_key_binding', sa.LargeBinary(length=32),
                                           nullable=True))
    op.add_column('staff_users', sa.Column('totp_secret_by_key', sa.LargeBinary(), nullable=True))
    users = sa.table('staff_users', sa.column('id'), sa.column('role'), sa.column('email'),
                     sa.column('name'), sa.column('public_key'), sa.column('public_key_binding'))
    for row in bind.execute(sa.select(users.c.id, users.c.role, users.c.email, users.c.name,
                                      users.c.public_key)).all():
        bind.execute(users.update().where(users.c.id == row.id).values(
            public_key_binding=bind_public_key(
                binding_key, f"{row.id}:{row.role}:{row.email}:{row.name}", row.public_key)))
    with op.batch_alter_table('staff_users') as batch:
        batch.alter_column('public_key_binding', existing_type=sa.LargeBinary(length=32),
                           nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('staff_users') as batch:
        batch.drop_column('totp_secret_by_key')
        batch.drop_column('public_key_binding')
        batch.drop_column('password_kdf')
