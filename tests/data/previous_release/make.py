"""Builds previous_release.db with the first release's code (commit 0aaee18, migration 0004).

Run from a checkout of that commit, with its own virtualenv:

    git worktree add /tmp/prev 0aaee18 && cd /tmp/prev && python3 -m venv .venv \
        && .venv/bin/pip install -e . \
        && .venv/bin/python /path/to/tests/data/previous_release/make.py OUTDIR

It writes OUTDIR/previous_release.db (SQLite), OUTDIR/secrets.json (the instance secrets the
data was sealed under: test-only values) and OUTDIR/expected.json (logins, receipts and what the
migrated database must still show). The migration test loads these into SQLite and PostgreSQL
and upgrades them with the current code.
"""

import io
import json
import shutil
import sys
from datetime import date
from pathlib import Path

import pyotp
from PIL import Image

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
instance = out / "instance"
shutil.rmtree(instance, ignore_errors=True)

from accounts import services as accounts  # noqa: E402
from config.settings import load_settings  # noqa: E402
from core.db import Database  # noqa: E402
from core.migrate import upgrade  # noqa: E402
from speakup import services, themes  # noqa: E402
from speakup.attachments import clean_upload  # noqa: E402
from surveys import definition as definitions  # noqa: E402
from surveys import services as surveys  # noqa: E402

settings = load_settings({"SPEAKUP_ENV": "test", "SPEAKUP_KDF": "fast",
                          "DATABASE_URL": f"sqlite:///{out / 'previous_release.db'}",
                          "SPEAKUP_INSTANCE_DIR": str(instance)})
(out / "previous_release.db").unlink(missing_ok=True)
database = Database(settings.database_url)
upgrade(database.engine)
PASSWORD = "a long test password 123"

with database.session() as db:
    gina = accounts.create_staff(db, name="Gina Guardian", email="gina@example.nhs.uk",
                                 password=PASSWORD, role="guardian", settings=settings)
    sam = accounts.create_staff(db, name="Sam Second", email="sam@example.nhs.uk",
                                password=PASSWORD, role="guardian", settings=settings)
    eli = accounts.create_staff(db, name="Eli Equality", email="eli@example.nhs.uk",
                                password=PASSWORD, role="edi", settings=settings)
    gina_id, sam_id = gina.user.id, sam.user.id

png = io.BytesIO()
Image.new("RGB", (8, 8), "red").save(png, format="PNG")
receipts = {}
with database.session() as db:
    first = services.submit_concern(db, draft=services.ConcernDraft(
        text="The band 7 post went to the manager's friend without an advert.",
        kind="recruitment", identity_mode="confidential", name="Pat Reporter",
        contact="pat@example.org", site="main", happened_month="2026-09",
        professional_group="nursing-midwifery", ethnicity="black-african",
        quote_consent=True, files=[clean_upload("rota.png", png.getvalue(), max_bytes=10**6)]),
        form_token="first-token-" + "x" * 20, settings=settings, on=date(2026, 10, 2))
    second = services.submit_concern(db, draft=services.ConcernDraft(
        text="Nights are unsafe: two nurses for thirty patients.", kind="patient-safety",
        identity_mode="anonymous", site="community", excluded_guardian_ids=[sam_id]),
        form_token="second-token-" + "x" * 20, settings=settings, on=date(2026, 10, 20))
    receipts = {"first": first.receipt, "second": second.receipt}

with database.session() as db:
    user, key = accounts.authenticate(db, email="gina@example.nhs.uk", password=PASSWORD,
                                      code=pyotp.TOTP(gina.totp_secret).now(), settings=settings)
    identity = accounts.StaffIdentity(user, key, "t")
    rows = services.inbox(db, identity=identity, settings=settings)
    by_text = {services.open_case(db, identity=identity, ref=r.concern.ref).text[:8]: r.concern.ref
               for r in rows}
    first_ref = by_text["The band"]
    second_ref = by_text["Nights a"]
    services.reply_to_reporter(db, identity=identity, ref=first_ref, text="Thank you. Can we talk?")
    services.add_note(db, identity=identity, ref=first_ref, text="Check the advert history.")
    services.record_ngo(db, identity=identity, ref=first_ref, fields=services.NgoFields(
        raised="confidential", elements=frozenset({"inappropriate_behaviours"}),
        professional_group="nursing-midwifery", speak_up_again=None))
    themes.review_theme(db, identity=identity, ref=first_ref, theme_id="roles_not_advertised",
                        decision="confirmed", settings=settings)
    services.change_status(db, identity=identity, ref=second_ref, status="in-progress")

with database.session() as db:
    access = services.open_with_receipt(db, receipt=receipts["first"], settings=settings)
    services.add_reporter_message(db, access=access, text="Yes, on Friday please.")

with database.session() as db:
    survey = surveys.save_survey(db, definition_text=definitions.template_text("equality-pulse"),
                                 settings=settings, actor="test")
    rows = ["wave,roles_fair,band,ethnicity,fairer_progression"]
    for i in range(24):
        rows.append(f"Spring,{'agree' if i % 3 else 'disagree'},{'5' if i % 2 else '6'},"
                    f"{'white-british' if i % 4 else 'asian-indian'},"
                    f"{'Advertise every post.' if i % 5 == 0 else ''}")
    surveys.import_responses(db, survey=survey, csv_text="\n".join(rows) + "\n",
                             wave_label="Spring", settings=settings, actor="test")
    wave = surveys.open_wave(db, wave_=surveys.wave(db, survey, "Autumn"), open_link=False,
                             actor="test")
    codes = surveys.generate_codes(db, wave_=wave, count=3, actor="test")
    surveys.submit_response(db, wave_=wave, code=codes[0], settings=settings,
                            answers={"roles_fair": "agree", "band": "7"})

expected = {
    "password": PASSWORD, "totp": {"gina": gina.totp_secret, "sam": sam.totp_secret,
                                   "eli": eli.totp_secret},
    "recovery": {"gina": gina.recovery_key},
    "receipts": receipts, "refs": {"first": first_ref, "second": second_ref},
    "unused_code": codes[1], "used_code": codes[0],
    "spring_roles_fair": {"agree": 16, "disagree": 8},
}
(out / "expected.json").write_text(json.dumps(expected, indent=2))
shutil.copy(instance / "secrets.json", out / "secrets.json")
shutil.rmtree(instance)
print("written", out)
