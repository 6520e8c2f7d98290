"""The ``speakup`` command: administration tasks run on the server (or from cron)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup, FlaskGroup, with_appcontext

from accounts import services as accounts
from analysis.themes_cli import themes as themes_group
from config.settings import SECRET_NAMES
from core import audit
from core.web import database, settings


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
    from core.migrate import upgrade

    revision = upgrade(database().engine)
    click.echo(f"Database schema is at the latest version ({revision}).")


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
    from speakup.services import purge as purge_cases

    with database().session() as db:
        result = purge_cases(db, settings=settings())
        accounts.purge_sessions(db, settings=settings())
    click.echo(f"Purged {result.concerns} closed case(s) and "
               f"{result.submission_tokens} old submission token(s).")


@click.command("ngo-export")
@with_appcontext
@click.option("--from", "start", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="First day, YYYY-MM-DD.")
@click.option("--to", "end", required=True, type=click.DateTime(["%Y-%m-%d"]),
              help="Last day, YYYY-MM-DD.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output.")
def ngo_export(start: datetime, end: datetime, output: str | None) -> None:
    """CSV of cases received in a date range: National Guardian's Office fields only."""
    from speakup.services import ConcernInvalidError
    from speakup.services import ngo_export as export

    with database().session() as db:
        try:
            data = export(db, start=start.date(), end=end.date(), actor="cli")
        except ConcernInvalidError as e:
            _fail(str(e))
    if output:
        Path(output).write_text(data, encoding="utf-8")
        click.echo(f"Wrote {output}.")
    else:
        click.echo(data, nl=False)


@click.group("audit", cls=AppGroup)
def audit_group() -> None:
    """The staff audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exit 1 if any row was edited, removed or re-ordered."""
    with database().session() as db:
        report = audit.verify_chain(db)
    if report.ok:
        click.echo(f"Audit log intact: {report.checked} event(s) checked.")
    else:
        click.echo(f"Audit log BROKEN at event {report.first_bad_id}: {report.problem}. "
                   f"{report.checked} event(s) before it are intact.", err=True)
        sys.exit(1)


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
            grant_from_escrow(db, ref=ref, escrow_private_key=private, staff_id=user.id)
        except (accounts.AccountNotFoundError, CaseNotFoundError, ConcernInvalidError) as e:
            _fail(str(e) or "No such case, or it was not sealed to this escrow key.")
    click.echo(f"{email} can now open case {ref}.")


@click.command("retrain-themes")
@click.option("--email", required=True, help="The guardian whose reviewed cases to learn from.")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the password, then the TOTP code, from standard input.")
@with_appcontext
def retrain_themes(email: str, from_stdin: bool) -> None:
    """Retrain the theme engine on a guardian's reviewed cases (as the Themes page does).

    The cases are encrypted, so the guardian signs in (password and TOTP code) to open them
    in memory; prints the before/after evaluation on the held-out reviewed cases.
    """
    from analysis.themes.evaluation import format_comparison
    from speakup import themes as concern_themes
    from speakup.services import ConcernInvalidError

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
            identity = accounts.StaffIdentity(user=user, private_key=private_key,
                                              session_token="cli")  # noqa: S106 - no session: a label
            result = concern_themes.retrain(db, identity=identity, settings=settings())
        except accounts.AccountError as e:
            _fail(str(e) or "The email, password or code is not right.")
        except ConcernInvalidError as e:
            _fail(str(e))
        click.echo(format_comparison(result.before, result.after,
                                     "Held-out reviewed cases: current engine vs retrained"))
        click.echo(f"Stored model {result.stored.id}, trained on {result.stored.examples} cases; "
                   "new concerns use it from now on.")


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


def _demo_logins() -> list[dict[str, str]]:
    logins = json.loads(_demo_file().read_text())
    # A demo seeded by an older version kept the guardian's login alone.
    return [{"role": "guardian", **logins}] if isinstance(logins, dict) else list(logins)


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
    from surveys.cli import survey_group

    for command in (db_group, _staff_group("guardian"), _staff_group("edi"), purge, ngo_export,
                    audit_group, escrow_group, demo_group, survey_group, retrain_themes):
        app.cli.add_command(command)

    from equality.cli import workforce_group  # workforce equality data (issue 11)

    app.cli.add_command(workforce_group)


def _make_app() -> Flask:
    from core import create_app

    if "SPEAKUP_ENV" not in os.environ and not any(os.environ.get(n) for n in SECRET_NAMES):
        # A checkout with nothing configured: run the command against the development instance
        # (generated secrets, instance/speakup.db) rather than refuse. A server sets its secrets,
        # and so runs as production; gunicorn (wsgi.py) never takes this path.
        click.echo("note: SPEAKUP_ENV is not set and no secrets are configured: using the "
                   "development settings in instance/", err=True)
        os.environ["SPEAKUP_ENV"] = "development"
    app = create_app()
    if os.environ.get("SPEAKUP_ENV") == "development":
        # Development databases follow the code: no separate migrate step to forget.
        from core.migrate import upgrade

        upgrade(app.extensions["speakup.database"].engine)
    return app


class _SpeakUpGroup(FlaskGroup):
    """The ``speakup`` command. Commands that need no database (theme tagging) are its own and
    run without building the app; the rest come from the app."""


main = _SpeakUpGroup(
    name="speakup", create_app=_make_app, add_default_commands=False, add_version_option=False,
    load_dotenv=False, help="Speak Up administration.",
)
main.add_command(themes_group)
