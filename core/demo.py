"""The demo organisation `make run` seeds: two guardians, an EDI lead, three sample concerns
and 400 made-up earlier ones (12 with reviewed themes), and the equality pulse survey with two
past waves of synthetic answers and one open wave.

The cases are in a believable state for trying every filter and workflow: most older ones
replied to and closed (with a closing message), others in progress or acknowledged, some
assigned to the demo guardian, a few new and overdue, and one sample concern with a guardian
reply and an unread answer from the reporter, whose receipt is printed (development only: a
real receipt is never stored), so a newcomer can try the reporter's return journey at once."""

from __future__ import annotations

import csv
import io
import random
import secrets
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import services as accounts
from accounts.models import StaffUser
from config.settings import KdfProfile, Settings
from core.db import today
from equality.themes import add_months, quarter_start
from speakup import services
from speakup import themes as concern_themes
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


# Made-up concerns from earlier in the year, so the themed summaries have closed quarters to show
# and the demo guardian has reviewed cases to retrain the theme engine on. (kind, text)
EARLIER = (
    ("recruitment", "Acting up on our unit always goes to the same two people, who happen to be "
                    "the sister's friends. Nobody else is ever asked."),
    ("recruitment", "I have been a band 5 for eleven years and have applied for band 6 six times. "
                    "Each time someone with less experience got it."),
    ("recruitment", "The deputy manager job was never advertised. We found out from the rota that "
                    "it had been filled."),
    ("discrimination", "As an internationally educated nurse I keep being told I don't have UK "
                       "experience, after seven years on this ward."),
    ("discrimination", "Black staff on our ward are disciplined for things white colleagues get a "
                       "quiet word about."),
    ("bullying", "My supervisor shouts at me in front of patients and belittles my work at every "
                 "handover."),
    ("other", "There is no point raising anything here. Nothing changes and you get labelled a "
              "troublemaker."),
    ("other", "I am scared to put my name to this because the last person who complained had "
              "their shifts changed."),
    ("recruitment", "My study leave has been refused three years running and I have not had an "
                    "appraisal since 2023."),
    ("patient-safety", "Observations are being missed on nights because there is one nurse for "
                       "fourteen patients."),
    ("worker-safety", "We are short staffed every weekend and nobody gets a break."),
    ("recruitment", "Jobs here go to whoever the manager socialises with. If your face does not "
                    "fit you can forget promotion."),
    ("discrimination", "Global majority staff get the heaviest bays and are passed over for the "
                       "coordinator role."),
    ("recruitment", "I trained her and now she is my manager. I have stopped applying."),
)
EARLIER_WEIGHTS = (3, 3, 2, 3, 2, 2, 3, 3, 1, 1, 1, 2, 2, 2)
EARLIER_COUNT = 400
"""300 in the last complete quarter and 100 in the one before: with fewer, nearly every theme
count is suppressed (below the minimum cell size, or by differencing against its breakdowns)."""
REVIEWED = 12
"""Earlier concerns the demo guardian has reviewed: enough to try retraining."""


def seed(db: Session, *, settings: Settings, existing: Path | None) -> (
    dict[str, Any] | None
):
    """Create the demo staff, sample concerns and survey unless they exist.

    Returns what to keep for printing (by the caller, in the instance folder): the demo logins,
    the receipt of the sample concern with a reply, and the path of the survey's open link. None
    when the demo already existed.
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
    guardian = accounts.StaffIdentity(new.user, new.private_key, "demo")
    sent = [services.submit_concern(
        db, draft=services.ConcernDraft(text=text, kind=kind, site=site,
                                        identity_mode="anonymous"),
        form_token=secrets.token_urlsafe(24), settings=settings,
        on=today() - timedelta(days=days_ago),
    ) for kind, site, days_ago, text in SAMPLES]
    receipt = _sample_conversation(db, settings=settings, guardian=guardian, sent=sent)
    _seed_earlier_concerns(db, settings=settings, reviewer=guardian)
    link = _seed_survey(db, settings=settings)
    return {"logins": [
        {"role": "guardian", "email": DEMO_EMAIL, "password": password,
         "totp_secret": new.totp_secret},
        {"role": "edi", "email": EDI_EMAIL, "password": edi_password,
         "totp_secret": edi.totp_secret},
    ], "receipt": receipt, "survey_link": f"/survey/link/{link}"}


def _sample_conversation(db: Session, *, settings: Settings, guardian: accounts.StaffIdentity,
                         sent: list[services.Submission]) -> str:
    """The first sample: replied to, in progress, assigned, and answered by the reporter (an
    unread message in the inbox); the second acknowledged; the third new. Returns the first
    one's receipt."""
    first, second = sent[0], sent[1]
    if not (first.ref and first.receipt and second.ref):
        raise RuntimeError("the demo's sample concerns were not stored")
    days_ago = SAMPLES[0][2]
    services.reply_to_reporter(
        db, identity=guardian, ref=first.ref, on=today() - timedelta(days=days_ago - 3),
        text="Thank you for raising this. I have started looking into how the band 7 post was "
             "filled. Do you know whether it was advertised at all, even internally?")
    services.assign(db, identity=guardian, ref=first.ref, assignee_id=guardian.user.id,
                    settings=settings)
    services.change_status(db, identity=guardian, ref=first.ref, status="in-progress",
                           on=today() - timedelta(days=days_ago - 3))
    access = services.open_with_receipt(db, receipt=first.receipt, settings=settings)
    services.add_reporter_message(
        db, access=access, on=today() - timedelta(days=5),
        text="It was never advertised. She started acting up in March and was made permanent "
             "in June without an interview.")
    services.reply_to_reporter(
        db, identity=guardian, ref=second.ref, on=today() - timedelta(days=SAMPLES[1][2] - 2),
        text="Thank you for telling us. You are right to raise this. I will speak to the ward "
             "manager's line manager this week and come back to you here.")
    return first.receipt


def _workflow(db: Session, *, settings: Settings, guardian: accounts.StaffIdentity, ref: str,
              received: date, rng: random.Random) -> None:
    """Move a made-up case on as a guardian would have: mostly replied to and closed if older,
    in progress or acknowledged if recent, some still new (and overdue)."""
    age = (today() - received).days
    weights = (3, 10, 17, 70) if age > 60 else (10, 25, 35, 30)
    outcome = rng.choices(("new", "acknowledged", "in-progress", "closed"), weights)[0]
    if outcome == "new":
        return
    replied = received + timedelta(days=rng.randint(1, 6))
    services.reply_to_reporter(
        db, identity=guardian, ref=ref, on=min(replied, today()),
        text=rng.choice(DEMO_REPLIES))
    if rng.random() < 0.4:
        services.assign(db, identity=guardian, ref=ref, assignee_id=guardian.user.id,
                        settings=settings)
    if outcome == "acknowledged":
        return
    services.change_status(db, identity=guardian, ref=ref, status="in-progress",
                           on=min(replied, today()))
    if outcome == "closed":
        closed = min(replied + timedelta(days=rng.randint(14, 80)), today())
        services.reply_to_reporter(db, identity=guardian, ref=ref, on=closed,
                                   text=rng.choice(DEMO_CLOSINGS))
        services.change_status(db, identity=guardian, ref=ref, status="closed", on=closed)


DEMO_REPLIES = (
    "Thank you for raising this. I am looking into it and will update you here.",
    "Thank you for speaking up. Can you tell me roughly when this started?",
    "I have read your concern and raised it with the service lead. I will come back to you.",
)
DEMO_CLOSINGS = (
    "The ward has agreed to advertise every acting-up post from now on. Thank you for raising "
    "it. I am closing the case; you can raise a new concern at any time.",
    "The manager has been spoken to and the team will have a facilitated meeting. I am closing "
    "the case now. Thank you for speaking up.",
    "Staffing on nights has been reviewed and a second nurse added. Thank you: I am closing "
    "the case.",
)


def _seed_earlier_concerns(db: Session, *, settings: Settings,
                           reviewer: accounts.StaffIdentity) -> None:
    """`EARLIER_COUNT` made-up concerns received in the last two complete quarters (themes tagged
    as usual, some with consent to quote, with made-up groups), and the engine's themes on the
    first `REVIEWED` of them confirmed by the demo guardian, as if reviewed on the case page."""
    rng = random.Random(4763)  # noqa: S311 - made-up demo data, not secrets
    # Nobody ever holds these concerns' receipts, so they are derived with the fast profile:
    # seeding then takes seconds, not a minute. Everything else is as for a real concern.
    made_up = replace(settings, kdf=KdfProfile.fast())
    this_quarter = quarter_start(today())
    last_quarter = add_months(this_quarter, -3)
    before_that = add_months(this_quarter, -6)
    groups = ["nursing-midwifery", "nursing-midwifery", "additional-clinical", "medical-dental",
              "ahp", "admin-clerical", "estates-ancillary", None]
    ethnicities = ["white-british", "white-british", "white-other", "asian-indian", "black-african",
                   "asian-pakistani", "black-caribbean", None]
    refs: list[str] = []
    received: list[date] = []
    for i in range(EARLIER_COUNT):
        kind, text = rng.choices(EARLIER, EARLIER_WEIGHTS)[0]
        start, end = (last_quarter, this_quarter) if i % 4 else (before_that, last_quarter)
        submitted = services.submit_concern(
            db, draft=services.ConcernDraft(
                text=text, kind=kind, site=rng.choice(["main", "main", "community", "mental-health"]),
                identity_mode="anonymous", professional_group=rng.choice(groups),
                ethnicity=rng.choice(ethnicities), quote_consent=rng.random() < 0.5),
            form_token=secrets.token_urlsafe(24), settings=made_up,
            on=(on := start + timedelta(days=rng.randrange((end - start).days))))
        assert submitted.ref is not None  # noqa: S101 - a new submission has a reference
        refs.append(submitted.ref)
        received.append(on)
    for ref in refs[:REVIEWED]:
        _concern, _key, case = services.granted_case(db, identity=reviewer, ref=ref)
        for row in case.themes:
            concern_themes.review_theme(db, identity=reviewer, ref=ref, theme_id=row.theme_id,
                                        decision="confirmed", settings=settings)
    flow = random.Random(1207)  # noqa: S311 - made-up demo workflow, not secrets
    for ref, on in zip(refs, received, strict=True):
        _workflow(db, settings=settings, guardian=reviewer, ref=ref, received=on, rng=flow)
    db.flush()


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


def _seed_survey(db: Session, *, settings: Settings) -> str:
    """The equality pulse with two imported past waves and an open one; returns the open
    wave's link token."""
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
    opened = surveys.open_wave(db, wave_=surveys.wave(db, survey, "Now"), open_link=True,
                               actor="demo")
    assert opened.open_link is not None  # noqa: S101 - opened with a link
    return opened.open_link
