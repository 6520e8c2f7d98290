"""The demo organisation `make run` seeds: two guardians and a few sample concerns."""

from __future__ import annotations

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

DEMO_EMAIL = "guardian@demo.speakup.invalid"

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


def seed(db: Session, *, settings: Settings, existing: Path | None) -> dict[str, str] | None:
    """Create the demo guardians and sample concerns unless they exist.

    Returns the new demo login (to be kept by the caller), or None when it already existed.
    """
    if db.scalar(select(StaffUser.id).where(StaffUser.email == DEMO_EMAIL)) is not None \
            and existing is not None:
        return None
    password = "-".join(secrets.token_hex(3) for _ in range(3))
    new = accounts.create_staff(db, name="Demo Guardian", email=DEMO_EMAIL, password=password,
                                role="guardian", settings=settings, actor="demo")
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
    return {"email": DEMO_EMAIL, "password": password, "totp_secret": new.totp_secret}
