"""Every case a guardian's inbox lists, as one list (tests of services that need the cases)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from accounts.services import StaffIdentity
from config.settings import Settings
from speakup import inbox


def inbox_cases(db: Session, *, identity: StaffIdentity, settings: Settings,
                on: date | None = None, **query: Any) -> list[inbox.InboxRow]:
    query.setdefault("status", "all")
    return inbox.page(db, identity=identity, settings=settings, on=on,
                      query=inbox.InboxQuery(**query), page_size=None).rows
