"""A database made by the previous release, upgraded by this one: everything carries over.

``tests/data/previous_release/`` holds a SQLite database written by the first release's code
(see ``make.py`` there): guardians, an EDI lead, two concerns with metadata in the clear, a
thread with a reply, a note, a reporter's message and a file, reviewed themes and NGO fields, a
survey with imported answers and comments, invitation codes (one spent), and the unkeyed audit
chain. On SQLite the file is upgraded as it is; on PostgreSQL its rows are first loaded into a
schema at revision 0004, as a trust's database would be. Then the current code must open all of
it: cases (their records sealed by the migration to each guardian's key), the thread in order,
the file, the reporter's receipt, the survey's results, the codes, the equality record, and a
re-keyed audit chain with a checkpoint.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine, text

from accounts import orgkeys
from accounts import services as accounts
from config.settings import Settings, load_settings
from core import audit
from core.db import Database
from core.migrate import current_revision, upgrade
from speakup import analytics, services
from surveys import results
from surveys import services as surveys

DATA = Path(__file__).parent / "data" / "previous_release"
EXPECTED = json.loads((DATA / "expected.json").read_text())
# Tables of revision 0004, parents first.
TABLES = ("staff_users", "staff_sessions", "audit_events", "submission_tokens", "concerns",
          "concern_grants", "concern_exclusions", "messages", "attachments", "concern_themes",
          "theme_models", "surveys", "survey_waves", "survey_invitation_codes",
          "survey_responses", "survey_answers", "survey_comments")


def _load_into_postgresql(url: str, settings: Settings) -> None:
    source = create_engine(f"sqlite:///{DATA / 'previous_release.db'}")
    target = Database.from_settings(settings)
    upgrade(target.engine, settings, revision="0004")
    with source.connect() as src, target.engine.begin() as dst:
        dst.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
        for table in TABLES:
            rows = [dict(r._mapping) for r in src.execute(text(f"SELECT * FROM {table}"))]
            if not rows:
                continue
            columns = list(rows[0])
            types = {c["name"]: str(c["type"]) for c in
                     dst.dialect.get_columns(dst, table)}  # type: ignore[attr-defined]
            for row in rows:
                for c in columns:
                    if types.get(c) == "BOOLEAN" and row[c] is not None:
                        row[c] = bool(row[c])
            dst.execute(text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                             f"({', '.join(':' + c for c in columns)})"), rows)
            if "id" in columns and isinstance(rows[0]["id"], int):
                dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"(SELECT max(id) FROM {table}))"))
        dst.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
    target.dispose()
    source.dispose()


@pytest.fixture
def migrated(database_url: str, tmp_path: Path) -> Iterator[tuple[Settings, Database]]:
    instance = tmp_path / "instance"
    instance.mkdir()
    shutil.copy(DATA / "secrets.json", instance / "secrets.json")
    if database_url.startswith("sqlite"):
        shutil.copy(DATA / "previous_release.db", tmp_path / "old.db")
        database_url = f"sqlite:///{tmp_path / 'old.db'}"
    settings = load_settings({"SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast",
                              "DATABASE_URL": database_url,
                              "SPEAKUP_INSTANCE_DIR": str(instance)})
    if not database_url.startswith("sqlite"):
        _load_into_postgresql(database_url, settings)
    database = Database.from_settings(settings)
    assert current_revision(database.engine) == "0004"
    upgrade(database.engine, settings)
    yield settings, database
    database.dispose()


def _sign_in(database: Database, settings: Settings, who: str) -> accounts.StaffIdentity:
    with database.session() as db:
        user, key = accounts.authenticate(
            db, email=f"{who}@example.nhs.uk", password=EXPECTED["password"],
            code=pyotp.TOTP(EXPECTED["totp"][who]).now(), settings=settings)
        return accounts.StaffIdentity(user, key, "t")


def test_everything_carries_over(migrated) -> None:
    settings, database = migrated
    # The audit chain was checked, re-keyed and checkpointed.
    with database.session() as db:
        report = audit.verify_chain(db, audit.read_checkpoints(db, settings.checkpoint_path))
        assert report.ok and report.checkpoints == 1
        rekey = db.scalar(text("SELECT detail FROM audit_events WHERE action = 'audit.rekey'"))
        assert "old chain intact" in rekey
        # Nothing about the concerns is in the clear any more.
        assert db.scalar(text("SELECT count(*) FROM concerns WHERE record_sealed IS NULL")) == 2
    # The guardian signs in with the first release's password derivation (then upgraded).
    gina = _sign_in(database, settings, "gina")
    with database.session() as db:
        assert db.scalar(text("SELECT password_kdf FROM staff_users WHERE email = "
                              "'gina@example.nhs.uk'")) == "peppered"
        identity = accounts.StaffIdentity(db.merge(gina.user), gina.private_key, "t")
        case = services.open_case(db, identity=identity, ref=EXPECTED["refs"]["first"])
        assert case.text.startswith("The band 7 post")
        assert (case.name, case.contact) == ("Pat Reporter", "pat@example.org")
        r = case.record
        assert (r.kind, r.site, r.happened_month, r.ethnicity) == (
            "recruitment", "main", "2026-09", "black-african")
        assert ("roles_not_advertised", "confirmed") in {(t.theme_id, t.status) for t in r.themes}
        assert r.ngo.elements == ("inappropriate_behaviours",)
        assert [(e.author, e.text) for e in case.thread] == [
            ("guardian", "Thank you. Can we talk?"), ("note", "Check the advert history."),
            ("reporter", "Yes, on Friday please.")]
        [attachment] = case.attachments
        _view, content = services.read_attachment(case.concern, services.granted_case(
            db, identity=identity, ref=EXPECTED["refs"]["first"])[1], attachment.id)
        assert content.startswith(b"\x89PNG")
        second = services.open_case(db, identity=identity, ref=EXPECTED["refs"]["second"])
        assert second.record.excluded and second.concern.status == "in-progress"
    with database.session() as db:
        # Opening moved the records under the concern keys.
        assert db.scalar(text("SELECT count(*) FROM concerns WHERE record_sealed IS NULL")) == 0
        assert db.scalar(text("SELECT count(*) FROM messages WHERE legacy_order IS NOT NULL")) == 0
    # The reporter still gets in with their receipt and sees the reply.
    with database.session() as db:
        access = services.open_with_receipt(db, receipt=EXPECTED["receipts"]["first"],
                                            settings=settings)
        thread = services.reporter_case(db, access=access).thread
        assert [e.text for e in thread] == ["Thank you. Can we talk?", "Yes, on Friday please."]
    # The excluded guardian still cannot open the second case.
    sam = _sign_in(database, settings, "sam")
    with database.session() as db:
        identity = accounts.StaffIdentity(db.merge(sam.user), sam.private_key, "t")
        with pytest.raises(services.CaseNotFoundError):
            services.open_case(db, identity=identity, ref=EXPECTED["refs"]["second"])
    # Survey answers, now unlinkable records, give the same results; codes carry over.
    with database.session() as db:
        survey = surveys.find_survey(db, "equality-pulse")
        [result] = results.question_results(db, survey=survey, settings=settings, by=[],
                                            where={}, question_ids=["roles_fair"],
                                            wave_label="Spring")
        counts = result.release.cell({}).counts
        assert {k: v for k, v in counts.items() if v} == EXPECTED["spring_roles_fair"]
        autumn = surveys.wave(db, survey, "Autumn")
        surveys.check_code(db, wave_=autumn, code=EXPECTED["unused_code"], settings=settings)
        with pytest.raises(surveys.CodeError):
            surveys.check_code(db, wave_=autumn, code=EXPECTED["used_code"], settings=settings)
    # The EDI lead holds the analysis key: the equality record has both concerns, and the
    # survey comments (re-sealed to that key) open.
    eli = _sign_in(database, settings, "eli")
    with database.session() as db:
        key = orgkeys.private_key(db, db.merge(eli.user), eli.private_key)
        facts = analytics.current_facts(db, analysis_private=key, settings=settings)
        assert sorted((f.kind, f.ethnicity) for f in facts) == [
            ("patient-safety", None), ("recruitment", "black-african")]
        spring = surveys.wave(db, survey, "Spring")
        texts = {surveys.comment_text(c, key) for r in surveys.wave_responses(
            db, wave_=spring, settings=settings) for c in r.comments}
        assert texts == {"Advertise every post."}
