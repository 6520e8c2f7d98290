"""The demo organisation `make run` seeds: two guardians, an EDI lead, a few sample concerns,
and the equality pulse survey with two past waves of synthetic answers and one open wave."""

from __future__ import annotations

import csv
import io
import random
import secrets
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import services as accounts
from accounts.models import StaffUser
from config.settings import Settings
from core.db import today
from speakup import services
from surveys import definition as definitions
from surveys import services as surveys

DEMO_EMAIL = "guardian@demo.speakup.invalid"
EDI_EMAIL = "edi@demo.speakup.invalid"

SAMPLES = (
    ("recruitment", "main", 40,
     "The band 7 post on our ward was never advertised. It went to the manager's friend, "
     "who had been acting up for months. I trained her and now she is my boss. Several of us "
     "from overseas have applied for every band 6 post for years and never get shortlisted."),
    ("bullying", "community", 12,
     "A senior colleague shouts at junior staff in front of patients. People are scared to "
     "say anything because the last person who complained was moved to nights."),
    ("patient-safety", "main", 2,
     "We are regularly one registered nurse short on nights and the escalation process is "
     "ignored. I am worried something will go wrong."),
)


def seed(db: Session, *, settings: Settings, existing: Path | None) -> (
    list[dict[str, str]] | None
):
    """Create the demo staff, sample concerns and survey unless they exist.

    Returns the new demo logins (to be kept by the caller), or None when they already existed.
    """
    if db.scalar(select(StaffUser.id).where(StaffUser.email == DEMO_EMAIL)) is not None \
            and existing is not None:
        return None
    password = "-".join(secrets.token_hex(3) for _ in range(3))
    new = accounts.create_staff(db, name="Demo Guardian", email=DEMO_EMAIL, password=password,
                                role="guardian", settings=settings, actor="demo")
    edi_password = "-".join(secrets.token_hex(3) for _ in range(3))
    edi = accounts.create_staff(db, name="Demo EDI Lead", email=EDI_EMAIL,
                                password=edi_password, role="edi", settings=settings,
                                actor="demo")
    accounts.create_staff(db, name="Second Guardian", email="second@demo.speakup.invalid",
                          password=secrets.token_urlsafe(16), role="guardian",
                          settings=settings, actor="demo")
    for kind, site, days_ago, text in SAMPLES:
        services.submit_concern(
            db, draft=services.ConcernDraft(text=text, kind=kind, site=site,
                                            identity_mode="anonymous"),
            form_token=secrets.token_urlsafe(24), settings=settings,
            on=today() - timedelta(days=days_ago),
        )
    _seed_survey(db, settings=settings)
    return [
        {"role": "guardian", "email": DEMO_EMAIL, "password": password,
         "totp_secret": new.totp_secret},
        {"role": "edi", "email": EDI_EMAIL, "password": edi_password,
         "totp_secret": edi.totp_secret},
    ]


# Made-up answers to "What one thing would make progression fairer here?" for the demo.
DEMO_COMMENTS = (
    "Advertise every post, even acting up roles. Too many jobs go to the manager's friends.",
    "Interview panels should be mixed. I have been overlooked for band 6 three times now.",
    "Proper feedback after interviews. Nobody ever tells you why you didn't get it.",
    "Stop appointing people without an interview. The same faces always get promoted.",
    "Give everyone the same access to training and secondments, not just the favourites.",
    "I trained her and now she is my boss. Shortlisting should be anonymous.",
    "They told me I didn't have UK experience after eight years on this ward.",
    "Managers need to talk to us about our careers. Mine never has.",
    "There is no point raising it, nothing changes and you get labelled a troublemaker.",
    "More staff on nights so we can actually get time for study days.",
    "Fair and open recruitment, with the criteria published before the job is filled.",
    "Leadership courses should be offered to all of us, not only to people already picked.",
    "",
    "",
    "",
)


def _synthetic_answers(rng: random.Random, wave: str, count: int) -> list[dict[str, str]]:
    """Made-up answers in which Global majority staff report less fairness (as the review
    found), so the demo results and WRES panel have something to show."""
    rows = []
    for _ in range(count):
        ethnicity = rng.choices(["white-british", "white-other", "asian-indian", "black-african",
                                 "asian-pakistani", "prefer-not"], [40, 8, 20, 18, 9, 5])[0]
        majority = not ethnicity.startswith("white") and ethnicity != "prefer-not"
        fair = 0.35 if majority else 0.6
        rows.append({
            "wave": wave,
            "ethnicity": ethnicity,
            "band": rng.choice(["3", "4", "5", "6", "7", "8a"]),
            "directorate": rng.choice(["medicine", "surgery", "women-children", "community"]),
            "fair_progression": rng.choices(["yes", "no", "dont-know"],
                                            [fair, 0.8 - fair, 0.2])[0],
            "roles_fair": rng.choices(["strongly-disagree", "disagree", "neither", "agree",
                                       "strongly-agree"],
                                      [1 - fair, 1, 1, 1 + fair, fair])[0],
            "safe_to_speak_up": rng.choice(["disagree", "neither", "agree", "strongly-agree"]),
            "harassment_public": rng.choice(["never", "never", "1-2", "3-5"]),
            "discrimination_colleagues": "yes" if rng.random() < (0.2 if majority else 0.07)
            else "no",
            "fairer_progression": rng.choice(DEMO_COMMENTS),
        })
    return rows


def _seed_survey(db: Session, *, settings: Settings) -> None:
    survey = surveys.save_survey(db, definition_text=definitions.template_text("equality-pulse"),
                                 settings=settings, actor="demo")
    rng = random.Random(2026)  # noqa: S311 - made-up demo answers, not secrets
    out = io.StringIO()
    rows = _synthetic_answers(rng, "Spring 2026", 420) + _synthetic_answers(rng, "Autumn 2026", 460)
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    surveys.import_responses(db, survey=survey, csv_text=out.getvalue(), wave_label="Imported",
                             settings=settings, actor="demo")
    surveys.open_wave(db, wave_=surveys.wave(db, survey, "Now"), open_link=True, actor="demo")
