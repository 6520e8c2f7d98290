"""The ``speakup`` command: administration tasks run on the server (or from cron)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from accounts import services as accounts
from analysis.themes_cli import themes as themes_group
from config.settings import SettingsError
from core import audit, ratelimit
from core.web import database, settings
from surveys.cli import survey_group


def _read_password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    value: str = click.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return value


def _fail(message: str) -> None:
    raise click.ClickException(message)


# --- database ------------------------------------------------------------------------------


@click.group("db", cls=AppGroup)
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the latest version."""
    from flask import current_app

    from core.migrate import current_revision, upgrade

    # In development the app has just brought the schema up to date: report from before that.
    before = current_app.extensions.get("speakup.schema_before",
                                        current_revision(database().engine))
    revision = upgrade(database().engine, settings())
    if before is None:
        click.echo(f"Created a new database at schema version {revision} (the latest).")
    elif before != revision:
        click.echo(f"Upgraded the database schema from version {before} to {revision} "
                   "(the latest).")
    else:
        click.echo(f"The database schema was already at the latest version ({revision}): "
                   "nothing to change.")


# --- staff accounts ------------------------------------------------------------------------


def _staff_group(role: str) -> click.Group:
    group = AppGroup(role, help=f"{role.upper() if role == 'edi' else role.title()} accounts.")

    @group.command("create")
    @click.option("--name", required=True, help="Full name, shown to colleagues.")
    @click.option("--email", required=True, help="Login email address.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create(name: str, email: str, password_stdin: bool) -> None:
        """Create an account; prints the TOTP secret and recovery key ONCE."""
        password = _read_password(password_stdin)
        with database().session() as db:
            try:
                new = accounts.create_staff(db, name=name, email=email, password=password,
                                            role=role, settings=settings())
            except accounts.AccountError as e:
                _fail(str(e))
            else:
                click.echo(f"Created {role} account for {new.user.email}.")
                click.echo("Add this to an authenticator app (shown once):")
                click.echo(f"  TOTP secret: {new.totp_secret}")
                click.echo(f"  or open: {new.provisioning_uri('Speak Up')}")
                click.echo("Recovery key (shown once; store it offline, it restores access "
                           "to every case if the password is forgotten):")
                click.echo(f"  {new.recovery_key}")

    @group.command("disable")
    @click.argument("email")
    def disable(email: str) -> None:
        """Disable an account and end its sessions."""
        with database().session() as db:
            try:
                accounts.disable_staff(db, email=email)
            except accounts.AccountNotFoundError as e:
                _fail(str(e))
        click.echo(f"Disabled {email}.")

    @group.command("enable")
    @click.argument("email")
    def enable(email: str) -> None:
        """Re-enable a disabled or locked account."""
        with database().session() as db:
            try:
                accounts.enable_staff(db, email=email)
            except accounts.AccountNotFoundError as e:
                _fail(str(e))
        click.echo(f"Enabled {email}.")

    @group.command("recover")
    @click.argument("email")
    @click.option("--stdin", "from_stdin", is_flag=True,
                  help="Read the recovery key, then the new password, from standard input.")
    def recover(email: str, from_stdin: bool) -> None:
        """Set a new password with the recovery key; prints a new recovery key."""
        if from_stdin:
            recovery_key = sys.stdin.readline().strip()
        else:
            recovery_key = click.prompt("Recovery key", hide_input=True)
        password = _read_password(from_stdin, "New password")
        with database().session() as db:
            try:
                new_key = accounts.recover_account(db, email=email, recovery_key=recovery_key,
                                                   new_password=password, settings=settings())
            except accounts.AccountError as e:
                _fail(str(e))
            else:
                click.echo("Password changed. New recovery key (shown once):")
                click.echo(f"  {new_key}")

    @group.command("list")
    def list_() -> None:
        """List accounts of this role."""
        with database().session() as db:
            for user in accounts.list_staff(db, role=role, active_only=False):
                state = "disabled" if user.disabled else "active"
                click.echo(f"{user.email}\t{user.name}\t{state}")

    return group


# --- cases ---------------------------------------------------------------------------------


@click.command("purge")
@with_appcontext
def purge() -> None:
    """Delete closed cases past the retention period (run daily from cron)."""
    from speakup.services import mix as mix_rows
    from speakup.services import purge as purge_cases
    from speakup.services import vacuum_sqlite

    with database().session() as db:
        result = purge_cases(db, settings=settings())
        accounts.purge_sessions(db, settings=settings())
        ratelimit.purge(db, settings=settings(),
                        window_seconds=settings().receipt_window_seconds)
        mix_rows(db)
    vacuum_sqlite(database().engine)
    with database().session() as db:
        audit.write_checkpoint(db, settings().checkpoint_path)
    click.echo(f"Purged {result.concerns} closed case(s) and "
               f"{result.submission_tokens} old submission token(s).")


def _sign_in(email: str, from_stdin: bool) -> accounts.StaffIdentity:
    """Sign a staff member in for a command that must open their cases (password and TOTP
    code prompted, or read from standard input)."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
        code = sys.stdin.readline().strip()
    else:
        password = click.prompt("Password", hide_input=True)
        code = click.prompt("Code from the authenticator app")
    with database().session() as db:
        try:
            user, private_key = accounts.authenticate(db, email=email, password=password,
                                                      code=code, settings=settings())
        except accounts.AccountError as e:
            _fail(str(e) or "The email, password or code is not right.")
        return accounts.StaffIdentity(user=user, private_key=private_key,
                                      session_token="cli")  # noqa: S106 - no session: a label


@click.command("ngo-return")
@with_appcontext
@click.option("--email", required=True, help="The guardian making the return.")
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day, YYYY-MM-DD.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output.")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password, then the TOTP code, from standard input.")
def ngo_return(email: str, start: datetime, end: datetime, output: str | None,
               from_stdin: bool) -> None:
    """The National Guardian's Office return (counts, as CSV) for cases received in a date
    range. The guardian signs in, because the counts are read from the sealed cases."""
    from speakup.services import ConcernInvalidError, NotAllCasesOpenError, ngo_return_csv
    from speakup.services import ngo_return as make_return

    identity = _sign_in(email, from_stdin)
    with database().session() as db:
        identity = accounts.StaffIdentity(db.merge(identity.user), identity.private_key, "cli")
        try:
            result = make_return(db, identity=identity, start=start.date(), end=end.date(),
                                 settings=settings())
        except ConcernInvalidError as e:
            _fail(str(e))
        except NotAllCasesOpenError as e:
            db.commit()  # the refusal is audited
            _fail(str(e))
    data = ngo_return_csv(result)
    for section, item, count in result.small:
        click.echo(f"note: small count ({count}) for {section} {item}: take care sharing it",
                   err=True)
    if output:
        Path(output).write_text(data, encoding="utf-8")
        click.echo(f"Wrote {output}.")
    else:
        click.echo(data, nl=False)


@click.command("mix")
@with_appcontext
def mix() -> None:
    """Re-write the anonymous side's rows in random order (PostgreSQL): run hourly."""
    from speakup.services import mix as mix_rows
    from speakup.services import vacuum_sqlite

    with database().session() as db:
        rows = mix_rows(db)
    vacuum_sqlite(database().engine)
    click.echo(f"Re-wrote {rows} row(s).")


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """The staff audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the keyed chain and the checkpoints written outside the database; exit 1 if any
    row was edited, forged, removed or re-ordered."""
    path = settings().checkpoint_path
    with database().session() as db:
        try:
            report = audit.verify_chain(db, audit.read_checkpoints(db, path))
        except audit.AuditError as e:
            click.echo(f"Audit checkpoints BROKEN: {e}", err=True)
            sys.exit(1)
    if report.ok:
        click.echo(f"Audit log intact: {report.checked} event(s) checked against "
                   f"{report.checkpoints} checkpoint(s) in {path}.")
    else:
        where = f" at event {report.first_bad_id}" if report.first_bad_id is not None else ""
        click.echo(f"Audit log BROKEN{where}: {report.problem}. "
                   f"{report.checked} event(s) before it are intact.", err=True)
        sys.exit(1)


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Append the chain's head to the checkpoint file (run from a timer; ship the file away)."""
    path = settings().checkpoint_path
    with database().session() as db:
        point = audit.write_checkpoint(db, path)
    click.echo(f"Checkpoint at event {point.seq} written to {path}." if point
               else "The audit log is empty: no checkpoint written.")


@click.group("escrow", cls=AppGroup)
def escrow_group() -> None:
    """The organisation's offline escrow key (optional)."""


@escrow_group.command("generate")
def escrow_generate() -> None:
    """Print a new escrow key pair: configure the public half, keep the private half offline."""
    import base64

    from core.encryption import generate_keypair

    pair = generate_keypair()
    click.echo("Set this on the server (every new concern is also sealed to it):")
    click.echo(f"  SPEAKUP_ESCROW_PUBLIC_KEY={base64.b64encode(pair.public).decode()}")
    click.echo("Keep this OFFLINE (e.g. printed, in the trust's safe). Never put it on the server:")
    click.echo(f"  {base64.b64encode(pair.private).decode()}")


@escrow_group.command("grant")
@click.argument("ref")
@click.argument("email")
def escrow_grant(ref: str, email: str) -> None:
    """Give guardian EMAIL access to case REF using the escrow private key (read from stdin)."""
    import base64
    import binascii

    from speakup.services import CaseNotFoundError, ConcernInvalidError, grant_from_escrow

    try:
        private = base64.b64decode(sys.stdin.readline().strip(), validate=True)
    except binascii.Error:
        _fail("The escrow private key must be the base64 text printed by 'escrow generate'.")
    with database().session() as db:
        try:
            user = accounts.find_staff(db, email)
            grant_from_escrow(db, ref=ref, escrow_private_key=private, staff_id=user.id,
                              settings=settings())
        except (accounts.AccountNotFoundError, CaseNotFoundError, ConcernInvalidError) as e:
            _fail(str(e) or "No such case, or it was not sealed to this escrow key.")
    click.echo(f"{email} can now open case {ref}.")


@click.command("retrain-themes")
@click.option("--email", required=True, help="The guardian whose reviewed cases to learn from.")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password, then the TOTP code, from standard input.")
@with_appcontext
def retrain_themes(email: str, from_stdin: bool) -> None:
    """Retrain the theme engine on the real-text corpus and a guardian's reviewed cases (as the
    retrain page does).

    The cases are encrypted, so the guardian signs in (password and TOTP code) to open them
    in memory; prints the before/after evaluation on the real corpus's frozen held-out extracts.
    """
    from analysis.themes.evaluation import format_comparison
    from speakup import themes as concern_themes
    from speakup.services import ConcernInvalidError

    identity = _sign_in(email, from_stdin)
    with database().session() as db:
        identity = accounts.StaffIdentity(db.merge(identity.user), identity.private_key, "cli")
        try:
            result = concern_themes.retrain(db, identity=identity, settings=settings())
        except ConcernInvalidError as e:
            _fail(str(e))
        click.echo(format_comparison(result.before, result.after,
                                     f"Real staff text held out from training ({result.after.comments} "
                                     "extracts): current engine vs retrained"))
        click.echo(f"Stored model {result.stored.id}, trained on {result.stored.examples} reviewed cases "
                   "and the real corpus's development rows; new concerns use it from now on.")


# --- demo ------------------------------------------------------------------------------------


@click.group("demo", cls=AppGroup)
def demo_group() -> None:
    """A demo organisation for trying the platform (development only)."""


def _demo_file() -> Path:
    return settings().instance_dir / "demo-logins.json"


@demo_group.command("seed")
def demo_seed() -> None:
    """Create the demo guardian and a few sample concerns, once; print the login."""
    from core.demo import seed

    if settings().env == "production":
        _fail("The demo organisation is for development only.")
    path = _demo_file()
    with database().session() as db:
        login = seed(db, settings=settings(), existing=path if path.exists() else None)
    if login is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(login))
        path.chmod(0o600)
    _print_demo_login()


def _demo_kept() -> dict[str, Any]:
    kept = json.loads(_demo_file().read_text())
    # Demos seeded by older versions kept the guardian's login alone, or the list of logins.
    if isinstance(kept, list):
        return {"logins": kept}
    return kept if "logins" in kept else {"logins": [{"role": "guardian", **kept}]}


def _demo_logins() -> list[dict[str, str]]:
    return list(_demo_kept()["logins"])


def _print_demo_login() -> None:
    import pyotp

    port = os.environ.get("PORT", "5000")
    click.echo("")
    click.echo(f"Staff side: http://127.0.0.1:{port}/staff/login   (reporters: "
               f"http://127.0.0.1:{port}/)")
    for login in _demo_logins():
        who = "Guardian" if login["role"] == "guardian" else "EDI lead (surveys)"
        click.echo(f"{who} login:")
        click.echo(f"  email:    {login['email']}")
        click.echo(f"  password: {login['password']}")
        click.echo(f"  TOTP secret (add to an authenticator app): {login['totp_secret']}")
        click.echo(f"  code right now: {pyotp.TOTP(login['totp_secret']).now()}"
                   "   (new code: make code)")
    kept = _demo_kept()
    if kept.get("survey_link"):
        click.echo(f"Equality pulse survey, open to answer: http://127.0.0.1:{port}"
                   f"{kept['survey_link']}")
    if kept.get("receipt"):
        click.echo(f"A reporter's receipt (a sample concern with a guardian's reply): "
                   f"{kept['receipt']}")
        click.echo(f"  enter it at http://127.0.0.1:{port}/return   (demo only: real receipts "
                   "are never stored)")
    click.echo("")


@demo_group.command("code")
def demo_code() -> None:
    """Print the demo staff's current TOTP codes."""
    import time

    import pyotp

    for login in _demo_logins():
        totp = pyotp.TOTP(login["totp_secret"])
        left = totp.interval - int(time.time()) % totp.interval
        click.echo(f"{login['role']:>8}: {totp.now()}  (valid for {left} more seconds; each "
                   "code works once, so after signing in wait for the next one)")


def register_commands(app: Flask) -> None:
    for command in (db_group, _staff_group("guardian"), _staff_group("edi"), _staff_group("board"),
                    purge, ngo_return,
                    mix, audit_group, escrow_group, demo_group, survey_group, retrain_themes):
        app.cli.add_command(command)

    from equality.cli import workforce_group  # workforce equality data (issue 11)

    app.cli.add_command(workforce_group)


def _make_app() -> Flask:
    """The app for commands that touch a trust's data. Fails closed: without its configuration
    (as under cron with an empty environment) a command refuses to run, instead of quietly
    using a development database and reporting success."""
    from core import create_app

    try:
        app = create_app()
    except SettingsError as e:
        raise click.ClickException(
            f"{e}.\nThis command works on a trust's data, so it needs that trust's "
            "configuration (SPEAKUP_ENV, DATABASE_URL and the secrets in the environment, as "
            "the server has them). For the development copy in instance/, run it with "
            "SPEAKUP_ENV=development (as make does).") from e
    if os.environ.get("SPEAKUP_ENV") == "development":
        # Development databases follow the code: no separate migrate step to forget.
        from core.migrate import current_revision, upgrade

        engine = app.extensions["speakup.database"].engine
        app.extensions["speakup.schema_before"] = current_revision(engine)
        upgrade(engine, app.extensions["speakup.settings"])
    return app


class _SpeakUpGroup(FlaskGroup):
    """The ``speakup`` command. Commands that need no database (theme tagging, survey
    templates) run without building the app; the rest build it, and refuse without a
    configuration."""


main = _SpeakUpGroup(
    name="speakup", create_app=_make_app, add_default_commands=False, add_version_option=False,
    load_dotenv=False, help="Speak Up administration.",
)
main.add_command(themes_group)
main.add_command(survey_group)
