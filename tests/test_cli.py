"""The `speakup` command, through Flask's CLI runner."""

from __future__ import annotations

import csv
import io
import re

import pyotp
from sqlalchemy import text

from accounts import orgkeys
from accounts import services as accounts
from core import demo
from equality.themes import concern_summary
from speakup import analytics
from speakup import themes as concern_themes
from tests.conftest import make_staff


def test_guardian_create_prints_secret_and_recovery_key_once(app, database, settings) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["guardian", "create", "--name", "Ada Guardian", "--email",
                                 "ada@example.nhs.uk", "--password-stdin"],
                           input="a very long password 1\n")
    assert result.exit_code == 0, result.output
    secret = re.search(r"TOTP secret: ([A-Z2-7]+)", result.output).group(1)
    recovery = re.search(r"Recovery key.*\n\s+([A-Z2-7-]+)", result.output).group(1)
    with database.session() as db:
        user, _ = accounts.authenticate(db, email="ada@example.nhs.uk",
                                        password="a very long password 1",
                                        code=pyotp.TOTP(secret).now(), settings=settings)
        assert user.name == "Ada Guardian"
        assert secret.encode() not in user.totp_secret_sealed
    assert len(recovery.replace("-", "")) == 32
    again = runner.invoke(args=["guardian", "create", "--name", "Ada", "--email",
                                "ada@example.nhs.uk", "--password-stdin"],
                          input="a very long password 1\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_guardian_disable_and_weak_password(app, database, settings) -> None:
    staff = make_staff(database, settings, "Dee Disabled")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["guardian", "disable", staff.email]).exit_code == 0
    listed = runner.invoke(args=["guardian", "list"]).output
    assert f"{staff.email}\tDee Disabled\tdisabled" in listed
    missing = runner.invoke(args=["guardian", "disable", "nobody@example.org"])
    assert missing.exit_code != 0 and "No account" in missing.output
    weak = runner.invoke(args=["guardian", "create", "--name", "W", "--email", "w@x.org",
                               "--password-stdin"], input="short\n")
    assert weak.exit_code != 0 and "at least 12" in weak.output


def test_ngo_return_and_purge_and_audit_verify(app, client, database, settings,
                                               guardian) -> None:
    from tests.conftest import submit_concern

    submit_concern(client, "FREE-TEXT-NEVER-EXPORTED")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["ngo-return", "--email", guardian.email, "--from", "2000-01-01",
                                 "--to", "2100-01-01", "--stdin"],
                           input=f"{guardian.password}\n{guardian.code()}\n")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert {"section": "total", "item": "cases", "count": "1"} in rows
    assert "small count" in result.stderr
    assert "FREE-TEXT" not in result.output
    bad = runner.invoke(args=["ngo-return", "--email", guardian.email, "--from", "2026-02-30",
                              "--to", "2026-03-01", "--stdin"], input="x\n1\n")
    assert bad.exit_code != 0
    assert runner.invoke(args=["purge"]).exit_code == 0
    ok = runner.invoke(args=["audit", "verify"])
    assert ok.exit_code == 0 and "intact" in ok.output
    with database.engine.begin() as conn:
        if database.is_sqlite:
            conn.execute(text("DROP TRIGGER audit_events_no_update"))
        else:
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        conn.execute(text("UPDATE audit_events SET actor = 'someone else' "
                          "WHERE id = (SELECT MIN(id) FROM audit_events)"))
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1 and "BROKEN" in broken.output


def test_escrow_key_recovers_a_case_for_a_new_guardian(app, database, settings, guardian) -> None:
    import base64

    from core import create_app
    from speakup import services
    from tests.conftest import make_staff

    runner = app.test_cli_runner()
    out = runner.invoke(args=["escrow", "generate"]).output
    public = re.search(r"SPEAKUP_ESCROW_PUBLIC_KEY=(\S+)", out).group(1)
    private = out.strip().splitlines()[-1].strip()
    escrowed = settings.with_overrides(escrow_public_key=base64.b64decode(public))
    with database.session() as db:
        services.submit_concern(db, draft=services.ConcernDraft(
            text="escrowed text", kind="other", identity_mode="anonymous"),
            form_token="e" * 30, settings=escrowed)
        ref = db.scalar(text("SELECT ref FROM concerns"))
    newcomer = make_staff(database, settings, "Nia Newcomer")
    escrow_app = create_app(escrowed, database)
    wrong = escrow_app.test_cli_runner().invoke(
        args=["escrow", "grant", ref, newcomer.email],
        input=base64.b64encode(b"x" * 32).decode() + "\n")
    assert wrong.exit_code != 0
    ok = escrow_app.test_cli_runner().invoke(args=["escrow", "grant", ref, newcomer.email],
                                             input=private + "\n")
    assert ok.exit_code == 0, ok.output
    with database.session() as db:
        user, key = accounts.authenticate(db, email=newcomer.email, password=newcomer.password,
                                          code=newcomer.code(), settings=settings)
        identity = accounts.StaffIdentity(user=user, private_key=key, session_token="t")
        assert services.open_case(db, identity=identity, ref=ref).text == "escrowed text"


def test_demo_seed_is_idempotent_and_prints_both_logins(app, database, settings) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "guardian@demo" in first.output and "edi@demo" in first.output
    password = re.search(r"password: (\S+)", first.output).group(1)
    again = runner.invoke(args=["demo", "seed"])
    assert again.exit_code == 0 and password in again.output
    with database.session() as db:
        assert db.scalar(text("SELECT COUNT(*) FROM concerns")) == 3 + demo.EARLIER_COUNT
        assert db.scalar(text("SELECT COUNT(*) FROM records WHERE stream LIKE 'survey:%'")) == 880
    codes = runner.invoke(args=["demo", "code"]).output
    assert re.search(r"guardian: \d{6}", codes) and re.search(r"edi: \d{6}", codes)


def test_the_demo_has_themes_to_summarise_and_cases_to_retrain_on(app, database, settings) -> None:
    runner = app.test_cli_runner()
    output = runner.invoke(args=["demo", "seed"]).output
    password = re.search(r"guardian@demo\S*\s+password: (\S+)", output).group(1)
    secret = re.search(r"guardian@demo.*?TOTP secret[^:]*: (\S+)", output, re.S).group(1)
    edi_password = re.search(r"edi@demo\S*\s+password: (\S+)", output).group(1)
    edi_secret = re.search(r"edi@demo.*?TOTP secret[^:]*: (\S+)", output, re.S).group(1)
    with database.session() as db:
        edi, edi_key = accounts.authenticate(db, email=demo.EDI_EMAIL, password=edi_password,
                                             code=pyotp.TOTP(edi_secret).now(), settings=settings)
        analysis_key = orgkeys.private_key(db, edi, edi_key)
        # the latest complete quarter
        facts = analytics.current_facts(db, analysis_private=analysis_key, settings=settings)
        summary = concern_summary(db, settings=settings, facts=facts)
        shown = [c.n for section in summary.sections for c in section.current[:1] if c.n]
        assert shown and all(n >= settings.min_cell_size for n in shown)
        user, key = accounts.authenticate(db, email=demo.DEMO_EMAIL, password=password,
                                          code=pyotp.TOTP(secret).now(), settings=settings)
        identity = accounts.StaffIdentity(user=user, private_key=key, session_token="t")
        result = concern_themes.retrain(db, identity=identity, settings=settings)
        assert result.stored.examples >= concern_themes.MIN_REVIEWED * 4 // 5


def test_commands_fail_closed_without_configuration(tmp_path) -> None:
    """Finding 11: under cron's empty environment `purge` and `audit verify` quietly ran against
    the development SQLite file and exited 0. Data commands now refuse; database-free ones work."""
    import subprocess
    import sys
    from pathlib import Path

    speakup = Path(sys.executable).parent / "speakup"
    empty = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    for args in (["purge"], ["audit", "verify"], ["guardian", "list"], ["mix"],
                 ["survey", "results", "equality-pulse", "--by", "band"]):
        done = subprocess.run([str(speakup), *args], cwd=tmp_path, env=empty,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode != 0, args
        assert "needs that trust's configuration" in done.stderr, args
    assert not (tmp_path / "instance").exists()
    template = subprocess.run([str(speakup), "survey", "template", "equality-pulse"],
                              cwd=tmp_path, env=empty, capture_output=True, text=True,
                              timeout=120, check=False)
    assert template.returncode == 0 and 'id = "equality-pulse"' in template.stdout
    tagged = subprocess.run([str(speakup), "themes", "tag", "-"], cwd=tmp_path, env=empty,
                            input="id,text\n1,Jobs go to the manager's friends\n",
                            capture_output=True, text=True, timeout=120, check=False)
    assert tagged.returncode == 0 and "nepotism_favouritism" in tagged.stdout


def test_demo_prints_a_receipt_with_a_reply_and_the_survey_link_and_a_mix_of_statuses(
        app, database, settings) -> None:
    from tests.conftest import reporter_sign_in

    output = app.test_cli_runner().invoke(args=["demo", "seed"]).output
    receipt = re.search(r"A reporter's receipt \(a sample concern with a guardian's reply\): "
                        r"(.+)", output).group(1).strip()
    link = re.search(r"Equality pulse survey, open to answer: http://127\.0\.0\.1:\d+(\S+)",
                     output).group(1)
    reporter = reporter_sign_in(app.test_client(), receipt)
    page = reporter.get("/concern").data.decode()
    assert "The guardian replied" in page and "was the band 7 post" not in page
    assert "Do you know whether it was advertised" in page
    assert app.test_client().get(link).status_code in (200, 302)
    with database.session() as db:
        statuses = dict(db.execute(text(
            "SELECT status, COUNT(*) FROM concerns GROUP BY status")).all())
    total = sum(statuses.values())
    assert set(statuses) == {"new", "acknowledged", "in-progress", "closed"}
    assert statuses["closed"] > total // 3 and statuses["new"] < total // 8


def test_db_upgrade_says_what_it_did(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    speakup = Path(sys.executable).parent / "speakup"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SPEAKUP_ENV": "development",
           "SPEAKUP_INSTANCE_DIR": str(tmp_path / "instance"), "SPEAKUP_KDF": "fast",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    first = subprocess.run([str(speakup), "db", "upgrade"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300, check=True)
    assert "Created a new database at schema version" in first.stdout
    again = subprocess.run([str(speakup), "db", "upgrade"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300, check=True)
    assert "already at the latest version" in again.stdout and "nothing to change" in again.stdout
